from decimal import Decimal
from typing import TypedDict, Unpack

import pytest

from app.domain.problems import InvalidOrder
from app.domain.requests import DEFAULT_SLIPPAGE_BPS, validate_order
from app.domain.tokens import Side


class OrderFields(TypedDict):
    """The keyword arguments of `validate_order` these tests pass."""

    type: str
    token_in: str
    token_out: str
    amount: Decimal | str | int
    slippage_bps: int | str | None


class OrderChange(TypedDict, total=False):
    """Some of `OrderFields`, to replace in `GOOD`."""

    type: str
    token_in: str
    token_out: str
    amount: Decimal | str | int
    slippage_bps: int | str | None


GOOD: OrderFields = {
    "type": "market",
    "token_in": "SOL",
    "token_out": "USDC",
    "amount": "1.5",
    "slippage_bps": 50,
}


def good(**change: Unpack[OrderChange]) -> OrderFields:
    """`GOOD` with `change` applied."""
    return {**GOOD, **change}


def test_a_valid_request() -> None:
    request = validate_order(**GOOD)
    assert request.type == "market"
    assert request.amount == Decimal("1.5")
    assert request.market.side is Side.SELL_BASE
    assert (request.token_in, request.token_out) == ("SOL", "USDC")


def test_buying_the_base_token_is_the_same_market_the_other_way() -> None:
    request = validate_order(**good(token_in="USDC", token_out="SOL", amount="100"))
    assert request.market.pair.symbol == "SOL/USDC"
    assert request.market.side is Side.BUY_BASE


def test_slippage_defaults_when_missing() -> None:
    assert validate_order(**good(slippage_bps=None)).slippage_bps == DEFAULT_SLIPPAGE_BPS


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        ({"type": "swap"}, "type", "must be one of: market, limit"),
        ({"type": "limit"}, "limitPrice", "limitPrice must be a positive decimal"),
        ({"token_in": "DOGE"}, "tokenIn", "not a supported token"),
        ({"token_out": "XYZ"}, "tokenOut", "not a supported token"),
        ({"token_out": "SOL"}, "tokenOut", "must differ from tokenIn"),
        ({"token_in": "JUP", "token_out": "USDT"}, "tokenOut", "no market trades JUP for USDT"),
        ({"amount": "0"}, "amount", "greater than 0"),
        ({"amount": "0.000"}, "amount", "greater than 0"),
        ({"amount": "-2"}, "amount", "greater than 0"),
        ({"amount": "abc"}, "amount", "decimal number"),
        ({"amount": "NaN"}, "amount", "decimal number"),
        ({"amount": "Infinity"}, "amount", "decimal number"),
        ({"amount": Decimal("NaN")}, "amount", "finite"),
        # Only ASCII decimal notation: Python's Decimal() would take all of these.
        ({"amount": "١٢"}, "amount", "decimal number"),
        ({"amount": "\uff11"}, "amount", "decimal number"),
        ({"amount": "1_000"}, "amount", "decimal number"),
        ({"amount": "1e2"}, "amount", "decimal number"),
        ({"amount": ".5"}, "amount", "decimal number"),
        ({"amount": "1." + "0" * 40}, "amount", "too long"),
        ({"amount": "1.0000000001"}, "amount", "at most 9"),
        (
            {"token_in": "USDC", "token_out": "SOL", "amount": "1.0000001"},
            "amount",
            "USDC allows at most 6",
        ),
        ({"amount": "1000000000001"}, "amount", "at most 1000000000000"),
        ({"slippage_bps": 0}, "slippageBps", "from 1 to 5000"),
        ({"slippage_bps": 5001}, "slippageBps", "from 1 to 5000"),
        ({"slippage_bps": "1.5"}, "slippageBps", "whole number"),
        ({"slippage_bps": "1e2"}, "slippageBps", "whole number"),
        ({"slippage_bps": "١٢"}, "slippageBps", "whole number"),
        ({"slippage_bps": "1_00"}, "slippageBps", "whole number"),
        ({"slippage_bps": True}, "slippageBps", "whole number"),
    ],
)
def test_each_rule_names_its_field(change: OrderChange, field: str, words: str) -> None:
    with pytest.raises(InvalidOrder) as caught:
        validate_order(**good(**change))
    assert [p.field for p in caught.value.problems] == [field]
    assert words in caught.value.problems[0].message


def test_every_problem_is_reported_at_once() -> None:
    with pytest.raises(InvalidOrder) as caught:
        validate_order(type="swap", token_in="SOL", token_out="USDC", amount="0", slippage_bps=0)
    assert {p.field for p in caught.value.problems} == {"type", "amount", "slippageBps"}


def test_trailing_zeros_do_not_count_as_decimal_places() -> None:
    request = validate_order(**good(token_in="USDC", token_out="SOL", amount="2.5000000"))
    assert request.amount == Decimal("2.5")


def test_decimal_places_are_counted_exactly_beyond_28_digits() -> None:
    with pytest.raises(InvalidOrder, match="31 decimal places"):
        validate_order(**good(amount="0.1000000000000000000000000000001"))
    assert validate_order(**good(amount="0.000000001")).amount == Decimal("1e-9")
    assert validate_order(**good(amount=Decimal("1e-9"))).amount == Decimal("1e-9")


def test_counting_decimal_places_is_linear_in_the_amounts_length() -> None:
    """A trusted caller's Decimal with 100,000 trailing zeros is counted in one pass."""
    huge = Decimal("1." + "0" * 100_000)
    assert validate_order(**good(amount=huge)).amount == 1
