"""Orders over JSON: place one, read one with its events, list them."""

from __future__ import annotations

import functools
import re
from dataclasses import replace
from typing import TYPE_CHECKING, Annotated, Any
from urllib.parse import urlencode

import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.exceptions import NotFoundException, TooManyRequestsException
from litestar.params import FromPath, FromQuery, HeaderParameter, JSONBody, QueryParameter
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED

from app.domain.access import Scope
from app.domain.kinds import KINDS
from app.domain.problems import InvalidOrder, shown
from app.domain.requests import (
    AMOUNT_PATTERN,
    CLIENT_ORDER_ID_PATTERN,
    DEFAULT_SLIPPAGE_BPS,
    IDEMPOTENCY_KEY_PATTERN,
    MAX_AMOUNT_CHARS,
    MAX_SLIPPAGE_BPS,
    MIN_SLIPPAGE_BPS,
)
from app.domain.split import AUTO, MIN_GAIN_BPS, ROUTINGS
from app.domain.status import OrderStatus
from app.domain.tokens import SEEDED
from app.events.schema import OrderEvent, OrderView
from app.metrics import METRICS
from app.web import intake
from app.web.auth import Caller, requires
from app.web.context import Web
from app.web.errors import ERRORS_FOR_READS, ERRORS_FOR_WRITES, NOT_FOUND, PLACING
from app.web.filters import MAX_PAGE, parse_filter
from app.web.strict import StrictRequest

AMOUNT_DOC = (
    'How much tokenIn to sell: a decimal string in plain ASCII notation (e.g. "1.5"), or a '
    "JSON number in the same notation (no exponent). At most "
    f"{MAX_AMOUNT_CHARS} characters and as many decimal places as tokenIn has."
)
SYMBOL = Annotated[
    str,
    msgspec.Meta(
        max_length=64,
        description=(
            f"A token symbol ({', '.join(sorted(SEEDED))} or a launched token's); a sniper's"
            " tokenOut may name a token not launched yet, by symbol or base58 mint."
        ),
        examples=["SOL"],
    ),
]


class OrderBody(msgspec.Struct, rename="camel", forbid_unknown_fields=True, kw_only=True):
    """An order: swap `amount` of `tokenIn` for `tokenOut`, on the terms of its `type`."""

    token_in: SYMBOL
    token_out: SYMBOL
    amount: Annotated[
        msgspec.Raw,
        msgspec.Meta(
            description=AMOUNT_DOC,
            extra_json_schema={
                "extra": {
                    "oneOf": [
                        {
                            "type": "string",
                            "pattern": AMOUNT_PATTERN,
                            "maxLength": MAX_AMOUNT_CHARS,
                        },
                        {"type": "number", "exclusiveMinimum": 0},
                    ],
                    "examples": ["1.5"],
                }
            },
        ),
    ]
    type: Annotated[
        str,
        msgspec.Meta(
            max_length=16,
            description=f"Order type: {', '.join(KINDS.names())}.",
            examples=["market"],
        ),
    ] = "market"
    client_order_id: (
        Annotated[
            str,
            msgspec.Meta(
                pattern=CLIENT_ORDER_ID_PATTERN,
                description="Your own reference for the order, unique among your orders.",
            ),
        ]
        | None
    ) = None
    slippage_bps: Annotated[
        int,
        msgspec.Meta(
            description="The most the fill may fall short of the first quote, in bps.",
            # Documented here, enforced by the domain's rules (with their wording).
            extra_json_schema={"extra": {"minimum": MIN_SLIPPAGE_BPS, "maximum": MAX_SLIPPAGE_BPS}},
        ),
    ] = DEFAULT_SLIPPAGE_BPS
    routing: Annotated[
        str,
        msgspec.Meta(
            max_length=16,
            description=(
                "`auto`: split the order across two venues when that pays at least "
                f"{MIN_GAIN_BPS} bps more than the best single venue; `single`: one venue."
            ),
            extra_json_schema={"extra": {"enum": list(ROUTINGS)}},
        ),
    ] = AUTO

    def fields(self) -> dict[str, object]:
        """The request in the API's field names, the amount exactly as the client wrote it
        (a JSON string's content, or a JSON number's digits)."""
        raw = bytes(self.amount)
        text = msgspec.json.decode(raw, type=str) if raw.startswith(b'"') else raw.decode()
        values: dict[str, object] = {
            "type": self.type,
            "tokenIn": self.token_in,
            "tokenOut": self.token_out,
            "amount": text,
            "slippageBps": self.slippage_bps,
            "clientOrderId": self.client_order_id,
            "routing": self.routing,
        }
        for name, encode_name in _names(type(self)):
            value = getattr(self, name)
            if encode_name not in values and value is not None:
                values[encode_name] = value
        return values


