"""Presentation for the HTML pages: number formats, the route decision, the timeline, charts.

Pure functions of stored orders and events; templates only lay them out.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation

from app.domain.kinds.limit import PRICE, Gap, gap, min_out_at
from app.domain.requests import OrderRequest
from app.domain.routing import Quote, shortfall_bps
from app.domain.status import TERMINAL, OrderStatus
from app.domain.tokens import Side, find_market
from app.events.schema import OrderEvent, OrderView, QuoteView


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


def limit_preview(request: OrderRequest, best: Quote | None, raw: str) -> LimitPreview | None:
    """None until the limit price is a price (the form says what is wrong when placed)."""
    if not PRICE.match(raw) or Decimal(raw) <= 0:
        return None
    market, price = request.market, Decimal(raw)
    sign = "≥" if market.side is Side.SELL_BASE else "≤"
    condition = f"{sign} {amount(price)} {market.pair.quote} per {market.pair.base}"
    out = best.amount_out if best else Decimal(0)
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


def route_choices(order: OrderView, events: list[OrderEvent]) -> list[RouteChoice]:
    """One entry per routing step: each venue's quote, the venue taken, and why."""
    choices = []
    for index, event in enumerate(events):
        if event.status is not OrderStatus.ROUTING:
            continue
        after = events[index + 1 : index + 2]
        winner = after[0].dex if after and after[0].status is OrderStatus.BUILDING else None
        quotes = event.quotes or []
        choices.append(
            RouteChoice(
                event.attempt, quotes, winner, _why(quotes, winner, order), event.error, event.note
            )
        )
    return choices


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


def venue_shares(counts: dict[str, int], width: float = 300) -> list[Slice]:
    """A stacked bar: each venue's share of recent fills."""
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
class Bars:
    bars: list[Bar]
    max_seconds: float
    median_seconds: float | None


def confirm_times(
    samples: list[tuple[str, datetime, datetime]], width: float = 300, height: float = 80
) -> Bars:
    """Time from placing to confirmation of recent orders, oldest left."""
    durations = [(oid, (done - placed).total_seconds()) for oid, placed, done in samples]
    durations.reverse()
    if not durations:
        return Bars([], 0.0, None)
    top = max(d for _, d in durations) or 1.0
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
    return Bars(bars, top, ordered[len(ordered) // 2])
