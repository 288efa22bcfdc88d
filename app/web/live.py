"""Live HTML for the pages: `WS /ws/dashboard`, read by the htmx ws extension.

Every message is one or more elements swapped out-of-band by id, rendered from the
same partials as the full pages. On (re)connect the socket first sends the current
state of what the page shows, so a page that lost its connection is never stale.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from typing import Any

from litestar import WebSocket, websocket
from litestar.status_codes import WS_1008_POLICY_VIOLATION

from app.domain.access import Principal
from app.domain.order import Order
from app.domain.problems import shown
from app.events.bus import Subscription
from app.events.pools import PoolWatch
from app.events.schema import Notice
from app.web.auth import socket_principal
from app.web.context import Web, WebContext
from app.web.sockets import (
    GONE,
    WS_1013_TRY_AGAIN_LATER,
    TooSlow,
    close,
    closes,
    guarded,
    origin_allowed,
    reject,
    send_text,
)
from app.web.views import charts_context, launches_context, order_context, recent_orders

CHART_DELAY = 0.5
"""Seconds a burst of finished orders is gathered into one chart update."""


@websocket("/ws/dashboard")
async def dashboard_feed(socket: WebSocket[Any, Any, Any], web: Web) -> None:
    """Rows and charts for the dashboard; with `?order=<id>`, that order's page."""
    if not origin_allowed(socket, web.settings):
        await reject(socket, "origin not allowed")
        return
    viewer = await socket_principal(socket, web)
    if viewer is None:
        return
    raw_order = socket.query_params.get("order")
    await socket.accept()
    async with guarded(socket):
        owner = viewer.owner_filter
        order = await web.orders.order(raw_order, owner) if raw_order else None
        if raw_order and order is None:
            await close(socket, WS_1008_POLICY_VIOLATION, f"unknown order {shown(raw_order)}")
            return
        if not web.hub.connected:
            await close(socket, WS_1013_TRY_AGAIN_LATER, "live updates are reconnecting")
            return
        page = OrderPage(socket, web, viewer, order) if order else Dashboard(socket, web, viewer)
        subscription = web.hub.subscribe(order.id if order else None, owner)
        async with subscription as sub, closes(socket, sub):
            if isinstance(page, Dashboard):
                async with web.pools.subscribe() as watch, launches_pushed(page, watch):
                    await page.follow(sub)
            else:
                await page.follow(sub)


class LivePage:
    """One browser page kept current: a snapshot on connect, then an update per notice."""

    def __init__(
        self, socket: WebSocket[Any, Any, Any], web: WebContext, viewer: Principal
    ) -> None:
        self.socket = socket
        self.web = web
        self.viewer = viewer

    def render(self, template: str, **context: Any) -> str:
        engine = self.socket.app.template_engine
        return str(engine.get_template(template).render(**context))  # type: ignore[union-attr]

    async def follow(self, sub: Subscription) -> None:
        await send_text(self.socket, await self.snapshot())
        while (item := await self.next(sub)) is not None:
            html = await self.update(item) if isinstance(item, Notice) else await self.snapshot()
            if html:
                await send_text(self.socket, html)

    async def next(self, sub: Subscription) -> object | None:
        """The next notice (or RESYNC), None once the client is gone."""
        return await sub.get()

    async def snapshot(self) -> str:
        raise NotImplementedError

    async def update(self, notice: Notice) -> str:
        raise NotImplementedError


class Dashboard(LivePage):
    """The live table of recent orders and the charts, which trail bursts of fills."""

    def __init__(
        self, socket: WebSocket[Any, Any, Any], web: WebContext, viewer: Principal
    ) -> None:
        super().__init__(socket, web, viewer)
        self.charts_stale_since: float | None = None

    async def snapshot(self) -> str:
        recent = await recent_orders(self.web, self.viewer)
        rows = "".join(
            self.render("partials/order_row.html", order=order, gaps=recent["gaps"])
            for order in recent["orders"]
        )
        charts = await self.charts(time.monotonic() - CHART_DELAY)
        return f'<tbody hx-swap-oob="innerHTML:#recent-rows">{rows}</tbody>{charts}'

    async def update(self, notice: Notice) -> str:
        if notice.event.terminal and self.charts_stale_since is None:
            self.charts_stale_since = time.monotonic()
        if notice.event.seq == 1:
            row = self.render("partials/order_row.html", order=notice.order)
            return f'<tbody hx-swap-oob="afterbegin:#recent-rows">{row}</tbody>'
        return self.render("partials/order_row.html", order=notice.order, oob=True)

    async def next(self, sub: Subscription) -> object | None:
        # Charts follow finished orders at most every CHART_DELAY, always trailing the last.
        while self.charts_stale_since is not None:
            wait = max(0.0, self.charts_stale_since + CHART_DELAY - time.monotonic())
            try:
                return await asyncio.wait_for(sub.get(), wait)
            except TimeoutError:
                await send_text(self.socket, await self.charts(self.charts_stale_since))
                self.charts_stale_since = None
        return await sub.get()

    async def launches(self) -> str:
        context = await launches_context(self.web)
        return self.render("partials/launches.html", oob=True, **context)

    async def charts(self, newer_than: float) -> str:
        owner = self.viewer.owner_filter

        async def compute() -> str:
            context = await charts_context(self.web, owner)
            return self.render("partials/charts.html", oob=True, **context)

        return await self.web.charts[owner].get(compute, newer_than)


@contextlib.asynccontextmanager
async def launches_pushed(page: Dashboard, watch: PoolWatch) -> AsyncIterator[None]:
    """While the block runs, the dashboard's Launches panel follows every pool event."""

    async def push() -> None:
        with contextlib.suppress(*GONE, TooSlow, OSError):
            while await watch.get() is not None:
                await send_text(page.socket, await page.launches())

    pusher = asyncio.create_task(push(), name="launches push")
    try:
        yield
    finally:
        pusher.cancel()


class OrderPage(LivePage):
    """One order's details and timeline."""

    def __init__(
        self, socket: WebSocket[Any, Any, Any], web: WebContext, viewer: Principal, order: Order
    ) -> None:
        super().__init__(socket, web, viewer)
        self.order_id = order.id

    async def snapshot(self) -> str:
        # Always render the stored state: a notice's order may be older than the newest step.
        order = await self.web.orders.order(self.order_id)
        if order is None:
            return ""
        return self.render(
            "partials/order_detail.html", oob=True, **await order_context(self.web, order)
        )

    async def update(self, notice: Notice) -> str:
        return await self.snapshot()
