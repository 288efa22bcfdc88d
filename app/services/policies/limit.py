"""Limit orders wait: placed, they move to `waiting` and join the trigger's index.

If the price has gone by the time the order routes or fills (the pool moved between the
trigger and the fill), the order waits again — it does not fail — and the trigger fires it
on the next crossing. The limit itself never moves.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from app.services.execution import Run


class LimitPolicy:
    kind = "limit"

    async def start(self, run: Run) -> None:
        await run.wait()

    async def price_gone(self, run: Run, reason: str) -> None:
        await run.wait(again=reason)


POLICY = LimitPolicy()
