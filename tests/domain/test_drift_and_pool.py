from decimal import Decimal

from app.domain.drift import Drift
from app.domain.pool import PoolState
from app.domain.tokens import TOKENS, Side, executed_price, find_market


def test_drift_is_a_pure_function_of_seed_stream_and_time() -> None:
    a = Drift(7, "SOL/USDC", Decimal("0.015"))
    b = Drift(7, "SOL/USDC", Decimal("0.015"))
    other_seed = Drift(8, "SOL/USDC", Decimal("0.015"))
    times = [Decimal(t) / 10 for t in range(0, 3000, 37)]
    assert [a.at(t) for t in times] == [b.at(t) for t in times]
    assert [a.at(t) for t in times] != [other_seed.at(t) for t in times]


def test_drift_moves_but_stays_bounded_around_the_reference() -> None:
    drift = Drift(1, "SOL/USDC", Decimal("0.015"))
    values = [drift.at(Decimal(t)) for t in range(0, 20_000, 50)]
    assert len(set(values)) > 100
    # Octave amplitudes sum to under twice the amplitude.
    assert max(abs(v) for v in values) < Decimal("0.03")
    # Neighbouring seconds differ by little: a walk, not white noise.
    assert abs(drift.at(Decimal(1000)) - drift.at(Decimal(1001))) < Decimal("0.002")


def test_pool_reserves_follow_the_market_price() -> None:
    pool = PoolState.seeded(Decimal(1000), Decimal(150_000))
    base, quote = pool.reserves(Decimal(160), Decimal(0))
    assert (quote / base).quantize(Decimal("0.0001")) == Decimal(160)
    assert (base * quote).sqrt().quantize(Decimal("0.0001")) == pool.liquidity.quantize(
        Decimal("0.0001")
    )


def test_a_fill_moves_the_pool_and_arbitrage_pulls_it_back() -> None:
    pool = PoolState.seeded(Decimal(1000), Decimal(150_000))
    price, t = Decimal(150), Decimal(0)
    swap = pool.quote(price, t, Side.SELL_BASE, Decimal(50), Decimal("0.0025"))
    after = pool.after_swap(price, t, Side.SELL_BASE, Decimal(50), swap.amount_out)
    # Selling SOL into the pool lowers its SOL price; the kept fee grows liquidity.
    assert after.skew < 0
    assert after.liquidity > pool.liquidity
    assert after.version == pool.version + 1
    soon, later = after.skew_at(Decimal(1)), after.skew_at(Decimal(300))
    assert after.skew < soon < later < 0
    assert abs(later) < abs(after.skew) / 1000


def test_a_shock_moves_price_without_changing_depth() -> None:
    pool = PoolState.seeded(Decimal(1000), Decimal(150_000))
    shocked = pool.with_shock(Decimal(5), Decimal("-0.02"))
    assert shocked.liquidity == pool.liquidity
    assert shocked.skew == Decimal("-0.02")


def test_markets_join_tokens_both_ways_and_price_fills_per_base() -> None:
    sell = find_market("SOL", "USDC")
    buy = find_market("USDC", "SOL")
    assert sell is not None
    assert buy is not None
    assert sell.token_out is TOKENS["USDC"]
    assert buy.token_out is TOKENS["SOL"]
    assert executed_price(sell, Decimal(2), Decimal(300)) == Decimal(150)
    assert executed_price(buy, Decimal(300), Decimal(2)) == Decimal(150)
    assert find_market("JUP", "USDT") is None


def test_token_amounts_round_down_to_their_units() -> None:
    assert TOKENS["USDC"].floor(Decimal("1.2345679")) == Decimal("1.234567")
    assert TOKENS["BONK"].unit == Decimal("0.00001")
