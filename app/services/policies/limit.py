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
        await run.wait("waiting for its price", _terms(run), indexed=True)

    async def price_gone(self, run: Run, reason: str) -> None:
        await run.wait(f"waiting again: {reason}", _terms(run), indexed=True)


def _terms(run: Run) -> dict[str, str]:
    order = run.order
    expiry = order.expires_at.isoformat() if order.expires_at else ""
    return {"limitPrice": order.terms.get("limitPrice", ""), "expiresAt": expiry}


POLICY = LimitPolicy()
