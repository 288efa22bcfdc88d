"""Is it up, and how is it doing: `/healthz` and `/metrics`."""

from __future__ import annotations

from litestar import Response, get
from litestar.status_codes import HTTP_200_OK, HTTP_503_SERVICE_UNAVAILABLE

from app.domain.access import Scope
from app.web.auth import requires
from app.web.context import Web
from app.web.errors import SIGNED_IN, UNAVAILABLE

PROMETHEUS_TEXT = "text/plain; version=0.0.4"  # Litestar adds the charset


@get("/healthz", tags=["health"], responses=UNAVAILABLE)
async def healthz(web: Web) -> Response[dict[str, str]]:
    """200 when this process, PostgreSQL and Redis all answer; 503 naming what does not."""
    checks = await web.monitor.checks()
    checks["events"] = "ok" if web.hub.connected else "reconnecting"
    healthy = all(value == "ok" for value in checks.values())
    return Response(
        {"status": "ok" if healthy else "degraded", **checks},
        status_code=HTTP_200_OK if healthy else HTTP_503_SERVICE_UNAVAILABLE,
        headers=None if healthy else {"Retry-After": "5"},
    )


@get(
    "/metrics",
    tags=["health"],
    media_type=PROMETHEUS_TEXT,
    responses={**SIGNED_IN, **UNAVAILABLE},
    guards=[requires(Scope.ADMIN)],
)
async def metrics(web: Web) -> str:
    """Prometheus metrics for the whole deployment (every web and worker process); admin."""
    return await web.monitor.metrics()
