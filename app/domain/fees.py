"""Venue fee models: what fraction of the input a swap pays."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol

from app.domain.amm import BPS


class FeeModel(Protocol):
    def rate(self, volatility_bps: Decimal) -> Decimal:
        """Fee as a fraction of the input, given how far prices moved recently."""
        ...


@dataclass(frozen=True, slots=True)
class FlatFee:
    """A constant share of the input (Raydium's AMM: 0.25 %)."""

    bps: Decimal

    def rate(self, volatility_bps: Decimal) -> Decimal:
        return self.bps / BPS


@dataclass(frozen=True, slots=True)
class DynamicFee:
    """A base fee plus a part that grows with the square of recent volatility (Meteora DLMM-like).

    Calm markets pay little; right after a price move liquidity providers are paid more.
    """

    base_bps: Decimal
    variable_factor: Decimal
    """Extra bps per (bps of volatility)²."""
    max_bps: Decimal

    def rate(self, volatility_bps: Decimal) -> Decimal:
        variable = self.variable_factor * volatility_bps * volatility_bps
        return min(self.base_bps + variable, self.max_bps) / BPS
