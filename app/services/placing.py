"""Taking an order: store it, queue it, announce it."""

from __future__ import annotations

import logging

from redis.exceptions import RedisError

from app.db.orders import OrderStore
from app.domain.order import Order
from app.domain.requests import OrderRequest
from app.events.bus import EventPublisher
from app.ids import uuid7
from app.metrics import METRICS
from app.services.queueing import ExecutionQueue

log = logging.getLogger(__name__)


class OrderDesk:
    def __init__(self, store: OrderStore, queue: ExecutionQueue, publisher: EventPublisher) -> None:
        self.store = store
        self.queue = queue
        self.publisher = publisher

    async def place(self, request: OrderRequest, client: str) -> Order:
        """Store the order as `pending` and queue its execution.

        Once stored, the order is accepted: if Redis is briefly unreachable the
        reconciler queues it later, so the caller still gets its id.
        """
        recorded = await self.store.create(uuid7(), request, client)
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
        return order
