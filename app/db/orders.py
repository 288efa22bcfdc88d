"""Order persistence: creation and guarded transitions, each one statement and one round trip.

A transition is a compare-and-set on (status, attempt) that bumps the order's
`last_seq` and inserts the event with that seq in the same statement: it is atomic
without an explicit transaction, and a writer that lost the race changes nothing.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from piccolo.query.functions.aggregate import Count

from app.db.database import Database
from app.db.tables import Order
from app.db.tables import OrderEvent as EventRow
from app.domain.orders import OrderRequest
from app.domain.status import OrderStatus, check_transition
from app.domain.tokens import Pair
from app.events.schema import (
    Notice,
    OrderEvent,
    OrderView,
    QuoteView,
    amount,
    decode_quotes,
    encode,
)

# Every statement that writes an event writes `orders` first, so it holds a transaction
# id before it takes an event id: the feed's horizon (app/db/feed.py) relies on it.
_CREATE = """
WITH created AS (
    INSERT INTO orders (id, type, token_in, token_out, amount_in, slippage_bps, status,
                        attempt, last_seq, client, created_at, updated_at)
    VALUES ($1, $2, $3, $4, $5, $6, 'pending', 1, 1, $7, now(), now())
    RETURNING *
), event AS (
    INSERT INTO order_events (order_id, seq, status, at, attempt)
    SELECT id, 1, 'pending', created_at, 1 FROM created
    RETURNING id
)
SELECT created.*, event.id AS event_id FROM created, event
"""

# Entering routing starts an attempt afresh: the previous attempt's venue and tx are cleared.
# The first quote and the bound it sets (`quoted_out`, `min_out`) are written once and
# never cleared: no retry moves the user's bound.
_TRANSITION = """
WITH moved AS (
    UPDATE orders SET
        status = $3::varchar,
        attempt = $5,
        last_seq = last_seq + 1,
        updated_at = now(),
        dex = CASE WHEN $3::varchar = 'routing' THEN NULL ELSE COALESCE($6, dex) END,
        tx_hash = CASE WHEN $3::varchar = 'routing' THEN NULL ELSE COALESCE($7, tx_hash) END,
        quoted_out = COALESCE(quoted_out, $9),
        min_out = COALESCE(min_out, $10),
        amount_out = COALESCE($11, amount_out),
        executed_price = COALESCE($12, executed_price),
        error = CASE WHEN $3::varchar = 'failed' THEN $13 ELSE error END,
        retry_reason = NULL
    WHERE id = $1 AND status = $2::varchar AND attempt = $4
    RETURNING *
), event AS (
    INSERT INTO order_events (order_id, seq, status, at, attempt, dex, tx_hash, quotes,
                              amount_out, executed_price, error, note)
    SELECT id, last_seq, status, updated_at, attempt, $6, $7, $8::jsonb, $11, $12, $13, $14
    FROM moved
    RETURNING id
)
SELECT moved.*, event.id AS event_id FROM moved, event
"""

_NOTE_RETRY = """
UPDATE orders SET retry_reason = $4, updated_at = now()
WHERE id = $1 AND status = $2 AND attempt = $3
"""


@dataclass(frozen=True, slots=True)
class Move:
    """A guarded transition: from (status, attempt) to a new status, with what it learned."""

    from_status: OrderStatus
    from_attempt: int
    to_status: OrderStatus
    attempt: int
    dex: str | None = None
    tx_hash: str | None = None
    quotes: list[QuoteView] | None = None
    quoted_out: Decimal | None = None
    min_out: Decimal | None = None
    amount_out: Decimal | None = None
    executed_price: Decimal | None = None
    error: str | None = None
    note: str | None = None

    def __post_init__(self) -> None:
        check_transition(self.from_status, self.to_status)


@dataclass(frozen=True, slots=True)
class OrderFilter:
    statuses: Sequence[OrderStatus] = ()
    pair: Pair | None = None
    """Either direction across this pair."""
    token_in: str | None = None
    token_out: str | None = None
    dex: str | None = None
    created_from: datetime | None = None
    created_to: datetime | None = None
    before: uuid.UUID | None = None
    """Cursor: only orders older than this id."""
    limit: int = 50


@dataclass(frozen=True, slots=True)
class Page:
    items: list[OrderView] = field(default_factory=list)
    next_cursor: str | None = None


class OrderStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def create(self, order_id: uuid.UUID, request: OrderRequest, client: str) -> Notice:
        row = await self.db.fetchrow(
            _CREATE,
            order_id,
            request.type.value,
            request.token_in,
            request.token_out,
            request.amount,
            request.slippage_bps,
            client[:64],
        )
        assert row is not None
        order = OrderView.from_row(dict(row))
        event = _event(order, row, seq=1, status=OrderStatus.PENDING, attempt=1)
        return Notice(event=event, order=order)

    async def transition(self, order_id: str, move: Move) -> Notice | None:
        """Apply `move` if the order is still where the caller saw it; None if it is not."""
        row = await self.db.fetchrow(
            _TRANSITION,
            uuid.UUID(order_id),
            move.from_status.value,
            move.to_status.value,
            move.from_attempt,
            move.attempt,
            move.dex,
            move.tx_hash,
            encode(move.quotes).decode() if move.quotes is not None else None,
            move.quoted_out,
            move.min_out,
            move.amount_out,
            move.executed_price,
            move.error,
            move.note,
        )
        if row is None:
            return None
        order = OrderView.from_row(dict(row))
        event = _event(
            order,
            row,
            seq=row["last_seq"],
            status=move.to_status,
            attempt=move.attempt,
            dex=move.dex,
            tx_hash=move.tx_hash,
            quotes=move.quotes,
            amount_out=amount(move.amount_out),
            executed_price=amount(move.executed_price),
            error=move.error,
            note=move.note,
        )
        return Notice(event=event, order=order)

    async def note_retry(
        self, order_id: str, status: OrderStatus, attempt: int, reason: str
    ) -> None:
        """Remember why this attempt failed; the next attempt's event carries it."""
        await self.db.execute(_NOTE_RETRY, uuid.UUID(order_id), status.value, attempt, reason)

    async def get(self, order_id: uuid.UUID | str) -> OrderView | None:
        rows = await self.db.select(Order.select().where(Order.id == order_id).limit(1))
        return OrderView.from_row(rows[0]) if rows else None

    async def events(self, order_id: uuid.UUID | str, after_seq: int = 0) -> list[OrderEvent]:
        rows = await self.db.select(
            EventRow.select()
            .where((EventRow.order_id == order_id) & (EventRow.seq > after_seq))
            .order_by(EventRow.seq)
        )
        return [event_from_row(row) for row in rows]

    async def page(self, where: OrderFilter) -> Page:
        query = Order.select().order_by(Order.id, ascending=False).limit(where.limit + 1)
        for clause in _clauses(where):
            query = query.where(clause)
        rows = await self.db.select(query)
        items = [OrderView.from_row(row) for row in rows[: where.limit]]
        more = len(rows) > where.limit
        return Page(items=items, next_cursor=items[-1].order_id if more and items else None)

    async def count_by_status(self, where: OrderFilter) -> dict[OrderStatus, int]:
        query = Order.select(Order.status, Count()).group_by(Order.status)
        for clause in _clauses(dataclasses.replace(where, statuses=(), before=None)):
            query = query.where(clause)
        return {OrderStatus(row["status"]): row["count"] for row in await self.db.select(query)}

    async def recent_fills_by_venue(self, limit: int = 100) -> dict[str, int]:
        """How the last `limit` confirmed orders split between venues."""
        rows = await self.db.fetch(
            "SELECT dex, count(*) AS fills FROM (SELECT dex FROM orders"
            " WHERE status = 'confirmed' ORDER BY id DESC LIMIT $1) recent GROUP BY dex",
            limit,
        )
        return {row["dex"]: row["fills"] for row in rows}

    async def recent_confirm_times(self, limit: int = 40) -> list[tuple[str, datetime, datetime]]:
        """(order id, placed, confirmed) of the last `limit` confirmed orders, newest first."""
        rows = await self.db.fetch(
            "SELECT id, created_at, updated_at FROM orders WHERE status = 'confirmed'"
            " ORDER BY id DESC LIMIT $1",
            limit,
        )
        return [(str(r["id"]), r["created_at"], r["updated_at"]) for r in rows]

    async def stale_active(self, idle_seconds: float, limit: int = 500) -> list[str]:
        """Orders still moving whose row has not changed for `idle_seconds`."""
        rows = await self.db.fetch(
            "SELECT id FROM orders WHERE status NOT IN ('confirmed', 'failed')"
            " AND updated_at < now() - make_interval(secs => $1) ORDER BY updated_at LIMIT $2",
            idle_seconds,
            limit,
        )
        return [str(row["id"]) for row in rows]


