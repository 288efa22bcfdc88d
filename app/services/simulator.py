"""Controls of the simulated market, for tests, demos and people: move a pair's price."""

from __future__ import annotations

from decimal import Decimal

from app.domain.moves import PriceMove
from app.domain.tokens import Pair
from app.venues.simulator import Simulator


class SimControls:
    def __init__(self, simulator: Simulator) -> None:
        self._simulator = simulator

    async def move(self, pair: Pair, bps: int, hold_seconds: int) -> PriceMove:
        """Shift `pair`'s reference price on every venue by `bps`, hold it, then let it go."""
        return await self._simulator.move(pair, Decimal(bps), Decimal(hold_seconds))
