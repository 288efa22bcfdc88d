"""Is it up, and how is it doing: the checks behind `/healthz` and the numbers behind `/metrics`."""

from __future__ import annotations

import asyncio
import os
import socket
from collections.abc import Awaitable

from redis.asyncio import Redis

from app.db.database import Database
from app.metrics import render
from app.services.queueing import ExecutionQueue
from app.services.reads import OrderReads

WATCHERS_TTL = 6
"""Seconds a web process's socket count stays counted after its last report."""
PROBE_SECONDS = 2.0


class Monitor:
    def __init__(
        self,
        db: Database,
        redis: Redis,
        queue: ExecutionQueue,
        reads: OrderReads,
        *,
        metrics_key: str,
        watchers_prefix: str,
    ) -> None:
        self._db = db
        self._redis = redis
        self._queue = queue
        self._reads = reads
        self._metrics_key = metrics_key
        self._watchers_prefix = watchers_prefix

    async def checks(self) -> dict[str, str]:
        """`ok`, or why not, for PostgreSQL and Redis."""
        return {
            "database": await _probe(self._db.fetchval("SELECT 1")),
            "redis": await _probe(self._redis.ping()),
        }

    async def metrics(self) -> str:
        """Prometheus text for the whole deployment: stored counters plus gauges read now."""
        raw = await self._redis.hgetall(self._metrics_key)
        stored = {str(k): str(v) for k, v in raw.items()}
        gauges = [
            ("oee_orders_active", {"status": status.value}, float(n))
            for status, n in (await self._reads.active()).items()
        ]
        gauges.append(("oee_queue_depth", {}, float(await self._queue.depth())))
        gauges.append(("oee_websocket_connections", {}, float(await self._watchers())))
        return render(stored, gauges)

    async def report_watchers(self, count: int) -> None:
        """Publish this process's open socket count; it expires if the process stops."""
        key = f"{self._watchers_prefix}{socket.gethostname()}:{os.getpid()}"
        await self._redis.set(key, str(count), ex=WATCHERS_TTL)

    async def _watchers(self) -> int:
        total = 0
        async for key in self._redis.scan_iter(match=f"{self._watchers_prefix}*", count=100):
            total += int(await self._redis.get(key) or 0)
        return total


async def _probe(check: Awaitable[object]) -> str:
    try:
        async with asyncio.timeout(PROBE_SECONDS):
            await check
    except Exception as error:
        return f"unavailable: {type(error).__name__}"
    return "ok"
