"""The execution queue: one job per order, keyed by the order id, in Redis.

A job is the order id, and on its first run the order as placed (sparing the worker a
read). What it costs per order is what the trade needs of a queue and no more: one script
to enqueue, one to take (a worker takes up to `TAKE_AT_ONCE` jobs in one), one to finish.

Keys, under `<queue name>:jobs:`
- `queued`: a list of entries waiting for a worker; an entry is `<order id>` or
  `<order id> <placed order JSON>`;
- `taken:<worker>`: the entries a worker is running, moved there atomically as it takes them;
- `live`: a hash, order id → runs that ended without finishing it. An order is in it
  from its enqueue until its job finishes or gives up: a second enqueue does nothing;
- `scheduled`: a sorted set of order ids waiting for a retry, by due time (ms);
- `worker:<worker>`: set while the worker is alive, expiring one heartbeat after its
  last refresh; `workers`: every worker that registered and has not left or been swept.

Liveness is per worker, not per job: a worker refreshes one key, whatever it runs, so a
long run costs nothing to keep. A killed worker's key runs out and the next sweep puts
every entry it held back in the queue at once (each counted as a run). A run that hangs
in a live worker ends at the job timeout and is retried. Jobs are safe to run twice, so a
sweep of a worker that was only slow costs a second run, never a second trade.
"""

from __future__ import annotations

import logging
import os
import random
import socket
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

import msgspec
from redis.asyncio import Redis

from app.clients import redis_client
from app.domain.order import Order
from app.domain.retry import RETRY

log = logging.getLogger(__name__)

TAKE_AT_ONCE = 8
"""Jobs a worker takes in one round trip, at most. Jobs started together move in step (all
quote, then all write, then all land on one pool): taking every free slot's job at once
made a hot pool 0.68 to 0.9 of the mix, one at a time 0.95 to 1.1, eight at once 1.1 to
1.3, with the mix itself no slower (`make bench`, docs/architecture.md)."""
TAKE_BLOCK_SECONDS = 1
"""How long an idle worker blocks waiting for a job before it looks around again (well
within the client's command timeout)."""


@dataclass(frozen=True, slots=True)
class JobPolicy:
    timeout: int
    """Seconds one run may take before it is cancelled and retried."""
    heartbeat: int
    """Seconds without a sign of life after which a worker counts as lost (killed)."""
    retries: int = RETRY.queue_runs
    """Queue runs allowed; the order's attempts are counted on the order itself."""
    retry_delay: float = RETRY.first_delay_seconds

    @classmethod
    def for_latency(cls, latency_scale: float, heartbeat: int) -> JobPolicy:
        # A normal run is ~3 s at scale 1; leave generous room before calling it stuck.
        return cls(timeout=int(60 * max(1.0, latency_scale)), heartbeat=heartbeat)


@dataclass(frozen=True, slots=True)
class Job:
    """One run's job as taken from the queue."""

    entry: bytes
    """The entry exactly as queued (finishing removes this very entry)."""
    order_id: str
    placed: Order | None
    """The order as placed; only on a job's first run."""

    @classmethod
    def parse(cls, entry: bytes) -> Job:
        order_id, _, placed = entry.partition(b" ")
        try:
            order = msgspec.json.decode(placed, type=Order, strict=False) if placed else None
        except msgspec.DecodeError as error:
            # Queued by another version, say: the worker reads the stored order instead.
            log.warning("order %s: the job's snapshot is unreadable (%s)", order_id, error)
            order = None
        return cls(entry, order_id.decode(), order)


