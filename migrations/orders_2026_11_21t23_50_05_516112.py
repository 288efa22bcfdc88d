from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-11-21T23:50:05:516112"
VERSION = "1.38.0"
DESCRIPTION = "event order, listing and reconciler indexes"

STATEMENTS = (
    # One event per (order, seq): a second writer of the same step fails instead of forking history.
    "CREATE UNIQUE INDEX order_events_order_seq ON order_events (order_id, seq)",
    # Listing: newest first (ids are time-ordered UUIDv7), optionally filtered.
    "CREATE INDEX orders_status_id ON orders (status, id DESC)",
    "CREATE INDEX orders_pair_id ON orders (token_in, token_out, id DESC)",
    "CREATE INDEX orders_dex_id ON orders (dex, id DESC)",
    "CREATE INDEX orders_created_at ON orders (created_at)",
    # The reconciler looks only at orders still moving.
    "CREATE INDEX orders_active ON orders (updated_at)"
    " WHERE status NOT IN ('confirmed', 'failed')",
)


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="orders", description=DESCRIPTION)

    async def create_indexes():
        engine = engine_finder()
        for statement in STATEMENTS:
            await engine.run_ddl(statement)

    manager.add_raw(create_indexes)
    return manager
