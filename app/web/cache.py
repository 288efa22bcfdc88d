"""One rendering shared by every caller that can use it, so N dashboards cost one query."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable


class SharedBy:
    """One `Shared` per key (e.g. per owner, whose charts differ)."""

    def __init__(self) -> None:
        self._by: dict[str | None, Shared] = {}

    def __getitem__(self, key: str | None) -> Shared:
        shared = self._by.get(key)
        if shared is None:
            if len(self._by) > 1000:
                self._by.clear()
            shared = self._by[key] = Shared()
        return shared


class Shared:
    def __init__(self) -> None:
        self._value = ""
        self._started = -float("inf")
        self._lock = asyncio.Lock()

    async def get(self, compute: Callable[[], Awaitable[str]], newer_than: float) -> str:
        """A value computed after `newer_than` (a `time.monotonic()` reading); reused if one is."""
        async with self._lock:
            if self._started < newer_than:
                started = time.monotonic()
                self._value = await compute()
                self._started = started
            return self._value
