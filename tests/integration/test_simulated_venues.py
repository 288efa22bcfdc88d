"""The simulated venues against real Redis: pricing, determinism, an idempotent ledger."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator
from decimal import Decimal

import pytest
from redis.asyncio import Redis

from app.domain.failures import ExecutionError, FailureKind
from app.domain.retry import RETRY
from app.domain.routing import Quote, QuoteFailure, choose_best, min_received
from app.domain.tokens import Market, find_market
from app.settings import Settings
from app.venues.base import SwapIntent, TxState
from app.venues.chaos import Fault, Step
from app.venues.simulated import SimulatedVenue, build_venues
from app.venues.simulator import Simulator
from tests.support.clock import FakeClock


def market_for(token_in: str, token_out: str) -> Market:
    found = find_market(token_in, token_out)
    assert found is not None
    return found


SOL_USDC = market_for("SOL", "USDC")


@pytest.fixture
async def redis(settings: Settings) -> AsyncIterator[Redis]:
    client = Redis.from_url(settings.redis_url, protocol=2, decode_responses=True)
    yield client
    await client.aclose()


async def open_market(
    redis: Redis, *, seed: int = 42, failure_rate: float = 0.0, clock: FakeClock | None = None
) -> Simulator:
    market = Simulator(
        redis,
        seed=seed,
        failure_rate=failure_rate,
        latency_scale=1.0,
        clock=clock or FakeClock(),
        prefix=f"simtest-{secrets.token_hex(4)}",
    )
    await market.open()
    return market


async def fill(venue: SimulatedVenue, order_id: str, amount: str = "10", attempt: int = 1) -> str:
    market: Market = SOL_USDC
    quote = await venue.quote(market, Decimal(amount))
    assert isinstance(quote, Quote)
    min_out = min_received(quote.amount_out, 100, market.token_out)
    built = await venue.build(SwapIntent(order_id, attempt, market, Decimal(amount), min_out))
    receipt = await venue.submit(built)
    return receipt.tx_hash


async def test_same_seed_same_quotes_and_failures(redis: Redis) -> None:
    """Two fresh markets with one seed and one clock give identical answers."""
    runs = []
    for _ in range(2):
        market = await open_market(redis, seed=7, failure_rate=0.3)
        venues = build_venues(market)
        answers = []
        for i in range(20):
            for venue in venues.values():
                result = await venue.quote(SOL_USDC, Decimal(i + 1), order_id=f"o{i}", attempt=1)
                answers.append(result)
        runs.append(answers)
    assert runs[0] == runs[1]
    kinds = {type(a) for a in runs[0]}
    assert kinds == {Quote, QuoteFailure}, "a 30 % failure rate should both quote and fail"


async def test_a_different_seed_gives_a_different_market(redis: Redis) -> None:
    clock_a, clock_b = FakeClock(), FakeClock()
    venue_a = build_venues(await open_market(redis, seed=1, clock=clock_a))["raydium"]
    venue_b = build_venues(await open_market(redis, seed=2, clock=clock_b))["raydium"]
    clock_a.advance(500)
    clock_b.advance(500)
    assert await venue_a.quote(SOL_USDC, Decimal(1)) != await venue_b.quote(SOL_USDC, Decimal(1))


async def test_prices_drift_over_time(redis: Redis) -> None:
    clock = FakeClock()
    venue = build_venues(await open_market(redis, clock=clock))["meteora"]
    seen = set()
    for _ in range(10):
        clock.advance(60)
        quote = await venue.quote(SOL_USDC, Decimal(1))
        assert isinstance(quote, Quote)
        seen.add(quote.amount_out)
    assert len(seen) == 10


async def test_resubmitting_an_order_returns_its_transaction_and_fills_once(redis: Redis) -> None:
    clock = FakeClock()
    venue = build_venues(await open_market(redis, clock=clock))["raydium"]
    quote = await venue.quote(SOL_USDC, Decimal(10))
    assert isinstance(quote, Quote)
    intent = SwapIntent("order-1", 1, SOL_USDC, Decimal(10), quote.amount_out * Decimal("0.99"))
    first = await venue.submit(await venue.build(intent))
    again = await venue.submit(await venue.build(intent))
    assert again.tx_hash == first.tx_hash
    clock.advance(10)
    landed = await asyncio.gather(*(venue.status(first.tx_hash) for _ in range(8)))
    assert {r.state for r in landed if r} == {TxState.CONFIRMED}
    assert len({r.amount_out for r in landed if r}) == 1
    assert await venue.fills("order-1") == 1
    # After landing, a resubmission still returns the landed transaction.
    assert (await venue.submit(await venue.build(intent))).state is TxState.CONFIRMED
    assert await venue.fills("order-1") == 1


async def test_status_waits_for_landing_and_find_recovers_after_a_crash(redis: Redis) -> None:
    clock = FakeClock()
    market = await open_market(redis, clock=clock)
    tx_hash = await fill(build_venues(market)["meteora"], "order-2")
    # A new process (fresh venue objects) asks by tx hash and by order id.
    venue = build_venues(market)["meteora"]
    assert (await venue.status(tx_hash)).state is TxState.PENDING  # type: ignore[union-attr]
    found = await venue.find("order-2")
    assert found is not None
    assert found.tx_hash == tx_hash
    settled = await venue.status(tx_hash, wait=5)
    assert settled is not None
    assert settled.state is TxState.CONFIRMED
    assert await venue.status("unknown-hash") is None


async def test_a_dropped_transaction_can_be_replaced_by_a_new_attempt(redis: Redis) -> None:
    clock = FakeClock()
    market = await open_market(redis, clock=clock)
    venue = build_venues(market)["raydium"]
    await market.faults.plan("order-3", Step.LAND, Fault.DROP)
    first = await fill(venue, "order-3")
    clock.advance(10)
    dropped = await venue.status(first)
    assert dropped is not None
    assert dropped.state is TxState.DROPPED
    assert dropped.failure is FailureKind.BLOCKHASH_EXPIRED
    second = await fill(venue, "order-3", attempt=2)
    assert second != first
    clock.advance(10)
    assert (await venue.status(second)).state is TxState.CONFIRMED  # type: ignore[union-attr]
    # The replaced transaction is still known as dropped, never as the new fill.
    assert (await venue.status(first)).state is TxState.DROPPED  # type: ignore[union-attr]
    assert await venue.fills("order-3") == 1


async def test_an_adverse_move_fails_the_fill_as_slippage_and_leaves_no_trade(redis: Redis) -> None:
    clock = FakeClock()
    market = await open_market(redis, clock=clock)
    venue = build_venues(market)["raydium"]
    await market.faults.plan("order-4", Step.LAND, Fault.ADVERSE)
    tx_hash = await fill(venue, "order-4")
    clock.advance(10)
    result = await venue.status(tx_hash)
    assert result is not None
    assert result.state is TxState.FAILED
    assert result.failure is FailureKind.SLIPPAGE_EXCEEDED
    assert "slippage exceeded" in (result.reason or "")
    assert await venue.fills("order-4") == 0


async def test_a_lost_submit_answer_still_records_the_transaction(redis: Redis) -> None:
    market = await open_market(redis)
    venue = build_venues(market)["raydium"]
    await market.faults.plan("order-5", Step.SUBMIT, Fault.TIMEOUT_AFTER_SEND)
    quote = await venue.quote(SOL_USDC, Decimal(1))
    assert isinstance(quote, Quote)
    built = await venue.build(SwapIntent("order-5", 1, SOL_USDC, Decimal(1), Decimal(1)))
    with pytest.raises(ExecutionError) as caught:
        await venue.submit(built)
    assert RETRY.is_retryable(caught.value.kind)
    recorded = await venue.find("order-5")
    assert recorded is not None
    assert recorded.state is TxState.PENDING


async def test_a_trade_moves_the_pool_so_the_next_quote_is_worse(redis: Redis) -> None:
    clock = FakeClock()
    venue = build_venues(await open_market(redis, clock=clock))["meteora"]
    before = await venue.quote(SOL_USDC, Decimal(1))
    tx_hash = await fill(venue, "order-6", amount="500")
    clock.advance(3)
    assert (await venue.status(tx_hash)).state is TxState.CONFIRMED  # type: ignore[union-attr]
    after = await venue.quote(SOL_USDC, Decimal(1))
    assert isinstance(before, Quote)
    assert isinstance(after, Quote)
    assert after.amount_out < before.amount_out


async def test_pairs_without_a_pool_and_oversized_orders_are_refused(redis: Redis) -> None:
    venues = build_venues(await open_market(redis))
    usdc_usdt = find_market("USDC", "USDT")
    assert usdc_usdt is not None
    no_pool = await venues["raydium"].quote(usdc_usdt, Decimal(10))
    assert isinstance(no_pool, QuoteFailure)
    assert no_pool.kind is FailureKind.NO_ROUTE
    huge = [await v.quote(SOL_USDC, Decimal(10_000_000)) for v in venues.values()]
    with pytest.raises(ExecutionError) as caught:
        choose_best(huge)
    assert caught.value.kind is FailureKind.INSUFFICIENT_LIQUIDITY


async def test_status_waits_as_long_as_allowed_before_answering_pending(redis: Redis) -> None:
    clock = FakeClock()
    venue = build_venues(await open_market(redis, clock=clock))["raydium"]
    tx_hash = await fill(venue, "order-7")  # lands 0.4-2.5 s from now
    started = clock.now()
    early = await venue.status(tx_hash, wait=0.1)
    assert early is not None
    assert early.state is TxState.PENDING
    assert clock.now() - started == pytest.approx(0.1)


async def test_a_send_that_landed_and_failed_is_replaced_only_by_a_later_send(
    redis: Redis,
) -> None:
    """An order that waited again after its fill failed sends anew (another nonce: the seq
    of its new `building` step) in the same attempt; the same send again gets its landed
    transaction back, and a confirmed one is never replaced."""
    clock = FakeClock()
    venue = build_venues(await open_market(redis, clock=clock))["raydium"]
    quote = await venue.quote(SOL_USDC, Decimal(10))
    assert isinstance(quote, Quote)
    greedy = SwapIntent("again-1", 1, SOL_USDC, Decimal(10), quote.amount_out * 2, nonce=3)
    first = await venue.submit(await venue.build(greedy))
    clock.advance(10)
    failed = await venue.status(first.tx_hash)
    assert failed is not None
    assert failed.state is TxState.FAILED

    repeat = await venue.submit(await venue.build(greedy))
    assert (repeat.tx_hash, repeat.state) == (first.tx_hash, TxState.FAILED)

    fair = SwapIntent(
        "again-1", 1, SOL_USDC, Decimal(10), quote.amount_out * Decimal("0.9"), nonce=7
    )
    second = await venue.submit(await venue.build(fair))
    assert second.tx_hash != first.tx_hash
    clock.advance(10)
    landed = await venue.status(second.tx_hash)
    assert landed is not None
    assert landed.state is TxState.CONFIRMED
    assert landed.nonce == 7
    assert (await venue.status(first.tx_hash)).state is TxState.DROPPED  # type: ignore[union-attr]

    later = SwapIntent("again-1", 1, SOL_USDC, Decimal(10), Decimal(1), nonce=9)
    assert (await venue.submit(await venue.build(later))).tx_hash == second.tx_hash
    assert await venue.fills("again-1") == 1
