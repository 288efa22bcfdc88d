"""A whole engine on one machine: servers (embedded unless given), migrations, web and workers.

Used by `make run` (one web process, one worker), the benchmark (any number of each)
and the multi-process tests. Stops in order: web and workers first, so running jobs
are handed back to the queue, then Redis, then PostgreSQL.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from app.infra.embedded import EmbeddedPostgres, EmbeddedRedis, die_with_parent, wait_for_port
from app.infra.migrate import migrate, with_database

log = logging.getLogger(__name__)


@dataclass
class Stack:
    datadir: Path
    port: int = 8000
    host: str = "127.0.0.1"
    web_processes: int = 1
    worker_processes: int = 1
    env: dict[str, str] = field(default_factory=lambda: dict(os.environ))
    children: list[subprocess.Popen[bytes]] = field(default_factory=list)
    workers: list[subprocess.Popen[bytes]] = field(default_factory=list)
    web: subprocess.Popen[bytes] | None = None
    _postgres: EmbeddedPostgres | None = None
    _redis: EmbeddedRedis | None = None

    @property
    def postgres_pid(self) -> int | None:
        return self._postgres.pid if self._postgres else None

    @property
    def redis_pid(self) -> int | None:
        return self._redis.pid if self._redis else None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start_servers(self) -> None:
        if not self.env.get("DATABASE_URL"):
            self._postgres = EmbeddedPostgres(self.datadir / "postgres")
            log.info("starting embedded PostgreSQL in %s", self._postgres.datadir)
            self.env["DATABASE_URL"] = with_database(self._postgres.start(), "oee")
        if not self.env.get("REDIS_URL"):
            self._redis = EmbeddedRedis(self.datadir / "redis")
            self.env["REDIS_URL"] = self._redis.start()
            log.info("started embedded Redis on port %s", self._redis.port)
        asyncio.run(migrate(self.env["DATABASE_URL"]))
        log.info("database migrated")

    def start_processes(self) -> None:
        self.env["PORT"] = str(self.port)
        web = [
            sys.executable, "-m", "uvicorn", "--factory", "app.web.asgi:build",
            "--host", self.host, "--port", str(self.port),
            "--no-access-log", "--timeout-graceful-shutdown", "5",
        ]  # fmt: skip
        if self.web_processes > 1:
            web += ["--workers", str(self.web_processes)]
        self.web = self._spawn(web)
        self.children.append(self.web)
        for _ in range(self.worker_processes):
            self.add_worker()
        wait_for_port(self.port, process=self.web, what="the web server", timeout=60)
        self._wait_healthy()

    def add_worker(self) -> subprocess.Popen[bytes]:
        worker = self._spawn([sys.executable, "-m", "jobs"])
        self.children.append(worker)
        self.workers.append(worker)
        return worker

    def _spawn(self, command: list[str]) -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            command, env=self.env, start_new_session=True, preexec_fn=die_with_parent
        )

    def _wait_healthy(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"{self.url}/healthz", timeout=2) as response:
                    if response.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.1)
        raise TimeoutError(f"{self.url}/healthz did not answer 200 within {timeout:g}s")

    def exited(self) -> subprocess.Popen[bytes] | None:
        """A child that stopped on its own, if any."""
        return next((c for c in self.children if c.poll() is not None), None)

    def stop(self, grace: float = 20) -> None:
        for child in self.children:
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + grace
        for child in self.children:
            try:
                child.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                log.warning("pid %s did not stop in %ss; killing it", child.pid, grace)
                child.kill()
                child.wait()
        self.children.clear()
        self.workers.clear()
        if self._redis is not None:
            self._redis.stop()
            self._redis = None
        if self._postgres is not None:
            self._postgres.stop()
            self._postgres = None
