"""The execution queue: one SAQ job per order, keyed by the order id."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass

import msgspec
from redis.exceptions import RedisError
from saq.job import ACTIVE_STATUSES, Job, Status
from saq.queue.redis import RedisQueue

from app.clients import connections_for, redis_client
from app.domain.order import Order
from app.domain.retry import RETRY

JOB_NAME = "execute_order"

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class JobPolicy:
    timeout: int
    """Seconds one run may take before the queue cancels and retries it."""
    heartbeat: int
    """Seconds without a sign of life after which a run counts as lost (a killed worker)."""
    retries: int = RETRY.queue_runs
    """Queue runs allowed; the order's attempts are counted on the order itself."""
    retry_delay: float = RETRY.first_delay_seconds

    @classmethod
    def for_latency(cls, latency_scale: float, heartbeat: int) -> JobPolicy:
        # A normal run is ~3 s at scale 1; leave generous room before calling it stuck.
        return cls(timeout=int(60 * max(1.0, latency_scale)), heartbeat=heartbeat)


class OrderQueue(RedisQueue):
    """SAQ's Redis queue, sweeping a lost worker's jobs all at once.

    SAQ's own sweep asks each stuck job to abort and waits up to 5 s for it, one job after
    another: a killed worker never answers, so its forty orders would resume over minutes.
    Our jobs are safe to run twice, so every stuck job is handled at the same time, with
    one second of courtesy each. (Written against SAQ 0.26's sweep, which is pinned.)

    A job a worker has just taken sits in the active list still marked `queued` until that
    worker marks it active. SAQ sweeps it there, and the two runs that follow tread on each
    other's list entries until neither is listed anywhere. Here such a job is only swept
    when a second sweep still finds it so (its worker died in that instant).
    """

    DEQUEUE_BACKOFF_SECONDS = 1.0

    async def dequeue(self, timeout: float = 0.0, poll_interval: float = 0.0) -> Job | None:  # noqa: ASYNC109 - SAQ's signature
        """SAQ's dequeue, pausing when Redis is unreachable.

        Every one of a worker's job slots loops on dequeue; with Redis down each attempt
        fails at once, and SAQ would spin them at full CPU until it is back.
        """
        try:
            return await super().dequeue(timeout, poll_interval)
        except (RedisError, OSError) as error:
            log.warning("cannot take jobs (%s); trying again shortly", error)
            await asyncio.sleep(self.DEQUEUE_BACKOFF_SECONDS)
            return None

    async def notify(self, job: Job) -> None:
        """SAQ publishes every status a job takes, for `Job.refresh` waiters. Ours wait only
        in the sweep, for a job being aborted, and at most a second: a job starting or
        completing needs no publish (two Redis round trips per order spared)."""
        if job.status not in (Status.ACTIVE, Status.COMPLETE):
            await super().notify(job)

    async def sweep(self, lock: int = 60, abort: float = 1.0) -> list[str]:
        if not self._cleanup_script:
            self._cleanup_script = self.redis.register_script(_SWEEP_CANDIDATES)
        id_jobs = await self._cleanup_script(
            keys=[self._sweep, self._active], args=[lock], client=self.redis
        )
        swept = await asyncio.gather(
            *(self._sweep_one(job_id, job_bytes, min(abort, 1.0)) for job_id, job_bytes in id_jobs)
        )
        return [job_id.decode() for job_id in swept if job_id is not None]

    async def _sweep_one(
        self, job_id: bytes, job_bytes: bytes | None, abort: float
    ) -> bytes | None:
        job = self.deserialize(job_bytes)
        if job is None:
            async with self.redis.pipeline(transaction=True) as pipe:
                pipe.lrem(self._active, 0, job_id.decode())
                pipe.zrem(self._incomplete, job_id)
                await pipe.execute()
            log.info("swept a missing job %s", job_id)
            return job_id
        if job.status == Status.ACTIVE and not job.stuck:
            return None
        if job.status == Status.QUEUED and await self._first_sight(job_id):
            return None
        log.info("sweeping %s", job.info(False))
        await self.abort(job, error=self.swept_error_message)
        with contextlib.suppress(TimeoutError):  # its worker is gone; safe to run again
            await job.refresh(abort)
        if job.retryable:
            await self.retry(job, error=self.swept_error_message)
        else:
            await self.finish(job, Status.ABORTED, error=self.swept_error_message)
        return job_id

    async def _first_sight(self, job_id: bytes) -> bool:
        """Whether no sweep saw this job taken-but-not-started before."""
        mark = self.namespace(f"sweep-suspect:{job_id.decode()}")
        return bool(await self.redis.set(mark, 1, nx=True, ex=SUSPECT_SECONDS))


