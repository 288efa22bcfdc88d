"""Split routing: an order's amount divided between two venues so the total received is most.

A constant-product pool pays less per unit the more it is given, so giving each of two
venues part of a large order can pay more than giving either all of it; the best split is
where the two venues' marginal outputs (after fees) meet. It is found here from quotes
alone — any venue that can price an amount will do, no reserves needed: a coarse scan of
the shares (robust where one venue refuses beyond its depth), then a golden-section
refinement around the best of them. A split is chosen only when it pays at least
`MIN_GAIN_BPS` more than the best single venue.

Legs add up exactly: each leg's amount is floored to the input token's units and the last
leg takes the rest; shares are in bps and the last takes the rest of 10,000.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

from app.domain.amm import BPS
from app.domain.failures import ExecutionError, FailureKind
from app.domain.routing import Quote, QuoteFailure, QuoteResult, choose_best
from app.domain.tokens import Token

AUTO, SINGLE = "auto", "single"
ROUTINGS = (AUTO, SINGLE)
"""An order's `routing`: `auto` splits when it pays, `single` keeps it on one venue."""
MIN_GAIN_BPS = Decimal(1)
"""A split must pay this much more than the best single venue to be worth two legs."""
SCAN_STEPS = 20
REFINE_STEPS = 30
_PHI = (Decimal(5).sqrt() - 1) / 2
_ROUNDING = Decimal("0.00001")
_SHALLOW = FailureKind.INSUFFICIENT_LIQUIDITY

Quoter = Callable[[Decimal], QuoteResult]
"""One venue's price for an amount now (as `Pricing.quote` for a fixed market)."""


@dataclass(frozen=True, slots=True)
class Leg:
    dex: str
    amount_in: Decimal
    bps: int
    """This leg's share of the order's amount, in bps (the legs' shares sum to 10,000)."""
    quoted_out: Decimal
    amount_out: Decimal | None = None
    """What the leg paid, once the route's transaction has landed."""
    price_impact_bps: Decimal | None = None
    """How far the leg moves its venue's price, as quoted (not kept with the order)."""


@dataclass(frozen=True, slots=True)
class Route:
    legs: tuple[Leg, ...]
    best_single: Quote | None
    """The best single venue's quote for the whole amount (None: no venue fills it alone)."""

    @property
    def amount_out(self) -> Decimal:
        return sum((leg.quoted_out for leg in self.legs), Decimal(0))

    @property
    def split(self) -> bool:
        return len(self.legs) > 1

    @property
    def price_impact_bps(self) -> Decimal | None:
        """The largest price impact of any leg."""
        impacts = [leg.price_impact_bps for leg in self.legs if leg.price_impact_bps is not None]
        return max(impacts, default=None)

    @property
    def dex(self) -> str:
        """The venue of a single-venue route; a split's venues joined by `+`, largest first."""
        return route_name(self.legs)

    @property
    def gain_bps(self) -> Decimal:
        """How much more than the best single venue the route pays, in bps of that."""
        if self.best_single is None:
            return Decimal(0)
        single = self.best_single.amount_out
        return ((self.amount_out - single) / single * BPS).quantize(Decimal("0.01"))


def one_venue(best: Quote, amount: Decimal) -> Route:
    """The route that sends the whole amount to the venue of `best`."""
    return Route(
        (Leg(best.dex, amount, int(BPS), best.amount_out, None, best.price_impact_bps),), best
    )


def route_name(legs: Sequence[Leg]) -> str:
    """How a route is named where one venue's name stood (an order's `dex`): its venues,
    largest share first (the order `best_route` gives its legs in)."""
    return "+".join(leg.dex for leg in legs)


