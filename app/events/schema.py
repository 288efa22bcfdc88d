"""The public shapes of an order and its lifecycle events (camelCase, amounts as strings)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

import msgspec

from app.domain.routing import QuoteFailure, QuoteResult
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
    amount_out: str | None = None
    executed_price: str | None = None
    error: str | None = None
    note: str | None = None

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
    dex: str | None = None
    tx_hash: str | None = None
    quoted_out: str | None = None
    min_out: str | None = None
    amount_out: str | None = None
    executed_price: str | None = None
    error: str | None = None
    retry_reason: str | None = None

    @property
    def terminal(self) -> bool:
        return self.status in TERMINAL

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> OrderView:
        return cls(
            order_id=str(row["id"]),
            type=row["type"],
            token_in=row["token_in"],
            token_out=row["token_out"],
            amount=amount(row["amount_in"]) or "0",
            slippage_bps=row["slippage_bps"],
            status=OrderStatus(row["status"]),
            attempt=row["attempt"],
            last_seq=row["last_seq"],
            created_at=row["created_at"],
            updated_at=row["updated_at"],
            dex=row["dex"],
            tx_hash=row["tx_hash"],
            quoted_out=amount(row["quoted_out"]),
            min_out=amount(row["min_out"]),
            amount_out=amount(row["amount_out"]),
            executed_price=amount(row["executed_price"]),
            error=row["error"],
            retry_reason=row["retry_reason"],
        )


class Notice(msgspec.Struct, frozen=True):
    """What travels between processes: the new event and the order as it now stands."""

    event: OrderEvent
    order: OrderView


_encoder = msgspec.json.Encoder()
_notice_decoder = msgspec.json.Decoder(Notice)
_quotes_decoder = msgspec.json.Decoder(list[QuoteView])


def encode(value: msgspec.Struct | list[QuoteView]) -> bytes:
    return _encoder.encode(value)


def decode_notice(data: bytes) -> Notice:
    return _notice_decoder.decode(data)


def decode_quotes(data: bytes | str) -> list[QuoteView]:
    return _quotes_decoder.decode(data)
