"""Presentation for the HTML pages: number formats, the route decision, the timeline, charts.

Pure functions of stored orders and events; templates only lay them out.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from app.domain.kinds.limit import PRICE, Gap, gap, min_out_at
from app.domain.order import Fill
from app.domain.requests import OrderRequest
from app.domain.routing import shortfall_bps
from app.domain.status import TERMINAL, OrderStatus
from app.domain.tokens import Side, find_market
from app.events.schema import LegView, OrderEvent, OrderView, QuoteView


def amount(value: str | Decimal | None) -> str:
    """Token amounts: thousands separated, 2-4 decimals for big numbers, 6 significant for small."""
    number = _decimal(value)
    if number is None:
        return "—"
    if number == 0:
        return "0"
    magnitude = abs(number)
    if magnitude >= 1000:
        return f"{number:,.2f}"
    if magnitude >= 1:
        return f"{number:,.4f}".rstrip("0").rstrip(".")
    digits = max(0, 5 - number.adjusted())
    return f"{number:.{digits}f}".rstrip("0").rstrip(".")


def bps(value: str | Decimal | None) -> str:
    number = _decimal(value)
    return "—" if number is None else f"{number:.2f}".rstrip("0").rstrip(".")


def percent(fraction: Decimal | None) -> str:
    """A fraction as a percentage to two places; a tiny non-zero one is not shown as 0."""
    if fraction is None:
        return "—"
    value = fraction * 100
    if 0 < abs(value) < Decimal("0.01"):
        return "< 0.01 %"
    return f"{value:.2f} %"


def limit_terms(order: OrderView) -> str:
    """A limit order's condition as the trader reads it: "≥ 152.5 USDC per SOL"."""
    market = find_market(order.token_in, order.token_out)
    if order.limit_price is None or market is None:
        return "—"
    sign = "≥" if market.side is Side.SELL_BASE else "≤"
    return f"{sign} {amount(order.limit_price)} {market.pair.quote} per {market.pair.base}"


@dataclass(frozen=True, slots=True)
class LimitPreview:
    """Under the form, for a limit order: what the limit asks and how far the market is."""

    condition: str
    """"≥ 0.92 USDC per JUP"."""
    min_out: Decimal
    gap: Gap | None
    """None when no venue would fill the amount now."""


def limit_preview(request: OrderRequest, best_out: Decimal | None, raw: str) -> LimitPreview | None:
    """None until the limit price is a price (the form says what is wrong when placed)."""
    if not PRICE.match(raw) or Decimal(raw) <= 0:
        return None
    market, price = request.market, Decimal(raw)
    sign = "≥" if market.side is Side.SELL_BASE else "≤"
    condition = f"{sign} {amount(price)} {market.pair.quote} per {market.pair.base}"
    out = best_out or Decimal(0)
    return LimitPreview(
        condition,
        min_out_at(market, request.amount, price),
        gap(market, request.amount, price, out),
    )


def price_unit(order: OrderView) -> str:
    """The unit of an order's prices, the pair's quote per base: "USDC/SOL" (either side)."""
    market = find_market(order.token_in, order.token_out)
    return f"{market.pair.quote}/{market.pair.base}" if market else ""


def short_hash(value: str | None) -> str:
    return f"{value[:6]}…{value[-4:]}" if value else "—"


def seconds(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value * 1000:.0f} ms" if value < 1 else f"{value:.2f} s"


def _decimal(value: str | Decimal | None) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        return value if isinstance(value, Decimal) else Decimal(value)
    except InvalidOperation:
        return None


# -- the order page -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Stage:
    event: OrderEvent
    spent: float | None
    """Seconds until the next event (None for the last one)."""

    @property
    def retry(self) -> bool:
        return self.event.status is OrderStatus.ROUTING and self.event.attempt > 1


def timeline(events: list[OrderEvent]) -> list[Stage]:
    stages = []
    for event, after in zip(events, [*events[1:], None], strict=True):
        spent = (after.at - event.at).total_seconds() if after else None
        stages.append(Stage(event, spent))
    return stages


