"""A simulated constant-product pool whose price is pulled toward the market by arbitrage.

State is what a trade leaves behind: the pool's depth (`liquidity` = √k) and how far
the trade pushed its price from the market (`skew`, a log ratio). Arbitrageurs close
that gap over time, so `skew` decays exponentially; everything else follows from the
market price at the moment of asking.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from app.domain.amm import Swap, swap_out
from app.domain.tokens import Side

RELAX_SECONDS = Decimal(30)
"""Time for arbitrage to close ~63 % of a trade's price gap."""
MAX_IMPACT_BPS = Decimal(3000)
"""A venue refuses fills that would move its price more than this."""


@dataclass(frozen=True, slots=True)
class PoolState:
    liquidity: Decimal
    skew: Decimal
    updated_at: Decimal
    """Market seconds of the last trade."""
    version: int = 0
    opens_at: Decimal = Decimal(0)
    """Market seconds when trading opens (a launched token's pool); swaps before fail."""

    @classmethod
    def seeded(cls, base_reserve: Decimal, quote_reserve: Decimal) -> PoolState:
        return cls(
            liquidity=(base_reserve * quote_reserve).sqrt(), skew=Decimal(0), updated_at=Decimal(0)
        )

    def skew_at(self, t: Decimal) -> Decimal:
        elapsed = max(t - self.updated_at, Decimal(0))
        return self.skew * (-elapsed / RELAX_SECONDS).exp()

    def reserves(self, target_price: Decimal, t: Decimal) -> tuple[Decimal, Decimal]:
        """(base, quote) reserves at `t`, for a market price in quote per base."""
        price = target_price * self.skew_at(t).exp()
        root = price.sqrt()
        return self.liquidity / root, self.liquidity * root

    def quote(
        self, target_price: Decimal, t: Decimal, side: Side, amount_in: Decimal, fee_rate: Decimal
    ) -> Swap:
        base, quote = self.reserves(target_price, t)
        if side is Side.SELL_BASE:
            return swap_out(base, quote, amount_in, fee_rate)
        return swap_out(quote, base, amount_in, fee_rate)

    def after_swap(
        self, target_price: Decimal, t: Decimal, side: Side, amount_in: Decimal, amount_out: Decimal
    ) -> PoolState:
        """The state once a fill has landed; the fee stays in the pool."""
        base, quote = self.reserves(target_price, t)
        if side is Side.SELL_BASE:
            base, quote = base + amount_in, quote - amount_out
        else:
            base, quote = base - amount_out, quote + amount_in
        return PoolState(
            liquidity=(base * quote).sqrt(),
            skew=(quote / base / target_price).ln(),
            updated_at=t,
            version=self.version + 1,
            opens_at=self.opens_at,
        )

    def with_shock(self, t: Decimal, log_move: Decimal) -> PoolState:
        """The pool after someone else's trade moved its price by `log_move`."""
        return PoolState(
            liquidity=self.liquidity,
            skew=self.skew_at(t) + log_move,
            updated_at=t,
            version=self.version + 1,
            opens_at=self.opens_at,
        )

    def deeper(self, factor: Decimal, t: Decimal) -> PoolState:
        """The pool after liquidity was added (`factor` > 1) or removed, at the same price."""
        return PoolState(
            liquidity=self.liquidity * factor,
            skew=self.skew_at(t),
            updated_at=t,
            version=self.version + 1,
            opens_at=self.opens_at,
        )
