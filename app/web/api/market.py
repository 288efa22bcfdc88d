"""What can be traded, and what it would fetch right now."""

from __future__ import annotations

from typing import Annotated

import msgspec
from litestar import Controller, get
from litestar.params import QueryParameter

from app.domain.failures import ExecutionError
from app.domain.orders import (
    AMOUNT_PATTERN,
    DEFAULT_SLIPPAGE_BPS,
    MAX_AMOUNT_CHARS,
    MAX_SLIPPAGE_BPS,
    MIN_SLIPPAGE_BPS,
    InvalidOrder,
    validate_order,
)
from app.domain.routing import choose_best, min_received
from app.domain.tokens import PAIRS, TOKENS
from app.events.schema import QuoteView, amount
from app.venues.catalog import VENUES
from app.web.api.orders import invalid
from app.web.errors import ERRORS_FOR_READS
from app.web.services import Services
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
    dex: str
    amount_out: str
    min_received: str
    """What the order would accept at worst, given `slippageBps`."""


class QuoteBoard(msgspec.Struct, rename="camel"):
    token_in: str
    token_out: str
    amount: str
    slippage_bps: int
    quotes: list[QuoteView]
    best: Best | None
    error: str | None = None
    """Why no venue can fill this amount, when `best` is null."""


class MarketController(Controller):
    request_class = StrictRequest
    path = "/api"
    tags = ["market"]

    @get("/tokens")
    async def tokens(self) -> Catalog:
        """Supported tokens, and the pairs with the venues that have a pool for each."""
        return Catalog(
            tokens=[TokenView(t.symbol, t.name, t.decimals) for t in TOKENS.values()],
            pairs=[
                PairView(
                    p.symbol, p.base, p.quote, [v.name for v in VENUES if p.symbol in v.tvl_usd]
                )
                for p in PAIRS
            ],
        )

    @get("/quote", responses=ERRORS_FOR_READS)
    async def quote(
        self,
        services: Services,
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
    ) -> QuoteBoard:
        """Every venue's quote for `amount` of `tokenIn`, and the one an order would take."""
        return await quote_board(services, token_in, token_out, amount, slippage_bps)


async def quote_board(
    services: Services, token_in: str, token_out: str, raw_amount: str, slippage_bps: int
) -> QuoteBoard:
    try:
        request = validate_order(
            type="market",
            token_in=token_in,
            token_out=token_out,
            amount=raw_amount,
            slippage_bps=slippage_bps,
        )
    except InvalidOrder as error:
        raise invalid(error, "query") from None
    results = await services.runtime.quoter.quote_all(request.market, request.amount)
    best, reason = None, None
    try:
        chosen = choose_best(results)
        floor = min_received(chosen.amount_out, request.slippage_bps, request.market.token_out)
        best = Best(chosen.dex, amount(chosen.amount_out) or "0", amount(floor) or "0")
    except ExecutionError as failure:
        reason = failure.message
    return QuoteBoard(
        token_in=request.token_in,
        token_out=request.token_out,
        amount=amount(request.amount) or "0",
        slippage_bps=request.slippage_bps,
        quotes=[QuoteView.of(r) for r in results],
        best=best,
        error=reason,
    )
