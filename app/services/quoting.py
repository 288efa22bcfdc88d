"""Ask every venue at once; a slow or broken venue costs its own quote, not the order."""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

from app.domain.failures import ExecutionError, FailureKind
from app.domain.kinds.limit import Gap
from app.domain.order import Order
from app.domain.requests import OrderRequest
from app.domain.routing import Quote, QuoteFailure, QuoteResult, choose_best, min_received
from app.domain.split import AUTO, Route, best_route, may_pay, one_venue
from app.domain.tokens import Market, executed_price
from app.metrics import METRICS
from app.services import prices
from app.venues.base import Venue

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Board:
    """Every venue's answer for a request, and what an order placed now would take."""

    request: OrderRequest
    results: list[QuoteResult]
    route: Route | None
    """What an order placed now would take: the best venue, or a split when that pays."""
    min_received: Decimal | None
    """The least the order would accept, at its slippage."""
    price: Decimal | None
    """The route's price, quote token per base token (as `executedPrice`)."""
    error: str | None
    """Why no venue can fill it, when `route` is None."""


class Quoter:
    def __init__(self, venues: Mapping[str, Venue], timeout: float, *, can_split: bool) -> None:
        self.venues = venues
        self.timeout = timeout
        self.can_split = can_split
        """Whether a router can send a split route (else every route is one venue)."""

    async def quote_all(
        self, market: Market, amount_in: Decimal, *, order_id: str | None = None, attempt: int = 0
    ) -> list[QuoteResult]:
        """Every venue's answer, in venue order, fetched in parallel."""
        return list(
            await asyncio.gather(
                *(self._one(v, market, amount_in, order_id, attempt) for v in self.venues.values())
            )
        )

    async def board(self, request: OrderRequest) -> Board:
        """The quote preview: all venues, the route an order would take, the minimum received."""
        market = request.market
        results = await self.quote_all(market, request.amount)
        try:
            route = await self.route(
                market, request.amount, results, allow_split=request.routing == AUTO
            )
        except ExecutionError as failure:
            return Board(request, results, None, None, None, failure.message)
        floor = min_received(route.amount_out, request.slippage_bps, market.token_out)
        price = executed_price(market, request.amount, route.amount_out)
        return Board(request, results, route, floor, price, None)

    async def route(
        self,
        market: Market,
        amount_in: Decimal,
        results: Sequence[QuoteResult],
        *,
        allow_split: bool,
    ) -> Route:
        """The best route for `amount_in` given the venues' quotes for all of it: one venue,
        or two legs when that pays (app/domain/split.py). Raises `ExecutionError` when
        nothing fills it.

        Only an order large enough for a split to pay costs more than the quotes: a read of
        each venue's pool to price the legs.
        """
        if not (allow_split and self.can_split and may_pay(results, amount_in)):
            return one_venue(choose_best(results), amount_in)
        answered = [
            self.venues[r.dex]
            for r in results
            if r.dex in self.venues
            and (isinstance(r, Quote) or r.kind is FailureKind.INSUFFICIENT_LIQUIDITY)
        ]
        pricings = await asyncio.gather(*(venue.pricing(market.pair) for venue in answered))
        legs = {p.dex: functools.partial(p.quote, market) for p in pricings if p is not None}
        return best_route(amount_in, legs, market.token_in, whole=results)

    async def gaps(self, orders: Sequence[Order]) -> dict[str, Gap | None]:
        """How far each waiting limit order is from its limit now (app/services/prices.py)."""
        return await prices.gaps(self.venues, orders)

    async def _one(
        self, venue: Venue, market: Market, amount_in: Decimal, order_id: str | None, attempt: int
    ) -> QuoteResult:
        started = time.perf_counter()
        try:
            async with asyncio.timeout(self.timeout):
                return await venue.quote(market, amount_in, order_id=order_id, attempt=attempt)
        except TimeoutError:
            return QuoteFailure(
                venue.name, FailureKind.RPC_TIMEOUT, f"no quote within {self.timeout:g}s"
            )
        finally:
            METRICS.observe(
                "oee_venue_quote_seconds", time.perf_counter() - started, dex=venue.name
            )
