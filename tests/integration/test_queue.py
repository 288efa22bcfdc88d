"""The execution queue: one job per moving order, taken atomically, retried after a
backoff, swept back from a lost worker, handed back by a stopping one."""

from __future__ import annotations

import time

import pytest

from app.runtime import Runtime
from app.services.queueing import NotAlive
from app.services.reconciler import Reconciler
from tests.integration.test_reconciler import place


async def test_a_lost_workers_jobs_are_queued_again_all_at_once(runtime: Runtime) -> None:
    queue = runtime.queue
    orders = [await place(runtime) for _ in range(3)]
    for order_id in orders:
        await queue.enqueue(order_id)
    await queue.beat("w1")
    taken = await queue.take("w1", up_to=10)  # as many as are queued, in order
    assert [job.order_id for job in taken] == orders

    assert await queue.sweep() == []  # its worker is alive: nothing is taken from under it
    await runtime.redis.delete(queue.alive_key("w1"))  # its heartbeat ran out: killed

    assert sorted(await queue.sweep()) == sorted(orders)
    assert await queue.runs(orders) == dict.fromkeys(orders, 1)
    assert await queue.depth() == 3
    await queue.beat("w2")
    again = await queue.take("w2", up_to=10)
    assert [job.order_id for job in again] == orders
    assert all(job.placed is None for job in again)  # the snapshot may be stale now


async def test_an_order_is_queued_once_until_its_job_finishes(runtime: Runtime) -> None:
    queue = runtime.queue
    order_id = await place(runtime)
    assert await queue.enqueue(order_id)
    assert not await queue.enqueue(order_id)  # queued already: a double click, a reconciler
    await queue.beat("w1")
    [job] = await queue.take("w1")
    assert not await queue.enqueue(order_id)  # running
    await queue.finish("w1", job)
    assert await queue.live([order_id]) == set()
    assert await queue.enqueue(order_id)
    assert await queue.depth() == 1


async def test_a_retry_waits_its_backoff_and_a_job_out_of_runs_is_left_to_the_reconciler(
    runtime: Runtime,
) -> None:
    queue = runtime.queue
    order_id = await place(runtime)
    await queue.enqueue(order_id)
    await queue.beat("w1")
    for run in range(1, queue.policy.retries):
        [job] = await queue.take("w1")
        assert await queue.retry("w1", job) == run
        assert await queue.depth() == 0  # scheduled, not queued
        latest_due = time.time() + queue.policy.retry_delay * 2 ** (run - 1) + 1
        assert await queue.schedule(now=latest_due) == 1
    [job] = await queue.take("w1")
    assert await queue.retry("w1", job) is None  # its last run: the job gives up
    assert await queue.live([order_id]) == set()
    assert await queue.schedule(now=time.time() + 3600) == 0

    requeued = await Reconciler(runtime.store, runtime.queue, idle_seconds=0).sweep()
    assert order_id in requeued


async def test_a_stopping_worker_hands_its_jobs_back_first_in_line_uncounted(
    runtime: Runtime,
) -> None:
    queue = runtime.queue
    first, second = await place(runtime), await place(runtime)
    await queue.enqueue(first)
    await queue.beat("w1")
    [job] = await queue.take("w1")
    await queue.enqueue(second)
    await queue.release("w1", job)
    await queue.leave("w1")
    assert await queue.runs([first]) == {first: 0}
    await queue.beat("w2")
    again = await queue.take("w2", up_to=10)
    assert [j.order_id for j in again] == [first, second]


async def test_a_swept_worker_takes_nothing_until_it_beats_again(runtime: Runtime) -> None:
    queue = runtime.queue
    order_id = await place(runtime)
    await queue.enqueue(order_id)
    # Swept while stalled: its key ran out and it is no longer listed. Were it to take now
    # and then die, what it took would sit in a list no sweep looks at.
    await queue.beat("w1")
    await runtime.redis.delete(queue.alive_key("w1"))
    await queue.sweep()
    with pytest.raises(NotAlive):
        await queue.take("w1")
    assert await queue.depth() == 1

    await queue.beat("w1")
    [job] = await queue.take("w1")
    assert job.order_id == order_id


async def test_a_run_ending_after_its_worker_was_swept_leaves_the_queued_copy_live(
    runtime: Runtime,
) -> None:
    queue = runtime.queue
    order_id = await place(runtime)
    await queue.enqueue(order_id)
    await queue.beat("w1")
    [job] = await queue.take("w1")
    await runtime.redis.delete(queue.alive_key("w1"))  # slow, not dead: swept all the same
    assert await queue.sweep() == [order_id]

    await queue.finish("w1", job)  # the slow run ends

    # Its copy is still queued and live: a second enqueue (a reconciler) is refused.
    assert await queue.live([order_id]) == {order_id}
    assert not await queue.enqueue(order_id)
    assert await queue.depth() == 1


async def test_retries_are_spread_not_all_due_at_once(runtime: Runtime) -> None:
    queue = runtime.queue
    orders = [await place(runtime) for _ in range(5)]
    await queue.beat("w1")
    for order_id in orders:
        await queue.enqueue(order_id)
        [job] = await queue.take("w1")
        await queue.retry("w1", job)
    due = [await queue.redis.zscore(queue.scheduled, order_id) for order_id in orders]
    assert len(set(due)) == len(orders)
