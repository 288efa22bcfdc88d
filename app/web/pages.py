"""The HTML pages: dashboard, history, one order. Thin: the same services as the JSON API."""

from __future__ import annotations

import csv
import functools
import io
import json
from collections.abc import AsyncIterator, Mapping
from dataclasses import replace
from typing import Annotated, Any
from urllib.parse import urlencode

from litestar import Controller, Response, get, post
from litestar.datastructures import ResponseHeader
from litestar.di import NamedDependency, Provide
from litestar.exceptions import NotFoundException, ValidationException
from litestar.params import FromPath, FromQuery, QueryParameter
from litestar.response import Redirect, Stream, Template
from litestar_htmx import HTMXRequest, HTMXTemplate

from app.db.orders import OrderFilter
from app.domain.orders import DEFAULT_SLIPPAGE_BPS, InvalidOrder, validate_order
from app.domain.status import OrderStatus
from app.domain.tokens import PAIRS, PAIRS_BY_SYMBOL, TOKENS
from app.events.schema import OrderView
from app.ids import parse_uuid
from app.venues.catalog import VENUES
from app.web.api.market import quote_board
from app.web.api.orders import client_of
from app.web.filters import parse_filter, problems_of
from app.web.present import (
    confirm_times,
    execution_vs_quote,
    route_choices,
    timeline,
    total_time,
    venue_shares,
)
from app.web.services import Services, WebServices

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'"
)
RECENT_ROWS = 25
HISTORY_PAGE = 50
CSV_LIMIT = 100_000
FORM_FIELDS = ("type", "tokenIn", "tokenOut", "amount", "slippageBps")


@functools.cache
def markets_json() -> str:
    """For the form: which tokens each token trades against."""
    markets: dict[str, list[str]] = {symbol: [] for symbol in TOKENS}
    for pair in PAIRS:
        markets[pair.base].append(pair.quote)
        markets[pair.quote].append(pair.base)
    return json.dumps(markets)


def form_values(raw: dict[str, str] | None = None) -> dict[str, str]:
    values = {"tokenIn": "SOL", "tokenOut": "USDC", "amount": "1", "slippageBps": "50"}
    values.update({k: v for k, v in (raw or {}).items() if k in FORM_FIELDS})
    try:
        values["slippagePercent"] = f"{int(values['slippageBps']) / 100:.2f}"
    except ValueError:
        values["slippagePercent"] = "?"
    return values


async def charts_context(services: WebServices) -> dict[str, Any]:
    store = services.runtime.store
    counts = await store.recent_fills_by_venue()
    return {
        "shares": venue_shares(counts),
        "fills_total": sum(counts.values()),
        "confirm": confirm_times(await store.recent_confirm_times()),
    }


async def order_context(services: WebServices, order: OrderView) -> dict[str, Any]:
    events = await services.runtime.store.events(order.order_id)
    return {
        "order": order,
        "stages": timeline(events),
        "routes": route_choices(order, events),
        "vs_quote": execution_vs_quote(order),
        "total": total_time(order),
    }


def history_filters(
    status: FromQuery[str | None] = None,
    pair: FromQuery[str | None] = None,
    dex: FromQuery[str | None] = None,
    created_from: Annotated[str | None, QueryParameter(name="from")] = None,
    created_to: Annotated[str | None, QueryParameter(name="to")] = None,
) -> dict[str, str]:
    """The history page's filters as the form names them; the page and its CSV share them."""
    return {
        "status": status or "",
        "pair": pair or "",
        "dex": dex or "",
        "from": created_from or "",
        "to": created_to or "",
    }


