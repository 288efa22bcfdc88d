"""A limit order: waits until the best quote after fees for the whole amount meets its price.

`limitPrice` is in quote token per base token, like `executedPrice` (SOL/USDC: USDC per
SOL). Selling the base token fills only at a price ≥ the limit; buying it, only at ≤. The
order's minimum out follows from the limit and the amount, rounded up to the output
token's unit, so a fill can never land one unit below the limit; no retry relaxes it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import ROUND_CEILING, Decimal

from app.domain.kinds import TermField
from app.domain.order import Order
from app.domain.problems import Problem, shown
from app.domain.tokens import Market, Side, executed_price

PRICE = re.compile(r"^[0-9]{1,20}(\.[0-9]{1,18})?$", re.ASCII)
MAX_EXPIRY = timedelta(days=30)
DEFAULT_EXPIRY = timedelta(hours=24)


def min_out_at(market: Market, amount: Decimal, limit_price: Decimal) -> Decimal:
    """The least output that keeps the fill at the limit or better, in whole output units."""
    raw = amount * limit_price if market.side is Side.SELL_BASE else amount / limit_price
    return raw.quantize(market.token_out.unit, rounding=ROUND_CEILING)


def meets(market: Market, amount: Decimal, out: Decimal, limit_price: Decimal) -> bool:
    """Whether swapping `amount` for `out` is at the limit or better."""
    return out >= min_out_at(market, amount, limit_price)


@dataclass(frozen=True, slots=True)
class Gap:
    """How far a waiting order is from its limit, at the best full-size quote now."""

    price_now: Decimal
    """What the whole amount would fetch now, as a price (quote per base)."""
    away: Decimal
    """The move (fraction of the price now) still needed in the order's favour; ≤ 0: met."""


def gap(market: Market, amount: Decimal, limit: Decimal, best_out: Decimal) -> Gap | None:
    """The distance to the limit, or None when no venue would fill the amount at all."""
    if best_out <= 0:
        return None
    now = executed_price(market, amount, best_out)
    away = limit / now - 1 if market.side is Side.SELL_BASE else 1 - limit / now
    return Gap(now, away)


@dataclass(frozen=True, slots=True)
class LimitKind:
    name: str = "limit"
    description: str = "Wait until the price is there, then swap; cancel or expire before."
    position: int = 1
    awaits_launch: bool = False
    fields: tuple[TermField, ...] = (
        TermField(
            "limitPrice",
            str,
            "Quote token per base token (SOL/USDC: USDC per SOL). Selling the base token "
            "fills at this price or higher; buying it, at this price or lower.",
        ),
        TermField("expiresIn", int, "Seconds to wait, 1 to 30 days (default 24 h).", False),
        TermField("expiresAt", str, "When to stop waiting: ISO-8601 UTC, within 30 days.", False),
    )

    def parse_terms(self, raw: Mapping[str, object], problems: list[Problem]) -> dict[str, str]:
        terms: dict[str, str] = {}
        price = raw.get("limitPrice")
        text = str(price) if isinstance(price, int | str) and not isinstance(price, bool) else ""
        if not PRICE.match(text) or Decimal(text) <= 0:
            problems.append(
                Problem(
                    "limitPrice",
                    f"limitPrice must be a positive decimal such as 152.5 (got {shown(price)})",
                )
            )
        else:
            terms["limitPrice"] = text
        expiry = expiry_of(raw, problems, datetime.now(UTC))
        if expiry is not None:
            terms.update(expiry)
        return terms

    def first_bound(self, order: Order, best_out: Decimal) -> Decimal:
        return min_out_at(order.market, order.amount, limit_price(order))

    def placed_bound(
        self, market: Market, amount: Decimal, terms: Mapping[str, str]
    ) -> Decimal | None:
        return min_out_at(market, amount, Decimal(terms["limitPrice"]))


def limit_price(order: Order) -> Decimal:
    return Decimal(order.terms["limitPrice"])


def expiry_of(
    raw: Mapping[str, object], problems: list[Problem], now: datetime
) -> dict[str, str] | None:
    """`{"expiresIn": seconds}` or `{"expiresAt": iso}` (the database's clock adds the first)."""
    given_in, given_at = raw.get("expiresIn"), raw.get("expiresAt")
    if given_in is not None and given_at is not None:
        problems.append(Problem("expiresIn", "give expiresIn or expiresAt, not both"))
        return None
    if given_at is not None:
        at = _moment(given_at)
        if at is None:
            problems.append(
                Problem(
                    "expiresAt",
                    f"expiresAt must be an ISO-8601 UTC time such as 2026-11-24T12:00:00Z "
                    f"(got {shown(given_at)})",
                )
            )
        elif not now < at <= now + MAX_EXPIRY:
            problems.append(Problem("expiresAt", "expiresAt must be in the future, within 30 days"))
        else:
            return {"expiresAt": at.isoformat()}
        return None
    seconds = DEFAULT_EXPIRY.total_seconds() if given_in is None else given_in
    if (
        isinstance(seconds, bool)
        or not isinstance(seconds, int | float)
        or not 1 <= seconds <= MAX_EXPIRY.total_seconds()
        or (isinstance(seconds, float) and not seconds.is_integer())
    ):
        problems.append(
            Problem(
                "expiresIn",
                f"expiresIn must be whole seconds from 1 to {int(MAX_EXPIRY.total_seconds())}"
                f" (got {shown(given_in)})",
            )
        )
        return None
    return {"expiresIn": str(int(seconds))}


def _moment(raw: object) -> datetime | None:
    if not isinstance(raw, str) or len(raw) > 40:
        return None
    try:
        at = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        return None
    if at.tzinfo is None:
        return None
    return at.astimezone(UTC)


KIND = LimitKind()
