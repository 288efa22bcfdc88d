"""Run one worker process: `python -m jobs`."""

from __future__ import annotations

import asyncio

from app.logs import configure_logging
from app.settings import Settings
from jobs.worker import serve


def main() -> None:
    settings = Settings.from_env()
    configure_logging(settings.log_format)
    # uvloop (as uvicorn uses for the web) when installed: the worker is all socket I/O.
    try:
        import uvloop
    except ImportError:
        asyncio.run(serve(settings))
    else:
        uvloop.run(serve(settings))


if __name__ == "__main__":
    main()
