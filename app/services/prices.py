"""Prices now, for orders that wait on them: each pair read once from every venue.

The limit trigger and the dashboard's "distance to limit" both price many orders from one
snapshot of each pool (`Venue.pricing`), never one venue round trip per order.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from decimal import Decimal

from app.domain.kinds.limit import Gap, gap, limit_price
from app.domain.order import Order
from app.domain.routing import Quote
from app.domain.tokens import Pair
from app.venues.base import Pricing, Venue


async def pricings(venues: Mapping[str, Venue], pair: Pair) -> list[Pricing]:
    """Every venue's prices for `pair` now; a venue that cannot answer is left out."""
    found = await asyncio.gather(
        *(v.pricing(pair) for v in venues.values() if pair.symbol in v.pairs()),
        return_exceptions=True,
    )
    return [p for p in found if p is not None and not isinstance(p, BaseException)]


def best_out(pricings: Sequence[Pricing], order: Order) -> Decimal:
    """The best output after fees any venue gives for the whole amount (0: none would)."""
    quotes = [p.quote(order.market, order.amount) for p in pricings]
    return max((q.amount_out for q in quotes if isinstance(q, Quote)), default=Decimal(0))


async def gaps(venues: Mapping[str, Venue], orders: Sequence[Order]) -> dict[str, Gap | None]:
    """How far each limit order is from its limit now (None: no venue would fill it)."""
    limited = [o for o in orders if "limitPrice" in o.terms]
    pairs = {o.market.pair for o in limited}
    read = await asyncio.gather(*(pricings(venues, pair) for pair in pairs))
    by_pair = dict(zip(pairs, read, strict=True))
    return {
        o.id: gap(o.market, o.amount, limit_price(o), best_out(by_pair[o.market.pair], o))
        for o in limited
    }
