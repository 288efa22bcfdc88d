"""Order persistence: creation and guarded transitions, each one statement and one round trip.

A transition is a compare-and-set on (status, attempt) that bumps the order's
`last_seq` and inserts the event with that seq in the same statement: it is atomic
without an explicit transaction, and a writer that lost the race changes nothing.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import asyncpg
import msgspec
from piccolo.query.functions.aggregate import Count

from app.db.database import CommitUnanswered, Connection, Database
from app.db.tables import OrderRow
from app.domain.filters import OrderFilter, Page
from app.domain.order import Fill, Order
from app.domain.problems import ClientOrderIdTaken, KeyInFlight, KeyReused, OutcomeUnknown
from app.domain.requests import OrderRequest
from app.domain.split import Leg
from app.domain.status import MOVING, TERMINAL, OrderStatus, check_transition
from app.domain.tokens import find_market, unknown_market
from app.events.schema import (
    OrderEvent,
    QuoteView,
    Recorded,
    amount,
    decode_legs,
    decode_quotes,
    encode,
    legs_view,
)
from app.ids import parse_uuid

# Every statement that writes an event writes `orders` first, so it holds a transaction
# id before it takes an event id: the feed's horizon (app/db/feed.py) relies on it. The
# same statement queues the event for the owner's matching webhooks (the outbox), so a
# delivery is never lost between writing the event and sending it.
_OUTBOX = """
outbox AS (
    INSERT INTO webhook_deliveries (webhook_id, event_id, next_at)
    SELECT w.id, event.id, now() FROM webhooks w, event, {order}
    WHERE event.order_id = {order}.id AND w.owner = {order}.owner AND w.deleted_at IS NULL
      AND {order}.status = ANY(string_to_array(w.events, ','))
)
"""

_CREATE = f"""
WITH created AS (
    INSERT INTO orders (id, type, token_in, token_out, amount_in, slippage_bps, status,
                        attempt, last_seq, client, terms, owner, client_order_id,
                        limit_price, min_out, expires_at, routing, created_at, updated_at)
    VALUES ($1, $2, $3, $4, $5, $6, 'pending', 1, 1, $7, $8::jsonb, $9, $10, $11, $12,
            COALESCE($13::timestamptz, now() + make_interval(secs => $14::float8)),
            COALESCE($15, 'auto'), now(), now())
    RETURNING *
), event AS (
    INSERT INTO order_events (order_id, seq, status, at, attempt)
    SELECT id, 1, 'pending', created_at, 1 FROM created
    RETURNING id, order_id
), {_OUTBOX.format(order="created")}
SELECT created.*, event.id AS event_id FROM created, event
"""

# Entering routing starts an attempt afresh: the previous attempt's venue, route and tx are
# cleared.
# The first quote and the bound it sets (`quoted_out`, `min_out`) are written once and
# never cleared: no retry moves the user's bound.
_TRANSITION = f"""
WITH moved AS (
    UPDATE orders SET
        status = $3::varchar,
        attempt = $5,
        last_seq = last_seq + 1,
        updated_at = now(),
        dex = CASE WHEN $3::varchar = 'routing' THEN NULL ELSE COALESCE($6, dex) END,
        tx_hash = CASE WHEN $3::varchar = 'routing' THEN NULL ELSE COALESCE($7, tx_hash) END,
        route = CASE WHEN $3::varchar = 'routing' THEN NULL ELSE COALESCE($17::jsonb, route) END,
        quoted_out = COALESCE(quoted_out, $9),
        min_out = COALESCE(min_out, $10),
        amount_out = COALESCE($11, amount_out),
        executed_price = COALESCE($12, executed_price),
        error = CASE WHEN $3::varchar = 'failed' THEN $13 ELSE error END,
        retry_reason = NULL,
        triggered = ($2::varchar = 'waiting' AND $3::varchar = 'routing')
    WHERE id = $1 AND status = $2::varchar AND attempt = $4
      AND ($16::boolean IS NOT TRUE OR expires_at IS NULL OR expires_at > now())
    RETURNING *
), event AS (
    INSERT INTO order_events (order_id, seq, status, at, attempt, dex, tx_hash, quotes,
                              amount_out, executed_price, error, note, details, route)
    SELECT id, last_seq, status, updated_at, attempt, $6, $7, $8::jsonb, $11, $12, $13, $14,
           $15::jsonb, $18::jsonb
    FROM moved
    RETURNING id, order_id
), {_OUTBOX.format(order="moved")}
SELECT moved.*, event.id AS event_id FROM moved, event
"""

# The trigger starts many waiting orders at once: `_TRANSITION`'s `waiting → routing` for
# each listed (id, attempt), in one statement. Each order still moves only if it is waiting
# in that attempt and has not expired: a cancel or an expiry that won is left alone.
_TRIGGER = f"""
WITH fired AS (
    SELECT * FROM unnest($1::uuid[], $2::int[], $3::jsonb[], $4::text[], $5::jsonb[])
        AS f(id, attempt, quotes, note, details)
), moved AS (
    UPDATE orders o SET
        status = 'routing',
        last_seq = o.last_seq + 1,
        updated_at = now(),
        dex = NULL,
        tx_hash = NULL,
        route = NULL,
        retry_reason = NULL,
        triggered = TRUE
    FROM fired
    WHERE o.id = fired.id AND o.status = 'waiting' AND o.attempt = fired.attempt
      AND (o.expires_at IS NULL OR o.expires_at > now())
    RETURNING o.*, fired.quotes AS fired_quotes, fired.note AS fired_note,
              fired.details AS fired_details
), event AS (
    INSERT INTO order_events (order_id, seq, status, at, attempt, quotes, note, details)
    SELECT id, last_seq, status, updated_at, attempt, fired_quotes, fired_note, fired_details
    FROM moved
    RETURNING id, order_id
), {_OUTBOX.format(order="moved")}
SELECT moved.*, event.id AS event_id FROM moved JOIN event ON event.order_id = moved.id
"""

# A literal list, so the planner uses the partial index `orders_moving`.
_STALE_MOVING = f"""
SELECT id FROM orders WHERE status IN ({", ".join(f"'{s.value}'" for s in sorted(MOVING))})
AND updated_at < now() - make_interval(secs => $1) ORDER BY updated_at LIMIT $2
"""

_CLAIM_KEY = "SELECT pg_try_advisory_xact_lock(hashtextextended($1, 0))"
_FIND_KEY = """
SELECT fingerprint, status_code, response, created_at > now() - make_interval(secs => $3) AS live
FROM idempotency_keys WHERE owner = $1 AND key = $2
"""
_FORGET_KEY = "DELETE FROM idempotency_keys WHERE owner = $1 AND key = $2"
_REMEMBER_KEY = """
INSERT INTO idempotency_keys (owner, key, fingerprint, status_code, response, created_at)
VALUES ($1, $2, $3, $4, $5, now())
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
    route: tuple[Leg, ...] | None = None
    """The route this step chose or ran; the order keeps it only when it is split."""
    quoted_out: Decimal | None = None
    min_out: Decimal | None = None
    amount_out: Decimal | None = None
    executed_price: Decimal | None = None
    error: str | None = None
    note: str | None = None
    details: dict[str, str] | None = None
    """What this step of the order's kind adds (terms waited for, what triggered it)."""
    unexpired: bool = False
    """Only if the order has not expired yet (the database's clock decides)."""

    def __post_init__(self) -> None:
        check_transition(self.from_status, self.to_status)


