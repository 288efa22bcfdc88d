"""Simulated latency and failures: seeded, so the same run gives the same faults.

Random faults are a pure function of (seed, order, attempt, step, venue): they do not
depend on which worker runs the step or when. Scripted faults (`FaultScript`) let a
test or a demo make one step of one order fail, once.
"""

from __future__ import annotations

import enum
from hashlib import blake2b

from redis.asyncio import Redis

from app.venues.clock import Clock


class Step(enum.StrEnum):
    QUOTE = "quote"
    BUILD = "build"
    SUBMIT = "submit"
    STATUS = "status"
    LAND = "land"


class Fault(enum.StrEnum):
    TIMEOUT = "timeout"
    """The RPC call times out before the venue acts."""
    TIMEOUT_AFTER_SEND = "timeout_after_send"
    """Submit: the venue takes the transaction, but its answer is lost."""
    DROP = "drop"
    """Land: the transaction never lands (blockhash expires)."""
    ADVERSE = "adverse"
    """Land: someone else's trade moves the price against ours first (200 bps)."""


ADVERSE_MOVE_BPS = 200

# Delays in milliseconds at MOCK_LATENCY_SCALE=1 (DESIGN.md).
LATENCY_MS: dict[Step, tuple[int, int]] = {
    Step.QUOTE: (150, 250),
    Step.BUILD: (50, 150),
    Step.SUBMIT: (20, 60),
    Step.LAND: (400, 2500),
}


class Chaos:
    def __init__(self, seed: int, failure_rate: float, latency_scale: float, clock: Clock) -> None:
        self._key = seed.to_bytes(16, "big", signed=True)
        self.failure_rate = failure_rate
        self.latency_scale = latency_scale
        self.clock = clock

    def roll(self, *parts: object) -> float:
        """A uniform number in [0, 1) fixed by the seed and `parts`."""
        digest = blake2b("|".join(map(str, parts)).encode(), key=self._key, digest_size=8)
        return int.from_bytes(digest.digest(), "big") / 2**64

    def fails(self, *parts: object) -> bool:
        return self.failure_rate > 0 and self.roll("fail", *parts) < self.failure_rate

    def latency(self, step: Step, *parts: object) -> float:
        """Seconds this step takes, already scaled."""
        if self.latency_scale == 0:
            return 0.0
        low, high = LATENCY_MS[step]
        return (low + (high - low) * self.roll("delay", step, *parts)) * self.latency_scale / 1000

    async def delay(self, step: Step, *parts: object) -> None:
        await self.clock.sleep(self.latency(step, *parts))


_TAKE_FAULT = """
for _, field in ipairs(ARGV) do
  local fault = redis.call('HGET', KEYS[1], field)
  if fault then
    redis.call('HDEL', KEYS[1], field)
    return fault
  end
end
return false
"""


class FaultScript:
    """One-shot faults for named steps of named orders, kept in Redis for every process."""

    TTL_SECONDS = 3600

    def __init__(self, redis: Redis, prefix: str = "sim") -> None:
        self._redis = redis
        self._prefix = prefix
        self._take = redis.register_script(_TAKE_FAULT)

    def key(self, order_id: str) -> str:
        return f"{self._prefix}:faults:{order_id}"

    async def plan(
        self, order_id: str, step: Step, fault: Fault, *, attempt: int = 1, venue: str = "*"
    ) -> None:
        """Make `step` of `attempt` fail with `fault`, once (`venue="*"`: whichever venue)."""
        key = self.key(order_id)
        await self._redis.hset(key, f"{venue}:{step}:{attempt}", fault.value)
        await self._redis.expire(key, self.TTL_SECONDS)

    async def take(self, order_id: str, step: Step, attempt: int, venue: str) -> Fault | None:
        fields = [f"{venue}:{step}:{attempt}", f"*:{step}:{attempt}"]
        found = await self._take(keys=[self.key(order_id)], args=fields)
        return Fault(found) if found else None
