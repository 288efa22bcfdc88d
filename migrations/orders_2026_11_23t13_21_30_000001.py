from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-11-23T13:21:30:000001"
VERSION = "1.38.0"
DESCRIPTION = "indexes for owners, idempotency keys and the webhook outbox"

STATEMENTS = (
    # Each owner's orders, newest first; a clientOrderId is unique per owner.
    "CREATE INDEX orders_owner_id ON orders (owner, id DESC)",
    "CREATE UNIQUE INDEX orders_owner_client_order_id ON orders (owner, client_order_id)"
    " WHERE client_order_id IS NOT NULL",
    # One record per (owner, Idempotency-Key); old ones are swept by age.
    "CREATE UNIQUE INDEX idempotency_owner_key ON idempotency_keys (owner, key)",
    "CREATE INDEX idempotency_created ON idempotency_keys (created_at)",
    # A transition looks up its owner's live subscriptions; workers look for due deliveries.
    "CREATE INDEX webhooks_owner ON webhooks (owner) WHERE deleted_at IS NULL",
    "CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_at)"
    " WHERE delivered_at IS NULL",
)


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="orders", description=DESCRIPTION)

    async def create_indexes():
        engine = engine_finder()
        for statement in STATEMENTS:
            await engine.run_ddl(statement)

    manager.add_raw(create_indexes)
    return manager