@dataclass(frozen=True, slots=True)
class RouteChoice:
    attempt: int
    quotes: list[QuoteView]
    winner: str | None
    why: str
    error: str | None
    """Why the previous attempt failed, on a retry."""
    note: str | None = None
    """Why this routing happened, when not a new attempt (a resumed run)."""
    legs: list[LegView] = field(default_factory=list)
    """The split route taken, if the attempt split the order (with what each leg paid, once
    confirmed)."""


def route_choices(order: OrderView, events: list[OrderEvent]) -> list[RouteChoice]:
    """One entry per routing step: each venue's quote, the route taken, and why."""
    choices = []
    for index, event in enumerate(events):
        if event.status is not OrderStatus.ROUTING:
            continue
        after = events[index + 1 : index + 2]
        building = after[0] if after and after[0].status is OrderStatus.BUILDING else None
        winner = building.dex if building else None
        legs = _taken_legs(events[index + 1 :], event.attempt) if building else []
        quotes = event.quotes or []
        why = _why_split(quotes, legs, order) if legs else _why(quotes, winner, order)
        choices.append(
            RouteChoice(event.attempt, quotes, winner, why, event.error, event.note, legs)
        )
    return choices


def _taken_legs(later: list[OrderEvent], attempt: int) -> list[LegView]:
    """The split legs an attempt sent: as confirmed (with what each paid) or as built."""
    legs: list[LegView] = []
    for event in later:
        if event.attempt != attempt or event.status is OrderStatus.ROUTING:
            break
        if event.route and len(event.route) > 1:
            legs = event.route
    return legs


def _why_split(quotes: list[QuoteView], legs: list[LegView], order: OrderView) -> str:
    parts = " + ".join(f"{leg.dex} {bps(Decimal(leg.bps) / 100)} %" for leg in legs)
    total = sum((Decimal(leg.quoted_out) for leg in legs), Decimal(0))
    priced = [q for q in quotes if q.amount_out]
    if not priced:
        return f"Split {parts}: no venue could fill the whole amount alone."
    best = max(priced, key=lambda q: Decimal(q.amount_out or 0))
    single = Decimal(best.amount_out or 0)
    gain = (total - single) / single * 10_000
    return (
        f"Split {parts}: {amount(total)} {order.token_out} in one transaction, "
        f"{amount(total - single)} {order.token_out} more than {best.dex} alone "
        f"(+{bps(gain)} bps)."
    )


def _why(quotes: list[QuoteView], winner: str | None, order: OrderView) -> str:
    priced = [q for q in quotes if q.amount_out]
    if winner is None:
        return "No venue could fill the order." if not priced else "The attempt ended here."
    chosen = next((q for q in priced if q.dex == winner), None)
    others = [q for q in priced if q.dex != winner]
    if chosen is None:
        return f"Sent to {winner}."
    if not others:
        failed = [q.dex for q in quotes if q.error]
        return f"{winner} was the only venue with a quote" + (
            f" ({', '.join(failed)} failed)." if failed else "."
        )
    runner_up = max(others, key=lambda q: Decimal(q.amount_out or 0))
    lead = Decimal(chosen.amount_out or 0) - Decimal(runner_up.amount_out or 0)
    lead_bps = lead / Decimal(runner_up.amount_out or 1) * 10_000
    return (
        f"{winner} paid {amount(lead)} {order.token_out} more than {runner_up.dex} after fees "
        f"(+{bps(lead_bps)} bps; fee {bps(chosen.fee_bps)} vs {bps(runner_up.fee_bps)} bps)."
    )


def execution_vs_quote(order: OrderView) -> str | None:
    """Quoted vs executed, in bps, in words."""
    if not (order.quoted_out and order.amount_out):
        return None
    shortfall = shortfall_bps(Decimal(order.quoted_out), Decimal(order.amount_out))
    if shortfall > 0:
        return f"{bps(shortfall)} bps below the quote"
    if shortfall < 0:
        return f"{bps(-shortfall)} bps better than the quote"
    return "exactly as quoted"


def total_time(order: OrderView) -> float | None:
    if order.status not in TERMINAL:
        return None
    return (order.updated_at - order.created_at).total_seconds()


# -- dashboard charts ---------------------------------------------------------------------

VENUE_COLOURS = {"raydium": "#9d85ff", "meteora": "#f2a33a"}


