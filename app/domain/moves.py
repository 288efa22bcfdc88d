"""Price moves made on purpose: a pair's reference price shifted, held, then let go.

A move lifts (or drops) the market price of a pair on every venue by `bps` from its start,
holds it for `hold` seconds, then relaxes back with the same ~30 s time constant as
arbitrage. All times are market seconds, so a seeded market with the same moves at the
same times gives the same prices.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from app.domain.amm import BPS
from app.domain.pool import RELAX_SECONDS

MAX_MOVE_BPS = 5000
MAX_HOLD_SECONDS = 3600


@dataclass(frozen=True, slots=True)
class PriceMove:
    start: Decimal
    bps: Decimal
    hold: Decimal

    def shift(self, t: Decimal) -> Decimal:
        """The move's part of the log price at `t`."""
        if t < self.start:
            return Decimal(0)
        size = self.bps / BPS
        released = self.start + self.hold
        if t <= released:
            return size
        return size * (-(t - released) / RELAX_SECONDS).exp()

    def over(self, t: Decimal) -> bool:
        """Relaxed away for good (under a hundredth of a bps left)."""
        return t > self.start + self.hold + RELAX_SECONDS * 20


def shift_at(moves: Iterable[PriceMove], t: Decimal) -> Decimal:
    return sum((move.shift(t) for move in moves), Decimal(0))
