"""The benchmark scenarios, each against freshly started web and worker processes."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

from app.infra.embedded import free_port
from app.infra.stack import Stack
from bench.load import (
    TERMINAL,
    Observed,
    firehose,
    place_orders,
    wait_finished,
    watch_order,
)
from bench.measure import ProcessMeter, percentile, redis_commands


@dataclass
class Servers:
    """PostgreSQL and Redis for the whole run (embedded unless URLs are given)."""

    datadir: Path
    env: dict[str, str]
    profile: Path | None = None
    """Where to write py-spy profiles of the web and worker processes, if anywhere."""

    def __post_init__(self) -> None:
        self.stack = Stack(datadir=self.datadir, env=self.env)

    def start(self) -> None:
        self.stack.start_servers()

    def stop(self) -> None:
        self.stack.stop()

    def processes(self, name: str, web: int, workers: int, **env: str) -> Stack:
        """Start web and worker processes on these servers, with their own queue."""
        stack = Stack(
            datadir=self.datadir,
            port=free_port(),
            web_processes=web,
            worker_processes=workers,
            env={
                **self.stack.env,
                "QUEUE_NAME": f"bench-{name}",
                "ORDER_RATE_LIMIT": "0",
                "LOG_FORMAT": "json",
                **env,
            },
        )
        stack.start_processes()
        return stack

    def meter(self, stack: Stack) -> ProcessMeter:
        roots = {"web": stack.web.pid} if stack.web else {}
        for i, worker in enumerate(stack.workers, 1):
            roots[f"worker {i}"] = worker.pid
        if self.stack.postgres_pid:
            roots["postgres"] = self.stack.postgres_pid
        if self.stack.redis_pid:
            roots["redis"] = self.stack.redis_pid
        return ProcessMeter(roots)


async def throughput(
    servers: Servers,
    name: str,
    *,
    web: int,
    workers: int,
    orders: int,
    in_flight: int,
    env: dict[str, str],
    warmup: int = 100,
    timeout: float = 600,
) -> dict[str, Any]:
    """Orders through the public API while a WebSocket client watches every event."""
    stack = servers.processes(name, web, workers, **env)
    try:
        base = stack.url
        warm = Observed()
        await place_orders(base, warmup, in_flight, warm)  # connections, caches, JIT-free warm-up
        observed = Observed()
        ready = asyncio.Event()
        hose = asyncio.create_task(firehose(base, observed, ready))
        await ready.wait()
        await asyncio.sleep(1)  # the warm-up's last orders finish outside the window
        meter = servers.meter(stack)
        profilers = _profile(stack, servers.profile, name)
        meter.start()
        db_before = await _metric(base, "oee_db_statements_total")
        redis_before = redis_commands(stack.env["REDIS_URL"])
        ids = await place_orders(base, orders, in_flight, observed)
        complete = await wait_finished(observed, ids, timeout)
        seen = [observed.finished[i] for i in ids if i in observed.finished]
        elapsed = (max(seen) if seen else time.time()) - observed.first_post
        await asyncio.sleep(1.5)  # every process adds its counts to /metrics once a second
        db_after = await _metric(base, "oee_db_statements_total")
        redis_after = redis_commands(stack.env["REDIS_URL"])
        processes = meter.stop()
        for profiler in profilers:
            profiler.send_signal(signal.SIGINT)
            profiler.wait(30)
        hose.cancel()
    finally:
        stack.stop()
    outcomes = [observed.outcomes.get(i, "unfinished") for i in ids]
    return {
        "scenario": name,
        "web_processes": web,
        "worker_processes": workers,
        "worker_concurrency": int(env.get("WORKER_CONCURRENCY", "10")),
        "latency_scale": float(env.get("MOCK_LATENCY_SCALE", "1")),
        "orders": len(ids),
        "post_errors": observed.errors,
        "complete": complete,
        "confirmed": outcomes.count("confirmed"),
        "failed": outcomes.count("failed"),
        "seconds": round(elapsed, 2),
        "orders_per_second": round(len(ids) / elapsed, 1) if elapsed > 0 else None,
        "in_flight": in_flight,
        "post_ms": _spread(observed.post_ms),
        "push_ms": _spread(observed.push_ms),
        "db_statements_per_order": round((db_after - db_before) / max(1, len(ids)), 2),
        "redis_commands_per_order": round((redis_after - redis_before) / max(1, len(ids)), 1),
        "processes": processes,
        "samples": {
            "post_ms": sorted(observed.post_ms),
            "push_ms": sorted(observed.push_ms),
        },
    }


def _profile(stack: Stack, target: Path | None, name: str) -> list[subprocess.Popen[bytes]]:
    """py-spy on the web process and each worker, until sent SIGINT (flame graph SVGs)."""
    if target is None:
        return []
    target.mkdir(parents=True, exist_ok=True)
    pids = {"web": stack.web.pid if stack.web else None}
    pids.update({f"worker{i}": w.pid for i, w in enumerate(stack.workers, 1)})
    spy = Path(sys.executable).with_name("py-spy")
    return [
        subprocess.Popen(
            [str(spy), "record", "--pid", str(pid), "--rate", "200", "--subprocesses",
             "--format", os.environ.get("PYSPY_FORMAT", "flamegraph"),
             "--output", str(target / f"{name}-{role}.{os.environ.get('PYSPY_EXT', 'svg')}")],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for role, pid in pids.items()
        if pid
    ]  # fmt: skip


async def many_sockets(
    servers: Servers, *, sockets: int, in_flight: int, connect_batch: int = 250
) -> dict[str, Any]:
    """`sockets` per-order WebSocket clients on one web process, all open at once.

    Orders are placed with no worker running, every client connects and gets its order's
    `pending` event, then a worker starts: each client must receive its terminal event.
    """
    stack = servers.processes(
        "sockets", 1, 0, MOCK_LATENCY_SCALE="0", MOCK_FAILURE_RATE="0", WORKER_CONCURRENCY="50"
    )
    try:
        base = stack.url
        ids = await place_orders(base, sockets, in_flight, Observed())
        meter = servers.meter(stack)
        meter.start()
        ws_base = base.replace("http", "ws", 1)
        connector = aiohttp.TCPConnector(limit=0)
        async with aiohttp.ClientSession(connector=connector) as session:
            watchers = []
            for start in range(0, len(ids), connect_batch):
                for order_id in ids[start : start + connect_batch]:
                    url = f"{ws_base}/api/orders/{order_id}/ws"
                    watchers.append(asyncio.create_task(watch_order(session, url)))
                await asyncio.sleep(0.2)  # let a batch connect before the next
            open_at = await _socket_count(base, len(ids))
            started = time.time()
            stack.add_worker()
            results = await asyncio.wait_for(
                asyncio.gather(*watchers, return_exceptions=True), timeout=600
            )
            elapsed = time.time() - started
        processes = meter.stop()
    finally:
        stack.stop()
    finished = sum(1 for r in results if isinstance(r, str) and r in TERMINAL)
    return {
        "scenario": "sockets",
        "sockets": len(ids),
        "open_at_once": open_at,
        "received_terminal": finished,
        "errors": sum(1 for r in results if isinstance(r, BaseException)),
        "seconds_to_drain": round(elapsed, 1),
        "processes": processes,
    }


async def _metric(base: str, name: str) -> float:
    """A counter's value, summed over every process, from the engine's own /metrics."""
    async with aiohttp.ClientSession() as session, session.get(f"{base}/metrics") as response:
        text = await response.text()
    return sum(float(line.split()[1]) for line in text.splitlines() if line.startswith(name + " "))


async def _socket_count(base: str, wanted: int, timeout: float = 120) -> int:
    """Wait until the web process reports `wanted` open subscriptions (via /metrics)."""
    deadline = time.monotonic() + timeout
    count = 0
    async with aiohttp.ClientSession() as session:
        while time.monotonic() < deadline:
            async with session.get(f"{base}/metrics") as response:
                text = await response.text()
            for line in text.splitlines():
                if line.startswith("oee_websocket_connections "):
                    count = int(float(line.split()[1]))
            if count >= wanted:
                return count
            await asyncio.sleep(0.5)
    return count


def _spread(values: list[float]) -> dict[str, float]:
    return {
        "p50": round(percentile(values, 50), 2),
        "p90": round(percentile(values, 90), 2),
        "p99": round(percentile(values, 99), 2),
        "max": round(max(values), 2) if values else float("nan"),
    }