@functools.cache
def _names(body: type[msgspec.Struct]) -> tuple[tuple[str, str], ...]:
    """A body's (attribute, JSON) field names. Cached: msgspec re-reads the annotations on
    every call (about a tenth of the web process's CPU per order, measured)."""
    return tuple((info.name, info.encode_name) for info in msgspec.structs.fields(body))


def _with_kind_fields() -> type[OrderBody]:
    """The body with every order kind's own fields (optional here; each kind requires its own)."""
    extras = [
        (
            re.sub(r"(?<!^)(?=[A-Z])", "_", f.name).lower(),
            Annotated[f.kind | None, msgspec.Meta(description=f.description)],
            msgspec.field(default=None, name=f.name),
        )
        for kind in KINDS.kinds.values()
        for f in kind.fields
    ]
    body = msgspec.defstruct("ExecuteOrder", extras, bases=(OrderBody,), kw_only=True)
    assert issubclass(body, OrderBody)
    return body


if TYPE_CHECKING:
    ExecuteOrder = OrderBody
else:
    ExecuteOrder = _with_kind_fields()


class Links(msgspec.Struct):
    self: str
    events: str
    page: str


class PlacedOrder(msgspec.Struct, rename="camel"):
    order_id: str
    status: OrderStatus
    order: OrderView
    links: Links


class OrderDetail(msgspec.Struct, rename="camel"):
    order: OrderView
    events: list[OrderEvent]
    links: Links


class CancelledOrder(msgspec.Struct, rename="camel"):
    order: OrderView
    links: Links


class OrderPage(msgspec.Struct, rename="camel"):
    items: list[OrderView]
    next_cursor: str | None
    next: str | None
    """The next page's URL, filters kept; null on the last page."""


def links(order_id: str) -> Links:
    return Links(
        self=f"/api/orders/{order_id}",
        events=f"/api/orders/{order_id}/ws",
        page=f"/orders/{order_id}",
    )


def client_of(request: Request[Any, Any, Any]) -> str:
    return request.client.host if request.client else "unknown"


