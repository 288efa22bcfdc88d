"""The faults, on real processes, and when each one happens (seeded).

* worker-kill: SIGKILL one worker process; back when the supervisor started a new one.
* web-kill: SIGKILL the web process; back when a new one answers HTTP.
* redis-restart: SIGTERM redis-server (it flushes the AOF and exits), kept down; back
  when restarted on its port and data dir and answering PING.
* postgres-restart: SIGQUIT the postmaster (immediate shutdown: every backend dies, crash
  recovery on start), kept down; back when restarted on its data dir and answering.
* postgres-pause: SIGSTOP the postmaster and every backend; back at SIGCONT.

While a server must stay down, the supervisor is held; released, it restarts the server
as `make run` would. The time between begin and end is the outage window the probes and
the checks use.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import os
import random
import signal
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import asyncpg
import psutil
from redis.asyncio import Redis

from chaos.cluster import Cluster
from chaos.config import ChaosConfig

log = logging.getLogger("chaos")

BACK_TIMEOUT = 60.0
"""A killed process or server must be running again within this long."""


@dataclass
class Fault:
    kind: str
    at: float
    """Planned: seconds after the load started."""
    slot: int = 0
    """Which worker, for worker-kill."""
    hold: float = 0.0
    """Seconds the server stays down (or frozen) before it is brought back."""
    started: float = 0.0
    ended: float | None = None
    """Wall-clock end of the outage: the process or server back."""
    detail: str = ""
    recovery: float | None = None
    """Seconds from `ended` until an order placed afterwards confirmed."""
    pids: list[int] = field(default_factory=list)
    """The processes this fault killed or stopped (their deaths are ours, not crashes)."""
    down_from: float | None = None
    """When the server was seen gone (or frozen): surely out from here..."""
    down_until: float | None = None
    """...to here, when a check last found it out. The window the rules judge."""

    @property
    def server(self) -> str | None:
        """The server out during the window, if any ("postgres", "redis")."""
        if self.kind.startswith("postgres"):
            return "postgres"
        return "redis" if self.kind.startswith("redis") else None

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "detail": self.detail,
            "planned_at": round(self.at, 2),
            "started": self.started,
            "ended": self.ended,
            "outage_seconds": round(self.ended - self.started, 2) if self.ended else None,
            "down_from": self.down_from,
            "down_until": self.down_until,
            "recovery_seconds": round(self.recovery, 2) if self.recovery is not None else None,
        }


def plan(scenario: str, config: ChaosConfig, rng: random.Random) -> list[Fault]:
    """The scenario's faults, at seeded moments within the load's duration."""
    span = config.load_seconds
    if scenario == "worker-kill":
        moments = spread(rng, config.worker_kills, 0.05 * span, 0.9 * span)
        return [Fault("worker-kill", at, slot=rng.randrange(config.workers)) for at in moments]
    if scenario == "web-kill":
        moments = spread(rng, config.web_kills, 0.1 * span, 0.8 * span)
        return [Fault("web-kill", at) for at in moments]
    hold = {
        "redis-restart": config.redis_down_seconds,
        "postgres-restart": config.postgres_down_seconds,
        "postgres-pause": config.pause_seconds,
    }[scenario]
    return [Fault(scenario, rng.uniform(0.2, 0.4) * span, hold=hold)]


def spread(rng: random.Random, count: int, start: float, end: float) -> list[float]:
    """`count` random moments between `start` and `end`, one in each equal slice (so
    they cannot bunch up: each fault finds the engine busy again)."""
    width = (end - start) / max(count, 1)
    return [start + (i + rng.random()) * width for i in range(count)]


async def until(check: Callable[[], bool | Awaitable[bool]], what: str, within: float) -> None:
    """Poll `check` (plain or async) until it is true; TimeoutError naming `what` after."""
    deadline = time.monotonic() + within
    while True:
        result = check()
        if inspect.isawaitable(result):
            result = await result
        if result:
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"not {what} within {within:g}s")
        await asyncio.sleep(0.05)  # wait-ok: polling interval of a condition wait


def gone(pid: int) -> bool:
    try:
        return bool(psutil.Process(pid).status() == psutil.STATUS_ZOMBIE)
    except psutil.NoSuchProcess:
        return True


class Injector:
    """Begins and ends one fault on one cluster."""

    def __init__(self, cluster: Cluster, fault: Fault) -> None:
        self.cluster = cluster
        self.fault = fault

    async def begin(self) -> None:
        await getattr(self, "_begin_" + self.fault.kind.replace("-", "_"))()
        self.cluster.mark(f"{self.fault.kind} began: {self.fault.detail}")

    async def end(self) -> None:
        self.cluster.supervisor.release()  # in case `begin` held it and failed
        if not self.fault.pids:
            return  # `begin` failed before it did anything
        await getattr(self, "_end_" + self.fault.kind.replace("-", "_"))()
        self.fault.ended = time.time()
        self.cluster.mark(f"{self.fault.kind} ended: {self.fault.detail}")

    def _signal(self, pid: int, sig: signal.Signals) -> None:
        self.fault.pids.append(pid)
        if not self.fault.started:
            self.fault.started = time.time()
        os.kill(pid, sig)

    # -- worker-kill ------------------------------------------------------------------

    async def _begin_worker_kill(self) -> None:
        slot = self.fault.slot
        await until(lambda: self.cluster.worker(slot) is not None, f"worker {slot + 1} up", 30)
        process = self.cluster.worker(slot)
        assert process is not None
        self._signal(process.pid, signal.SIGKILL)
        self.fault.detail = f"SIGKILL worker {slot + 1} (pid {process.pid})"

    async def _end_worker_kill(self) -> None:
        killed = self.fault.pids[-1]

        async def replaced() -> bool:
            process = self.cluster.worker(self.fault.slot)
            return process is not None and process.pid != killed

        await until(replaced, f"a new worker {self.fault.slot + 1}", BACK_TIMEOUT)

    # -- web-kill ---------------------------------------------------------------------

    async def _begin_web_kill(self) -> None:
        await until(lambda: self.cluster.web() is not None, "the web process up", 30)
        process = self.cluster.web()
        assert process is not None
        self._signal(process.pid, signal.SIGKILL)
        self.fault.detail = f"SIGKILL web (pid {process.pid})"

    async def _end_web_kill(self) -> None:
        killed = self.fault.pids[-1]

        async def serving() -> bool:
            process = self.cluster.web()
            return process is not None and process.pid != killed and await _answers(self.cluster)

        await until(serving, "a new web process answering", BACK_TIMEOUT)

    # -- redis-restart ----------------------------------------------------------------

    async def _begin_redis_restart(self) -> None:
        await asyncio.to_thread(self.cluster.supervisor.hold)
        pid = self.cluster.stack.redis_pid
        assert pid is not None
        self._signal(pid, signal.SIGTERM)
        await until(lambda: gone(pid), "redis-server to exit", 30)
        self.fault.down_from = time.time()
        self.fault.detail = f"SIGTERM redis-server (pid {pid}), down {self.fault.hold:g}s"

    async def _end_redis_restart(self) -> None:
        self.cluster.supervisor.release()
        old = self.fault.pids[-1]

        async def back() -> bool:
            checked = time.time()
            if not await _redis_answers(self.cluster.redis_url):
                self.fault.down_until = checked  # only a refusal proves it was still out
                return False
            return self.cluster.stack.redis_pid not in (None, old)

        await until(back, "redis-server restarted", BACK_TIMEOUT)

    # -- postgres-restart -------------------------------------------------------------

    async def _begin_postgres_restart(self) -> None:
        await asyncio.to_thread(self.cluster.supervisor.hold)
        pid = self.cluster.stack.postgres_pid
        assert pid is not None
        self._signal(pid, signal.SIGQUIT)  # immediate shutdown
        await until(lambda: gone(pid), "the postmaster to exit", 30)
        self.fault.down_from = time.time()  # its backends went first
        self.fault.detail = (
            f"immediate shutdown (SIGQUIT) of the postmaster (pid {pid}), down {self.fault.hold:g}s"
        )

    async def _end_postgres_restart(self) -> None:
        self.cluster.supervisor.release()
        old = self.fault.pids[-1]

        async def back() -> bool:
            checked = time.time()
            if not await _pg_answers(self.cluster.database_url):
                self.fault.down_until = checked  # only a refusal proves it was still out
                return False
            # It answers before the supervisor's restart() returns with the new pid.
            return self.cluster.stack.postgres_pid not in (None, old)

        await until(back, "PostgreSQL restarted", BACK_TIMEOUT)

    # -- postgres-pause ---------------------------------------------------------------

    async def _begin_postgres_pause(self) -> None:
        pid = self.cluster.stack.postgres_pid
        assert pid is not None
        postmaster = psutil.Process(pid)
        self._signal(pid, signal.SIGSTOP)  # first: it forks no backend meanwhile
        for child in postmaster.children(recursive=True):
            self._signal(child.pid, signal.SIGSTOP)
        self.fault.down_from = time.time()
        self.fault.detail = (
            f"SIGSTOP the postmaster (pid {pid}) and its {len(self.fault.pids) - 1} "
            f"processes for {self.fault.hold:g}s"
        )

    async def _end_postgres_pause(self) -> None:
        self.fault.down_until = time.time()
        for pid in self.fault.pids:  # the postmaster first, then the rest: all at once
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGCONT)


async def _answers(cluster: Cluster) -> bool:
    try:
        async with (
            aiohttp.ClientSession(headers=cluster.auth_headers) as session,
            session.get(f"{cluster.base_url}/healthz", timeout=aiohttp.ClientTimeout(total=2)),
        ):
            return True
    except (TimeoutError, aiohttp.ClientError):
        return False


async def _redis_answers(url: str) -> bool:
    client = Redis.from_url(url, socket_timeout=1, socket_connect_timeout=1)
    try:
        return bool(await client.ping())
    except Exception:
        return False
    finally:
        await client.aclose()


async def _pg_answers(url: str) -> bool:
    try:
        conn = await asyncpg.connect(url, timeout=2)
    except Exception:
        return False
    try:
        return bool(await conn.fetchval("SELECT 1", timeout=2) == 1)
    except Exception:
        return False
    finally:
        await conn.close(timeout=2)
