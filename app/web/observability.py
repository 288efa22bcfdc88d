"""Is it up, and how is it doing: `/healthz` and `/metrics`."""

from __future__ import annotations

import asyncio
import os
import socket
from collections.abc import Callable

from litestar import Response, get
from litestar.status_codes import HTTP_200_OK, HTTP_503_SERVICE_UNAVAILABLE
from redis.asyncio import Redis

from app.metrics import render
from app.runtime import Runtime
from app.web.services import Services

WATCHERS_TTL = 6
PROMETHEUS_TEXT = "text/plain; version=0.0.4"  # Litestar adds the charset


@get("/healthz", tags=["health"])
async def healthz(services: Services) -> Response[dict[str, str]]:
    """200 when this process, PostgreSQL and Redis all answer; 503 naming what does not."""
    runtime = services.runtime
    checks: dict[str, str] = {}
    for name, probe in (
        ("database", runtime.db.fetchval("SELECT 1")),
        ("redis", runtime.redis.ping()),
    ):
        try:
            async with asyncio.timeout(2):
                await probe
            checks[name] = "ok"
        except Exception as error:
            checks[name] = f"unavailable: {type(error).__name__}"
    checks["events"] = "ok" if services.hub.connected else "reconnecting"
    healthy = all(value == "ok" for value in checks.values())
    return Response(
        {"status": "ok" if healthy else "degraded", **checks},
        status_code=HTTP_200_OK if healthy else HTTP_503_SERVICE_UNAVAILABLE,
    )


@get("/metrics", tags=["health"], media_type=PROMETHEUS_TEXT)
async def metrics(services: Services) -> str:
    """Prometheus metrics for the whole deployment (every web and worker process)."""
    runtime = services.runtime
    stored = {str(k): str(v) for k, v in (await runtime.redis.hgetall(runtime.metrics_key)).items()}
    active = await runtime.db.fetch(
        "SELECT status, count(*) AS n FROM orders"
        " WHERE status NOT IN ('confirmed', 'failed') GROUP BY status"
    )
    gauges = [("oee_orders_active", {"status": row["status"]}, float(row["n"])) for row in active]
    gauges.append(("oee_queue_depth", {}, float(await runtime.queue.depth())))
    gauges.append(("oee_websocket_connections", {}, float(await _watchers(runtime))))
    return render(stored, gauges)


def watcher_key(runtime: Runtime) -> str:
    return f"{runtime.settings.queue_name}:ws:{socket.gethostname()}:{os.getpid()}"


async def report_watchers(runtime: Runtime, count: Callable[[], int]) -> None:
    """Publish this process's open socket count; it expires if the process stops."""
    await runtime.redis.set(watcher_key(runtime), str(count()), ex=WATCHERS_TTL)


async def _watchers(runtime: Runtime) -> int:
    redis: Redis = runtime.redis
    total = 0
    async for key in redis.scan_iter(match=f"{runtime.settings.queue_name}:ws:*", count=100):
        total += int(await redis.get(key) or 0)
    return total
