"""Webhook subscriptions and their delivery outbox.

Deliveries are written by the same statement as the event they carry (app/db/orders.py),
so none is lost between a step and its notification. Workers lease due deliveries (a
lease that lapses — the worker died mid-send — makes a delivery due again), send them and
record the outcome: each event at least once (receivers de-duplicate by `Event-Id`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from app.db.database import Database
from app.db.orders import event_from_row
from app.domain.status import OrderStatus
from app.events.schema import OrderEvent
from app.ids import uuid7


@dataclass(frozen=True, slots=True)
class WebhookRecord:
    id: str
    owner: str
    url: str
    events: frozenset[OrderStatus]
    created_at: datetime
    last_status: str | None
    last_attempt_at: datetime | None
    failures: int


@dataclass(frozen=True, slots=True)
class Delivery:
    id: int
    attempts: int
    webhook_id: str
    url: str
    secret: str
    event: OrderEvent


_LEASE = """
WITH due AS (
    SELECT d.id FROM webhook_deliveries d
    WHERE d.delivered_at IS NULL AND d.next_at <= now()
      AND (d.leased_until IS NULL OR d.leased_until < now())
    ORDER BY d.next_at, d.id LIMIT $1
    FOR UPDATE SKIP LOCKED
), leased AS (
    UPDATE webhook_deliveries d
    SET leased_until = now() + make_interval(secs => $2), attempts = d.attempts + 1
    FROM due WHERE d.id = due.id
    RETURNING d.*
)
SELECT leased.id AS delivery_id, leased.attempts, w.id AS webhook_id, w.url, w.secret, e.*
FROM leased
JOIN webhooks w ON w.id = leased.webhook_id
JOIN order_events e ON e.id = leased.event_id
ORDER BY leased.id
"""


class WebhookStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def create(
        self, owner: str, url: str, events: frozenset[OrderStatus], secret: str
    ) -> WebhookRecord:
        row = await self.db.fetchrow(
            "INSERT INTO webhooks (id, owner, url, events, secret, created_at)"
            " VALUES ($1, $2, $3, $4, $5, now()) RETURNING *",
            str(uuid7()),
            owner,
            url,
            ",".join(sorted(events)),
            secret,
        )
        assert row is not None
        return _record(row)

    async def of(self, owner: str | None) -> list[WebhookRecord]:
        """Live subscriptions of `owner` (None: everyone's)."""
        rows = await self.db.fetch(
            "SELECT * FROM webhooks WHERE deleted_at IS NULL"
            " AND ($1::varchar IS NULL OR owner = $1) ORDER BY created_at DESC",
            owner,
        )
        return [_record(row) for row in rows]

    async def delete(self, webhook_id: str, owner: str | None) -> bool:
        done = await self.db.execute(
            "UPDATE webhooks SET deleted_at = now() WHERE id = $1 AND deleted_at IS NULL"
            " AND ($2::varchar IS NULL OR owner = $2)",
            webhook_id,
            owner,
        )
        return done.endswith(" 1")

    async def lease(self, limit: int, seconds: float) -> list[Delivery]:
        """Due deliveries, leased to the caller for `seconds`."""
        rows = await self.db.fetch(_LEASE, limit, seconds)
        return [
            Delivery(
                row["delivery_id"],
                row["attempts"],
                row["webhook_id"],
                row["url"],
                row["secret"],
                event_from_row(row),
            )
            for row in rows
        ]

    async def delivered(self, delivery: Delivery, status: str) -> None:
        await self.db.execute(
            "WITH d AS (UPDATE webhook_deliveries SET delivered_at = now(), last_status = $2,"
            " leased_until = NULL WHERE id = $1 RETURNING webhook_id)"
            " UPDATE webhooks SET last_status = $2, last_attempt_at = now()"
            " WHERE id = (SELECT webhook_id FROM d)",
            delivery.id,
            status,
        )

    async def failed(self, delivery: Delivery, status: str, retry_in: float | None) -> None:
        """Record a failed try: due again after `retry_in` seconds, or given up (None)."""
        await self.db.execute(
            "WITH d AS (UPDATE webhook_deliveries SET last_status = $2, leased_until = NULL,"
            " next_at = CASE WHEN $3::float8 IS NULL THEN next_at"
            " ELSE now() + make_interval(secs => $3::float8) END,"
            " delivered_at = CASE WHEN $3::float8 IS NULL THEN now() ELSE NULL END"
            " WHERE id = $1 RETURNING webhook_id)"
            " UPDATE webhooks SET last_status = $2, last_attempt_at = now(),"
            " failures = failures + 1"
            " WHERE id = (SELECT webhook_id FROM d)",
            delivery.id,
            status,
            retry_in,
        )


def _record(row: Any) -> WebhookRecord:
    return WebhookRecord(
        id=row["id"],
        owner=row["owner"],
        url=row["url"],
        events=frozenset(OrderStatus(s) for s in row["events"].split(",") if s),
        created_at=row["created_at"],
        last_status=row["last_status"],
        last_attempt_at=row["last_attempt_at"],
        failures=row["failures"],
    )
