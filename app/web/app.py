"""The app factory: `create_app(settings)` builds one Litestar app and its resources."""

from __future__ import annotations

import contextlib
import secrets
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import redis
from litestar import Litestar
from litestar.config.csrf import CSRFConfig
from litestar.di import Provide
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.static_files import create_static_files_router
from litestar.template.config import TemplateConfig
from litestar_htmx import HTMXPlugin

from app.domain.retry import RETRY
from app.events.bus import EventHub
from app.events.pools import PoolHub
from app.periodic import Periodic
from app.runtime import VenueOverrides, open_runtime
from app.services.feed import FeedPump
from app.services.ratelimit import RateLimiter
from app.settings import Settings
from app.venues.clock import Clock
from app.web import present
from app.web.account import AccountController
from app.web.api.catalog import CatalogController
from app.web.api.events import EventsController
from app.web.api.keys import KeysController, WebhooksController
from app.web.api.orders import OrdersController
from app.web.api.pools import PoolsController, pool_events
from app.web.api.sim import SimController
from app.web.auth import provide_principal
from app.web.context import WebContext, provide_web
from app.web.docs import openapi_config
from app.web.errors import EXCEPTION_HANDLERS
from app.web.guards import guards
from app.web.live import dashboard_feed
from app.web.market_panel import MarketPanelController
from app.web.observability import healthz, metrics
from app.web.pages import PagesController
from app.web.sockets import all_events, order_events

ROOT = Path(__file__).resolve().parents[2]
MAX_BODY_BYTES = 64 * 1024


def create_app(
    settings: Settings, *, clock: Clock | None = None, venues: VenueOverrides | None = None
) -> Litestar:
    secret = settings.secret_key or shared_secret(settings.redis_url)

    @contextlib.asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        runtime = await open_runtime(settings, clock=clock, venues=venues, session_secret=secret)
        if settings.admin_api_key:
            await runtime.access.ensure_admin(settings.admin_api_key)
        feed = FeedPump(runtime.db)
        hub = EventHub(runtime.redis, runtime.publisher.channel, on_notice=feed.poke)
        pools = PoolHub(
            runtime.redis, runtime.simulator.pools_channel, on_event=runtime.launches.heard
        )
        reporter: Periodic | None = None
        feed.start()
        try:
            await hub.start()
            await pools.start()
            app.state.web = WebContext(
                settings=settings,
                orders=runtime.reads,
                desk=runtime.desk,
                quoter=runtime.quoter,
                catalog=runtime.catalog,
                monitor=runtime.monitor,
                hub=hub,
                pools=pools,
                launches=runtime.launches,
                feed=feed,
                limiter=RateLimiter(runtime.redis, settings.order_rate_limit),
                access=runtime.access,
                sim=runtime.sim,
                webhooks=runtime.webhooks,
                csrf_secret=secret,
            )
            reporter = Periodic(
                "socket count report",
                lambda: runtime.monitor.report_watchers(hub.watchers + feed.subscribers),
                interval=2.0,
                delay=0,
            )
            yield
        finally:
            if reporter is not None:
                await reporter.stop()
            await hub.stop()
            await pools.stop()
            await feed.stop()
            await runtime.close()

    return Litestar(
        route_handlers=[
            OrdersController,
            EventsController,
            KeysController,
            WebhooksController,
            AccountController,
            SimController,
            CatalogController,
            metrics,
            PagesController,
            MarketPanelController,
            order_events,
            all_events,
            dashboard_feed,
            PoolsController,
            pool_events,
            healthz,
            create_static_files_router(path="/static", directories=[ROOT / "static"]),
        ],
        dependencies={
            "web": Provide(provide_web, sync_to_thread=False),
            "principal": Provide(provide_principal),
        },
        lifespan=[lifespan],
        plugins=[HTMXPlugin()],
        template_config=TemplateConfig(
            directory=ROOT / "templates",
            engine=JinjaTemplateEngine,
            engine_callback=_register_filters,
        ),
        exception_handlers=EXCEPTION_HANDLERS,
        middleware=[guards(settings.served_hosts)],
        csrf_config=CSRFConfig(
            secret=secret,
            cookie_samesite="strict",
            cookie_secure=settings.https,
            # The JSON API has no cookies to ride on; programs post to it directly.
            exclude=["/api", "/healthz"],
        ),
        request_max_body_size=MAX_BODY_BYTES,
        openapi_config=openapi_config(),
    )


def _register_filters(engine: JinjaTemplateEngine) -> None:
    engine.engine.globals["retry"] = RETRY
    engine.engine.globals["new_key"] = lambda: str(uuid.uuid4())
    engine.engine.filters.update(
        amount=present.amount,
        bps=present.bps,
        percent=present.percent,
        limit_terms=present.limit_terms,
        price_unit=present.price_unit,
        short_hash=present.short_hash,
        seconds=present.seconds,
    )


def shared_secret(redis_url: str) -> str:
    """One CSRF signing key for every web process of a deployment, made on first start."""
    client = redis.Redis.from_url(redis_url, protocol=2, decode_responses=True)
    try:
        client.set("oee:secret-key", secrets.token_urlsafe(32), nx=True)
        return str(client.get("oee:secret-key"))
    finally:
        client.close()
