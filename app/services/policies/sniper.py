"""Sniper orders wait for their token's launch: the sniper trigger (app/services/snipers.py)
starts them once the pool is open and every condition holds.

If the price has gone by the time the order routes or fills (the opening rush outran it),
the order waits again — it does not fail — until the trigger sees its conditions met again
or it expires. Its bound (`maxPrice`, or the first quote less slippage) never moves.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from app.services.execution import Run


class SniperPolicy:
    kind = "sniper"

    async def start(self, run: Run) -> None:
        await run.wait(f"waiting for {run.order.token_out.symbol} to launch", _terms(run))

    async def price_gone(self, run: Run, reason: str) -> None:
        await run.wait(f"waiting again: {reason}", _terms(run))


def _terms(run: Run) -> dict[str, str]:
    order = run.order
    terms = {name: value for name, value in order.terms.items() if name != "expiresIn"}
    if order.expires_at:
        terms["expiresAt"] = order.expires_at.isoformat()
    return terms


POLICY = SniperPolicy()
