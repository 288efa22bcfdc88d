"""A market order: sell now, at the best price after fees, within slippage of the first quote."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

from app.domain.kinds import TermField
from app.domain.order import Order
from app.domain.problems import Problem
from app.domain.routing import min_received
from app.domain.tokens import Market


@dataclass(frozen=True, slots=True)
class MarketKind:
    name: str = "market"
    description: str = "Swap now at the best venue's price after fees."
    position: int = 0
    awaits_launch: bool = False
    fields: tuple[TermField, ...] = ()

    def parse_terms(self, raw: Mapping[str, object], problems: list[Problem]) -> dict[str, str]:
        return {}

    def first_bound(self, order: Order, best_out: Decimal) -> Decimal:
        return min_received(best_out, order.slippage_bps, order.token_out)

    def placed_bound(
        self, market: Market, amount: Decimal, terms: Mapping[str, str]
    ) -> Decimal | None:
        return None  # set by the first quote


KIND = MarketKind()
