"""Simulated latency and failures: seeded, so the same run gives the same faults.

Random faults are a pure function of (seed, order, attempt, step, venue): they do not
depend on which worker runs the step or when. Scripted faults (`FaultScript`) let a
test or a demo make one step of one order fail, once.
"""

from __future__ import annotations

import enum
from hashlib import blake2b

from app.venues.book import Book
from app.venues.clock import Clock


class Step(enum.StrEnum):
    QUOTE = "quote"
    BUILD = "build"
    SUBMIT = "submit"
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

# Delays in milliseconds at MOCK_LATENCY_SCALE=1 (README.md, "The simulated venues").
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


class FaultScript:
    """One-shot faults for named steps of named orders, kept in the venues' book (Redis).

    The book's scripts take the fault of a step in the same call as the step's own work.
    """

    TTL_SECONDS = 3600

    def __init__(self, book: Book) -> None:
        self._book = book

    @staticmethod
    def fields(venue: str, step: Step, attempt: int) -> tuple[str, str]:
        """Where a fault for this step is looked for: this venue's, then any venue's."""
        return f"{venue}:{step}:{attempt}", f"*:{step}:{attempt}"

    async def plan(
        self, order_id: str, step: Step, fault: Fault, *, attempt: int = 1, venue: str = "*"
    ) -> None:
        """Make `step` of `attempt` fail with `fault`, once (`venue="*"`: whichever venue)."""
        field = f"{venue}:{step}:{attempt}"
        await self._book.plan_fault(order_id, field, fault.value, self.TTL_SECONDS)

    async def take(self, order_id: str, step: Step, attempt: int, venue: str) -> Fault | None:
        found = await self._book.take_fault(order_id, self.fields(venue, step, attempt))
        return Fault(found) if found else None
