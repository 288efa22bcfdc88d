"""The app factory: `create_app(settings)` builds one Litestar app and its resources."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

from litestar import Litestar
from litestar.di import Provide
from litestar.openapi.config import OpenAPIConfig
from litestar.openapi.plugins import SwaggerRenderPlugin

from app.events.bus import EventHub
from app.runtime import open_runtime
from app.settings import Settings
from app.venues.clock import Clock
from app.web.api.market import MarketController
from app.web.api.orders import OrdersController
from app.web.health import healthz
from app.web.ratelimit import RateLimiter
from app.web.services import WebServices, provide_services
from app.web.sockets import all_events, order_events

ROOT = Path(__file__).resolve().parents[2]
MAX_BODY_BYTES = 64 * 1024


def create_app(settings: Settings, *, clock: Clock | None = None) -> Litestar:
    @contextlib.asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        runtime = await open_runtime(settings, clock=clock)
        hub = EventHub(runtime.redis, runtime.publisher.channel)
        try:
            await hub.start()
            limiter = RateLimiter(runtime.redis, settings.order_rate_limit)
            app.state.services = WebServices(runtime=runtime, hub=hub, limiter=limiter)
            yield
        finally:
            await hub.stop()
            await runtime.close()

    return Litestar(
        route_handlers=[OrdersController, MarketController, order_events, all_events, healthz],
        dependencies={"services": Provide(provide_services, sync_to_thread=False)},
        lifespan=[lifespan],
        request_max_body_size=MAX_BODY_BYTES,
        openapi_config=OpenAPIConfig(
            title="Order Execution Engine",
            version="0.1.0",
            path="/schema",
            render_plugins=[SwaggerRenderPlugin()],
        ),
    )
