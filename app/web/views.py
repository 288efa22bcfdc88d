"""What the pages show, built from services: the context each template renders.

Shared by the full pages (app/web/pages.py) and the live updates (app/web/live.py), so a
component looks the same however it reaches the browser.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from typing import Any

from app.domain.access import Principal
from app.domain.filters import OrderFilter
from app.domain.kinds import KINDS
from app.domain.kinds.limit import Gap
from app.domain.order import Order
from app.domain.status import OrderStatus
from app.domain.tokens import PAIRS, SEEDED, TOKENS, Token
from app.events.schema import OrderView
from app.web.context import WebContext
from app.web.intake import form_fields
from app.web.present import (
    confirm_times,
    execution_vs_quote,
    price_lines,
    route_choices,
    timeline,
    total_time,
    venue_shares,
)

RECENT_ROWS = 50
"""Rows the dashboard's live table shows: on load, in the socket's snapshot, and at most while
it runs (static/app.js reads it from the table's `data-max-rows`)."""
FORM_DEFAULTS = {"type": "market", "tokenIn": "SOL", "tokenOut": "USDC", "amount": "1",
                 "slippageBps": "50", "expiresIn": "86400", "routing": "auto"}  # fmt: skip


def counterparts_json() -> str:
    return _counterparts(len(PAIRS))


@functools.cache
def _counterparts(pairs: int) -> str:
    """For the form: which tokens each token trades against."""
    counterparts: dict[str, list[str]] = {symbol: [] for symbol in TOKENS}
    for pair in PAIRS:
        counterparts[pair.base].append(pair.quote)
        counterparts[pair.quote].append(pair.base)
    return json.dumps(counterparts)


def form_values(raw: Mapping[str, str] | None = None) -> dict[str, str]:
    """The order form's fields: defaults, then what the user typed."""
    values = {**FORM_DEFAULTS, **{k: v for k, v in (raw or {}).items() if k in form_fields()}}
    try:
        values["slippagePercent"] = f"{int(values['slippageBps']) / 100:.2f}"
    except ValueError:
        values["slippagePercent"] = "?"
    return values


def form_context(
    raw: Mapping[str, str] | None = None, errors: Mapping[str, str] | None = None
) -> dict[str, Any]:
    return {
        "form": form_values(raw),
        "kinds": list(KINDS.kinds.values()),
        "errors": dict(errors or {}),
        "tokens": form_tokens(),
        "counterparts_json": counterparts_json(),
    }


FORM_LAUNCHED = 12
"""The newest launched tokens the form offers (the API takes any)."""


def form_tokens() -> list[Token]:
    seeded = [t for t in TOKENS.values() if t.symbol in SEEDED]
    launched = [t for t in TOKENS.values() if t.symbol not in SEEDED]
    return seeded + launched[-FORM_LAUNCHED:]


async def recent_orders(web: WebContext, viewer: Principal) -> dict[str, Any]:
    """The dashboard's table: the newest orders, and how far the waiting ones are from
    their limits (app.js keeps that fresh)."""
    page = await web.orders.page(OrderFilter(limit=RECENT_ROWS, owner=viewer.owner_filter))
    return {
        "orders": [OrderView.of(order) for order in page.items],
        "gaps": await waiting_gaps(web, page.items),
    }


async def waiting_gaps(web: WebContext, orders: list[Order]) -> dict[str, Gap | None]:
    return await web.quoter.gaps([o for o in orders if o.status is OrderStatus.WAITING])


CHART_WINDOW = 40
"""Every dashboard chart is drawn from the same fills: the last this many confirmed orders."""


async def charts_context(web: WebContext, owner: str | None) -> dict[str, Any]:
    fills = await web.orders.recent_fills(owner, CHART_WINDOW)
    return {
        "fills_total": len(fills),
        "shares": venue_shares(fills),
        "confirm": confirm_times(fills),
        "prices": price_lines(fills),
    }


async def dashboard_context(web: WebContext, viewer: Principal) -> dict[str, Any]:
    return {
        "page": "dashboard",
        "viewer": viewer,
        **form_context(),
        **await recent_orders(web, viewer),
        "live_rows": RECENT_ROWS,
        "board": None,
        "pairs": [pair.symbol for pair in PAIRS],
        "problems": [],
        **await charts_context(web, viewer.owner_filter),
        **await launches_context(web),
    }


async def launches_context(web: WebContext) -> dict[str, Any]:
    pools = await web.launches.pools(limit=LAUNCHES_SHOWN)
    return {"pools": pools, "launch_every": web.settings.mock_launch_every}


LAUNCHES_SHOWN = 8


async def order_context(web: WebContext, order: Order) -> dict[str, Any]:
    view = OrderView.of(order)
    events = await web.orders.events(order.id)
    return {
        "order": view,
        "gaps": await waiting_gaps(web, [order]),
        "stages": timeline(events),
        "routes": route_choices(view, events),
        "vs_quote": execution_vs_quote(view),
        "total": total_time(view),
    }
