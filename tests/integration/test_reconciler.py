"""The reconciler re-queues moving orders that have no live job, and only those."""

from __future__ import annotations

from saq.job import Status

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


async def test_a_job_that_reads_active_but_lost_its_place_in_the_queue_is_queued_again(
    runtime: Runtime,
) -> None:
    order_id = await place(runtime)
    await runtime.queue.enqueue(order_id)
    saq = runtime.queue.queue
    job = await saq.job(order_id)
    assert job is not None
    # What two runs of one job can leave behind: a record that says `active`, listed nowhere.
    await job.update(status=Status.ACTIVE)
    await saq.redis.lrem(saq.namespace("queued"), 0, job.id)
    await saq.redis.zrem(saq.namespace("incomplete"), job.id)
    assert await runtime.queue.live([order_id]) == set()

    requeued = await Reconciler(runtime.store, runtime.queue, idle_seconds=0).sweep()

    assert order_id in requeued
    assert await runtime.queue.live([order_id]) == {order_id}


async def test_a_job_a_worker_has_just_taken_is_not_swept_from_under_it(runtime: Runtime) -> None:
    order_id = await place(runtime)
    await runtime.queue.enqueue(order_id)
    saq = runtime.queue.queue
    job = await saq.job(order_id)
    assert job is not None
    # A worker's dequeue moved it to the active list; it has not marked it active yet.
    await saq.redis.lmove(saq.namespace("queued"), saq.namespace("active"), "LEFT", "RIGHT")

    async def sweep() -> list[str]:
        await saq.redis.delete(saq.namespace("sweep"))  # the once-per-interval lock
        return await saq.sweep()

    assert await sweep() == []
    refreshed = await saq.job(order_id)
    assert refreshed is not None
    assert refreshed.status == Status.QUEUED
    # Still taken-but-not-started at the next sweep: that worker died; the job runs again.
    assert await sweep() == [job.id]
    assert await runtime.queue.live([order_id]) == {order_id}
