"""The HTML pages: dashboard, history, one order. Thin: the same services as the JSON API."""

from __future__ import annotations

import csv
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
from litestar.status_codes import HTTP_200_OK, HTTP_422_UNPROCESSABLE_ENTITY
from litestar_htmx import HTMXRequest, HTMXTemplate

from app.domain.access import Scope
from app.domain.filters import OrderFilter
from app.domain.kinds import KINDS
from app.domain.problems import InvalidOrder, NotCancellable, shown
from app.domain.requests import IDEMPOTENCY_KEY
from app.domain.status import OrderStatus
from app.domain.tokens import PAIRS_BY_SYMBOL
from app.events.schema import OrderView
from app.metrics import METRICS
from app.web import intake
from app.web.api.catalog import quote_board
from app.web.api.orders import client_of
from app.web.auth import Caller, requires
from app.web.context import Web, WebContext
from app.web.filters import parse_filter, problem_fields, problems_of
from app.web.guards import CSP
from app.web.present import limit_preview
from app.web.views import dashboard_context, form_context, order_context, waiting_gaps

HISTORY_PAGE = 50
GAPS_AT_ONCE = 100
ROWS_AT_ONCE = HISTORY_PAGE
CSV_LIMIT = 100_000


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
    async def dashboard(self, web: Web, principal: Caller) -> Template:
        return Template("pages/dashboard.html", context=await dashboard_context(web, principal))

    @post("/orders", guards=[requires(Scope.TRADE)])
    async def place(self, request: HTMXRequest, web: Web, principal: Caller) -> Response[Any]:
        """The dashboard's order form: the same rules and the same desk as the JSON API."""
        fields = intake.form_fields()
        submitted = await request.form()
        raw = {k: str(v) for k, v in submitted.items() if k in fields}
        once = str(submitted.get("idempotencyKey", ""))
        if not IDEMPOTENCY_KEY.match(once):
            once = ""  # an odd key from a hand-made form: place without one
        try:
            order_request = web.desk.vet(intake.form_request(raw))
        except InvalidOrder as error:
            METRICS.count("oee_orders_rejected_total", reason="invalid")
            errors = {p.field: p.message for p in error.problems}
            return await self._form_errors(request, web, principal, raw, errors, 422)
        verdict = await web.limiter.check(principal.key_id, principal.rate_limit)
        if not verdict.allowed:
            METRICS.count("oee_orders_rejected_total", reason="rate_limited")
            message = f"Rate limit reached: try again in {verdict.headers['Retry-After']} s."
            return await self._form_errors(
                request, web, principal, raw, {"form": message}, 429, verdict.headers
            )
        client, owner = client_of(request), principal.key_id
        repeat = False
        if once:
            placed = await web.desk.place_once(
                order_request, client, owner=owner, idempotency_key=once, fields=raw
            )
            order, repeat = OrderView.of(placed.order), placed.repeat
        else:
            order = OrderView.of(await web.desk.place(order_request, client, owner=owner))
        if not request.htmx:
            return Redirect(f"/orders/{order.order_id}", status_code=303)
        # The page says what happened beside the button (on a phone the table is far below),
        # and when a repeated submit (a double-click) found its order already placed.
        said = {"id": order.order_id, "repeat": repeat}
        headers = {"HX-Trigger": json.dumps({"orderPlaced": said})}
        return Template("partials/order_row.html", context={"order": order}, headers=headers)

    async def _form_errors(
        self,
        request: HTMXRequest,
        web: WebContext,
        principal: Caller,
        raw: dict[str, str],
        errors: dict[str, str],
        status: int,
        headers: dict[str, str] | None = None,
    ) -> Response[Any]:
        form = form_context(raw, errors)
        if request.htmx:
            return HTMXTemplate(
                template_name="partials/order_form.html",
                context=form,
                re_target="#order-form",
                re_swap="outerHTML",
                status_code=status,
                headers=headers,
            )
        context = {**await dashboard_context(web, principal), **form}
        return Template(
            "pages/dashboard.html", context=context, status_code=status, headers=headers
        )

    @get("/partials/quote")
    async def quote_preview(
        self,
        web: Web,
        token_in: Annotated[str, QueryParameter(name="tokenIn")] = "",
        token_out: Annotated[str, QueryParameter(name="tokenOut")] = "",
        amount: FromQuery[str] = "",
        slippage_bps: Annotated[str, QueryParameter(name="slippageBps")] = "",
        kind: Annotated[str, QueryParameter(name="type")] = "market",
        limit_price: Annotated[str, QueryParameter(name="limitPrice")] = "",
        routing: FromQuery[str] = "",
        snipe: FromQuery[str] = "",
    ) -> Template:
        """The live quote preview under the order form; for a limit, what the limit asks; for
        a sniper, what it waits for (its token has no quotes yet)."""
        if kind in KINDS and KINDS[kind].awaits_launch:
            waits: dict[str, object] = {"board": None, "problems": [], "kind": kind}
            waits["snipe"] = snipe.strip()
            return Template("partials/quote_preview.html", context=waits)
        fields = {"tokenIn": token_in, "tokenOut": token_out, "amount": amount, "routing": routing}
        try:
            request = intake.order_request({**fields, "slippageBps": slippage_bps or None})
        except InvalidOrder as error:
            return Template(
                "partials/quote_preview.html",
                context={"board": None, "problems": [p.message for p in error.problems]},
            )
        board = await web.quoter.board(request)
        context = {"board": quote_board(board), "problems": [], "kind": kind, "limit": None}
        if kind == "limit":
            context["limit"] = limit_preview(
                request, board.route.amount_out if board.route else None, limit_price
            )
        return Template("partials/quote_preview.html", context=context)

    @post("/orders/{order_id:str}/cancel", guards=[requires(Scope.TRADE)])
    async def cancel(
        self, order_id: FromPath[str], request: HTMXRequest, web: Web, principal: Caller
    ) -> Response[Any]:
        """The Cancel buttons (a waiting row, the order page): the API's cancel, shown.

        Too late (the order is executing or has ended) is not an error to the page: it shows
        the order as it stands and says why it was not cancelled.
        """
        headers = None
        try:
            order = await web.desk.cancel(order_id, principal.owner_filter)
        except NotCancellable as refused:
            order = await web.orders.order(order_id, principal.owner_filter)
            say = f"Not cancelled: the order is {refused.status} and will run to its end."
            headers = {"HX-Trigger": json.dumps({"notice": say})}
        if order is None:
            raise NotFoundException(detail=f"no order with id {shown(order_id)}")
        if not request.htmx:
            return Redirect(f"/orders/{order.id}", status_code=303)
        if request.htmx.target == "order-detail":
            context = {**await order_context(web, order), "viewer": principal}
            return Template("partials/order_detail.html", context=context, headers=headers)
        row = {"order": OrderView.of(order)}
        return Template("partials/order_row.html", context=row, headers=headers)

    @get("/partials/gaps")
    async def gaps(
        self,
        web: Web,
        principal: Caller,
        ids: Annotated[list[str] | None, QueryParameter(name="id")] = None,
    ) -> Template:
        """How far each waiting limit order on the page is from its limit, now: the dashboard
        asks every few seconds and swaps each order's distance in by id."""
        wanted = (ids or [])[:GAPS_AT_ONCE]
        orders = [
            o
            for o in await web.orders.some(wanted, principal.owner_filter)
            if o.status is OrderStatus.WAITING
        ]
        context = {
            "orders": [OrderView.of(o) for o in orders],
            "gaps": await web.quoter.gaps(orders),
        }
        return Template("partials/gaps.html", context=context)

    @get("/orders", dependencies={"chosen": Provide(history_filters, sync_to_thread=False)})
    async def history(
        self,
        request: HTMXRequest,
        web: Web,
        principal: Caller,
        chosen: NamedDependency[dict[str, str]],
        cursor: FromQuery[str | None] = None,
    ) -> Template:
        """Every order, newest first, filtered; a plain GET form that htmx enhances.

        A filter that cannot be applied (a bad value, To before From) is answered 422 with
        the reason next to its field, and no order is listed.
        """
        problems: list[str] = []
        errors: dict[str, str] = {}
        try:
            where: OrderFilter | None = self._filter(web, chosen, cursor, HISTORY_PAGE)
        except ValidationException as error:
            problems, errors, where = problems_of(error), problem_fields(error), None
        items, next_cursor, counts = [], None, {}
        if where is not None:
            where = replace(where, owner=principal.owner_filter)
            page = await web.orders.page(where)
            items, next_cursor = page.items, page.next_cursor
            counts = await web.orders.counts(where)
        query = {k: v for k, v in chosen.items() if v}
        context = {
            "page": "history",
            "viewer": principal,
            "filters": chosen,
            "filtered": bool(query or cursor),
            "problems": problems,
            "errors": errors,
            "orders": [OrderView.of(order) for order in items],
            "counts": [(s.value, counts.get(s, 0)) for s in OrderStatus],
            "total": sum(counts.values()),
            "statuses": [s.value for s in OrderStatus],
            "pairs": list(PAIRS_BY_SYMBOL),
            "venues": web.catalog.venue_names,
            "links": {
                "all": _url("/orders", {**query, "status": ""}),
                "status": {
                    s.value: _url("/orders", {**query, "status": s.value}) for s in OrderStatus
                },
                "first": _url("/orders", query) if cursor else None,
                "next": _url("/orders", {**query, "cursor": next_cursor}) if next_cursor else None,
                "csv": _url("/orders.csv", query),
            },
        }
        restoring = bool(request.htmx and request.htmx.history_restore_request)
        # htmx puts back a page after Back only from a 2xx answer: that one says the same, 200.
        status = HTTP_422_UNPROCESSABLE_ENTITY if problems and not restoring else HTTP_200_OK
        if request.htmx and not restoring:
            return HTMXTemplate(
                template_name="partials/history_results.html",
                context={**context, "partial": True},
                push_url=_url("/orders", {**query, "cursor": cursor or ""}),
                status_code=status,
            )
        return Template("pages/history.html", context=context, status_code=status)

    @get(
        "/orders.csv",
        media_type="text/csv",
        dependencies={"chosen": Provide(history_filters, sync_to_thread=False)},
    )
    async def export(
        self, web: Web, principal: Caller, chosen: NamedDependency[dict[str, str]]
    ) -> Stream:
        """Every order matching the history filters (all pages), newest first."""
        where = replace(self._filter(web, chosen, None, 1000), owner=principal.owner_filter)

        async def rows() -> AsyncIterator[str]:
            buffer = io.StringIO()
            writer = csv.writer(buffer)
            writer.writerow(CSV_COLUMNS)
            sent, cursor = 0, where
            while True:
                page = await web.orders.page(cursor)
                for order in page.items:
                    writer.writerow(_csv_row(OrderView.of(order)))
                sent += len(page.items)
                yield buffer.getvalue()
                buffer.seek(0)
                buffer.truncate()
                if not page.next_cursor or sent >= CSV_LIMIT:
                    return
                cursor = replace(where, before=page.next_cursor)

        return Stream(
            rows(),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": 'attachment; filename="orders.csv"'},
        )

    @get("/orders/{order_id:str}")
    async def order_page(self, order_id: FromPath[str], web: Web, principal: Caller) -> Template:
        order = await web.orders.order(order_id, principal.owner_filter)
        if order is None:
            raise NotFoundException(detail=f"no order with id {shown(order_id)}")
        return Template(
            "pages/order.html",
            context={"page": "order", "viewer": principal, **await order_context(web, order)},
        )

    @get("/partials/rows")
    async def rows(
        self,
        web: Web,
        principal: Caller,
        shown: Annotated[list[str] | None, QueryParameter(name="row")] = None,
    ) -> Template:
        """The history page's rows of orders still under way (`row=<id>:<seq>`, as shown),
        re-rendered when their order has moved on: static/app.js asks every few seconds."""
        seqs: dict[str, int] = {}
        for item in (shown or [])[:ROWS_AT_ONCE]:
            order_id, _, seq = item.partition(":")
            seqs[order_id] = int(seq) if seq.isdigit() else 0
        moved = [
            o
            for o in await web.orders.some(list(seqs), principal.owner_filter)
            if o.last_seq > seqs.get(o.id, 0)
        ]
        context = {
            "orders": [OrderView.of(o) for o in moved],
            "gaps": await waiting_gaps(web, moved),
        }
        return Template("partials/rows.html", context=context)

    @staticmethod
    def _filter(
        web: WebContext, chosen: Mapping[str, str | None], cursor: str | None, limit: int
    ) -> OrderFilter:
        """The history filters as an `OrderFilter`, or a 400 naming each bad one (To before
        From too: nothing could match)."""
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
            venues=web.catalog.venue_names,
        )


CSV_COLUMNS = (
    "orderId", "createdAt", "status", "type", "tokenIn", "tokenOut", "amount", "slippageBps",
    "dex", "quotedOut", "minOut", "amountOut", "executedPrice", "txHash", "attempt", "error",
    "clientOrderId",
)  # fmt: skip


def _csv_row(order: OrderView) -> list[str]:
    return [
        order.order_id, order.created_at.isoformat(), order.status.value, order.type,
        order.token_in, order.token_out, order.amount, str(order.slippage_bps), order.dex or "",
        order.quoted_out or "", order.min_out or "", order.amount_out or "",
        order.executed_price or "", order.tx_hash or "", str(order.attempt), order.error or "",
        order.client_order_id or "",
    ]  # fmt: skip


def _url(path: str, params: Mapping[str, str | None]) -> str:
    query = urlencode({k: v for k, v in params.items() if v})
    return f"{path}?{query}" if query else path
