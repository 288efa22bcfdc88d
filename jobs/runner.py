"""A worker process's loop: take jobs into free slots, run each with a timeout, finish or
retry it, and keep the queue's upkeep (liveness, due retries, sweeps of lost workers)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import signal
import time
from collections import Counter
from collections.abc import Awaitable, Callable

from redis.exceptions import RedisError

from app.domain.retry import RetryLater
from app.periodic import Periodic
from app.services.queueing import (
    TAKE_AT_ONCE,
    TAKE_BLOCK_SECONDS,
    ExecutionQueue,
    Job,
    NotAlive,
    new_worker_id,
)

log = logging.getLogger(__name__)

Run = Callable[[Job], Awaitable[object]]
Step = Callable[[], Awaitable[object]]

SCHEDULE_SECONDS = 0.5
"""How often due retries are queued: a retry starts within this long of its time."""
GRACE_SECONDS = 3.0
"""Running jobs get this long to finish at shutdown; the rest are cancelled and handed back."""


async def pause_after_outage(error: Exception, seconds: float = 1.0) -> None:
    """The worker's loops wait a moment when Redis is unreachable instead of spinning."""
    log.warning("cannot reach the queue (%s); trying again shortly", error)
    await asyncio.sleep(seconds)  # wait-ok: backoff while Redis is down