@dataclass(frozen=True, slots=True)
class Fired:
    """A waiting order the trigger starts, with what it saw (`OrderStore.trigger`)."""

    order_id: str
    attempt: int
    quotes: list[QuoteView]
    note: str
    details: dict[str, str]


class OrderStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def create(
        self, order_id: uuid.UUID, request: OrderRequest, client: str, owner: str = ""
    ) -> Recorded:
        """Store a new order as `pending` with its first event, in one statement.

        A failure or timeout means it was not stored; `OutcomeUnknown` that nobody can tell
        yet (the commit went unanswered): the order may exist, under `order_id`.
        """
        try:
            async with self._deciding(order_id) as conn:
                row = await conn.fetchrow(_CREATE, *_create_args(order_id, request, client, owner))
        except asyncpg.UniqueViolationError:
            raise await self._reference_taken(owner, request) from None
        assert row is not None
        return _created(row)

    @contextlib.asynccontextmanager
    async def _deciding(self, order_id: uuid.UUID) -> AsyncIterator[Connection]:
        try:
            async with self.db.decisive() as conn:
                yield conn
        except CommitUnanswered:
            raise OutcomeUnknown(
                "the database stopped answering as the order was being stored: it may or may"
                f" not have been placed; look it up as order {order_id}",
                str(order_id),
            ) from None

    async def create_once(
        self,
        order_id: uuid.UUID,
        request: OrderRequest,
        client: str,
        owner: str,
        once: Once,
    ) -> Recorded | Order:
        """Store the order unless this owner's idempotency key was already used.

        Returns the new order's record, or — for a repeat of a request already handled —
        the order as it was placed then. Raises `KeyInFlight` while another request with
        the key is being handled, `KeyReused` if the key came with a different request.
        The key is remembered in the same transaction as the order.
        """
        try:
            async with self._deciding(order_id) as conn:
                if not await conn.fetchval(_CLAIM_KEY, f"{owner}:{once.key}"):
                    raise KeyInFlight("a request with this Idempotency-Key is still in flight")
                seen = await conn.fetchrow(_FIND_KEY, owner, once.key, once.ttl_seconds)
                if seen is not None and seen["live"]:
                    if seen["fingerprint"] != once.fingerprint:
                        raise KeyReused("this Idempotency-Key was used with a different request")
                    return msgspec.json.decode(seen["response"], type=Order)
                if seen is not None:
                    await conn.execute(_FORGET_KEY, owner, once.key)
                row = await conn.fetchrow(_CREATE, *_create_args(order_id, request, client, owner))
                assert row is not None
                recorded = _created(row)
                placed = msgspec.json.encode(recorded.order).decode()
                await conn.execute(_REMEMBER_KEY, owner, once.key, once.fingerprint, 201, placed)
                return recorded
        except asyncpg.UniqueViolationError:
            raise await self._reference_taken(owner, request) from None

    async def _reference_taken(self, owner: str, request: OrderRequest) -> ClientOrderIdTaken:
        taken = await self.db.fetchval(
            "SELECT id FROM orders WHERE owner = $1 AND client_order_id = $2",
            owner,
            request.client_order_id,
        )
        return ClientOrderIdTaken(
            f"clientOrderId {request.client_order_id!r} is already used by order {taken}"
        )

    async def forget_keys(self, older_than_seconds: float) -> int:
        """Drop idempotency keys past their time; how many went."""
        done = await self.db.execute(
            "DELETE FROM idempotency_keys WHERE created_at < now() - make_interval(secs => $1)",
            older_than_seconds,
        )
        return int(done.split()[-1])

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
            json.dumps(move.details) if move.details else None,
            move.unexpired,
            _legs_json(move.route if move.route and len(move.route) > 1 else None),
            _legs_json(move.route),
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
            route=legs_view(move.route),
            amount_out=amount(move.amount_out),
            executed_price=amount(move.executed_price),
            error=move.error,
            note=move.note,
            details=move.details,
        )
        return Recorded(event, order)

    async def trigger(self, fired: Sequence[Fired]) -> list[Recorded]:
        """Start every listed waiting order (`waiting → routing`), in one statement; the
        events of those that moved (an order cancelled, expired or moved on meanwhile is
        left as it is and left out)."""
        if not fired:
            return []
        rows = await self.db.fetch(
            _TRIGGER,
            [uuid.UUID(f.order_id) for f in fired],
            [f.attempt for f in fired],
            [encode(f.quotes).decode() for f in fired],
            [f.note for f in fired],
            [json.dumps(f.details) for f in fired],
        )
        by_id = {f.order_id: f for f in fired}
        recorded = []
        for row in rows:
            order = order_from_row(row)
            what = by_id[order.id]
            event = _event(
                order,
                row,
                seq=row["last_seq"],
                status=OrderStatus.ROUTING,
                attempt=order.attempt,
                quotes=what.quotes,
                note=what.note,
                details=what.details,
            )
            recorded.append(Recorded(event, order))
        return recorded

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

    async def some(self, order_ids: Sequence[str]) -> list[Order]:
        """The orders among `order_ids` that exist (ids that are not ids are skipped)."""
        parsed = [u for u in map(parse_uuid, order_ids) if u is not None]
        rows = await self.db.fetch("SELECT * FROM orders WHERE id = ANY($1::uuid[])", parsed)
        return [order_from_row(row) for row in rows]

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

    async def recent_fills(self, owner: str | None, limit: int = 40) -> list[Fill]:
        """The last `limit` confirmed orders (of `owner`, or all), newest first: the window
        every dashboard chart is drawn from."""
        rows = await self.db.fetch(
            "SELECT id, created_at, updated_at, dex, token_in, token_out, executed_price"
            " FROM orders WHERE status = 'confirmed' AND ($2::varchar IS NULL OR owner = $2)"
            " ORDER BY id DESC LIMIT $1",
            limit,
            owner,
        )
        return [
            Fill(
                order_id=str(r["id"]),
                placed_at=r["created_at"],
                confirmed_at=r["updated_at"],
                dex=r["dex"] or "",
                pair=_pair_symbol(r["token_in"], r["token_out"]),
                price=r["executed_price"],
            )
            for r in rows
        ]

    async def stale_active(self, idle_seconds: float, limit: int = 500) -> list[str]:
        """Orders a worker should be moving whose row has not changed for `idle_seconds`."""
        rows = await self.db.fetch(_STALE_MOVING, idle_seconds, limit)
        return [str(row["id"]) for row in rows]

    async def waiting(self, after: str = "", limit: int = 5000) -> list[Order]:
        """Waiting orders in id order, a page at a time (to rebuild the trigger's index)."""
        rows = await self.db.fetch(
            "SELECT * FROM orders WHERE status = 'waiting' AND id::text > $1"
            " ORDER BY id::text LIMIT $2",
            after,
            limit,
        )
        return [order_from_row(row) for row in rows]

    async def lately_waiting(self, seconds: float, limit: int = 5000) -> list[Order]:
        """Orders that began waiting (or waiting again) in the last `seconds`."""
        rows = await self.db.fetch(
            "SELECT * FROM orders WHERE status = 'waiting'"
            " AND updated_at > now() - make_interval(secs => $1) ORDER BY updated_at LIMIT $2",
            seconds,
            limit,
        )
        return [order_from_row(row) for row in rows]

    async def sniper_targets(self) -> list[str]:
        """The tokens (symbols or mints) that waiting snipers name."""
        rows = await self.db.fetch(
            "SELECT DISTINCT token_out FROM orders WHERE status = 'waiting' AND type = 'sniper'"
        )
        return [str(row["token_out"]) for row in rows]

    async def snipers_for(self, names: Sequence[str], limit: int = 5000) -> list[Order]:
        """Waiting sniper orders for the token called any of `names` (its symbol, its mint)."""
        rows = await self.db.fetch(
            "SELECT * FROM orders WHERE status = 'waiting' AND type = 'sniper'"
            " AND token_out = ANY($1::varchar[]) ORDER BY id LIMIT $2",
            list(names),
            limit,
        )
        return [order_from_row(row) for row in rows]

    async def due_to_expire(self, limit: int = 500) -> list[Order]:
        """Waiting orders whose time is up, by the database's clock."""
        rows = await self.db.fetch(
            "SELECT * FROM orders WHERE status = 'waiting' AND expires_at <= now()"
            " ORDER BY expires_at LIMIT $1",
            limit,
        )
        return [order_from_row(row) for row in rows]


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
    if where.owner is not None:
        clauses.append(OrderRow.owner == where.owner)
    if where.client_order_id:
        clauses.append(OrderRow.client_order_id == where.client_order_id)
    return clauses


