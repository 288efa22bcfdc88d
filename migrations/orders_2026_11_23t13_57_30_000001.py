from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-11-23T13:57:30:000001"
VERSION = "1.38.0"
DESCRIPTION = "indexes for waiting orders and the reconciler's moving orders"

STATEMENTS = (
    # Expiry looks only at waiting orders, by their time.
    "CREATE INDEX orders_waiting_expiry ON orders (expires_at) WHERE status = 'waiting'",
    # The trigger re-reads orders that began waiting lately, in case the index missed one.
    "CREATE INDEX orders_waiting_since ON orders (updated_at) WHERE status = 'waiting'",
    # The reconciler looks at orders a worker should be driving (a waiting order has no job).
    "DROP INDEX IF EXISTS orders_active",
    "CREATE INDEX orders_moving ON orders (updated_at)"
    " WHERE status IN ('pending', 'routing', 'building', 'submitted')",
)


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="orders", description=DESCRIPTION)

    async def create_indexes():
        engine = engine_finder()
        for statement in STATEMENTS:
            await engine.run_ddl(statement)

    manager.add_raw(create_indexes)
    return manager
