"""Constant-product (x·y = k) swap math, exact in Decimal."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

BPS = Decimal(10_000)


@dataclass(frozen=True, slots=True)
class Swap:
    amount_out: Decimal
    """Before rounding to the output token's units."""
    fee: Decimal
    """Paid in the input token."""
    price_impact_bps: Decimal
    """How far the fill price (fee aside) is below the pool's spot price."""


def swap_out(
    reserve_in: Decimal, reserve_out: Decimal, amount_in: Decimal, fee_rate: Decimal
) -> Swap:
    """Output of selling `amount_in` into a pool; the fee is taken from the input first."""
    if reserve_in <= 0 or reserve_out <= 0:
        raise ValueError("a pool needs positive reserves")
    if amount_in <= 0:
        raise ValueError("amount_in must be positive")
    if not 0 <= fee_rate < 1:
        raise ValueError("fee_rate must be in [0, 1)")
    fee = amount_in * fee_rate
    effective_in = amount_in - fee
    amount_out = reserve_out * effective_in / (reserve_in + effective_in)
    impact = effective_in / (reserve_in + effective_in) * BPS
    return Swap(amount_out=amount_out, fee=fee, price_impact_bps=impact)


def spot_price(reserve_in: Decimal, reserve_out: Decimal) -> Decimal:
    """Output per unit of input for an infinitesimal trade, fee aside."""
    return reserve_out / reserve_in
