"""Orders and their lifecycle events. The database is the record; pushes only notify."""

from __future__ import annotations

from piccolo.columns import (
    JSONB,
    UUID,
    BigSerial,
    ForeignKey,
    Integer,
    Numeric,
    OnDelete,
    Text,
    Timestamptz,
    Varchar,
)
from piccolo.table import Table


# Piccolo's migration history knows these classes as `Order` and `OrderEvent`; the code
# calls them `OrderRow` and `EventRow` (below), so a name means one thing everywhere.
class Order(Table, tablename="orders"):
    """A stored order (the pipeline's object is `app.domain.order.Order`)."""

    id = UUID(primary_key=True)
    type = Varchar(length=16)
    token_in = Varchar(length=16)
    token_out = Varchar(length=16)
    amount_in = Numeric()
    slippage_bps = Integer()
    status = Varchar(length=16)
    attempt = Integer(default=1)
    last_seq = Integer(default=1)
    """The seq of the newest event: events are numbered 1, 2, 3 … with no gap."""
    dex = Varchar(length=32, null=True, default=None)
    tx_hash = Varchar(length=128, null=True, default=None)
    quoted_out = Numeric(null=True, default=None)
    """The first routing's best quote: the reference the user's bound was set from."""
    min_out = Numeric(null=True, default=None)
    """The user's bound: fixed at the first routing, never moved by a retry."""
    amount_out = Numeric(null=True, default=None)
    executed_price = Numeric(null=True, default=None)
    error = Text(null=True, default=None)
    retry_reason = Text(null=True, default=None)
    """Why the current attempt failed, until the next attempt starts (written on its event)."""
    client = Varchar(length=64, default="")
    terms = JSONB(default="{}")
    """What the order's kind adds (app/domain/kinds), e.g. a limit price."""
    created_at = Timestamptz()
    updated_at = Timestamptz()


class OrderEvent(Table, tablename="order_events"):
    """A stored lifecycle event (its wire form is `app.events.schema.OrderEvent`)."""

    id = BigSerial(primary_key=True)
    order_id = ForeignKey(references=Order, on_delete=OnDelete.cascade)
    seq = Integer()
    status = Varchar(length=16)
    at = Timestamptz()
    attempt = Integer()
    dex = Varchar(length=32, null=True, default=None)
    tx_hash = Varchar(length=128, null=True, default=None)
    quotes = JSONB(null=True, default=None)
    amount_out = Numeric(null=True, default=None)
    executed_price = Numeric(null=True, default=None)
    error = Text(null=True, default=None)
    note = Text(null=True, default=None)
    """Why a step happened that the status alone does not explain (e.g. a resumed run)."""


OrderRow = Order
EventRow = OrderEvent

TABLES: tuple[type[Table], ...] = (OrderRow, EventRow)
