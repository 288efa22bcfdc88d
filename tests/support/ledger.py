"""What the simulated venues' ledger says about an order (the venue side of the truth)."""

from __future__ import annotations

from app.runtime import Runtime


async def fills(runtime: Runtime, order_id: str) -> int:
    """How many times any venue, or the router, executed a swap for this order (never more
    than one)."""
    senders = [*runtime.simulated.values(), runtime.router]
    return sum([await sender.fills(order_id) for sender in senders])
