"""Sniper orders and launches without I/O: what a sniper request may name, how a launch
request is checked, and the judgement the trigger applies to each waiting sniper."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from app.domain.kinds.sniper import KIND, Call, Sight, judge
from app.domain.launches import MINT, Launch, Safety, mint_of, parse_launch, scheduled
from app.domain.order import Order
from app.domain.problems import InvalidOrder
from app.domain.requests import validate_order
from app.domain.status import OrderStatus
from app.domain.tokens import Side, awaited_market, unknown_market

VENUES = frozenset({"raydium", "meteora"})
NOW = datetime(2026, 12, 3, tzinfo=UTC)


def launch(**overrides: object) -> Launch:
    fields: dict[str, object] = {
        "symbol": "PEPE",
        "mint": mint_of("PEPE", 1),
        "decimals": 6,
        "venue": "raydium",
        "quote": "SOL",
        "base_reserve": Decimal(1_000_000),
        "quote_reserve": Decimal(100),
        "created_at": Decimal(10),
        "opens_at": Decimal(15),
        "safety": Safety(True, True, Decimal(10)),
        "rush_bps": 1000,
    }
    fields.update(overrides)
    return Launch(**fields)  # type: ignore[arg-type]


def sniper(**terms: str) -> Order:
    return Order(
        id="o1",
        type="sniper",
        market=awaited_market("SOL", "PEPE"),
        amount=Decimal(1),
        slippage_bps=500,
        status=OrderStatus.WAITING,
        attempt=1,
        last_seq=2,
        created_at=NOW,
        updated_at=NOW,
        terms=dict(terms),
    )


def sight(the_launch: Launch | None = None, **overrides: object) -> Sight:
    fields: dict[str, object] = {
        "launch": the_launch or launch(),
        "is_open": True,
        "opens_at": "14:00:15 UTC",
        "liquidity": Decimal(100),
        "best_out": Decimal(9000),
    }
    fields.update(overrides)
    return Sight(**fields)  # type: ignore[arg-type]


def test_a_sniper_names_a_token_by_symbol_or_mint_and_pays_with_a_quote_token() -> None:
    for name in ("PEPE", mint_of("PEPE", 1)):
        request = validate_order(
            type="sniper", token_in="SOL", token_out=name, amount="1", slippage_bps=100,
            terms={"maxPrice": "0.001", "requireMintRenounced": True},
        )  # fmt: skip
        assert request.market.token_out.symbol == name
        assert request.terms["requireMintRenounced"] == "true"
        assert request.bound is None


@pytest.mark.parametrize(
    ("token_in", "token_out", "terms", "field"),
    [
        ("JUP", "PEPE", {}, "tokenIn"),
        ("SOL", "pepe!", {}, "tokenOut"),
        ("SOL", "x" * 50, {}, "tokenOut"),
        ("SOL", "PEPE", {"maxPrice": "-1"}, "maxPrice"),
        ("SOL", "PEPE", {"maxTopHolderPct": "101"}, "maxTopHolderPct"),
        ("SOL", "PEPE", {"requireMintRenounced": "yes"}, "requireMintRenounced"),
        ("SOL", "PEPE", {"limitPrice": "1"}, "limitPrice"),
        ("SOL", "PEPE", {"expiresIn": 0}, "expiresIn"),
    ],
)
def test_bad_sniper_requests_name_the_field(
    token_in: str, token_out: str, terms: dict[str, object], field: str
) -> None:
    with pytest.raises(InvalidOrder) as refused:
        validate_order(
            type="sniper", token_in=token_in, token_out=token_out, amount="1",
            slippage_bps=100, terms=terms,
        )  # fmt: skip
    assert field in {p.field for p in refused.value.problems}


def test_mints_are_base58_addresses_fixed_by_the_seed() -> None:
    mint = mint_of("PEPE", 1)
    assert mint == mint_of("PEPE", 1) != mint_of("PEPE", 2)
    assert MINT.match(mint)


def test_a_launch_request_is_checked_field_by_field() -> None:
    spec, problems = parse_launch(
        {"symbol": "PEPE", "baseReserve": "1000000", "quoteReserve": "100"}, VENUES
    )
    assert problems == []
    assert spec is not None
    assert (spec.venue, spec.quote, spec.open_in) == ("raydium", "SOL", 5)
    assert spec.safety == Safety(True, True, Decimal(10))

    _, problems = parse_launch(
        {"symbol": "SOL", "venue": "orca", "quoteToken": "BONK", "baseReserve": "0",
         "quoteReserve": "x", "openIn": -1, "mintRenounced": "no", "topHolderPct": "250"},
        VENUES,
    )  # fmt: skip
    assert {p.field for p in problems} == {
        "symbol", "venue", "quoteToken", "baseReserve", "quoteReserve", "openIn",
        "mintRenounced", "topHolderPct",
    }  # fmt: skip
    assert any("already launched" in p.message for p in problems)


def roll(part: str) -> float:
    """A seeded uniform number, as the simulator's `Chaos.roll` gives."""
    return int.from_bytes(hashlib.blake2b(part.encode(), digest_size=8).digest()) / 2**64