class Worker:
    """Takes jobs into free slots and runs them.

    Its liveness key is what keeps other workers from sweeping its jobs, so it takes only
    while that key is sure to outlive the take: it beats first when the key is old, waits
    for a job no longer than the key has left, and beats again whenever a take finds the
    key gone (it may have been swept meanwhile, and must be listed again before it holds
    anything). It sweeps others only once its own beats have held for a heartbeat, so
    that after a Redis outage every worker has beaten again before anyone is swept.
    """

    def __init__(
        self,
        queue: ExecutionQueue,
        run: Run,
        *,
        concurrency: int,
        grace_seconds: float = GRACE_SECONDS,
    ) -> None:
        self.queue = queue
        self.run = run
        self.concurrency = concurrency
        self.grace_seconds = grace_seconds
        self.heartbeat = float(queue.policy.heartbeat)
        self.id = new_worker_id()
        self.running: dict[asyncio.Task[None], Job] = {}
        self._unsettled: list[tuple[Job, str, Step]] = []
        self._stopping = asyncio.Event()
        self._slot_free = asyncio.Event()
        self._last_beat = -math.inf
        """When the last beat that succeeded was sent (monotonic)."""
        self._beating_since = math.inf
        """Since when every beat has succeeded (monotonic)."""
        self._next_check = 0.0

    def stop(self) -> None:
        self._stopping.set()
        self._slot_free.set()

    async def serve(self) -> None:
        """Run jobs until `stop()` (or SIGINT/SIGTERM); then hand back what did not finish."""
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, self.stop)
        await self._register()
        upkeep = [
            Periodic("liveness", self._beat, interval=self.heartbeat / 3),
            Periodic("due retries", self.queue.schedule, interval=SCHEDULE_SECONDS),
            # Often enough that a killed worker's jobs resume soon after its key runs out.
            Periodic("sweep", self._sweep, interval=self._sweep_interval),
            Periodic("settling", self._resettle, interval=1.0, final=True),
        ]
        try:
            await self._take_loop()
        finally:
            await self._wind_down()  # still beating: nobody sweeps its jobs meanwhile
            for loop_ in upkeep:
                await loop_.stop()
            with contextlib.suppress(RedisError, OSError):
                await self.queue.leave(self.id)

    @property
    def _sweep_interval(self) -> float:
        return max(1.0, self.heartbeat / 2)

    async def _beat(self) -> None:
        sent = time.monotonic()
        try:
            await self.queue.beat(self.id)
        except Exception:
            self._beating_since = math.inf
            raise
        self._last_beat = sent
        self._beating_since = min(self._beating_since, sent)

    async def _sweep(self) -> None:
        if time.monotonic() - self._beating_since >= self.heartbeat:
            await self.queue.sweep(by=self.id)

    async def _register(self) -> None:
        while not self._stopping.is_set():
            try:
                await self._beat()
                return
            except (RedisError, OSError) as error:
                await pause_after_outage(error)

    async def _take_loop(self) -> None:
        while not self._stopping.is_set():
            free = self.concurrency - len(self.running)
            if free <= 0:
                self._slot_free.clear()
                await self._slot_free.wait()
                continue
            try:
                jobs = await self._take(min(free, TAKE_AT_ONCE))
            except (RedisError, OSError) as error:
                await pause_after_outage(error)
                continue
            for job in jobs:
                task = asyncio.create_task(self._one(job), name=f"job {job.order_id}")
                self.running[task] = job
                task.add_done_callback(self._done)

    async def _take(self, up_to: int) -> list[Job]:
        if time.monotonic() >= self._next_check:
            await self._check_held()
        # The key lives a heartbeat from the last beat's sending; keep a third of it spare.
        left = self._last_beat + self.heartbeat * 2 / 3 - time.monotonic()
        if left <= 0.05:
            await self._beat()
            left = self.heartbeat * 2 / 3
        try:
            return await self.queue.take(self.id, up_to, block=min(TAKE_BLOCK_SECONDS, left))
        except NotAlive:
            log.warning("worker %s: its liveness key was gone; beating before it takes", self.id)
            await self._beat()
            return []

    async def _check_held(self) -> None:
        """Queue again what this worker's list holds but none of its runs has: a take whose
        reply was lost, or a step Redis lost in a crash. Only between takes, so that no take
        of its own is under way."""
        self._next_check = time.monotonic() + self._sweep_interval
        mine = Counter(job.entry for job in self.running.values())
        mine.update(job.entry for job, _, _ in self._unsettled)
        for entry in await self.queue.held(self.id):
            if mine[entry] > 0:
                mine[entry] -= 1
                continue
            job = Job.parse(entry)
            await self.queue.release(self.id, job)
            log.warning("order %s: held but not running (a lost reply); queued again", job.order_id)

    def _done(self, task: asyncio.Task[None]) -> None:
        self.running.pop(task, None)
        self._slot_free.set()

    async def _one(self, job: Job) -> None:
        deadline = asyncio.timeout(self.queue.policy.timeout)
        try:
            async with deadline:
                await self.run(job)
        except asyncio.CancelledError:
            if self._stopping.is_set():
                raise  # handed back by `_wind_down`
            await self._retry(job, "cancelled")
            raise
        except RetryLater as error:
            await self._retry(job, str(error))
        except Exception as error:
            if isinstance(error, TimeoutError) and deadline.expired():
                await self._retry(job, f"timed out after {self.queue.policy.timeout}s")
            else:
                log.exception("Error processing job for order %s", job.order_id)
                await self._retry(job, "an error")
        else:
            await self._settle(job, "finish", lambda: self.queue.finish(self.id, job))

    async def _retry(self, job: Job, why: str) -> None:
        async def retry() -> None:
            runs = await self.queue.retry(self.id, job)
            if runs is None:
                # The order is still moving: the reconciler queues it again once it sits idle.
                log.warning(
                    "order %s: its job ended after %s runs (%s)",
                    job.order_id, self.queue.policy.retries, why,
                )  # fmt: skip
            else:
                log.info("order %s: run %s ended (%s); retrying later", job.order_id, runs, why)

        await self._settle(job, "retry", retry)

    async def _settle(self, job: Job, what: str, step: Step) -> None:
        """Record how a run ended; should Redis fail, again every second until it works.
        Until then the job stays taken and live, so nothing else runs it meanwhile; should
        this worker die first, the sweep queues it again."""
        try:
            await step()
        except (RedisError, OSError) as error:
            log.warning("could not %s the job of order %s (%s); trying again", what,
                        job.order_id, error)  # fmt: skip
            self._unsettled.append((job, what, step))

    async def _resettle(self) -> None:
        unsettled, self._unsettled = self._unsettled, []
        try:
            await asyncio.gather(*(self._settle(job, what, step) for job, what, step in unsettled))
        except BaseException:
            self._unsettled.extend(unsettled)  # `_settle` keeps its own; never drop one
            raise

    async def _wind_down(self) -> None:
        """Running jobs get a grace period; those still running are cancelled, and those that
        stop are handed back unrun."""
        if self.running:
            await asyncio.wait(list(self.running), timeout=self.grace_seconds)
        late = dict(self.running)
        for task in late:
            task.cancel()
        if late:
            # redis-py can swallow a cancellation mid-command: wait for it, but not forever.
            await asyncio.wait(list(late), timeout=self.grace_seconds)
        # A run still going is not handed back (it would run twice at once): the sweep as
        # the worker leaves queues it again, as it does anything left taken.
        stopped = {task: job for task, job in late.items() if task.done()}
        handed = await asyncio.gather(
            *(self.queue.release(self.id, job) for job in stopped.values()),
            return_exceptions=True,
        )
        for job, outcome in zip(stopped.values(), handed, strict=True):
            if isinstance(outcome, Exception):
                # Left taken: the sweep as the worker leaves (or, failing that, once its key
                # runs out) queues it again.
                log.warning("could not hand back order %s: %s", job.order_id, outcome)
            else:
                log.info("order %s handed back to the queue (worker stopping)", job.order_id)
