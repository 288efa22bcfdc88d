"""A worker's job loop on the real queue: retries after a transient failure, a run that
hangs ends at the job timeout, a stopping worker hands back what it could not finish.
The job itself is a stand-in here (tests of the real one start worker processes)."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from urllib.parse import urlsplit

import pytest

from app.domain.retry import RetryLater
from app.runtime import Runtime
from app.services.queueing import ExecutionQueue, Job, JobPolicy, make_queue
from jobs.runner import Worker
from tests.support.waiting import eventually

POLICY = JobPolicy(timeout=30, heartbeat=2, retry_delay=0.05)
HASTY = JobPolicy(timeout=1, heartbeat=2, retry_delay=0.05)
"""A job timeout of one second, for the run that hangs."""


@pytest.fixture
async def queue(runtime: Runtime) -> ExecutionQueue:
    return ExecutionQueue(runtime.queue.redis, runtime.settings.queue_name + "-loop", POLICY)


async def finished(queue: ExecutionQueue, order_id: str, *, what: str) -> None:
    """Wait until the order's job is no longer live: it ran to its end."""

    async def done() -> bool:
        return await queue.live([order_id]) == set()

    await eventually(done, timeout=10, what=what)


class Running:
    """A worker serving in the background; `stop()` waits for it to wind down."""

    def __init__(self, worker: Worker) -> None:
        self.worker = worker
        self.task = asyncio.create_task(worker.serve())

    async def stop(self) -> None:
        self.worker.stop()
        await self.task


@pytest.fixture
async def start(
    runtime: Runtime, queue: ExecutionQueue
) -> AsyncIterator[Callable[[Callable[[Job], Awaitable[object]]], Running]]:
    started: list[Running] = []

    def start(run: Callable[[Job], Awaitable[object]], policy: JobPolicy = POLICY) -> Running:
        on = ExecutionQueue(queue.redis, queue.name, policy)
        running = Running(Worker(on, run, concurrency=4, grace_seconds=0.2))
        started.append(running)
        return running

    yield start
    for running in started:
        if not running.task.done():
            await running.stop()


async def test_a_transient_failure_is_run_again_and_then_finished(
    queue: ExecutionQueue, start: Callable[..., Running]
) -> None:
    runs: Counter[str] = Counter()

    async def flaky(job: Job) -> None:
        runs[job.order_id] += 1
        if runs[job.order_id] < 3:
            raise RetryLater("the venue timed out")

    worker = start(flaky)
    await queue.enqueue("order-1")

    await finished(queue, "order-1", what="the job to finish after two retries")
    await worker.stop()
    assert runs["order-1"] == 3


async def test_a_run_that_hangs_ends_at_the_timeout_and_is_run_again(
    queue: ExecutionQueue, start: Callable[..., Running], caplog: pytest.LogCaptureFixture
) -> None:
    runs: Counter[str] = Counter()

    async def hangs_once(job: Job) -> None:
        runs[job.order_id] += 1
        if runs[job.order_id] == 1:
            await asyncio.Event().wait()  # never set: only the job timeout ends this run

    caplog.set_level(logging.INFO, logger="jobs.runner")
    worker = start(hangs_once, HASTY)
    await queue.enqueue("order-1")

    await finished(queue, "order-1", what="the hung run to time out and run again")
    await worker.stop()
    assert runs["order-1"] == 2
    assert "timed out after 1s" in caplog.text


async def test_an_unexpected_error_is_logged_and_run_again(
    queue: ExecutionQueue, start: Callable[..., Running], caplog: pytest.LogCaptureFixture
) -> None:
    runs: Counter[str] = Counter()

    async def breaks_once(job: Job) -> None:
        runs[job.order_id] += 1
        if runs[job.order_id] == 1:
            raise ValueError("a bug")

    worker = start(breaks_once)
    await queue.enqueue("order-1")

    await finished(queue, "order-1", what="the job to run again after the error")
    await worker.stop()
    assert runs["order-1"] == 2
    assert "Error processing job for order order-1" in caplog.text
    assert "ValueError: a bug" in caplog.text


async def test_a_stopping_worker_hands_back_the_runs_it_could_not_finish(
    queue: ExecutionQueue, start: Callable[..., Running]
) -> None:
    started = asyncio.Event()

    async def slow(job: Job) -> None:
        started.set()
        await asyncio.Event().wait()  # outlasts the grace period

    worker = start(slow)
    await queue.enqueue("order-1", None)
    await queue.enqueue("order-2", None)
    await asyncio.wait_for(started.wait(), 5)
    await worker.stop()

    # Back in the queue, not counted as a run, and the worker is gone from the queue.
    assert await queue.runs(["order-1", "order-2"]) == {"order-1": 0, "order-2": 0}
    assert await queue.depth() == 2
    assert await queue.redis.sismember(queue.workers, worker.worker.id) == 0
    await queue.beat("another")
    again = await queue.take("another", up_to=10)
    assert sorted(job.order_id for job in again) == ["order-1", "order-2"]


async def test_a_run_whose_end_cannot_be_recorded_is_recorded_once_redis_answers(
    runtime: Runtime, queue: ExecutionQueue, caplog: pytest.LogCaptureFixture
) -> None:
    # The worker's own Redis user; the test takes its rights away as the run ends (Redis
    # refusing every command), then gives them back.
    user, password = f"worker-{uuid.uuid4().hex[:8]}", uuid.uuid4().hex
    admin = runtime.queue.redis
    await admin.acl_setuser(user, enabled=True, passwords=[f"+{password}"], keys=["*"],
                            channels=["*"], commands=["+@all"])  # fmt: skip
    url = urlsplit(runtime.settings.redis_url)
    as_worker = url._replace(netloc=f"{user}:{password}@{url.hostname}:{url.port}").geturl()
    own = make_queue(as_worker, queue.name, POLICY, 4)
    ran = asyncio.Event()

    async def refused_at_the_end(job: Job) -> None:
        await admin.acl_setuser(user, enabled=True, commands=["-@all"])
        ran.set()

    worker = Running(Worker(own, refused_at_the_end, concurrency=4, grace_seconds=0.2))
    try:
        await queue.enqueue("order-1")
        await asyncio.wait_for(ran.wait(), 5)

        async def refused() -> bool:
            return "could not finish the job of order order-1" in caplog.text

        await eventually(refused, timeout=10, what="the finish to be refused")
        # Still held, not queued again and not counted as a run: nobody reruns it.
        assert await queue.runs(["order-1"]) == {"order-1": 0}
        assert await queue.depth() == 0
        await admin.acl_setuser(user, enabled=True, commands=["+@all"])

        await finished(queue, "order-1", what="the finish to be recorded")
    finally:
        await admin.acl_setuser(user, enabled=True, commands=["+@all"])
        await worker.stop()
        await own.close()
        await admin.acl_deluser(user)


async def test_a_job_held_but_not_running_is_queued_again_and_run(
    queue: ExecutionQueue, start: Callable[..., Running]
) -> None:
    ran: list[str] = []

    async def record(job: Job) -> None:
        ran.append(job.order_id)

    worker = start(record)
    # What a take whose reply was lost leaves: the entry in the worker's list, the job
    # live, and no run of it anywhere.
    await queue.redis.hset(queue.live_key, "order-1", 0)
    await queue.redis.rpush(queue.taken(worker.worker.id), b"order-1")

    await finished(queue, "order-1", what="the held job to be queued again and run")
    await worker.stop()
    assert ran == ["order-1"]