SUSPECT_SECONDS = 60
"""How long a sweep remembers a job it found taken but not started."""

# SAQ's: the active jobs, listed at most once per `lock` seconds across all workers.
_SWEEP_CANDIDATES = """
local id_jobs = {}
if redis.call('EXISTS', KEYS[1]) == 0 then
    redis.call('SETEX', KEYS[1], ARGV[1], 1)
    for i, v in ipairs(redis.call('LRANGE', KEYS[2], 0, -1)) do
        id_jobs[i] = {v, redis.call('GET', v)}
    end
end
return id_jobs
"""


def make_queue(redis_url: str, name: str, concurrency: int) -> RedisQueue:
    """SAQ's queue on a pool sized for `concurrency` jobs.

    An idle worker holds one connection per job slot in a blocking dequeue, and a running
    job a few more for short updates; SAQ's job-status subscription holds one for good.
    Its commands block on purpose, so they get no command timeout.
    """
    client = redis_client(redis_url, connections=connections_for(concurrency), command_timeout=None)
    # msgspec writes the same JSON as SAQ's default `json.dumps`, several times faster: a
    # job (the placed order in it) is written at enqueue, start, heartbeat and finish.
    return OrderQueue(client, name=name, dump=msgspec.json.encode, load=msgspec.json.decode)


class ExecutionQueue:
    def __init__(self, queue: RedisQueue, policy: JobPolicy) -> None:
        self.queue = queue
        self.policy = policy

    async def enqueue(self, order_id: str, placed: Order | None = None) -> bool:
        """Queue the order's job; False if one is already queued or running.

        With `placed`, the job carries the new order, sparing the worker a read.
        """
        extra = {"placed": msgspec.to_builtins(placed)} if placed is not None else {}
        job = await self.queue.enqueue(
            JOB_NAME,
            key=order_id,
            order_id=order_id,
            **extra,
            timeout=self.policy.timeout,
            heartbeat=self.policy.heartbeat,
            retries=self.policy.retries,
            retry_delay=self.policy.retry_delay,
            retry_backoff=True,
        )
        return job is not None

    async def live(self, order_ids: Sequence[str]) -> set[str]:
        """Those of `order_ids` whose job is queued, scheduled for a retry, or running.

        A job's record alone is not proof: one that lost its place in the queue (see
        `OrderQueue`) still reads `active`. A live job is also in SAQ's set of incomplete
        jobs, which every enqueue and retry adds to and only a finish or an abort removes.
        """
        if not order_ids:
            return set()
        jobs = await self.queue.jobs(order_ids)
        keyed = [job for job in jobs if job is not None and job.status in ACTIVE_STATUSES]
        if not keyed:
            return set()
        incomplete = self.queue.namespace("incomplete")
        async with self.queue.redis.pipeline(transaction=False) as pipe:
            for job in keyed:
                pipe.zscore(incomplete, job.id)
            scores = await pipe.execute()
        return {job.key for job, score in zip(keyed, scores, strict=True) if score is not None}

    async def depth(self) -> int:
        return int(await self.queue.count("queued"))
