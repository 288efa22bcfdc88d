"""A sniper through the execution pipeline, on a market of its own with a clock the test
moves: a fill that misses its bound waits again, and the next trigger sends a new
transaction (not the failed one again) that fills once."""

from __future__ import annotations

import secrets
from decimal import Decimal

from app.db.orders import Fired
from app.domain.launches import LaunchSpec, Safety
from app.domain.routing import Quote
from app.domain.status import OrderStatus
from app.domain.tokens import find_market
from app.ids import uuid7
from app.runtime import Runtime
from app.services.execution import Executor
from app.services.quoting import Quoter
from app.venues.chaos import Fault, Step
from app.venues.router import SimulatedRouter
from app.venues.simulated import build_venues
from app.venues.simulator import Simulator, pool_fields, pool_state
from tests.builders import order_request
from tests.support.clock import FakeClock

S = OrderStatus


async def test_a_sniper_whose_fill_missed_its_bound_waits_and_fills_on_the_next_trigger(
    runtime: Runtime,
) -> None:
    clock = FakeClock()
    simulator = Simulator(
        runtime.redis,
        seed=5,
        failure_rate=0.0,
        latency_scale=0.0,
        clock=clock,
        prefix=f"snipe-{secrets.token_hex(4)}",
    )
    await simulator.open()
    venues = build_venues(simulator)
    executor = Executor(
        runtime.store,
        venues,
        Quoter(venues, timeout=5.0, can_split=True),
        runtime.publisher,
        runtime.limits,
        router=SimulatedRouter(simulator, venues),
    )
    symbol = "X" + secrets.token_hex(3).upper()
    safety = Safety(True, True, Decimal(5))
    launch = await simulator.launch(
        LaunchSpec(symbol, "raydium", "SOL", Decimal(1_000_000), Decimal(100), 0, safety)
    )
    assert launch is not None
    clock.advance(5)  # past the opening rush
    market = find_market("SOL", symbol)
    assert market is not None
    quote = await venues["raydium"].quote(market, Decimal(1))
    assert isinstance(quote, Quote)
    max_price = (Decimal(1) / quote.amount_out * Decimal("1.01")).quantize(Decimal("1e-12"))
    request = order_request(
        type="sniper", token_out=symbol, amount="1", terms={"maxPrice": str(max_price)}
    )
    order_id = (await runtime.store.create(uuid7(), request, "test")).order.id
    assert await executor.execute(order_id) is S.WAITING

    # Fired; someone else's trade lands first (2 % against us): the fill misses its bound.
    pool_key = simulator.pool_key("raydium", launch.pair)
    calm = pool_state(await simulator.book.entry_of(pool_key))
    await simulator.faults.plan(order_id, Step.LAND, Fault.ADVERSE)
    fired = await runtime.store.trigger([Fired(order_id, 1, [], "triggered (test)", {})])
    assert fired
    assert await executor.execute(order_id) is S.WAITING
    first = await runtime.store.events(order_id)
    failed_tx = next(e.tx_hash for e in first if e.status is S.SUBMITTED)
    assert "waiting again" in (first[-1].note or "")

    # The price comes back (arbitrage, here written by hand); the trigger fires it again.
    shocked = pool_state(await simulator.book.entry_of(pool_key))
    back = type(calm)(
        shocked.liquidity, calm.skew, shocked.updated_at, shocked.version + 1, shocked.opens_at
    )
    for name, value in pool_fields(back).items():
        await runtime.redis.hset(pool_key, name, value)
    assert await runtime.store.trigger([Fired(order_id, 1, [], "triggered again (test)", {})])
    assert await executor.execute(order_id) is S.CONFIRMED

    events = await runtime.store.events(order_id)
    sent = [e.tx_hash for e in events if e.status is S.SUBMITTED]
    assert sent[0] == failed_tx
    assert sent[-1] != failed_tx, "a new transaction, not the failed one again"
    assert {e.attempt for e in events} == {1}, "waiting again costs the order no attempt"
    assert await venues["raydium"].fills(order_id) == 1
    order = await runtime.store.get(order_id)
    assert order is not None
    assert order.amount_out is not None
    assert order.amount_out >= (order.min_out or 0)
