"""What the simulated venues' ledger says about an order (the venue side of the truth)."""

from __future__ import annotations

from app.runtime import Runtime


async def fills(runtime: Runtime, order_id: str) -> int:
    """How many times any venue executed a swap for this order (never more than one)."""
    return sum([await venue.fills(order_id) for venue in runtime.simulated.values()])
