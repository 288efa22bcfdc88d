"""`make run`: the whole engine on http://127.0.0.1:8000 until Ctrl-C or SIGTERM.

Whatever dies meanwhile (web, worker, embedded Redis or PostgreSQL) is started again;
only something that keeps dying stops it all.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
import time
from pathlib import Path
from types import FrameType

from app.infra.stack import GaveUp, Stack
from app.keys import first_start
from app.logs import configure_logging
from app.settings import Settings, SettingsError

log = logging.getLogger("app.run")


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def main() -> int:
    env = dict(os.environ)
    try:
        # Check every setting now, before anything starts (URLs are filled in later).
        settings = Settings.from_env({"DATABASE_URL": "-", "REDIS_URL": "-", **env})
    except SettingsError as error:
        print(f"configuration error: {error}", file=sys.stderr)
        return 2
    configure_logging(settings.log_format)
    signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(signal.SIGINT, _interrupt)
    stack = Stack(
        datadir=Path(env.get("DATA_DIR", ".data")),
        port=settings.port,
        host=env.get("HOST", "127.0.0.1"),
        env=env,
    )
    code, why = 0, ""
    try:
        stack.start_servers()
        stack.start_processes()
        log.info("Order Execution Engine ready on %s  (Ctrl-C stops it)", stack.url)
        if not settings.admin_api_key:
            print(asyncio.run(first_start(stack.env["DATABASE_URL"], stack.url)), flush=True)
        while True:
            stack.supervise()
            time.sleep(0.2)
    except GaveUp as error:
        log.error("giving up: %s; stopping everything", error)
        code, why = 1, f" (gave up: {error})"
    except KeyboardInterrupt:
        log.info("stopping")
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        stack.stop()
        # Said again last, once every child is gone: their output may have buried the first.
        log.info("stopped%s", why)
    return code


if __name__ == "__main__":
    sys.exit(main())
