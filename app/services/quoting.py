"""Ask every venue at once; a slow or broken venue costs its own quote, not the order."""

from __future__ import annotations

import asyncio
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
    best: Quote | None
    min_received: Decimal | None
    """The least the order would accept, at its slippage."""
    price: Decimal | None
    """The best quote's price, quote token per base token (as `executedPrice`)."""
    error: str | None
    """Why no venue can fill it, when `best` is None."""


class Quoter:
    def __init__(self, venues: Mapping[str, Venue], timeout: float) -> None:
        self.venues = venues
        self.timeout = timeout

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
        """The quote preview: all venues, the winner after fees, the minimum received."""
        results = await self.quote_all(request.market, request.amount)
        try:
            best = choose_best(results)
        except ExecutionError as failure:
            return Board(request, results, None, None, None, failure.message)
        market = request.market
        floor = min_received(best.amount_out, request.slippage_bps, market.token_out)
        price = executed_price(market, request.amount, best.amount_out)
        return Board(request, results, best, floor, price, None)

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
