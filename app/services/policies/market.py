"""Market orders route at once: attempt 1 starts as soon as a worker takes the order."""

from __future__ import annotations

from typing import TYPE_CHECKING

from app.domain.failures import ExecutionError, FailureKind

if TYPE_CHECKING:
    from app.services.execution import Run


class MarketPolicy:
    kind = "market"

    async def start(self, run: Run) -> None:
        await run.attempt(1)

    async def price_gone(self, run: Run, reason: str) -> None:
        raise ExecutionError(FailureKind.SLIPPAGE_EXCEEDED, reason)


POLICY = MarketPolicy()
