"""Liveness of the web process and what it depends on."""

from __future__ import annotations

import asyncio

from litestar import Response, get
from litestar.status_codes import HTTP_200_OK, HTTP_503_SERVICE_UNAVAILABLE

from app.web.services import Services


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
