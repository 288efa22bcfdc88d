"""No order is left behind: re-queue moving orders that have no live job.

Covers a lost Redis queue, a web process that died between storing an order and
queueing it, and a job the queue gave up on while the order still had attempts.
"""

from __future__ import annotations

import logging

from app.db.orders import OrderStore
from app.logs import about_order
from app.services.queueing import ExecutionQueue

log = logging.getLogger(__name__)


class Reconciler:
    def __init__(self, store: OrderStore, queue: ExecutionQueue, idle_seconds: float = 5.0) -> None:
        self.store = store
        self.queue = queue
        self.idle_seconds = idle_seconds

    async def sweep(self) -> list[str]:
        """Re-queue orphaned orders; returns their ids."""
        candidates = await self.store.stale_active(self.idle_seconds)
        live = await self.queue.live(candidates)
        orphans = [order_id for order_id in candidates if order_id not in live]
        for order_id in orphans:
            await self.queue.enqueue(order_id)
            with about_order(order_id):
                log.warning("re-queued: the order was moving with no live job")
        return orphans
