"""Background loops that stop when asked, without relying on task cancellation.

redis-py can swallow a cancellation that lands mid-command, which would leave a
cancelled loop running forever; a stop event cannot be lost that way.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

log = logging.getLogger(__name__)


class Periodic:
    """Runs `step` every `interval` seconds (first run after `delay`) until `stop()`."""

    def __init__(
        self,
        name: str,
        step: Callable[[], Awaitable[object]],
        interval: float,
        *,
        delay: float | None = None,
        final: bool = False,
    ) -> None:
        self.name = name
        self._step = step
        self._interval = interval
        self._delay = interval if delay is None else delay
        self._final = final
        self._stopping = asyncio.Event()
        self._task = asyncio.create_task(self._run(), name=name)

    async def _run(self) -> None:
        wait = self._delay
        while not self._stopping.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), wait)
            if self._stopping.is_set() and not self._final:
                return
            await self._safely()
            wait = self._interval

    async def _safely(self) -> None:
        try:
            await self._step()
        except Exception:
            log.exception("%s failed; trying again in %ss", self.name, self._interval)

    async def stop(self) -> None:
        """Stop the loop; with `final=True` it runs `step` one last time first."""
        self._stopping.set()
        await self._task
