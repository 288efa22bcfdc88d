"""A clock the test moves: sleeping advances it instantly."""

from __future__ import annotations


class FakeClock:
    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self.t = start

    def now(self) -> float:
        return self.t

    async def sleep(self, seconds: float) -> None:
        self.t += max(seconds, 0.0)

    def advance(self, seconds: float) -> None:
        self.t += seconds