def _clauses(where: OrderFilter) -> list[Any]:
    clauses: list[Any] = []
    if where.statuses:
        clauses.append(Order.status.is_in([s.value for s in where.statuses]))
    if where.pair:
        base, quote = where.pair.base, where.pair.quote
        clauses.append(
            ((Order.token_in == base) & (Order.token_out == quote))
            | ((Order.token_in == quote) & (Order.token_out == base))
        )
    if where.token_in:
        clauses.append(Order.token_in == where.token_in)
    if where.token_out:
        clauses.append(Order.token_out == where.token_out)
    if where.dex:
        clauses.append(Order.dex == where.dex)
    if where.created_from:
        clauses.append(Order.created_at >= where.created_from)
    if where.created_to:
        clauses.append(Order.created_at < where.created_to)
    if where.before:
        clauses.append(Order.id < where.before)
    return clauses


def _event(order: OrderView, row: Any, **fields: Any) -> OrderEvent:
    return OrderEvent(
        event_id=row["event_id"], order_id=order.order_id, at=order.updated_at, **fields
    )


def event_from_row(row: Any) -> OrderEvent:
    """An `order_events` row as the event it records."""
    quotes = row["quotes"]
    return OrderEvent(
        event_id=row["id"],
        order_id=str(row["order_id"]),
        seq=row["seq"],
        status=OrderStatus(row["status"]),
        at=row["at"],
        attempt=row["attempt"],
        dex=row["dex"],
        tx_hash=row["tx_hash"],
        quotes=decode_quotes(quotes) if quotes else None,
        amount_out=amount(row["amount_out"]),
        executed_price=amount(row["executed_price"]),
        error=row["error"],
        note=row["note"],
    )
