from decimal import Decimal

import pytest

from app.domain.amm import spot_price, swap_out


def test_output_matches_hand_computed_constant_product() -> None:
    # x=1000, y=150000, sell 10 with a 0.25 % fee:
    # in_after_fee = 9.975; out = 150000 * 9.975 / (1000 + 9.975) = 1481.4723137
    swap = swap_out(Decimal(1000), Decimal(150000), Decimal(10), Decimal("0.0025"))
    assert swap.fee == Decimal("0.025")
    assert swap.amount_out.quantize(Decimal("0.0000001")) == Decimal("1481.4723137")
    # impact (fee aside) = 9.975 / 1009.975 = 98.765 bps
    assert swap.price_impact_bps.quantize(Decimal("0.001")) == Decimal("98.765")


def test_without_fee_the_invariant_holds_exactly() -> None:
    x, y, a = Decimal(500), Decimal(2000), Decimal(100)
    swap = swap_out(x, y, a, Decimal(0))
    assert (x + a) * (y - swap.amount_out) == x * y


def test_bigger_orders_get_worse_prices() -> None:
    x, y, fee = Decimal(1000), Decimal(150000), Decimal("0.001")
    small = swap_out(x, y, Decimal(1), fee)
    large = swap_out(x, y, Decimal(100), fee)
    assert large.amount_out / 100 < small.amount_out / 1
    assert large.price_impact_bps > small.price_impact_bps


def test_spot_price_is_out_per_in() -> None:
    assert spot_price(Decimal(1000), Decimal(150000)) == Decimal(150)


@pytest.mark.parametrize(
    ("reserve_in", "reserve_out", "amount", "fee"),
    [(0, 1, 1, 0), (1, 1, 0, 0), (1, 1, -1, 0), (1, 1, 1, 1), (1, 1, 1, -0.1)],
)
def test_refuses_impossible_swaps(
    reserve_in: int, reserve_out: int, amount: int, fee: float
) -> None:
    with pytest.raises(ValueError, match=r"must|needs"):
        swap_out(Decimal(reserve_in), Decimal(reserve_out), Decimal(amount), Decimal(str(fee)))
