from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-12-03T15:00:00:000001"
VERSION = "1.38.0"
DESCRIPTION = "sniper orders: tokens named by mint, and their waiting index"

STATEMENTS = (
    # A sniper may name its token by its base58 mint address (up to 44 characters).
    "ALTER TABLE orders ALTER COLUMN token_out TYPE varchar(64)",
    "ALTER TABLE orders ALTER COLUMN token_in TYPE varchar(64)",
    # A launch event looks up the snipers waiting for that token.
    "CREATE INDEX orders_waiting_snipers ON orders (token_out)"
    " WHERE status = 'waiting' AND type = 'sniper'",
)


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="orders", description=DESCRIPTION)

    async def run():
        engine = engine_finder()
        for statement in STATEMENTS:
            await engine.run_ddl(statement)

    manager.add_raw(run)
    return manager
