"""Piccolo's view of our tables: migrations live in the top-level `migrations/`."""

from pathlib import Path

from piccolo.conf.apps import AppConfig

from app.db.tables import TABLES

APP_CONFIG = AppConfig(
    app_name="orders",
    migrations_folder_path=str(Path(__file__).resolve().parents[2] / "migrations"),
    table_classes=list(TABLES),
    migration_dependencies=[],
    commands=[],
)
