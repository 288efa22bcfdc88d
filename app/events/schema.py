"""The public shapes of an order and its lifecycle events (camelCase, amounts as strings)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

import msgspec

from app.domain.order import Order
from app.domain.routing import QuoteFailure, QuoteResult
from app.domain.split import AUTO, Leg
from app.domain.status import TERMINAL, OrderStatus


def amount(value: Decimal | None) -> str | None:
    """A decimal as the API writes it: plain notation, no trailing zeros."""
    if value is None:
        return None
    return format(value.normalize(), "f")


class QuoteView(msgspec.Struct, rename="camel", omit_defaults=True):
    """One venue's answer during routing: a quote, or why it had none."""

    dex: str
    amount_out: str | None = None
    fee: str | None = None
    fee_bps: str | None = None
    price_impact_bps: str | None = None
    error: str | None = None

    @classmethod
    def of(cls, result: QuoteResult) -> QuoteView:
        if isinstance(result, QuoteFailure):
            return cls(dex=result.dex, error=result.message)
        return cls(
            dex=result.dex,
            amount_out=amount(result.amount_out),
            fee=amount(result.fee),
            fee_bps=amount(result.fee_bps),
            price_impact_bps=amount(result.price_impact_bps),
        )


class LegView(msgspec.Struct, rename="camel", omit_defaults=True, frozen=True):
    """One leg of a route: how much of the order goes to `dex`, and what it pays."""

    dex: str
    amount_in: str
    bps: int
    """This leg's share of the order's amount (the legs' shares sum to 10,000)."""
    quoted_out: str
    amount_out: str | None = None
    """What the leg paid (on `confirmed`)."""

    @classmethod
    def of(cls, leg: Leg) -> LegView:
        return cls(
            dex=leg.dex,
            amount_in=amount(leg.amount_in) or "0",
            bps=leg.bps,
            quoted_out=amount(leg.quoted_out) or "0",
            amount_out=amount(leg.amount_out),
        )

    def leg(self) -> Leg:
        paid = Decimal(self.amount_out) if self.amount_out is not None else None
        return Leg(self.dex, Decimal(self.amount_in), self.bps, Decimal(self.quoted_out), paid)


def legs_view(legs: Sequence[Leg] | None) -> list[LegView] | None:
    return [LegView.of(leg) for leg in legs] if legs else None


class OrderEvent(msgspec.Struct, rename="camel", frozen=True):
    """One lifecycle step, exactly as stored and as pushed.

    `event_id` is the event row's id: global and increasing, the cursor of the
    all-orders feed. `seq` numbers one order's events 1, 2, 3 … with no gap.
    """

    event_id: int
    order_id: str
    seq: int
    status: OrderStatus
    at: datetime
    attempt: int
    dex: str | None = None
    tx_hash: str | None = None
    quotes: list[QuoteView] | None = None
    route: list[LegView] | None = None
    """The chosen route on `routing`; a split's legs on `building`, and on `confirmed` what
    each leg paid (`amountOut`)."""
    amount_out: str | None = None
    executed_price: str | None = None
    error: str | None = None
    note: str | None = None
    details: dict[str, str] | None = None
    """What a step of the order's kind adds: a `waiting` event's `limitPrice` and
    `expiresAt`; the `routing` event that leaves waiting: `observedOut`, `requiredOut`."""

    @property
    def terminal(self) -> bool:
        return self.status in TERMINAL


class OrderView(msgspec.Struct, rename="camel", frozen=True):
    """An order as the API returns it."""

    order_id: str
    type: str
    token_in: str
    token_out: str
    amount: str
    slippage_bps: int
    status: OrderStatus
    attempt: int
    last_seq: int
    """The seq of the order's newest event."""
    created_at: datetime
    updated_at: datetime
    routing: str = AUTO
    """`auto`: split across venues when that pays; `single`: one venue only."""
    dex: str | None = None
    """The venue; for a split route its venues joined by `+`, largest share first."""
    route: list[LegView] | None = None
    """A split route's legs (null when the order goes to one venue)."""
    tx_hash: str | None = None
    quoted_out: str | None = None
    min_out: str | None = None
    amount_out: str | None = None
    executed_price: str | None = None
    error: str | None = None
    retry_reason: str | None = None
    client_order_id: str | None = None
    """The client's own reference, if it gave one."""
    limit_price: str | None = None
    """A limit order's price, quote token per base token."""
    expires_at: datetime | None = None
    """When a limit order stops waiting."""

    @property
    def terminal(self) -> bool:
        return self.status in TERMINAL

    @classmethod
    def of(cls, order: Order) -> OrderView:
        return cls(
            order_id=order.id,
            type=order.type,
            token_in=order.token_in.symbol,
            token_out=order.token_out.symbol,
            amount=amount(order.amount) or "0",
            slippage_bps=order.slippage_bps,
            status=order.status,
            attempt=order.attempt,
            last_seq=order.last_seq,
            created_at=order.created_at,
            updated_at=order.updated_at,
            routing=order.routing,
            dex=order.dex,
            route=legs_view(order.route),
            tx_hash=order.tx_hash,
            quoted_out=amount(order.quoted_out),
            min_out=amount(order.min_out),
            amount_out=amount(order.amount_out),
            executed_price=amount(order.executed_price),
            error=order.error,
            retry_reason=order.retry_reason,
            client_order_id=order.client_order_id,
            limit_price=order.terms.get("limitPrice"),
            expires_at=order.expires_at,
        )


class Notice(msgspec.Struct, frozen=True):
    """What travels between processes: the new event and the order as it now stands."""

    event: OrderEvent
    order: OrderView
    owner: str = ""
    """The key that placed the order: who, besides admins, may be shown it."""


@dataclass(frozen=True, slots=True)
class Recorded:
    """A step as the store wrote it: its event, and the order as it now stands."""

    event: OrderEvent
    order: Order

    def notice(self) -> Notice:
        return Notice(self.event, OrderView.of(self.order), self.order.owner)


_encoder = msgspec.json.Encoder()
_notice_decoder = msgspec.json.Decoder(Notice)
_quotes_decoder = msgspec.json.Decoder(list[QuoteView])
_legs_decoder = msgspec.json.Decoder(list[LegView])


def encode(value: msgspec.Struct | list[QuoteView] | list[LegView]) -> bytes:
    return _encoder.encode(value)


def decode_notice(data: bytes) -> Notice:
    return _notice_decoder.decode(data)


def decode_quotes(data: bytes | str) -> list[QuoteView]:
    return _quotes_decoder.decode(data)


def decode_legs(data: bytes | str) -> list[LegView]:
    return _legs_decoder.decode(data)
