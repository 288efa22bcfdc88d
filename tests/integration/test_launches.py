"""Token launches on the simulated venues, against real Redis: a pool that does not trade
before its open time, an opening rush, depth that changes, a schedule that launches once."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from decimal import Decimal

import pytest
from redis.asyncio import Redis

from app.domain.failures import FailureKind
from app.domain.launches import LaunchSpec, Safety
from app.domain.routing import Quote, QuoteFailure
from app.domain.tokens import Market, find_market
from app.services.launches import Launches, LaunchTaken
from app.settings import Settings
from app.venues.base import SwapIntent, TxState
from app.venues.simulated import build_venues
from app.venues.simulator import Simulator
from tests.support.clock import FakeClock


@pytest.fixture
async def redis(settings: Settings) -> AsyncIterator[Redis]:
    client = Redis.from_url(settings.redis_url, protocol=2, decode_responses=True)
    yield client
    await client.aclose()


async def market_of(redis: Redis, clock: FakeClock) -> Simulator:
    simulator = Simulator(
        redis,
        seed=11,
        failure_rate=0.0,
        latency_scale=0.0,
        clock=clock,
        prefix=f"launchtest-{secrets.token_hex(4)}",
    )
    await simulator.open()
    return simulator


def spec(symbol: str, **overrides: object) -> LaunchSpec:
    fields: dict[str, object] = {
        "symbol": symbol,
        "venue": "raydium",
        "quote": "SOL",
        "base_reserve": Decimal(1_000_000),
        "quote_reserve": Decimal(100),
        "open_in": 5,
        "safety": Safety(True, True, Decimal(10)),
    }
    fields.update(overrides)
    return LaunchSpec(**fields)  # type: ignore[arg-type]


def fresh() -> str:
    return "Q" + secrets.token_hex(3).upper()


def buying(symbol: str) -> Market:
    market = find_market("SOL", symbol)
    assert market is not None, f"{symbol} trades for SOL once launched"
    return market


async def test_a_pool_trades_only_from_its_open_time_and_late_buyers_pay_more(
    redis: Redis,
) -> None:
    clock = FakeClock()
    simulator = await market_of(redis, clock)
    venue = build_venues(simulator)["raydium"]
    symbol = fresh()
    launch = await simulator.launch(spec(symbol, open_in=5))
    assert launch is not None
    market = buying(symbol)

    early = await venue.quote(market, Decimal(1))
    assert isinstance(early, QuoteFailure)
    assert early.kind is FailureKind.NOT_OPEN
    assert "not open yet" in early.message
    # Sent before the open, landing before it: refused, nothing filled.
    sent = await venue.submit(
        await venue.build(SwapIntent("early-bird", 1, market, Decimal(1), Decimal(1)))
    )
    landed = await venue.status(sent.tx_hash)
    assert landed is not None
    assert landed.state is TxState.FAILED
    assert "not open yet" in (landed.reason or "")

    clock.advance(5)
    at_open = await venue.quote(market, Decimal(1))
    clock.advance(2)
    after_rush = await venue.quote(market, Decimal(1))
    assert isinstance(at_open, Quote)
    assert isinstance(after_rush, Quote)
    assert after_rush.amount_out < at_open.amount_out, "the opening rush lifted the price"


async def test_a_symbol_launches_once(redis: Redis) -> None:
    simulator = await market_of(redis, FakeClock())
    launches = Launches(simulator, build_venues(simulator), redis, every=0)
    symbol = fresh()
    pool = await launches.launch(spec(symbol))
    assert (pool.symbol, pool.status, pool.pair) == (symbol, "created", f"{symbol}/SOL")

    with pytest.raises(LaunchTaken):
        await launches.launch(spec(symbol, venue="meteora"))


async def test_liquidity_changes_the_depth_not_the_price(redis: Redis) -> None:
    clock = FakeClock()
    simulator = await market_of(redis, clock)
    launches = Launches(simulator, build_venues(simulator), redis, every=0)
    symbol = fresh()
    before = await launches.launch(spec(symbol, open_in=0))
    launch = launches.find(symbol)
    assert launch is not None

    after = await launches.change_liquidity(launch, Decimal(3))

    assert Decimal(after.quote_reserve) == pytest.approx(
        Decimal(before.quote_reserve) * 3, rel=Decimal("1e-6")
    )
    assert Decimal(after.price) == pytest.approx(Decimal(before.price), rel=Decimal("1e-6"))
    assert launches.find(launch.mint) == launch, "a launch is found by its mint too"


async def test_the_schedule_launches_each_slot_once_across_workers(redis: Redis) -> None:
    clock = FakeClock(start=1_800_000_010.0)
    simulator = await market_of(redis, clock)
    venues = build_venues(simulator)
    one, other = (Launches(simulator, venues, redis, every=60) for _ in range(2))

    await one.tick()
    await other.tick()

    pools = await one.pools()
    assert len(pools) == 1
    assert pools[0].status == "created"
    assert 10 <= (pools[0].opens_at - pools[0].created_at).total_seconds() < 30
    clock.advance(60)
    await other.tick()
    assert len(await one.pools()) == 2, "the next slot launches the next token"