class OrdersController(Controller):
    request_class = StrictRequest
    path = "/api/orders"
    tags = ["orders"]

    @post(
        "/execute",
        status_code=HTTP_201_CREATED,
        responses=PLACING,
        guards=[requires(Scope.TRADE)],
    )
    async def execute(
        self,
        request: Request[Any, Any, Any],
        data: JSONBody[ExecuteOrder],
        web: Web,
        principal: Caller,
        idempotency_key: Annotated[
            str | None,
            HeaderParameter(
                name="Idempotency-Key",
                pattern=IDEMPOTENCY_KEY_PATTERN,
                description="Retry safely: the same key and body replay the first answer.",
            ),
        ] = None,
    ) -> Response[PlacedOrder]:
        """Place an order. It is stored as `pending` and executed by a worker."""
        fields = data.fields()
        try:
            order_request = web.desk.vet(intake.order_request(fields))
        except InvalidOrder as error:
            METRICS.count("oee_orders_rejected_total", reason="invalid")
            raise intake.invalid(error, "body") from None
        # Only a valid order uses up the key's allowance.
        verdict = await web.limiter.check(principal.key_id, principal.rate_limit)
        if not verdict.allowed:
            METRICS.count("oee_orders_rejected_total", reason="rate_limited")
            raise TooManyRequestsException(
                detail=f"order rate limit of {verdict.limit} per minute reached; "
                f"retry in {verdict.headers['Retry-After']}s",
                headers=verdict.headers,
            )
        client, owner = client_of(request), principal.key_id
        if idempotency_key is None:
            order, repeat = await web.desk.place(order_request, client, owner=owner), False
        else:
            placed = await web.desk.place_once(
                order_request, client, owner=owner, idempotency_key=idempotency_key, fields=fields
            )
            order, repeat = placed.order, placed.repeat
        view = OrderView.of(order)
        body = PlacedOrder(view.order_id, view.status, view, links(view.order_id))
        headers = {"Idempotent-Replayed": "true"} if repeat else {}
        return Response(body, status_code=HTTP_201_CREATED, headers=headers)

    @post(
        "/{order_id:str}/cancel",
        status_code=HTTP_200_OK,
        responses={**NOT_FOUND, **ERRORS_FOR_WRITES},
        guards=[requires(Scope.TRADE)],
    )
    async def cancel(self, order_id: FromPath[str], web: Web, principal: Caller) -> CancelledOrder:
        """Cancel an order still `pending` or `waiting`. Again: the same answer. An order
        already executing (or ended) is `409`, with its status: it was not cancelled."""
        order = await web.desk.cancel(order_id, principal.owner_filter)
        if order is None:
            raise NotFoundException(detail=f"no order with id {shown(order_id)}")
        return CancelledOrder(OrderView.of(order), links(order.id))

    @get(
        "/{order_id:str}",
        responses={**NOT_FOUND, **ERRORS_FOR_READS},
        guards=[requires(Scope.READ)],
    )
    async def detail(self, order_id: FromPath[str], web: Web, principal: Caller) -> OrderDetail:
        """One order and every event of its lifecycle, in seq order."""
        order = await web.orders.order(order_id, principal.owner_filter)
        if order is None:
            raise NotFoundException(detail=f"no order with id {shown(order_id)}")
        events = await web.orders.events(order.id)
        return OrderDetail(OrderView.of(order), events, links(order.id))

    @get("/", responses=ERRORS_FOR_READS, guards=[requires(Scope.READ)])
    async def index(
        self,
        request: Request[Any, Any, Any],
        web: Web,
        principal: Caller,
        status: Annotated[
            list[str] | None, QueryParameter(description="One or more statuses (repeat or comma)")
        ] = None,
        pair: Annotated[
            str | None, QueryParameter(description="Either direction, e.g. SOL/USDC")
        ] = None,
        token_in: Annotated[str | None, QueryParameter(name="tokenIn")] = None,
        token_out: Annotated[str | None, QueryParameter(name="tokenOut")] = None,
        dex: FromQuery[str | None] = None,
        created_from: Annotated[
            str | None, QueryParameter(name="from", description="ISO date or datetime (UTC)")
        ] = None,
        created_to: Annotated[
            str | None, QueryParameter(name="to", description="ISO date (inclusive) or datetime")
        ] = None,
        cursor: FromQuery[str | None] = None,
        client_order_id: Annotated[
            str | None,
            QueryParameter(name="clientOrderId", pattern=CLIENT_ORDER_ID_PATTERN),
        ] = None,
        limit: Annotated[int, QueryParameter(ge=1, le=MAX_PAGE)] = 50,
    ) -> OrderPage:
        """Orders, newest first, a page at a time (`nextCursor` continues)."""
        where = parse_filter(
            status=status,
            pair=pair,
            token_in=token_in,
            token_out=token_out,
            dex=dex,
            created_from=created_from,
            created_to=created_to,
            cursor=cursor,
            limit=limit,
            venues=web.catalog.venue_names,
        )
        where = replace(where, owner=principal.owner_filter, client_order_id=client_order_id)
        page = await web.orders.page(where)
        next_url = None
        if page.next_cursor:
            params = [(k, v) for k, v in request.query_params.multi_items() if k != "cursor"]
            next_url = f"/api/orders?{urlencode([*params, ('cursor', page.next_cursor)])}"
        return OrderPage([OrderView.of(o) for o in page.items], page.next_cursor, next_url)
