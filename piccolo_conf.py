"""Piccolo's configuration, for its CLI and for migrations run from code.

The engine is built from DATABASE_URL. The web app and worker do not use it: each builds
its own engine and pool from `Settings` (app/db/database.py) and runs its queries there.
"""

import os

from piccolo.conf.apps import AppRegistry
from piccolo.engine.postgres import PostgresEngine

DB = PostgresEngine(config={"dsn": os.environ.get("DATABASE_URL", "postgresql://localhost/")})

APP_REGISTRY = AppRegistry(apps=["app.db.piccolo_app"])
