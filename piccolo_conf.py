"""Piccolo's configuration, for its CLI and for migrations run from code.

The engine is built from DATABASE_URL; the web app and worker build their own engine
from `Settings` and bind the tables to it (see app/db/engine.py).
"""

import os

from piccolo.conf.apps import AppRegistry
from piccolo.engine.postgres import PostgresEngine

DB = PostgresEngine(config={"dsn": os.environ.get("DATABASE_URL", "postgresql://localhost/")})

APP_REGISTRY = AppRegistry(apps=["app.db.piccolo_app"])
