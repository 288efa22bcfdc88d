"""The dashboard's charts, drawn from one window of fills, without I/O."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from app.domain.order import Fill
from app.web.present import confirm_times, nice_ceiling, price_lines, venue_shares

T0 = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)


def fill(i: int, *, seconds: float = 1.0, dex: str = "raydium", pair: str = "SOL/USDC",
         price: str | None = "150") -> Fill:  # fmt: skip
    placed = T0 + timedelta(seconds=i)
    return Fill(
        order_id=f"order-{i}",
        placed_at=placed,
        confirmed_at=placed + timedelta(seconds=seconds),
        dex=dex,
        pair=pair,
        price=Decimal(price) if price is not None else None,
    )


@pytest.mark.parametrize(
    ("value", "top"),
    [(0.0, 1.0), (0.37, 0.5), (1.0, 1.0), (1.2, 2.0), (2.1, 2.5), (3.9, 5.0), (6.0, 10.0)],
)
def test_the_time_scale_ends_on_a_round_number(value: float, top: float) -> None:
    assert nice_ceiling(value) == pytest.approx(top)


def test_times_come_with_a_scale_and_the_slowest_bar_reaches_its_height() -> None:
    fills = [fill(3, seconds=1.2), fill(2, seconds=0.4), fill(1, seconds=0.8)]  # newest first

    bars = confirm_times(fills)

    assert [t.label for t in bars.ticks] == ["0", "1 s", "2 s"]
    assert [round(b.seconds, 1) for b in bars.bars] == [0.8, 0.4, 1.2], "oldest left"
    assert bars.max_seconds == pytest.approx(1.2)
    assert bars.median_seconds == pytest.approx(0.8)
    slowest = bars.bars[-1]
    assert slowest.height == pytest.approx(1.2 / 2.0 * 80)


def test_shares_and_times_come_from_the_same_fills() -> None:
    fills = [fill(i, dex="meteora" if i % 4 == 0 else "raydium") for i in range(8)]

    shares = {s.label: s.count for s in venue_shares(fills)}

    assert shares == {"meteora": 2, "raydium": 6}
    assert sum(shares.values()) == len(confirm_times(fills).bars)


def test_a_price_line_per_pair_oldest_left_busiest_pair_first() -> None:
    fills = [
        fill(5, price="152"), fill(4, pair="JUP/USDC", price="0.89"), fill(3, price="149"),
        fill(2, price="150"), fill(1, pair="JUP/USDC", price="0.91"), fill(0, price=None),
    ]  # fmt: skip

    lines = price_lines(fills)

    assert [line.pair for line in lines] == ["SOL/USDC", "JUP/USDC"]
    sol = lines[0]
    assert (sol.fills, sol.low, sol.high, sol.last) == (3, Decimal(149), Decimal(152), Decimal(152))
    assert sol.rising
    ys = [float(point.split(",")[1]) for point in sol.points.split()]
    assert ys[2] < ys[0] < ys[1], "higher prices are drawn higher (smaller y)"
    assert not lines[1].rising


def test_a_pair_with_a_single_fill_draws_no_line() -> None:
    assert price_lines([fill(1, pair="BONK/SOL", price="0.0000002")]) == []