class PagesController(Controller):
    include_in_schema = False
    response_headers = [ResponseHeader(name="Content-Security-Policy", value=CSP)]

    @get("/")
    async def dashboard(self, services: Services) -> Template:
        return Template("pages/dashboard.html", context=await self._dashboard(services))

    @post("/orders")
    async def place(self, request: HTMXRequest, services: Services) -> Response[Any]:
        """The dashboard's order form: the same rules and the same desk as the JSON API."""
        raw = {k: str(v) for k, v in (await request.form()).items() if k in FORM_FIELDS}
        try:
            order_request = validate_order(
                type=raw.get("type", "market"),
                token_in=raw.get("tokenIn", ""),
                token_out=raw.get("tokenOut", ""),
                amount=raw.get("amount", ""),
                slippage_bps=raw.get("slippageBps") or None,
            )
        except InvalidOrder as error:
            errors = {p.field: p.message for p in error.problems}
            return await self._form_errors(request, services, raw, errors, 422)
        verdict = await services.limiter.check(client_of(request))
        if not verdict.allowed:
            message = f"Rate limit reached: try again in {verdict.headers['Retry-After']} s."
            return await self._form_errors(
                request, services, raw, {"form": message}, 429, verdict.headers
            )
        order = await services.runtime.desk.place(order_request, client_of(request))
        if not request.htmx:
            return Redirect(f"/orders/{order.order_id}", status_code=303)
        return Template("partials/order_row.html", context={"order": order})

    async def _form_errors(
        self,
        request: HTMXRequest,
        services: WebServices,
        raw: dict[str, str],
        errors: dict[str, str],
        status: int,
        headers: dict[str, str] | None = None,
    ) -> Response[Any]:
        form = {"form": form_values(raw), "errors": errors}
        if request.htmx:
            return HTMXTemplate(
                template_name="partials/order_form.html",
                context={**form, "tokens": list(TOKENS.values()), "markets_json": markets_json()},
                re_target="#order-form",
                re_swap="outerHTML",
                status_code=status,
                headers=headers,
            )
        context = {**await self._dashboard(services), **form}
        return Template(
            "pages/dashboard.html", context=context, status_code=status, headers=headers
        )

    async def _dashboard(self, services: WebServices) -> dict[str, Any]:
        page = await services.runtime.store.page(OrderFilter(limit=RECENT_ROWS))
        return {
            "page": "dashboard",
            "form": form_values(),
            "errors": {},
            "tokens": list(TOKENS.values()),
            "markets_json": markets_json(),
            "orders": page.items,
            "board": None,
            "problems": [],
            **await charts_context(services),
        }

    @get("/partials/quote")
    async def quote_preview(
        self,
        services: Services,
        token_in: Annotated[str, QueryParameter(name="tokenIn")] = "",
        token_out: Annotated[str, QueryParameter(name="tokenOut")] = "",
        amount: FromQuery[str] = "",
        slippage_bps: Annotated[str, QueryParameter(name="slippageBps")] = "",
    ) -> Template:
        """The live quote preview under the order form."""
        try:
            slippage = int(slippage_bps) if slippage_bps else DEFAULT_SLIPPAGE_BPS
            board = await quote_board(services, token_in, token_out, amount, slippage)
            context: dict[str, Any] = {"board": board, "problems": []}
        except ValidationException as error:
            context = {"board": None, "problems": problems_of(error)}
        except ValueError:
            context = {"board": None, "problems": ["slippageBps must be a whole number"]}
        return Template("partials/quote_preview.html", context=context)

    @get("/orders", dependencies={"chosen": Provide(history_filters, sync_to_thread=False)})
    async def history(
        self,
        request: HTMXRequest,
        services: Services,
        chosen: NamedDependency[dict[str, str]],
        cursor: FromQuery[str | None] = None,
    ) -> Template:
        """Every order, newest first, filtered; a plain GET form that htmx enhances."""
        problems: list[str] = []
        try:
            where = self._filter(chosen, cursor, HISTORY_PAGE)
        except ValidationException as error:
            problems = problems_of(error)
            where = OrderFilter(limit=HISTORY_PAGE)
        store = services.runtime.store
        page = await store.page(where)
        counts = await store.count_by_status(where)
        query = {k: v for k, v in chosen.items() if v}
        context = {
            "page": "history",
            "filters": chosen,
            "problems": problems,
            "orders": page.items,
            "counts": [(s.value, counts.get(s, 0)) for s in OrderStatus],
            "total": sum(counts.values()),
            "statuses": [s.value for s in OrderStatus],
            "pairs": list(PAIRS_BY_SYMBOL),
            "venues": [v.name for v in VENUES],
            "links": {
                "all": _url("/orders", {**query, "status": ""}),
                "status": {
                    s.value: _url("/orders", {**query, "status": s.value}) for s in OrderStatus
                },
                "first": _url("/orders", query) if cursor else None,
                "next": _url("/orders", {**query, "cursor": page.next_cursor})
                if page.next_cursor
                else None,
                "csv": _url("/orders.csv", query),
            },
        }
        if request.htmx and not request.htmx.history_restore_request:
            return HTMXTemplate(
                template_name="partials/history_results.html",
                context=context,
                push_url=_url("/orders", {**query, "cursor": cursor or ""}),
            )
        return Template("pages/history.html", context=context)

    @get(
        "/orders.csv",
        media_type="text/csv",
        dependencies={"chosen": Provide(history_filters, sync_to_thread=False)},
    )
    async def export(self, services: Services, chosen: NamedDependency[dict[str, str]]) -> Stream:
        """Every order matching the history filters (all pages), newest first."""
        where = self._filter(chosen, None, 1000)
        store = services.runtime.store

        async def rows() -> AsyncIterator[str]:
            buffer = io.StringIO()
            writer = csv.writer(buffer)
            writer.writerow(CSV_COLUMNS)
            sent, cursor = 0, where
            while True:
                page = await store.page(cursor)
                for order in page.items:
                    writer.writerow(_csv_row(order))
                sent += len(page.items)
                yield buffer.getvalue()
                buffer.seek(0)
                buffer.truncate()
                if not page.next_cursor or sent >= CSV_LIMIT:
                    return
                cursor = replace(where, before=parse_uuid(page.next_cursor))

        return Stream(
            rows(),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": 'attachment; filename="orders.csv"'},
        )

    @get("/orders/{order_id:str}")
    async def order_page(self, order_id: FromPath[str], services: Services) -> Template:
        parsed = parse_uuid(order_id)
        order = await services.runtime.store.get(parsed) if parsed else None
        if order is None:
            raise NotFoundException(detail=f"no order with id {order_id!r}")
        return Template(
            "pages/order.html", context={"page": "order", **await order_context(services, order)}
        )

    @staticmethod
    def _filter(chosen: Mapping[str, str | None], cursor: str | None, limit: int) -> OrderFilter:
        return parse_filter(
            status=[chosen["status"] or ""] if chosen.get("status") else None,
            pair=chosen.get("pair") or None,
            token_in=None,
            token_out=None,
            dex=chosen.get("dex") or None,
            created_from=chosen.get("from") or None,
            created_to=chosen.get("to") or None,
            cursor=cursor,
            limit=limit,
        )


CSV_COLUMNS = (
    "orderId", "createdAt", "status", "type", "tokenIn", "tokenOut", "amount", "slippageBps",
    "dex", "quotedOut", "minOut", "amountOut", "executedPrice", "txHash", "attempt", "error",
)  # fmt: skip


def _csv_row(order: OrderView) -> list[str]:
    return [
        order.order_id, order.created_at.isoformat(), order.status.value, order.type,
        order.token_in, order.token_out, order.amount, str(order.slippage_bps), order.dex or "",
        order.quoted_out or "", order.min_out or "", order.amount_out or "",
        order.executed_price or "", order.tx_hash or "", str(order.attempt), order.error or "",
    ]  # fmt: skip


def _url(path: str, params: Mapping[str, str | None]) -> str:
    query = urlencode({k: v for k, v in params.items() if v})
    return f"{path}?{query}" if query else path