class ExecutionQueue:
    """The queue as web processes, workers and the reconciler use it."""

    def __init__(self, redis: Redis, name: str, policy: JobPolicy) -> None:
        self.redis = redis
        self.name = name
        self.policy = policy
        self.prefix = f"{name}:jobs:"
        self.queued = self.prefix + "queued"
        self.live_key = self.prefix + "live"
        self.scheduled = self.prefix + "scheduled"
        self.workers = self.prefix + "workers"
        self._alive_prefix = self.prefix + "worker:"
        self._taken_prefix = self.prefix + "taken:"
        self._enqueue = redis.register_script(_ENQUEUE)
        self._take = redis.register_script(_TAKE)
        self._finish = redis.register_script(_FINISH)
        self._retry = redis.register_script(_RETRY)
        self._release = redis.register_script(_RELEASE)
        self._due = redis.register_script(_DUE)
        self._sweep = redis.register_script(_SWEEP)

    async def close(self) -> None:
        await self.redis.aclose()

    # -- placing ---------------------------------------------------------------------

    async def enqueue(self, order_id: str, placed: Order | None = None) -> bool:
        """Queue the order's job; False if one is already queued, running or scheduled.

        With `placed`, the job carries the new order, sparing the worker a read.
        """
        entry = order_id.encode()
        if placed is not None:
            entry += b" " + msgspec.json.encode(placed)
        return bool(await self._enqueue(keys=[self.live_key, self.queued], args=[order_id, entry]))

    async def live(self, order_ids: Sequence[str]) -> set[str]:
        """Those of `order_ids` whose job is queued, scheduled for a retry, or running."""
        return set(await self.runs(order_ids))

    async def runs(self, order_ids: Sequence[str]) -> dict[str, int]:
        """Per live job, the runs that ended without finishing it (swept or retried)."""
        if not order_ids:
            return {}
        runs = await self.redis.hmget(self.live_key, list(order_ids))
        return {
            order_id: int(n) for order_id, n in zip(order_ids, runs, strict=True) if n is not None
        }

    async def depth(self) -> int:
        return int(await self.redis.llen(self.queued))

    # -- a worker's side ---------------------------------------------------------------

    def taken(self, worker: str) -> str:
        return self._taken_prefix + worker

    def alive_key(self, worker: str) -> str:
        return self._alive_prefix + worker

    async def beat(self, worker: str) -> None:
        """Say the worker is alive for one more heartbeat."""
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.set(self.alive_key(worker), 1, px=int(self.policy.heartbeat * 1000))
            pipe.sadd(self.workers, worker)
            await pipe.execute()

    async def take(self, worker: str, up_to: int = 1, block: float = 0) -> list[Job]:
        """The next jobs, `up_to` of them; with none queued, waits up to `block` seconds
        for one. Raises `NotAlive` for a worker whose liveness key is gone: it may have
        been swept, and must beat before it takes (else what it took, should it die, would
        be in a list no sweep looks at)."""
        taken = await self._take(
            keys=[self.queued, self.taken(worker), self.alive_key(worker)], args=[up_to]
        )
        if taken == -1:
            raise NotAlive(worker)
        entries: list[bytes] = list(taken)
        if not entries and block > 0:
            # Only while its key outlives the wait (the caller's promise): see `Worker`.
            entry = await self.redis.blmove(
                self.queued,
                self.taken(worker),
                block,  # type: ignore[arg-type]  # Redis takes fractions of a second
                "LEFT",
                "RIGHT",
            )
            entries = [entry] if isinstance(entry, bytes) else []
        return [Job.parse(entry) for entry in entries]

    async def held(self, worker: str) -> list[bytes]:
        """The entries the worker's list holds."""
        entries = await self.redis.lrange(self.taken(worker), 0, -1)
        return [entry for entry in entries if isinstance(entry, bytes)]

    async def finish(self, worker: str, job: Job) -> None:
        await self._finish(keys=[self.taken(worker), self.live_key], args=[job.entry, job.order_id])

    async def retry(self, worker: str, job: Job) -> int | None:
        """Schedule the job's next run after a backoff; its runs so far, None if it gave up."""
        runs = await self._retry(
            keys=[self.taken(worker), self.live_key, self.scheduled],
            args=[
                job.entry,
                job.order_id,
                self.policy.retries,
                int(time.time() * 1000),
                int(self.policy.retry_delay * 1000),
                # Full jitter, drawn here: Redis before 7 seeds a script's random the same
                # on every call, so every order's nth retry would fire at the same moment.
                random.random(),
            ],
        )
        return None if int(runs) < 0 else int(runs)

    async def release(self, worker: str, job: Job) -> None:
        """Give a job back unrun (the worker is stopping): next in line, not counted as a run."""
        await self._release(keys=[self.taken(worker), self.queued], args=[job.entry, job.order_id])

    async def leave(self, worker: str) -> None:
        """The worker stops: it is no longer alive, and whatever it still holds is queued."""
        await self.redis.delete(self.alive_key(worker))
        await self.sweep()

    async def schedule(self, now: float | None = None) -> int:
        """Queue the retries due by `now` (a Unix time; default: now); how many."""
        due_by = int((time.time() if now is None else now) * 1000)
        return int(await self._due(keys=[self.scheduled, self.queued], args=[due_by]))

    async def sweep(self, by: str = "") -> list[str]:
        """Queue again what lost workers held (`by`, the sweeping worker, is not one); the
        order ids."""
        swept = await self._sweep(
            keys=[self.workers, self.queued, self.live_key],
            args=[self._alive_prefix, self._taken_prefix, self.policy.retries, by],
        )
        ids = [order_id.decode() for order_id in swept]
        for order_id in ids:
            log.warning("swept order %s from a lost worker", order_id)
        return ids


