"""The simulated venues' parameters: pools, fees and how far their prices wander."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from app.domain.fees import DynamicFee, FeeModel, FlatFee

# How far each pair's market price wanders around its reference (a log amplitude).
PAIR_DRIFT: dict[str, Decimal] = {
    "SOL/USDC": Decimal("0.015"),
    "SOL/USDT": Decimal("0.015"),
    "JUP/USDC": Decimal("0.025"),
    "JUP/SOL": Decimal("0.02"),
    "BONK/SOL": Decimal("0.03"),
    "BONK/USDC": Decimal("0.03"),
    "USDC/USDT": Decimal("0.0005"),
}
LAUNCH_DRIFT = Decimal("0.02")
"""How far a launched token's price wanders (on top of its opening rush)."""


@dataclass(frozen=True, slots=True)
class VenueSpec:
    name: str
    fee: FeeModel
    drift: Decimal
    """How far this venue's price wanders from the market's (a log amplitude)."""
    tvl_usd: dict[str, Decimal] = field(default_factory=dict)
    """Pool depth per pair, in USD; a pair missing here has no pool on this venue."""


RAYDIUM = VenueSpec(
    name="raydium",
    fee=FlatFee(bps=Decimal(25)),
    drift=Decimal("0.001"),
    tvl_usd={
        "SOL/USDC": Decimal(20_000_000),
        "SOL/USDT": Decimal(6_000_000),
        "JUP/USDC": Decimal(4_000_000),
        "JUP/SOL": Decimal(2_000_000),
        "BONK/SOL": Decimal(3_000_000),
        "BONK/USDC": Decimal(1_500_000),
    },
)

# Cheaper in calm markets but shallower: small orders tend to go to Meteora, large
# ones (and any order right after a price move) to Raydium.
METEORA = VenueSpec(
    name="meteora",
    fee=DynamicFee(base_bps=Decimal(10), variable_factor=Decimal("0.01"), max_bps=Decimal(150)),
    drift=Decimal("0.001"),
    tvl_usd={
        "SOL/USDC": Decimal(6_000_000),
        "SOL/USDT": Decimal(3_000_000),
        "JUP/USDC": Decimal(2_000_000),
        "JUP/SOL": Decimal(1_500_000),
        "BONK/SOL": Decimal(2_000_000),
        "USDC/USDT": Decimal(10_000_000),
    },
)

VENUES: tuple[VenueSpec, ...] = (RAYDIUM, METEORA)
