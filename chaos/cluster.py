"""One engine per scenario: `app.infra.stack.Stack` on embedded servers in a temporary
directory, kept alive by a supervisor thread as `make run` keeps itself alive.

Whatever a fault kills (a worker, the web process, Redis, PostgreSQL) is started again
by `Stack.supervise()`, called a few times a second; a fault that must keep a server
down for a while holds the supervisor meanwhile. The web and worker processes write
their logs to the scenario's log file, with the harness's markers between them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import asyncpg

from app.infra.embedded import free_port
from app.infra.stack import RestartPolicy, Stack
from chaos.config import ChaosConfig

log = logging.getLogger("chaos")

ROOT = Path(__file__).parents[1]

POLICY = RestartPolicy(
    first_delay=0.25, max_delay=1.0, stable_after=5.0, max_crashes=10_000, window=60.0
)
"""Restart at once, and never give up: the harness decides when a scenario failed."""


class Supervisor:
    """`Stack.supervise()` in a thread, every `INTERVAL` seconds, unless held."""

    INTERVAL = 0.1

    def __init__(self, stack: Stack) -> None:
        self.stack = stack
        self.error: Exception | None = None
        """Why supervision stopped (it gave up, or a round raised), if it did."""
        self._lock = threading.Lock()
        self._held = False
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="chaos-supervisor", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        if self._thread.is_alive():
            self._thread.join(timeout=120)

    def hold(self) -> None:
        """Stop restarting anything; returns once no round is running (blocking)."""
        with self._lock:
            self._held = True

    def release(self) -> None:
        with self._lock:
            self._held = False

    def _run(self) -> None:
        while not self._stopping.wait(self.INTERVAL):
            with self._lock:
                if self._held:
                    continue
                try:
                    self.stack.supervise()
                except Exception as error:  # GaveUp, or a restart that raised
                    log.error("supervision stopped: %s", error)
                    self.error = error
                    return


class Cluster:
    """A running engine: servers, one web process, `config.workers` worker processes."""

    def __init__(self, config: ChaosConfig, datadir: Path, log_path: Path) -> None:
        env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
        env.update(config.engine_env())  # ADMIN_API_KEY among them: the harness's key
        self.config = config
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
        self.stack = Stack(
            datadir=datadir,
            port=free_port(),
            web_processes=1,
            worker_processes=config.workers,
            env=env,
            policy=POLICY,
        )
        self.supervisor = Supervisor(self.stack)
        self.log_path = log_path
        self._sink = open(log_path, "ab")  # noqa: SIM115 - closed by stop()

    @property
    def base_url(self) -> str:
        return self.stack.url

    @property
    def ws_url(self) -> str:
        return self.stack.url.replace("http", "ws", 1)

    @property
    def auth_headers(self) -> dict[str, str]:
        """`Authorization: Bearer <ADMIN_API_KEY>`: every request of the harness sends it."""
        return self.config.auth_headers

    @property
    def database_url(self) -> str:
        return self.stack.env["DATABASE_URL"]

    @property
    def redis_url(self) -> str:
        return self.stack.env["REDIS_URL"]

    def start(self) -> None:
        """Servers (embedded, always), migrations, web and workers; then supervision."""
        with self.children_output():
            self.stack.start_servers()
            asyncio.run(self._check_migrated())
            self.stack.start_processes()
        self.supervisor.start()

    async def _check_migrated(self) -> None:
        """This scenario's own database was migrated (`app.infra.migrate.migrate` points
        Piccolo at the URL it is given, even when an earlier scenario of this process
        migrated another server): its migrations are recorded, and `orders` exists."""
        conn = await asyncpg.connect(self.database_url, timeout=10)
        try:
            applied = await conn.fetchval("SELECT count(*) FROM migration")
            tables = await conn.fetchval("SELECT to_regclass('orders') IS NOT NULL")
        finally:
            await conn.close()
        if not applied or not tables:
            raise RuntimeError(
                f"the database at {self.database_url} was not migrated "
                f"({applied} migrations recorded, orders table: {tables})"
            )
        log.debug("%s: %s migrations applied", self.database_url, applied)

    def stop(self) -> None:
        """Everything down, at once: the scenario's state has been read already, so web
        and workers get no grace (SIGKILL), then the servers stop as usual."""
        self.supervisor.stop()
        for process in self.stack.children:
            if process.poll() is None:
                process.kill()
        with self.children_output():
            self.stack.stop()
        self._sink.close()

    def mark(self, text: str) -> None:
        """A line in the log, between the processes' own, to find a fault's moment."""
        stamp = time.strftime("%H:%M:%S") + f".{int(time.time() * 1000) % 1000:03d}"
        self._sink.write(f"=== chaos {stamp}: {text}\n".encode())
        self._sink.flush()

    def worker(self, slot: int) -> subprocess.Popen[bytes] | None:
        """Worker `slot` (0-based), if it is running."""
        workers = self.stack.workers
        process = workers[slot] if slot < len(workers) else None
        return process if process is not None and process.poll() is None else None

    def web(self) -> subprocess.Popen[bytes] | None:
        process = self.stack.web
        return process if process is not None and process.poll() is None else None

    @contextlib.contextmanager
    def children_output(self) -> Iterator[None]:
        """Point this process's stdout and stderr at the log while processes are started
        (they inherit both). The supervisor thread starts processes at any time, so the
        scenario runner keeps this on for the whole scenario."""
        sys.stdout.flush()
        sys.stderr.flush()
        saved = os.dup(1), os.dup(2)
        os.dup2(self._sink.fileno(), 1)
        os.dup2(self._sink.fileno(), 2)
        try:
            yield
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            os.close(saved[0])
            os.close(saved[1])
