from decimal import Decimal

import pytest

from app.domain.failures import ExecutionError, FailureKind
from app.domain.fees import DynamicFee, FlatFee
from app.domain.pool import PoolState
from app.domain.retry import RETRY
from app.domain.routing import Quote, QuoteFailure, choose_best, min_received, shortfall_bps
from app.domain.tokens import TOKENS, Side


def quote(dex: str, out: str, impact: str = "1") -> Quote:
    return Quote(dex, Decimal(1), Decimal(out), Decimal("0.001"), Decimal(10), Decimal(impact))


def test_picks_the_larger_output_after_fees() -> None:
    # Same pool depth and price; a 0.25 % fee loses to a 0.10 % fee.
    pool = PoolState.seeded(Decimal(10_000), Decimal(1_500_000))
    price, t = Decimal(150), Decimal(0)
    cheap = pool.quote(price, t, Side.SELL_BASE, Decimal(10), FlatFee(Decimal(10)).rate(Decimal(0)))
    dear = pool.quote(price, t, Side.SELL_BASE, Decimal(10), FlatFee(Decimal(25)).rate(Decimal(0)))
    best = choose_best(
        [quote("raydium", str(dear.amount_out)), quote("meteora", str(cheap.amount_out))]
    )
    assert best.dex == "meteora"


def test_a_better_price_can_beat_a_lower_fee() -> None:
    # Raydium's pool prices SOL 0.5 % higher: worth more than its 0.15 % extra fee.
    pool = PoolState.seeded(Decimal(10_000), Decimal(1_500_000))
    t = Decimal(0)
    raydium = pool.quote(Decimal("150.75"), t, Side.SELL_BASE, Decimal(10), Decimal("0.0025"))
    meteora = pool.quote(Decimal(150), t, Side.SELL_BASE, Decimal(10), Decimal("0.001"))
    best = choose_best(
        [quote("raydium", str(raydium.amount_out)), quote("meteora", str(meteora.amount_out))]
    )
    assert best.dex == "raydium"


def test_ties_go_to_lower_price_impact() -> None:
    best = choose_best([quote("a", "100", impact="9"), quote("b", "100", impact="3")])
    assert best.dex == "b"


def test_failed_venues_are_skipped() -> None:
    failure = QuoteFailure("raydium", FailureKind.RPC_TIMEOUT, "timed out")
    assert choose_best([failure, quote("meteora", "5")]).dex == "meteora"


@pytest.mark.parametrize(
    ("kinds", "expected", "retryable"),
    [
        ([FailureKind.RPC_TIMEOUT, FailureKind.NO_ROUTE], FailureKind.RPC_TIMEOUT, True),
        (
            [FailureKind.INSUFFICIENT_LIQUIDITY, FailureKind.NO_ROUTE],
            FailureKind.INSUFFICIENT_LIQUIDITY,
            False,
        ),
        ([FailureKind.NO_ROUTE, FailureKind.NO_ROUTE], FailureKind.NO_ROUTE, False),
    ],
)
def test_no_quote_at_all_says_why(
    kinds: list[FailureKind], expected: FailureKind, retryable: bool
) -> None:
    failures = [QuoteFailure(f"v{i}", kind, f"reason {i}") for i, kind in enumerate(kinds)]
    with pytest.raises(ExecutionError) as caught:
        choose_best(failures)
    assert caught.value.kind is expected
    assert RETRY.is_retryable(caught.value.kind) is retryable
    assert "v0: reason 0" in caught.value.message or "v1: reason 1" in caught.value.message


def test_minimum_received_applies_slippage_and_rounds_down() -> None:
    usdc = TOKENS["USDC"]
    # 1500.123456 * (1 - 0.5 %) = 1492.62283872 → 1492.622838
    assert min_received(Decimal("1500.123456"), 50, usdc) == Decimal("1492.622838")


def test_shortfall_is_positive_when_paid_less() -> None:
    assert shortfall_bps(Decimal(100), Decimal("99.5")) == Decimal("50.00")


def test_dynamic_fee_rises_with_volatility_up_to_its_cap() -> None:
    fee = DynamicFee(Decimal(10), Decimal("0.01"), Decimal(150))
    assert fee.rate(Decimal(0)) == Decimal("0.001")
    assert fee.rate(Decimal(20)) == Decimal("0.0014")
    assert fee.rate(Decimal(10_000)) == Decimal("0.015")
