"""Order persistence: creation and guarded transitions, each one statement and one round trip.

A transition is a compare-and-set on (status, attempt) that bumps the order's
`last_seq` and inserts the event with that seq in the same statement: it is atomic
without an explicit transaction, and a writer that lost the race changes nothing.
"""

from __future__ import annotations

import dataclasses
import json
import uuid
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from piccolo.query.functions.aggregate import Count

from app.db.database import Database
from app.db.tables import OrderRow
from app.domain.filters import OrderFilter, Page
from app.domain.order import Order
from app.domain.requests import OrderRequest
from app.domain.status import TERMINAL, OrderStatus, check_transition
from app.domain.tokens import find_market
from app.events.schema import OrderEvent, QuoteView, Recorded, amount, decode_quotes, encode
from app.ids import parse_uuid

# Every statement that writes an event writes `orders` first, so it holds a transaction
# id before it takes an event id: the feed's horizon (app/db/feed.py) relies on it.
_CREATE = """
WITH created AS (
    INSERT INTO orders (id, type, token_in, token_out, amount_in, slippage_bps, status,
                        attempt, last_seq, client, terms, created_at, updated_at)
    VALUES ($1, $2, $3, $4, $5, $6, 'pending', 1, 1, $7, $8::jsonb, now(), now())
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


class OrderStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def create(self, order_id: uuid.UUID, request: OrderRequest, client: str) -> Recorded:
        row = await self.db.fetchrow(
            _CREATE,
            order_id,
            request.type,
            request.market.token_in.symbol,
            request.market.token_out.symbol,
            request.amount,
            request.slippage_bps,
            client[:64],
            json.dumps(request.terms),
        )
        assert row is not None
        order = order_from_row(row)
        return Recorded(_event(order, row, seq=1, status=OrderStatus.PENDING, attempt=1), order)

    async def transition(self, order_id: str, move: Move) -> Recorded | None:
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
        order = order_from_row(row)
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
        return Recorded(event, order)

    async def note_retry(
        self, order_id: str, status: OrderStatus, attempt: int, reason: str
    ) -> None:
        """Remember why this attempt failed; the next attempt's event carries it."""
        await self.db.execute(_NOTE_RETRY, uuid.UUID(order_id), status.value, attempt, reason)

    async def get(self, order_id: str) -> Order | None:
        parsed = parse_uuid(order_id)
        if parsed is None:
            return None
        row = await self.db.fetchrow("SELECT * FROM orders WHERE id = $1", parsed)
        return order_from_row(row) if row else None

    async def events(self, order_id: str, after_seq: int = 0) -> list[OrderEvent]:
        parsed = parse_uuid(order_id)
        if parsed is None:
            return []
        rows = await self.db.fetch(
            "SELECT * FROM order_events WHERE order_id = $1 AND seq > $2 ORDER BY seq",
            parsed,
            after_seq,
        )
        return [event_from_row(row) for row in rows]

    async def page(self, where: OrderFilter) -> Page:
        query = OrderRow.select().order_by(OrderRow.id, ascending=False).limit(where.limit + 1)
        for clause in _clauses(where):
            query = query.where(clause)
        rows = await self.db.select(query)
        items = [order_from_row(row) for row in rows[: where.limit]]
        more = len(rows) > where.limit
        return Page(items=items, next_cursor=items[-1].id if more and items else None)

    async def count_by_status(self, where: OrderFilter) -> dict[OrderStatus, int]:
        query = OrderRow.select(OrderRow.status, Count()).group_by(OrderRow.status)
        for clause in _clauses(dataclasses.replace(where, statuses=(), before=None)):
            query = query.where(clause)
        return {OrderStatus(row["status"]): row["count"] for row in await self.db.select(query)}

    async def count_active(self) -> dict[OrderStatus, int]:
        """Orders still moving, by status."""
        rows = await self.db.fetch(
            "SELECT status, count(*) AS n FROM orders"
            " WHERE status <> ALL($1::varchar[]) GROUP BY status",
            [s.value for s in TERMINAL],
        )
        return {OrderStatus(row["status"]): int(row["n"]) for row in rows}

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
            "SELECT id FROM orders WHERE status <> ALL($3::varchar[])"
            " AND updated_at < now() - make_interval(secs => $1) ORDER BY updated_at LIMIT $2",
            idle_seconds,
            limit,
            [s.value for s in TERMINAL],
        )
        return [str(row["id"]) for row in rows]


def _clauses(where: OrderFilter) -> list[Any]:
    clauses: list[Any] = []
    if where.statuses:
        clauses.append(OrderRow.status.is_in([s.value for s in where.statuses]))
    if where.pair:
        base, quote = where.pair.base, where.pair.quote
        clauses.append(
            ((OrderRow.token_in == base) & (OrderRow.token_out == quote))
            | ((OrderRow.token_in == quote) & (OrderRow.token_out == base))
        )
    if where.token_in:
        clauses.append(OrderRow.token_in == where.token_in)
    if where.token_out:
        clauses.append(OrderRow.token_out == where.token_out)
    if where.dex:
        clauses.append(OrderRow.dex == where.dex)
    if where.created_from:
        clauses.append(OrderRow.created_at >= where.created_from)
    if where.created_to:
        clauses.append(OrderRow.created_at < where.created_to)
    if where.before:
        clauses.append(OrderRow.id < uuid.UUID(where.before))
    return clauses


def _event(order: Order, row: Any, **fields: Any) -> OrderEvent:
    return OrderEvent(event_id=row["event_id"], order_id=order.id, at=order.updated_at, **fields)


def order_from_row(row: Any) -> Order:
    """An `orders` row as the domain's order."""
    market = find_market(row["token_in"], row["token_out"])
    if market is None:
        raise ValueError(f"order {row['id']} trades an unknown pair")
    terms = row["terms"]
    return Order(
        id=str(row["id"]),
        type=row["type"],
        market=market,
        amount=row["amount_in"],
        slippage_bps=row["slippage_bps"],
        status=OrderStatus(row["status"]),
        attempt=row["attempt"],
        last_seq=row["last_seq"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        terms=json.loads(terms) if isinstance(terms, str) else dict(terms or {}),
        client=row["client"],
        dex=row["dex"],
        tx_hash=row["tx_hash"],
        quoted_out=row["quoted_out"],
        min_out=row["min_out"],
        amount_out=row["amount_out"],
        executed_price=row["executed_price"],
        error=row["error"],
        retry_reason=row["retry_reason"],
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
