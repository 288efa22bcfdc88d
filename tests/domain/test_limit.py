"""Limit orders' pure rules: the minimum a limit implies, expiry parsing, the distance shown."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from app.domain.kinds.limit import expiry_of, gap, meets, min_out_at
from app.domain.moves import PriceMove, shift_at
from app.domain.pool import RELAX_SECONDS
from app.domain.problems import InvalidOrder, Problem
from app.domain.requests import validate_order
from app.domain.tokens import Market, find_market


def market(token_in: str, token_out: str) -> Market:
    found = find_market(token_in, token_out)
    assert found is not None
    return found


SELL_SOL = market("SOL", "USDC")
BUY_SOL = market("USDC", "SOL")
NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def test_selling_the_base_needs_the_limit_times_the_amount_rounded_up_to_a_unit() -> None:
    # 1.5 SOL at 152.3333333 USDC/SOL is 228.49999995 USDC: 228.500000 (USDC has 6 places).
    bound = min_out_at(SELL_SOL, Decimal("1.5"), Decimal("152.3333333"))
    assert bound == Decimal("228.500000")
    assert meets(SELL_SOL, Decimal("1.5"), bound, Decimal("152.3333333"))
    assert not meets(SELL_SOL, Decimal("1.5"), bound - Decimal("0.000001"), Decimal("152.3333333"))


def test_buying_the_base_needs_the_amount_over_the_limit_rounded_up_to_a_lamport() -> None:
    # 100 USDC at ≤ 150 USDC/SOL: at least 0.666666667 SOL (9 places, rounded up).
    bound = min_out_at(BUY_SOL, Decimal(100), Decimal(150))
    assert bound == Decimal("0.666666667")
    # One lamport less would be a price above the limit.
    assert Decimal(100) / (bound - Decimal("0.000000001")) > 150


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ({}, {"expiresIn": "86400"}),
        ({"expiresIn": 3}, {"expiresIn": "3"}),
        ({"expiresIn": 30 * 86400}, {"expiresIn": str(30 * 86400)}),
        ({"expiresAt": "2026-11-24T12:00:00Z"}, {"expiresAt": "2026-11-24T12:00:00+00:00"}),
    ],
)
def test_expiry_defaults_to_a_day_and_takes_seconds_or_a_utc_time(
    raw: dict[str, object], expected: dict[str, str]
) -> None:
    problems: list[Problem] = []
    assert expiry_of(raw, problems, NOW) == expected
    assert problems == []


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        ({"expiresIn": 0}, "expiresIn"),
        ({"expiresIn": 30 * 86400 + 1}, "expiresIn"),
        ({"expiresIn": 2.5}, "expiresIn"),
        ({"expiresIn": True}, "expiresIn"),
        ({"expiresIn": "60"}, "expiresIn"),
        ({"expiresAt": "2026-11-23T11:59:59Z"}, "expiresAt"),
        ({"expiresAt": (NOW + timedelta(days=31)).isoformat()}, "expiresAt"),
        ({"expiresAt": "2026-11-24T12:00:00"}, "expiresAt"),  # no zone: ambiguous
        ({"expiresAt": "tomorrow"}, "expiresAt"),
        ({"expiresIn": 60, "expiresAt": "2026-11-24T12:00:00Z"}, "expiresIn"),
    ],
)
def test_a_past_far_or_malformed_expiry_names_its_field(raw: dict[str, object], field: str) -> None:
    problems: list[Problem] = []
    assert expiry_of(raw, problems, NOW) is None
    assert [p.field for p in problems] == [field]


def test_a_limit_order_lists_every_problem_and_refuses_market_only_fields() -> None:
    with pytest.raises(InvalidOrder) as refused:
        validate_order(
            type="limit",
            token_in="SOL",
            token_out="USDC",
            amount="1",
            slippage_bps=None,
            terms={"limitPrice": "-3", "expiresIn": 0},
        )
    assert {p.field for p in refused.value.problems} == {"limitPrice", "expiresIn"}
    with pytest.raises(InvalidOrder) as market:
        validate_order(
            type="market",
            token_in="SOL",
            token_out="USDC",
            amount="1",
            slippage_bps=None,
            terms={"limitPrice": "150"},
        )
    assert [p.field for p in market.value.problems] == ["limitPrice"]


def test_a_valid_limit_order_fixes_its_bound_when_placed() -> None:
    request = validate_order(
        type="limit",
        token_in="SOL",
        token_out="USDC",
        amount="2",
        slippage_bps=None,
        terms={"limitPrice": "160.25", "expiresIn": 60},
    )
    assert request.bound == Decimal("320.500000")
    assert request.limit_price == Decimal("160.25")


def test_the_gap_is_the_move_still_needed_in_the_orders_favour() -> None:
    # Selling 2 SOL at ≥ 153 while 2 SOL fetch 300 USDC (150 each): 2 % to go.
    selling = gap(SELL_SOL, Decimal(2), Decimal(153), Decimal(300))
    assert selling is not None
    assert selling.price_now == Decimal(150)
    assert selling.away == Decimal("0.02")
    # Buying SOL at ≤ 147 while 300 USDC buy 2 SOL (150 each): the price must fall 2 %.
    buying = gap(BUY_SOL, Decimal(300), Decimal(147), Decimal(2))
    assert buying is not None
    assert buying.away == Decimal("0.02")
    # Met: the move needed is zero or less.
    met = gap(SELL_SOL, Decimal(2), Decimal(149), Decimal(300))
    assert met is not None
    assert met.away < 0
    assert gap(SELL_SOL, Decimal(2), Decimal(149), Decimal(0)) is None


def test_a_move_holds_then_relaxes_and_moves_add_up() -> None:
    move = PriceMove(start=Decimal(10), bps=Decimal(300), hold=Decimal(60))
    assert move.shift(Decimal(9)) == 0
    assert move.shift(Decimal(10)) == move.shift(Decimal(70)) == Decimal("0.03")
    relaxed = move.shift(Decimal(70) + RELAX_SECONDS)
    assert Decimal("0.011") < relaxed < Decimal("0.0111")  # e⁻¹ of it left after one constant
    assert not move.over(Decimal(70) + RELAX_SECONDS)
    assert move.over(Decimal(71) + RELAX_SECONDS * 20)
    down = PriceMove(start=Decimal(10), bps=Decimal(-100), hold=Decimal(60))
    assert shift_at([move, down], Decimal(20)) == Decimal("0.02")
