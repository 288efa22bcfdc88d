"""The reconciler re-queues moving orders that have no live job, and only those."""

from __future__ import annotations

from app.db.orders import Move
from app.domain.status import OrderStatus
from app.ids import uuid7
from app.runtime import Runtime
from app.services.reconciler import Reconciler
from tests.builders import order_request


async def place(runtime: Runtime) -> str:
    return (await runtime.store.create(uuid7(), order_request(), "test")).order.id


async def test_an_orphaned_order_is_queued_again(runtime: Runtime) -> None:
    orphan = await place(runtime)  # stored, never queued: as if Redis lost the queue
    queued = await place(runtime)
    await runtime.queue.enqueue(queued)
    finished = await place(runtime)
    await runtime.executor.execute(finished)
    moving = await place(runtime)
    await runtime.store.transition(moving, Move(OrderStatus.PENDING, 1, OrderStatus.ROUTING, 1))

    requeued = await Reconciler(runtime.store, runtime.queue, idle_seconds=0).sweep()

    assert orphan in requeued
    assert moving in requeued
    assert queued not in requeued
    assert finished not in requeued
    assert {orphan, moving} <= await runtime.queue.live([orphan, moving, finished])


async def test_recent_orders_are_left_to_the_web_process_that_took_them(runtime: Runtime) -> None:
    fresh = await place(runtime)
    requeued = await Reconciler(runtime.store, runtime.queue, idle_seconds=60).sweep()
    assert fresh not in requeued