@dataclass(frozen=True, slots=True)
class Once:
    """An idempotency key as the store checks it."""

    key: str
    fingerprint: str
    """A hash of the request: the same key must come with the same request."""
    ttl_seconds: float


def _create_args(
    order_id: uuid.UUID, request: OrderRequest, client: str, owner: str
) -> tuple[object, ...]:
    return (
        order_id,
        request.type,
        request.market.token_in.symbol,
        request.market.token_out.symbol,
        request.amount,
        request.slippage_bps,
        client[:64],
        json.dumps(request.terms),
        owner,
        request.client_order_id,
        request.limit_price,
        request.bound,
        request.expires_at,
        request.expires_in,
        request.routing,
    )


def _created(row: Any) -> Recorded:
    order = order_from_row(row)
    return Recorded(_event(order, row, seq=1, status=OrderStatus.PENDING, attempt=1), order)


def _event(order: Order, row: Any, **fields: Any) -> OrderEvent:
    return OrderEvent(event_id=row["event_id"], order_id=order.id, at=order.updated_at, **fields)


def order_from_row(row: Any) -> Order:
    """An `orders` row as the domain's order."""
    token_in, token_out = row["token_in"], row["token_out"]
    market = find_market(token_in, token_out) or unknown_market(token_in, token_out)
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
        owner=row["owner"],
        client_order_id=row["client_order_id"],
        expires_at=row["expires_at"],
        triggered=row["triggered"],
        routing=row["routing"],
        dex=row["dex"],
        route=_legs(row["route"]),
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
        route=decode_legs(row["route"]) if row["route"] else None,
        amount_out=amount(row["amount_out"]),
        executed_price=amount(row["executed_price"]),
        error=row["error"],
        note=row["note"],
        details=_details(row["details"]),
    )


def _legs_json(legs: Sequence[Leg] | None) -> str | None:
    views = legs_view(legs)
    return encode(views).decode() if views else None


def _legs(raw: str | None) -> tuple[Leg, ...] | None:
    return tuple(view.leg() for view in decode_legs(raw)) if raw else None


def _details(raw: str | None) -> dict[str, str] | None:
    """A JSONB column as asyncpg and Piccolo return it (text)."""
    parsed: dict[str, object] = json.loads(raw) if raw else {}
    return {str(k): str(v) for k, v in parsed.items()} or None


def _pair_symbol(token_in: str, token_out: str) -> str:
    market = find_market(token_in, token_out)
    return market.pair.symbol if market is not None else f"{token_in}/{token_out}"