class NotAlive(Exception):
    """The worker's liveness key is gone: it must beat before it takes jobs."""


def new_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def make_queue(redis_url: str, name: str, policy: JobPolicy, concurrency: int) -> ExecutionQueue:
    """The queue on a client of its own: a web process enqueues on it; a worker takes on it
    (one connection, blocked while idle) and its job slots finish and retry on it."""
    connections = concurrency + 4
    return ExecutionQueue(redis_client(redis_url, connections=connections), name, policy)


# -- scripts (each one atomic step) -------------------------------------------------------

# KEYS live, queued; ARGV order id, entry.
_ENQUEUE = """
if redis.call('HSETNX', KEYS[1], ARGV[1], 0) == 1 then
    redis.call('RPUSH', KEYS[2], ARGV[2])
    return 1
end
return 0
"""

# KEYS queued, taken, the worker's alive key; ARGV how many. -1: the worker is not alive.
_TAKE = """
if redis.call('EXISTS', KEYS[3]) == 0 then
    return -1
end
local taken = {}
for i = 1, tonumber(ARGV[1]) do
    local entry = redis.call('LMOVE', KEYS[1], KEYS[2], 'LEFT', 'RIGHT')
    if not entry then break end
    taken[i] = entry
end
return taken
"""

# KEYS taken, live; ARGV entry, order id. A job no longer held (swept meanwhile: queued
# again) stays live: its queued copy finishes it.
_FINISH = """
if redis.call('LREM', KEYS[1], 1, ARGV[1]) > 0 then
    redis.call('HDEL', KEYS[2], ARGV[2])
end
return 1
"""

# KEYS taken, live, scheduled; ARGV entry, order id, runs allowed, now ms, first delay ms,
# a random fraction (the jitter).
# The delay doubles per run, with full jitter; -1 when the job has had all its runs. Only
# a job still held counts a run: said twice (a reply lost), or after a sweep, it is a no-op.
_RETRY = """
if redis.call('LREM', KEYS[1], 1, ARGV[1]) == 0 then
    return tonumber(redis.call('HGET', KEYS[2], ARGV[2]) or 0)
end
local runs = redis.call('HINCRBY', KEYS[2], ARGV[2], 1)
if runs >= tonumber(ARGV[3]) then
    redis.call('HDEL', KEYS[2], ARGV[2])
    return -1
end
local delay = tonumber(ARGV[6]) * tonumber(ARGV[5]) * 2 ^ (runs - 1)
redis.call('ZADD', KEYS[3], tonumber(ARGV[4]) + math.floor(delay), ARGV[2])
return runs
"""

# KEYS taken, queued; ARGV entry, order id.
_RELEASE = """
if redis.call('LREM', KEYS[1], 1, ARGV[1]) > 0 then
    redis.call('LPUSH', KEYS[2], ARGV[2])
end
return 1
"""

# KEYS scheduled, queued; ARGV now ms.
_DUE = """
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, 1000)
for _, id in ipairs(due) do
    redis.call('ZREM', KEYS[1], id)
    redis.call('RPUSH', KEYS[2], id)
end
return #due
"""

# KEYS workers, queued, live; ARGV alive-key prefix, taken-key prefix, runs allowed, the
# sweeping worker (never swept by itself).
# Every entry a lost worker held goes back in the queue (its placed snapshot dropped: the
# order may have moved on), counted as a run; the workers set forgets the worker.
_SWEEP = """
local swept = {}
for _, worker in ipairs(redis.call('SMEMBERS', KEYS[1])) do
    if worker ~= ARGV[4] and redis.call('EXISTS', ARGV[1] .. worker) == 0 then
        local taken = ARGV[2] .. worker
        while true do
            local entry = redis.call('LPOP', taken)
            if not entry then break end
            local space = string.find(entry, ' ', 1, true)
            local id = space and string.sub(entry, 1, space - 1) or entry
            if redis.call('HINCRBY', KEYS[3], id, 1) >= tonumber(ARGV[3]) then
                redis.call('HDEL', KEYS[3], id)
            else
                redis.call('RPUSH', KEYS[2], id)
            end
            swept[#swept + 1] = id
        end
        redis.call('SREM', KEYS[1], worker)
    end
end
return swept
"""
