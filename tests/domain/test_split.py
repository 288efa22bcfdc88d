"""Split routing between two constant-product pools, without I/O: never worse than the best
single venue, the optimum where the marginal outputs meet, legs that add up exactly."""

from __future__ import annotations

from decimal import Decimal

import pytest

from app.domain.amm import BPS, swap_out
from app.domain.failures import ExecutionError, FailureKind
from app.domain.routing import Quote, QuoteFailure, QuoteResult
from app.domain.split import MIN_GAIN_BPS, Quoter, best_route
from app.domain.tokens import TOKENS

SOL, USDC = TOKENS["SOL"], TOKENS["USDC"]
PRICE = Decimal(150)


def pool(dex: str, tvl_usd: int, fee_bps: int, depth_sol: Decimal | None = None) -> Quoter:
    """A SOL/USDC pool holding `tvl_usd` (half each side), selling SOL; with `depth_sol`, it
    refuses more than that as insufficient liquidity (as a venue guarding its pool does)."""
    reserve_sol = Decimal(tvl_usd) / 2 / PRICE
    reserve_usdc = Decimal(tvl_usd) / 2
    rate = Decimal(fee_bps) / BPS

    def quote(amount: Decimal) -> QuoteResult:
        if depth_sol is not None and amount > depth_sol:
            return QuoteFailure(dex, FailureKind.INSUFFICIENT_LIQUIDITY, "pool too shallow")
        swap = swap_out(reserve_sol, reserve_usdc, amount, rate)
        return Quote(
            dex, amount, USDC.floor(swap.amount_out), swap.fee, Decimal(fee_bps),
            swap.price_impact_bps,
        )  # fmt: skip

    return quote


def calm_market() -> dict[str, Quoter]:
    """The simulator's SOL/USDC pools in a calm market: Raydium $20M at 25 bps, Meteora $6M
    at 10 bps."""
    return {"raydium": pool("raydium", 20_000_000, 25), "meteora": pool("meteora", 6_000_000, 10)}


def single_best(amount: Decimal, venues: dict[str, Quoter]) -> Decimal:
    outs = [q.amount_out for q in (v(amount) for v in venues.values()) if isinstance(q, Quote)]
    return max(outs)


@pytest.mark.parametrize(
    "sol", ["1", "10", "100", "250", "1000", "3000", "5000", "10000"], ids=lambda s: f"{s} SOL"
)
def test_the_route_never_pays_less_than_the_best_single_venue(sol: str) -> None:
    amount = Decimal(sol)
    venues = calm_market()

    route = best_route(amount, venues, SOL)

    assert route.amount_out >= single_best(amount, venues)
    assert sum(leg.amount_in for leg in route.legs) == amount
    assert sum(leg.bps for leg in route.legs) == 10_000
    assert all(leg.amount_in > 0 for leg in route.legs)


def test_a_thousand_sol_splits_mostly_to_raydium_and_gains_over_thirty_bps() -> None:
    route = best_route(Decimal(1000), calm_market(), SOL)

    assert route.split
    assert route.gain_bps >= 30
    shares = {leg.dex: leg.bps for leg in route.legs}
    assert 7000 <= shares["raydium"] <= 8000


def test_the_split_is_where_the_marginal_outputs_meet() -> None:
    """The closed form for two constant-product pools: a1 = (k1·x2 + k1·g2·A - k2·x1) /
    (k2·g1 + k1·g2), with ki = sqrt(xi·yi·gi) and gi = 1 - fee_i."""
    amount = Decimal(3000)
    x1, y1, g1 = Decimal(10_000_000) / PRICE, Decimal(10_000_000), 1 - Decimal(25) / BPS
    x2, y2, g2 = Decimal(3_000_000) / PRICE, Decimal(3_000_000), 1 - Decimal(10) / BPS
    k1, k2 = (x1 * y1 * g1).sqrt(), (x2 * y2 * g2).sqrt()
    optimum = (k1 * x2 + k1 * g2 * amount - k2 * x1) / (k2 * g1 + k1 * g2)

    route = best_route(amount, calm_market(), SOL)

    raydium = next(leg for leg in route.legs if leg.dex == "raydium")
    assert abs(raydium.amount_in - optimum) / amount < Decimal("0.001")


def test_a_small_order_stays_on_one_venue() -> None:
    route = best_route(Decimal("0.5"), calm_market(), SOL)

    assert not route.split
    assert route.legs[0].bps == 10_000
    assert route.gain_bps < MIN_GAIN_BPS


def test_an_order_one_venue_refuses_whole_is_filled_when_split() -> None:
    venues = {
        "raydium": pool("raydium", 20_000_000, 25, depth_sol=Decimal(600)),
        "meteora": pool("meteora", 6_000_000, 10, depth_sol=Decimal(600)),
    }

    route = best_route(Decimal(1000), venues, SOL)

    assert route.split
    assert route.best_single is None
    assert all(leg.amount_in <= 600 for leg in route.legs)
    assert sum(leg.amount_in for leg in route.legs) == 1000

    with pytest.raises(ExecutionError) as refused:
        best_route(Decimal(1000), venues, SOL, allow_split=False)
    assert refused.value.kind is FailureKind.INSUFFICIENT_LIQUIDITY


def test_single_routing_forbids_a_split() -> None:
    route = best_route(Decimal(3000), calm_market(), SOL, allow_split=False)

    assert not route.split
    assert route.amount_out == single_best(Decimal(3000), calm_market())