def may_pay(results: Sequence[QuoteResult], amount: Decimal) -> bool:
    """Whether any split could pay MIN_GAIN_BPS more than the best single venue, judged from
    the whole-amount quotes alone (no further pricing).

    A constant-product venue pays `rate · (1 - impact)` per unit for an order whose price
    impact is `impact`, so its best rate (the smallest trade's) is `paid / (1 - impact)`;
    legs can never pay more per unit than the best such rate. Small orders, whose impact is
    below the fee differences, are ruled out here, at the cost of a division per venue.
    """
    quotes = [r for r in results if isinstance(r, Quote) and r.amount_out > 0]
    shallow = [r for r in results if isinstance(r, QuoteFailure) and r.kind is _SHALLOW]
    if len(quotes) + len(shallow) < 2:
        return False
    if shallow:
        return True  # a venue refusing the whole amount may still take a part of it
    best = max(q.amount_out for q in quotes)
    ceiling = max(q.amount_out / (1 - q.price_impact_bps / BPS) for q in quotes)
    # Quotes are rounded (amounts to units, impact to 0.01 bps): allow for that.
    return ceiling * (1 + _ROUNDING) >= best * (1 + MIN_GAIN_BPS / BPS)


def best_route(
    amount: Decimal,
    venues: Mapping[str, Quoter],
    token_in: Token,
    *,
    allow_split: bool = True,
    whole: Sequence[QuoteResult] | None = None,
) -> Route:
    """The route paying most for `amount`: the best single venue, or two legs when that pays
    at least MIN_GAIN_BPS more (or when no venue can fill the whole amount alone).

    `whole`: the venues' quotes for the whole amount, when already asked (else priced here).
    Raises `ExecutionError` (from `choose_best`) when no route fills the order at all.
    """
    if whole is None:
        whole = [quote(amount) for quote in venues.values()]
    single: Quote | None
    try:
        single = choose_best(whole)
    except ExecutionError:
        if not allow_split:
            raise
        single = None
    candidates = []
    if allow_split:
        names = sorted(venues)
        for i, first in enumerate(names):
            for second in names[i + 1 :]:
                found = _best_pair(amount, venues[first], venues[second], token_in)
                if found is not None:
                    candidates.append(found)
    best_split = max(candidates, key=lambda legs: _total(legs), default=None)
    if best_split is not None:
        best_split = tuple(sorted(best_split, key=lambda leg: (-leg.bps, leg.dex)))
    if single is not None:
        one = one_venue(single, amount)
        if best_split is None:
            return one
        gain = (_total(best_split) - single.amount_out) / single.amount_out * BPS
        return Route(best_split, single) if gain >= MIN_GAIN_BPS else one
    if best_split is None:
        choose_best(whole)  # raises: nothing fills the order, alone or split
    assert best_split is not None
    return Route(best_split, None)


def _best_pair(
    amount: Decimal, first: Quoter, second: Quoter, token_in: Token
) -> tuple[Leg, ...] | None:
    """The best two-leg split between `first` and `second` (both legs non-empty), if any."""

    def legs_at(share: Decimal) -> tuple[Leg, ...] | None:
        given = token_in.floor(amount * share)
        rest = amount - given
        if given <= 0 or rest <= 0:
            return None
        one, two = first(given), second(rest)
        if not (isinstance(one, Quote) and isinstance(two, Quote)):
            return None
        if one.amount_out <= 0 or two.amount_out <= 0:
            return None
        bps = int((given / amount * BPS).to_integral_value())
        bps = min(max(bps, 1), int(BPS) - 1)
        return (
            Leg(one.dex, given, bps, one.amount_out, None, one.price_impact_bps),
            Leg(two.dex, rest, int(BPS) - bps, two.amount_out, None, two.price_impact_bps),
        )

    @functools.cache  # the search asks for some shares more than once; each costs two quotes
    def value(share: Decimal) -> Decimal:
        legs = legs_at(share)
        return _total(legs) if legs is not None else Decimal(-1)

    step = Decimal(1) / SCAN_STEPS
    shares = [step * i for i in range(1, SCAN_STEPS)]
    best = max(shares, key=value)
    if value(best) < 0:
        return None
    low, high = max(best - step, Decimal(0)), min(best + step, Decimal(1))
    for _ in range(REFINE_STEPS):
        a = high - (high - low) * _PHI
        b = low + (high - low) * _PHI
        if value(a) >= value(b):
            high = b
        else:
            low = a
    refined = (low + high) / 2
    chosen = refined if value(refined) >= value(best) else best
    return legs_at(chosen)


def _total(legs: Sequence[Leg] | None) -> Decimal:
    return sum((leg.quoted_out for leg in legs), Decimal(0)) if legs else Decimal(0)
