"""A value recomputed at most once per interval, however many callers want it at once."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable


class Throttled:
    def __init__(self, max_age: float = 1.0) -> None:
        self.max_age = max_age
        self._value = ""
        self._at = -float("inf")
        self._lock = asyncio.Lock()

    async def get(self, compute: Callable[[], Awaitable[str]]) -> str:
        async with self._lock:
            if time.monotonic() - self._at > self.max_age:
                self._value = await compute()
                self._at = time.monotonic()
            return self._value
