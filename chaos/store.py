"""What the engine stored, read straight from PostgreSQL and from the venues' ledger in Redis."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

import asyncpg
from redis.asyncio import Redis

from app.domain.status import TERMINAL
from app.venues.book import Book
from app.venues.catalog import VENUES
from chaos.load import OrderKey

TERMINAL_STATUSES = sorted(status.value for status in TERMINAL)
LEDGER_PREFIX = "sim"
"""The simulator's key prefix (`app.venues.simulator.Simulator`'s default)."""


@dataclass(frozen=True)
class StoredEvent:
    event_id: int
    seq: int
    status: str
    at: datetime


@dataclass(frozen=True)
class StoredOrder:
    order_id: str
    status: str
    key: OrderKey
    min_out: Decimal | None
    amount_out: Decimal | None
    created_at: datetime

    @property
    def terminal(self) -> bool:
        return self.status in TERMINAL_STATUSES


@dataclass(frozen=True)
class Stored:
    orders: dict[str, StoredOrder]
    events: dict[str, list[StoredEvent]]
    """Each order's events in seq order."""
    fills: dict[str, int]
    """Each order's fills, summed over every venue's ledger."""


async def moving(database_url: str) -> int:
    """Orders not yet in a terminal status."""
    conn = await asyncpg.connect(database_url, timeout=5)
    try:
        n = await conn.fetchval(
            "SELECT count(*) FROM orders WHERE status <> ALL($1::text[])", TERMINAL_STATUSES
        )
        return int(n)
    finally:
        await conn.close()


async def settle(database_url: str, within: float) -> tuple[int, float]:
    """Wait (at most `within` seconds) until no order is moving; (orders still moving,
    seconds waited)."""
    started = time.monotonic()
    left = -1
    while time.monotonic() - started < within:
        try:
            left = await moving(database_url)
        except (OSError, asyncpg.PostgresError, TimeoutError):
            left = -1  # not answering yet
        if left == 0:
            break
        await asyncio.sleep(0.5)  # wait-ok: polling interval of a condition wait
    return left, time.monotonic() - started


async def read(database_url: str, redis_url: str) -> Stored:
    conn = await asyncpg.connect(database_url, timeout=5)
    try:
        rows = await conn.fetch(
            "SELECT id, status, token_in, token_out, amount_in, min_out, amount_out, created_at"
            " FROM orders"
        )
        event_rows = await conn.fetch(
            "SELECT id, order_id, seq, status, at FROM order_events ORDER BY order_id, seq, id"
        )
    finally:
        await conn.close()
    orders = {
        str(r["id"]): StoredOrder(
            order_id=str(r["id"]),
            status=r["status"],
            key=(r["token_in"], r["token_out"], Decimal(r["amount_in"]).normalize()),
            min_out=r["min_out"],
            amount_out=r["amount_out"],
            created_at=r["created_at"],
        )
        for r in rows
    }
    events: dict[str, list[StoredEvent]] = {order_id: [] for order_id in orders}
    for r in event_rows:
        events.setdefault(str(r["order_id"]), []).append(
            StoredEvent(r["id"], r["seq"], r["status"], r["at"])
        )
    fills = await ledger_fills(redis_url, orders)
    return Stored(orders, events, fills)


async def ledger_fills(redis_url: str, order_ids: Iterable[str]) -> dict[str, int]:
    ids = list(order_ids)
    client = Redis.from_url(redis_url, decode_responses=True)
    try:
        book = Book(client, LEDGER_PREFIX)
        async with client.pipeline(transaction=False) as pipe:
            for order_id in ids:
                for venue in VENUES:
                    pipe.hget(book.ledger_key(venue.name, order_id), "fills")
            answers = await pipe.execute()
    finally:
        await client.aclose()
    per_venue = len(VENUES)
    return {
        order_id: sum(int(a or 0) for a in answers[i * per_venue : (i + 1) * per_venue])
        for i, order_id in enumerate(ids)
    }


async def job_record(redis_url: str, queue_name: str, order_id: str) -> dict[str, object]:
    """Where the order's job stands in the queue (evidence for an order that stopped moving)."""
    from app.services.queueing import JobPolicy, make_queue  # the engine's own queue

    queue = make_queue(redis_url, queue_name, JobPolicy(timeout=1, heartbeat=1), 1)

    def text(value: bytes | str) -> str:
        return value.decode() if isinstance(value, bytes) else value

    def holds(entries: list[bytes | str]) -> bool:
        return any(text(entry).split(" ", 1)[0] == order_id for entry in entries)

    try:
        runs = await queue.runs([order_id])
        workers = [text(w) for w in await queue.redis.smembers(queue.workers)]
        return {
            "live": order_id in runs,
            "runs ended": runs.get(order_id),
            "queued": holds(await queue.redis.lrange(queue.queued, 0, -1)),
            "scheduled": await queue.redis.zscore(queue.scheduled, order_id) is not None,
            "taken by": [
                w for w in workers if holds(await queue.redis.lrange(queue.taken(w), 0, -1))
            ],
        }
    finally:
        await queue.close()


async def ledger_entries(redis_url: str, order_id: str) -> dict[str, dict[str, str]]:
    """Every venue's ledger entry for one order (for evidence)."""
    client = Redis.from_url(redis_url, decode_responses=True)
    try:
        book = Book(client, LEDGER_PREFIX)
        entries: dict[str, dict[str, str]] = {}
        for venue in VENUES:
            entry = await client.hgetall(book.ledger_key(venue.name, order_id))
            if entry:
                entries[venue.name] = {str(k): str(v) for k, v in entry.items()}
        return entries
    finally:
        await client.aclose()