def test_the_schedule_is_seeded() -> None:
    specs = [scheduled(slot, roll, ["raydium", "meteora"]) for slot in range(30)]
    assert specs[3] == scheduled(3, roll, ["raydium", "meteora"])
    assert all(10 <= s.open_in < 30 for s in specs)
    assert all(s.quote in ("SOL", "USDC") for s in specs)
    assert len({s.symbol for s in specs}) == 30


def test_the_opening_rush_climbs_over_its_first_seconds() -> None:
    opening = launch(rush_bps=1000)
    assert opening.rush(Decimal(15)) == 0
    assert opening.rush(Decimal(16)) == Decimal("0.05")
    assert opening.rush(Decimal(17)) == opening.rush(Decimal(60)) == Decimal("0.1")


def test_an_open_pool_meeting_every_condition_fires() -> None:
    verdict = judge(sniper(maxPrice="0.0002", minLiquidity="50"), sight())
    assert verdict.call is Call.FIRE
    assert verdict.details["observedOut"] == "9000"


@pytest.mark.parametrize(
    ("terms", "seen", "call", "words"),
    [
        ({}, {"is_open": False}, Call.WAIT, "pool created on raydium, opens at 14:00:15"),
        ({"minLiquidity": "50"}, {"liquidity": Decimal(3)}, Call.WAIT, "liquidity 3.00 SOL < 50"),
        ({"maxPrice": "0.0001"}, {}, Call.WAIT, "is above the max 0.0001"),
        ({}, {"best_out": None, "refusal": "too shallow"}, Call.WAIT, "too shallow"),
        (
            {"requireMintRenounced": "true"},
            {"launch": launch(safety=Safety(False, True, Decimal(1)))},
            Call.EXPIRE,
            "mint authority not renounced",
        ),
        (
            {"requireFreezeRenounced": "true"},
            {"launch": launch(safety=Safety(True, False, Decimal(1)))},
            Call.EXPIRE,
            "freeze authority not renounced",
        ),
        ({"maxTopHolderPct": "5"}, {}, Call.EXPIRE, "top holder has 10 % > 5 %"),
        ({}, {"launch": launch(quote="USDC")}, Call.EXPIRE, "trades it for USDC, not SOL"),
    ],
)
def test_a_sniper_waits_or_expires_saying_why(
    terms: dict[str, str], seen: dict[str, object], call: Call, words: str
) -> None:
    verdict = judge(sniper(**terms), sight(**seen))  # type: ignore[arg-type]
    assert verdict.call is call
    assert words in verdict.note


def test_a_safety_failure_expires_even_before_the_pool_opens() -> None:
    unsafe = launch(safety=Safety(False, True, Decimal(1)))
    verdict = judge(sniper(requireMintRenounced="true"), sight(unsafe, is_open=False))
    assert verdict.call is Call.EXPIRE


def test_its_bound_is_the_max_price_else_the_first_quote_less_slippage() -> None:
    capped = sniper(maxPrice="0.0002")
    assert KIND.first_bound(capped, Decimal(9000)) == Decimal(5000)
    assert KIND.placed_bound(capped.market, capped.amount, capped.terms) is None


def test_a_reason_to_wait_is_the_same_whatever_its_numbers() -> None:
    shallow = [judge(sniper(minLiquidity="50"), sight(liquidity=Decimal(n))) for n in (3, 4)]
    assert shallow[0].note != shallow[1].note
    assert shallow[0].reason == shallow[1].reason == "liquidity"
    dear = [judge(sniper(maxPrice="0.0001"), sight(best_out=Decimal(n))) for n in (100, 200)]
    assert dear[0].reason == dear[1].reason == "price"


def test_an_order_on_a_pair_not_known_here_keeps_its_sides() -> None:
    buy = unknown_market("SOL", "NEWTOKEN")
    assert (buy.pair.symbol, buy.side) == ("NEWTOKEN/SOL", Side.BUY_BASE)
    sell = unknown_market("NEWTOKEN", "USDC")
    assert (sell.pair.symbol, sell.side) == ("NEWTOKEN/USDC", Side.SELL_BASE)
    assert sell.token_in.symbol == "NEWTOKEN"
    assert sell.token_out.symbol == "USDC"
