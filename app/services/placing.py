"""Taking an order: store it (once per idempotency key), queue it, announce it."""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass

from redis.exceptions import RedisError

from app.db.orders import Once, OrderStore
from app.domain.order import Order
from app.domain.requests import OrderRequest
from app.events.bus import EventPublisher
from app.events.schema import Recorded
from app.ids import uuid7
from app.metrics import METRICS
from app.services.queueing import ExecutionQueue

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Placed:
    order: Order
    """The order as it was placed (for a repeat, as the first request placed it)."""
    repeat: bool = False
    """A repeat of a request already handled under the same idempotency key."""


class OrderDesk:
    def __init__(
        self,
        store: OrderStore,
        queue: ExecutionQueue,
        publisher: EventPublisher,
        *,
        idempotency_ttl_seconds: float = 24 * 3600,
    ) -> None:
        self.store = store
        self.queue = queue
        self.publisher = publisher
        self.idempotency_ttl_seconds = idempotency_ttl_seconds

    async def place(self, request: OrderRequest, client: str, *, owner: str = "") -> Order:
        """Store the order as `pending` and queue its execution.

        Once stored, the order is accepted: if Redis is briefly unreachable the
        reconciler queues it later, so the caller still gets its id.
        """
        recorded = await self.store.create(uuid7(), request, client, owner)
        await self._start(recorded)
        return recorded.order

    async def place_once(
        self,
        request: OrderRequest,
        client: str,
        *,
        owner: str,
        idempotency_key: str,
        fields: Mapping[str, object],
    ) -> Placed:
        """`place`, unless this owner already sent this `idempotency_key`.

        A repeat of the same request (`fields`, as the client sent them) returns the order
        the first one placed; see `OrderStore.create_once` for the other outcomes.
        """
        once = Once(idempotency_key, fingerprint(fields), self.idempotency_ttl_seconds)
        stored = await self.store.create_once(uuid7(), request, client, owner, once)
        if not isinstance(stored, Recorded):
            return Placed(stored, repeat=True)
        await self._start(stored)
        return Placed(stored.order)

    async def _start(self, recorded: Recorded) -> None:
        order = recorded.order
        METRICS.count("oee_orders_placed_total")
        try:
            # Announce first: the worker's events must not reach a watcher before seq 1 does.
            await self.publisher.publish(recorded)
            await self.queue.enqueue(order.id, order)
        except (RedisError, OSError):
            log.exception(
                "order %s stored but not queued yet; the reconciler will queue it", order.id
            )

    async def forget_old_keys(self) -> int:
        return await self.store.forget_keys(self.idempotency_ttl_seconds)


def fingerprint(fields: Mapping[str, object]) -> str:
    """A hash of a request's fields, whatever their order or spacing on the wire."""
    canonical = json.dumps(fields, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()
