"""What can be traded, and what it would fetch right now."""

from __future__ import annotations

from typing import Annotated

import msgspec
from litestar import Controller, get
from litestar.params import QueryParameter

from app.domain.problems import InvalidOrder
from app.domain.requests import (
    AMOUNT_PATTERN,
    DEFAULT_SLIPPAGE_BPS,
    MAX_AMOUNT_CHARS,
    MAX_SLIPPAGE_BPS,
    MIN_SLIPPAGE_BPS,
)
from app.domain.split import AUTO
from app.domain.tokens import TOKENS
from app.events.schema import LegView, QuoteView, amount
from app.services.quoting import Board
from app.web import intake
from app.web.context import Web
from app.web.errors import ERRORS_FOR_READS
from app.web.strict import StrictRequest


class TokenView(msgspec.Struct):
    symbol: str
    name: str
    decimals: int


class PairView(msgspec.Struct):
    symbol: str
    base: str
    quote: str
    venues: list[str]


class Catalog(msgspec.Struct):
    tokens: list[TokenView]
    pairs: list[PairView]


class Best(msgspec.Struct, rename="camel"):
    """What an order placed now would take."""

    dex: str
    """The venue; for a split route its venues joined by `+`, largest share first."""
    amount_out: str
    min_received: str
    """What the order would accept at worst, given `slippageBps`."""
    price: str
    """The route's price, quote token per base token."""
    price_impact_bps: str | None
    """How far the route moves a venue's price (a split: its largest leg's), in bps."""
    route: list[LegView]
    """The legs: one for a single venue; two when splitting pays."""
    gain_bps: str | None = None
    """How much more a split pays than the best single venue, in bps (null: not split, or no
    single venue can fill the whole amount)."""


class QuoteBoard(msgspec.Struct, rename="camel"):
    token_in: str
    token_out: str
    pair: str
    """The pair, `base/quote`: prices are quote per base."""
    amount: str
    slippage_bps: int
    quotes: list[QuoteView]
    best: Best | None
    """The route an order would take (`routing=auto` splits when that pays)."""
    error: str | None = None
    """Why no venue can fill this amount, when `best` is null."""


class CatalogController(Controller):
    request_class = StrictRequest
    path = "/api"
    tags = ["market"]

    @get("/tokens")
    async def tokens(self, web: Web) -> Catalog:
        """Supported tokens, and the pairs with the venues that have a pool for each."""
        return Catalog(
            tokens=[TokenView(t.symbol, t.name, t.decimals) for t in TOKENS.values()],
            pairs=[
                PairView(p.symbol, p.base, p.quote, venues) for p, venues in web.catalog.pairs()
            ],
        )

    @get("/quote", responses=ERRORS_FOR_READS)
    async def quote(
        self,
        web: Web,
        token_in: Annotated[str, QueryParameter(name="tokenIn", max_length=16)],
        token_out: Annotated[str, QueryParameter(name="tokenOut", max_length=16)],
        amount: Annotated[
            str,
            QueryParameter(
                max_length=MAX_AMOUNT_CHARS,
                pattern=AMOUNT_PATTERN,
                description="How much tokenIn to sell, in plain decimal notation.",
            ),
        ],
        slippage_bps: Annotated[
            int,
            QueryParameter(name="slippageBps", ge=MIN_SLIPPAGE_BPS, le=MAX_SLIPPAGE_BPS),
        ] = DEFAULT_SLIPPAGE_BPS,
        routing: Annotated[
            str,
            QueryParameter(
                max_length=16,
                description="`auto` (split when it pays) or `single`, as the order's.",
            ),
        ] = AUTO,
    ) -> QuoteBoard:
        """Every venue's quote for `amount` of `tokenIn`, and the route an order would take."""
        fields = {"tokenIn": token_in, "tokenOut": token_out, "amount": amount}
        try:
            request = intake.order_request(
                {**fields, "slippageBps": slippage_bps, "routing": routing}
            )
        except InvalidOrder as error:
            raise intake.invalid(error, "query") from None
        return quote_board(await web.quoter.board(request))


def quote_board(board: Board) -> QuoteBoard:
    """The API's shape of a quote preview."""
    request = board.request
    best = None
    route = board.route
    if route is not None and board.min_received is not None:
        best = Best(
            route.dex,
            amount(route.amount_out) or "0",
            amount(board.min_received) or "0",
            amount(board.price) or "0",
            amount(route.price_impact_bps),
            [LegView.of(leg) for leg in route.legs],
            amount(route.gain_bps) if route.split and route.best_single else None,
        )
    return QuoteBoard(
        token_in=request.market.token_in.symbol,
        token_out=request.market.token_out.symbol,
        pair=request.market.pair.symbol,
        amount=amount(request.amount) or "0",
        slippage_bps=request.slippage_bps,
        quotes=[QuoteView.of(r) for r in board.results],
        best=best,
        error=board.error,
    )