@dataclass(frozen=True, slots=True)
class Slice:
    label: str
    count: int
    share: float
    x: float
    width: float
    colour: str


def venue_shares(fills: Sequence[Fill], width: float = 300) -> list[Slice]:
    """A stacked bar: each venue's share of the window's fills."""
    counts: dict[str, int] = {}
    for fill in fills:
        counts[fill.dex] = counts.get(fill.dex, 0) + 1
    total = sum(counts.values())
    slices, x = [], 0.0
    for label, count in sorted(counts.items()):
        share = count / total if total else 0.0
        slices.append(
            Slice(label, count, share, x, share * width, VENUE_COLOURS.get(label, "#888"))
        )
        x += share * width
    return slices


@dataclass(frozen=True, slots=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    seconds: float
    order_id: str


@dataclass(frozen=True, slots=True)
class Tick:
    y: float
    label: str


@dataclass(frozen=True, slots=True)
class Bars:
    bars: list[Bar]
    max_seconds: float
    median_seconds: float | None
    ticks: list[Tick] = field(default_factory=list)
    """The scale: round numbers of seconds, with where they fall."""


def nice_ceiling(value: float) -> float:
    """The smallest of 1, 2, 2.5 or 5 times a power of ten at or above `value` (a chart's top)."""
    if value <= 0:
        return 1.0
    power: float = 10.0 ** math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        if step * power >= value * (1 - 1e-9):
            return step * power
    return 10 * power


def confirm_times(fills: Sequence[Fill], width: float = 300, height: float = 80) -> Bars:
    """Time from placing to confirmation of the window's orders, oldest left, on a scale of
    round seconds (0, half, top)."""
    durations = [(f.order_id, (f.confirmed_at - f.placed_at).total_seconds()) for f in fills]
    durations.reverse()
    if not durations:
        return Bars([], 0.0, None)
    slowest = max(d for _, d in durations)
    top = nice_ceiling(slowest)
    step = min(width / len(durations), 24.0)
    left = width - step * len(durations)  # newest at the right edge, like a ticker
    bars = [
        Bar(
            x=left + i * step + 1,
            y=height - max(2.0, d / top * height),
            width=max(1.0, step - 2),
            height=max(2.0, d / top * height),
            seconds=d,
            order_id=oid,
        )
        for i, (oid, d) in enumerate(durations)
    ]
    ordered = sorted(d for _, d in durations)
    ticks = [Tick(height - v / top * height, _seconds_label(v)) for v in (0.0, top / 2, top)]
    return Bars(bars, slowest, ordered[len(ordered) // 2], ticks)


def _seconds_label(value: float) -> str:
    if value == 0:
        return "0"
    if value < 1:
        return f"{value * 1000:g} ms"
    return f"{value:g} s"


@dataclass(frozen=True, slots=True)
class Sparkline:
    pair: str
    points: str
    """SVG polyline points, oldest left."""
    last: Decimal
    low: Decimal
    high: Decimal
    fills: int
    rising: bool


def price_lines(
    fills: Sequence[Fill], *, most: int = 4, width: float = 140, height: float = 36
) -> list[Sparkline]:
    """Per pair with two fills or more, the prices of the window's fills over time (quote per
    base): the pairs with the most fills first, at most `most`, each scaled to its range."""
    by_pair: dict[str, list[Fill]] = {}
    for fill in reversed(fills):  # oldest first
        if fill.price is not None and fill.price > 0:
            by_pair.setdefault(fill.pair, []).append(fill)
    lines = []
    drawn = [(pair, series) for pair, series in by_pair.items() if len(series) >= 2]
    for pair, series in sorted(drawn, key=lambda kv: (-len(kv[1]), kv[0]))[:most]:
        prices = [f.price for f in series if f.price is not None]
        low, high = min(prices), max(prices)
        span = high - low
        count = len(prices)
        points = " ".join(
            f"{(i / (count - 1) * width) if count > 1 else width / 2:.1f},"
            f"{(height - 2 - float((p - low) / span) * (height - 4)) if span else height / 2:.1f}"
            for i, p in enumerate(prices)
        )
        lines.append(Sparkline(pair, points, prices[-1], low, high, count, prices[-1] >= prices[0]))
    return lines
