"""ASGI entry point for uvicorn: `uvicorn --factory app.web.asgi:build`."""

from __future__ import annotations

from litestar import Litestar

from app.logs import configure_logging
from app.settings import Settings
from app.web.app import create_app


def build() -> Litestar:
    settings = Settings.from_env()
    configure_logging(settings.log_format)
    return create_app(settings)
