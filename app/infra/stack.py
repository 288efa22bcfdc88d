"""A whole engine on one machine: servers (embedded unless given), migrations, web and workers.

Used by `make run` (one web process, one worker), the benchmark (any number of each)
and the multi-process tests. Stops in order: web and workers first, so running jobs
are handed back to the queue, then Redis, then PostgreSQL.

`make run` also calls `supervise()` a few times a second, which starts again whatever
died. Nothing else does: the benchmark and the tests kill workers on purpose.
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
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from app.infra.embedded import (
    EmbeddedPostgres,
    EmbeddedRedis,
    describe_exit,
    die_with_parent,
    private_dir,
    stop_process,
    wait_for_port,
)
from app.infra.migrate import migrate, with_database

log = logging.getLogger(__name__)

DATABASE = "oee"


class GaveUp(RuntimeError):
    """Something keeps dying, or cannot be started again: time to stop everything."""


@dataclass(frozen=True)
class RestartPolicy:
    """How soon a process that died is started again, and when to stop trying."""

    first_delay: float = 0.5
    """Seconds before the first restart; each further crash doubles it..."""
    max_delay: float = 10.0
    """...up to this."""
    stable_after: float = 60.0
    """Up this long, a process counts as healthy: its next crash waits `first_delay` again."""
    max_crashes: int = 5
    """This many crashes within `window` seconds, or failed restarts in a row: give up."""
    window: float = 60.0


@dataclass
class Restarts:
    """One supervised process's crash history: its backoff, and when to give up."""

    name: str
    policy: RestartPolicy = field(default_factory=RestartPolicy)
    started_at: float = field(default_factory=time.monotonic)
    due: float | None = None
    """When to start it again, while it is down."""
    _delay: float = field(init=False)
    _crashes: deque[float] = field(default_factory=deque, init=False)
    _failed_restarts: int = field(default=0, init=False)

    def __post_init__(self) -> None:
        self._delay = self.policy.first_delay

    def crashed(self, now: float, why: str) -> float:
        """Note that it died (`why`, for the message); returns the seconds to wait before
        starting it again. Raises GaveUp on its `max_crashes`th crash within `window`."""
        policy = self.policy
        if now - self.started_at >= policy.stable_after:
            self._delay = policy.first_delay
        self._crashes.append(now)
        while now - self._crashes[0] > policy.window:
            self._crashes.popleft()
        if len(self._crashes) >= policy.max_crashes:
            count = len(self._crashes)
            raise GaveUp(f"{self.name} {why} ({count} crashes within {policy.window:g}s)")
        return self._schedule(now)

    def restart_failed(self, now: float, why: str) -> float:
        """Note that starting it again failed; returns the seconds to wait before trying
        again. Raises GaveUp when `max_crashes` attempts in a row failed (each may take
        long: a window of time would let a server that never comes back try forever)."""
        self._failed_restarts += 1
        if self._failed_restarts >= self.policy.max_crashes:
            raise GaveUp(f"{self.name} {why} ({self._failed_restarts} attempts in a row)")
        return self._schedule(now)

    def restarted(self, now: float) -> None:
        """Note that it runs again."""
        self.started_at = now
        self.due = None
        self._failed_restarts = 0

    def _schedule(self, now: float) -> float:
        delay, self._delay = self._delay, min(2 * self._delay, self.policy.max_delay)
        self.due = now + delay
        return delay


class Supervised(Protocol):
    """A process `Stack.supervise()` keeps running."""

    name: str

    @property
    def pid(self) -> int | None: ...

    def exit_reason(self) -> str | None:
        """Why it is no longer running ("was killed by SIGKILL"), or None while it is."""
        ...

    def restart(self) -> None:
        """Start it again (raises if it cannot)."""
        ...


@dataclass(eq=False)
class _Child:
    """A web or worker process, and how to start it again."""

    name: str
    command: list[str]
    env: dict[str, str]
    """The stack's own environment, read at each start: a new DATABASE_URL applies."""
    log: Path | None = None
    """A file its stdout and stderr are appended to (restarts included); None: ours."""
    process: subprocess.Popen[bytes] = field(init=False)

    def __post_init__(self) -> None:
        self.process = self._spawn()

    @property
    def pid(self) -> int:
        return self.process.pid

    def exit_reason(self) -> str | None:
        return describe_exit(self.process.poll())  # poll() reaps it: no zombie

    def restart(self) -> None:
        stop_process(self.process, grace=20)  # at once if it already exited
        self.process = self._spawn()

    def _spawn(self) -> subprocess.Popen[bytes]:
        if self.log is None:
            return subprocess.Popen(
                self.command, env=self.env, start_new_session=True, preexec_fn=die_with_parent
            )
        with self.log.open("ab") as out:
            return subprocess.Popen(
                self.command,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=die_with_parent,
            )


