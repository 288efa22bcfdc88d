"""Run one worker process: `python -m jobs`."""

from __future__ import annotations

import asyncio

from saq.worker import Worker

from app.logs import configure_logging
from app.settings import Settings
from jobs.worker import worker_settings


async def _run(settings: Settings) -> None:
    worker = Worker(**worker_settings(settings))
    await worker.queue.connect()
    try:
        await worker.start()
    finally:
        await worker.queue.disconnect()


def main() -> None:
    settings = Settings.from_env()
    configure_logging(settings.log_format)
    # uvloop (as uvicorn uses for the web) when installed: the worker is all socket I/O.
    try:
        import uvloop
    except ImportError:
        asyncio.run(_run(settings))
    else:
        uvloop.run(_run(settings))


if __name__ == "__main__":
    main()
