"""Live HTML for the pages: `WS /ws/dashboard`, read by the htmx ws extension.

Every message is one or more elements swapped out-of-band by id, rendered from the
same partials as the full pages. On (re)connect the socket first sends the current
state of what the page shows, so a page that lost its connection is never stale.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from litestar import WebSocket, websocket
from litestar.status_codes import WS_1008_POLICY_VIOLATION

from app.db.orders import OrderFilter
from app.events.schema import Notice, OrderView
from app.ids import parse_uuid
from app.web.pages import RECENT_ROWS, charts_context, order_context
from app.web.services import Services, WebServices
from app.web.sockets import (
    WS_1013_TRY_AGAIN_LATER,
    close,
    closes,
    guarded,
    origin_allowed,
    reject,
    send_text,
    shown,
)

CHART_DELAY = 0.5
"""Seconds a burst of finished orders is gathered into one chart update."""


@websocket("/ws/dashboard")
async def dashboard_feed(socket: WebSocket[Any, Any, Any], services: Services) -> None:
    """Rows and charts for the dashboard; with `?order=<id>`, that order's page."""
    if not origin_allowed(socket, services.runtime.settings):
        await reject(socket, "origin not allowed")
        return
    raw_order = socket.query_params.get("order")
    await socket.accept()
    order_id = parse_uuid(raw_order) if raw_order else None
    if raw_order and (order_id is None or await services.runtime.store.get(order_id) is None):
        await close(socket, WS_1008_POLICY_VIOLATION, f"unknown order {shown(raw_order)}")
        return
    engine = socket.app.template_engine

    def render(template: str, **context: Any) -> str:
        return str(engine.get_template(template).render(**context))  # type: ignore[union-attr]

    async def charts(newer_than: float) -> str:
        return await services.charts.get(lambda: _charts_html(services, render), newer_than)

    async def snapshot() -> str:
        if order_id is not None:
            order = await services.runtime.store.get(order_id)
            return await _order_html(services, render, order) if order else ""
        page = await services.runtime.store.page(OrderFilter(limit=RECENT_ROWS))
        rows = "".join(render("partials/order_row.html", order=order) for order in page.items)
        recent_charts = await charts(time.monotonic() - CHART_DELAY)
        return f'<tbody hx-swap-oob="innerHTML:#recent-rows">{rows}</tbody>{recent_charts}'

    def update(notice: Notice) -> str:
        order = notice.order
        if notice.event.seq == 1:
            row = render("partials/order_row.html", order=order)
            return f'<tbody hx-swap-oob="afterbegin:#recent-rows">{row}</tbody>'
        return render("partials/order_row.html", order=order, oob=True)

    async with guarded(socket):
        if not services.hub.connected:
            await close(socket, WS_1013_TRY_AGAIN_LATER, "live updates are reconnecting")
            return
        async with (
            services.hub.subscribe(str(order_id) if order_id else None) as sub,
            closes(socket, sub),
        ):
            await send_text(socket, await snapshot())
            # Charts follow finished orders, at most every CHART_DELAY, trailing the last.
            charts_stale_since: float | None = None
            while True:
                wait = None
                if charts_stale_since is not None:
                    wait = max(0.0, charts_stale_since + CHART_DELAY - time.monotonic())
                try:
                    item = await asyncio.wait_for(sub.get(), wait)
                except TimeoutError:
                    assert charts_stale_since is not None
                    await send_text(socket, await charts(charts_stale_since))
                    charts_stale_since = None
                    continue
                if item is None:
                    return
                if not isinstance(item, Notice):
                    html = await snapshot()
                elif order_id is not None:
                    html = await _order_html(services, render, item.order)
                else:
                    html = update(item)
                    if item.event.terminal and charts_stale_since is None:
                        charts_stale_since = time.monotonic()
                if html:
                    await send_text(socket, html)


async def _order_html(services: WebServices, render: Any, order: OrderView) -> str:
    # The notice's order may be older than the newest row: always render the stored state.
    current = await services.runtime.store.get(order.order_id) or order
    return str(
        render("partials/order_detail.html", oob=True, **await order_context(services, current))
    )


async def _charts_html(services: WebServices, render: Any) -> str:
    return str(render("partials/charts.html", oob=True, **await charts_context(services)))