@dataclass
class Stack:
    datadir: Path
    port: int = 8000
    host: str = "127.0.0.1"
    web_processes: int = 1
    worker_processes: int = 1
    env: dict[str, str] = field(default_factory=lambda: dict(os.environ))
    policy: RestartPolicy = field(default_factory=RestartPolicy)
    log_dir: Path | None = None
    """Where web and worker processes write their output, one file each (`web.log`,
    `worker-1.log`, …); None: to this process's stdout and stderr."""
    _children: list[_Child] = field(default_factory=list)
    _postgres: EmbeddedPostgres | None = None
    _redis: EmbeddedRedis | None = None
    _restarts: dict[str, Restarts] = field(default_factory=dict)

    @property
    def children(self) -> list[subprocess.Popen[bytes]]:
        """The web and worker processes, as they are now."""
        return [child.process for child in self._children]

    @property
    def workers(self) -> list[subprocess.Popen[bytes]]:
        return [child.process for child in self._children if child.name != "web"]

    @property
    def web(self) -> subprocess.Popen[bytes] | None:
        return next((child.process for child in self._children if child.name == "web"), None)

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
        """Start embedded PostgreSQL and Redis unless their URLs are given; migrate."""
        if not (self.env.get("DATABASE_URL") and self.env.get("REDIS_URL")):
            private_dir(self.datadir)
        if not self.env.get("DATABASE_URL"):
            self._postgres = EmbeddedPostgres(self.datadir / "postgres")
            log.info("starting embedded PostgreSQL in %s", self._postgres.datadir)
            self.env["DATABASE_URL"] = with_database(self._postgres.start(), DATABASE)
        if not self.env.get("REDIS_URL"):
            self._redis = EmbeddedRedis(self.datadir / "redis")
            self.env["REDIS_URL"] = self._redis.start()
            log.info("started embedded Redis on port %s", self._redis.port)
        asyncio.run(migrate(self.env["DATABASE_URL"]))
        log.info("database migrated")

    def start_processes(self) -> None:
        """Start the web and worker processes; returns once /healthz answers 200."""
        self.env.update(PORT=str(self.port), HOST=self.host, WEB_PROCESSES=str(self.web_processes))
        web = [sys.executable, "-m", "app.web.serve"]
        self._children.append(_Child("web", web, self.env, self._log_file("web")))
        for _ in range(self.worker_processes):
            self.add_worker()
        wait_for_port(self.port, process=self.web, what="the web server", timeout=60)
        self._wait_healthy()

    def add_worker(self) -> subprocess.Popen[bytes]:
        """Start one more worker process."""
        name = f"worker {len(self.workers) + 1}"
        worker = _Child(name, [sys.executable, "-m", "jobs"], self.env, self._log_file(name))
        self._children.append(worker)
        return worker.process

    def _log_file(self, name: str) -> Path | None:
        if self.log_dir is None:
            return None
        self.log_dir.mkdir(parents=True, exist_ok=True)
        return self.log_dir / f"{name.replace(' ', '-')}.log"

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

    def supervise(self) -> None:
        """One round of supervision; call it a few times a second.

        A web or worker process that exited is started again after a backoff (see
        `policy`); embedded Redis or PostgreSQL that died is started again on the same
        data dir and address, before any web or worker process. Raises GaveUp when one
        of them crashed `policy.max_crashes` times within `policy.window` seconds, or
        could not be started again that many times in a row.
        """
        up = [self._tend(server) for server in self._servers()]  # each gets its turn
        servers_up = all(up)
        self._follow_database_url()
        for child in self._children:
            # Started while a server is down, they would only crash again.
            self._tend(child, may_restart=servers_up)

    def _servers(self) -> list[Supervised]:
        return [server for server in (self._redis, self._postgres) if server is not None]

    def _tend(self, unit: Supervised, *, may_restart: bool = True) -> bool:
        """Notice that `unit` died; restart it once its backoff is over. True if it runs."""
        restarts = self._restarts_of(unit)
        if restarts.due is None:
            why = unit.exit_reason()
            if why is None:
                return True
            delay = restarts.crashed(time.monotonic(), why)
            log.error("%s (pid %s) %s; restarting it in %.1fs", unit.name, unit.pid, why, delay)
        assert restarts.due is not None
        if not may_restart or time.monotonic() < restarts.due:
            return False
        try:
            unit.restart()
        except Exception as error:
            why = f"could not be restarted: {error}"
            delay = restarts.restart_failed(time.monotonic(), why)
            log.error("%s %s; trying again in %.1fs", unit.name, why, delay)
            return False
        restarts.restarted(time.monotonic())
        log.warning("%s restarted (pid %s)", unit.name, unit.pid)
        return True

    def _restarts_of(self, unit: Supervised) -> Restarts:
        if unit.name not in self._restarts:
            self._restarts[unit.name] = Restarts(unit.name, self.policy)
        return self._restarts[unit.name]

    def _follow_database_url(self) -> None:
        """Should PostgreSQL come back at another address, web and workers must move too."""
        if self._postgres is None or self._postgres.url is None:
            return
        url = with_database(self._postgres.url, DATABASE)
        if url == self.env["DATABASE_URL"]:
            return
        log.warning("PostgreSQL is now at %s; restarting web and workers to use it", url)
        self.env["DATABASE_URL"] = url
        for child in self._children:
            stop_process(child.process, grace=20)
            self._restarts_of(child).due = time.monotonic()  # not a crash: no backoff

    def stop(self, grace: float = 20) -> None:
        """Stop everything: web and workers (their running jobs go back to the queue),
        then Redis, then PostgreSQL."""
        for process in self.children:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + grace
        for process in self.children:
            try:
                process.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                log.warning("pid %s did not stop in %ss; killing it", process.pid, grace)
                process.kill()
                process.wait()
        self._children.clear()
        if self._redis is not None:
            self._redis.stop()
            self._redis = None
        if self._postgres is not None:
            self._postgres.stop()
            self._postgres = None
