"""Split routes on real PostgreSQL and Redis: chosen when they pay, sent as one transaction
that lands whole or not at all, never below the best single venue.

Each test trades on its own fresh simulated market (seeded pools, no earlier trades, no
price moves): the calm market the numbers below are about.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from decimal import Decimal

import pytest

from app.domain.amm import BPS
from app.domain.retry import RetryLater
from app.domain.routing import Quote, QuoteFailure, min_received
from app.domain.split import Leg
from app.domain.status import OrderStatus
from app.domain.tokens import Market, find_market
from app.events.schema import OrderEvent
from app.ids import uuid7
from app.runtime import Runtime
from app.services.execution import Executor
from app.services.quoting import Quoter
from app.venues.base import SwapIntent, TxState
from app.venues.chaos import Fault, Step
from app.venues.router import SimulatedRouter
from app.venues.simulated import SimulatedVenue, build_venues
from app.venues.simulator import Simulator, pool_fields, pool_state
from tests.builders import order_request

S = OrderStatus


def _market(token_in: str, token_out: str) -> Market:
    found = find_market(token_in, token_out)
    assert found is not None
    return found


SOL_USDC = _market("SOL", "USDC")


@dataclass
class Calm:
    runtime: Runtime
    simulator: Simulator
    venues: dict[str, SimulatedVenue]
    router: SimulatedRouter
    quoter: Quoter
    executor: Executor

    async def place(self, **overrides: object) -> str:
        request = order_request(**overrides)
        return (await self.runtime.store.create(uuid7(), request, "test")).order.id

    async def events(self, order_id: str) -> list[OrderEvent]:
        return await self.runtime.store.events(order_id)

    async def pool(self, venue: str) -> dict[str, str]:
        key = self.simulator.pool_key(venue, SOL_USDC.pair)
        return {str(k): str(v) for k, v in (await self.runtime.redis.hgetall(key)).items()}

    async def venue_fills(self, order_id: str) -> int:
        return sum([await venue.fills(order_id) for venue in self.venues.values()])


@pytest.fixture
async def calm(runtime: Runtime) -> Calm:
    simulator = Simulator(
        runtime.redis,
        seed=20261203,
        failure_rate=0.0,
        latency_scale=0.0,
        prefix=f"calm-{secrets.token_hex(4)}",
    )
    await simulator.open()
    venues = build_venues(simulator)
    router = SimulatedRouter(simulator, venues)
    quoter = Quoter(venues, timeout=5.0, can_split=True)
    executor = Executor(
        runtime.store, venues, quoter, runtime.publisher, runtime.limits, router=router
    )
    return Calm(runtime, simulator, venues, router, quoter, executor)


def route_of(event: OrderEvent) -> list[Leg]:
    return [view.leg() for view in event.route or []]


def best_single(event: OrderEvent) -> Decimal:
    return max(Decimal(q.amount_out) for q in event.quotes or [] if q.amount_out)


async def test_a_thousand_sol_splits_mostly_to_raydium_and_lands_as_one_transaction(
    calm: Calm,
) -> None:
    order_id = await calm.place(amount="1000", slippage_bps=50)
    before = {dex: await calm.pool(dex) for dex in calm.venues}

    assert await calm.executor.execute(order_id) is S.CONFIRMED

    events = await calm.events(order_id)
    assert [e.status for e in events] == [
        S.PENDING,
        S.ROUTING,
        S.BUILDING,
        S.SUBMITTED,
        S.CONFIRMED,
    ]
    routing, building, submitted, confirmed = events[1:]
    legs = route_of(routing)
    assert sorted(leg.dex for leg in legs) == ["meteora", "raydium"]
    assert sum(leg.amount_in for leg in legs) == Decimal(1000)
    assert sum(leg.bps for leg in legs) == 10_000
    shares = {leg.dex: leg.bps for leg in legs}
    assert 7000 <= shares["raydium"] <= 8000
    total = sum(leg.quoted_out for leg in legs)
    gain_bps = (total - best_single(routing)) / best_single(routing) * BPS
    assert gain_bps >= 30

    assert building.dex == "raydium+meteora"
    assert route_of(building) == legs
    assert submitted.tx_hash
    assert confirmed.tx_hash == submitted.tx_hash
    paid = route_of(confirmed)
    assert [leg.dex for leg in paid] == [leg.dex for leg in legs]
    assert all(leg.amount_out and leg.amount_out > 0 for leg in paid)
    assert sum(leg.amount_out or 0 for leg in paid) == Decimal(confirmed.amount_out or "0")

    order = await calm.runtime.store.get(order_id)
    assert order is not None
    assert order.route is not None
    assert order.dex == "raydium+meteora"
    assert order.quoted_out == total
    assert order.amount_out is not None
    assert order.amount_out >= (order.min_out or 0)
    assert [leg.amount_out for leg in order.route] == [leg.amount_out for leg in paid]
    # One transaction, on both pools: the router filled it once; no venue alone did.
    assert await calm.router.fills(order_id) == 1
    assert await calm.venue_fills(order_id) == 0
    for dex, pool in before.items():
        after = await calm.pool(dex)
        assert int(after["version"]) == int(pool["version"]) + 1, f"{dex}'s pool took its leg"


@pytest.mark.parametrize("sol", ["1", "10", "100", "1000", "3000", "10000"])
async def test_the_route_never_pays_less_than_the_best_single_venue(calm: Calm, sol: str) -> None:
    board = await calm.quoter.board(order_request(amount=sol))

    assert board.route is not None
    singles = [r.amount_out for r in board.results if isinstance(r, Quote)]
    assert board.route.amount_out >= max(singles)
    assert sum(leg.amount_in for leg in board.route.legs) == Decimal(sol)


async def test_single_routing_keeps_the_order_on_one_venue(calm: Calm) -> None:
    order_id = await calm.place(amount="1000", routing="single")

    assert await calm.executor.execute(order_id) is S.CONFIRMED

    events = await calm.events(order_id)
    assert [leg.dex for leg in route_of(events[1])] == ["raydium"]
    assert events[2].dex == "raydium"
    assert events[2].route is None
    order = await calm.runtime.store.get(order_id)
    assert order is not None
    assert order.route is None
    assert order.routing == "single"
    assert await calm.venue_fills(order_id) == 1
    assert await calm.router.fills(order_id) == 0


async def test_an_order_no_venue_takes_whole_fills_when_split(calm: Calm) -> None:
    """35,000 SOL would move either SOL/USDC pool more than it allows; split, both take it."""
    alone = await calm.place(amount="35000", slippage_bps=100, routing="single")
    assert await calm.executor.execute(alone) is S.FAILED
    assert "too shallow" in ((await calm.events(alone))[-1].error or "")

    order_id = await calm.place(amount="35000", slippage_bps=100)

    assert await calm.executor.execute(order_id) is S.CONFIRMED
    routing = (await calm.events(order_id))[1]
    assert all("too shallow" in (q.error or "") for q in routing.quotes or [])
    assert len(route_of(routing)) == 2
    assert await calm.router.fills(order_id) == 1


async def test_a_route_whose_total_falls_below_the_bound_fills_no_leg(calm: Calm) -> None:
    """A trade ahead of ours moves both pools 2 %: the total misses the minimum, so neither
    leg fills — the order fails whole, with the route's reason."""
    order_id = await calm.place(amount="1000", slippage_bps=1)
    await calm.simulator.faults.plan(order_id, Step.LAND, Fault.ADVERSE)
    before = {dex: (await calm.pool(dex))["liquidity"] for dex in calm.venues}

    assert await calm.executor.execute(order_id) is S.FAILED

    failed = (await calm.events(order_id))[-1]
    assert "slippage exceeded on raydium+meteora" in (failed.error or "")
    assert await calm.router.fills(order_id) == 0
    assert await calm.venue_fills(order_id) == 0
    # Someone else's trade moved the prices; our swap changed no pool's depth.
    assert {dex: (await calm.pool(dex))["liquidity"] for dex in calm.venues} == before


async def test_a_leg_its_venue_refuses_at_landing_fails_the_whole_route(calm: Calm) -> None:
    """Meteora's pool loses most of its depth between sending and landing: its leg is now too
    big for it, so the route fails and Raydium's pool is not touched either."""
    market: Market = SOL_USDC
    amount = Decimal(1000)
    board = await calm.quoter.board(order_request(amount="1000"))
    assert board.route is not None
    assert board.route.split
    legs = board.route.legs
    floor = min_received(board.route.amount_out, 100, market.token_out)
    sent = await calm.router.submit(
        await calm.router.build(SwapIntent("split-leg-refused", 1, market, amount, floor, legs))
    )
    meteora_key = calm.simulator.pool_key("meteora", market.pair)
    drained = pool_state(await calm.pool("meteora"))
    drained = type(drained)(drained.liquidity / 50, drained.skew, drained.updated_at, 7)
    for name, value in pool_fields(drained).items():
        await calm.runtime.redis.hset(meteora_key, name, value)
    raydium_before = await calm.pool("raydium")

    landed = await calm.router.status(sent.tx_hash)

    assert landed is not None
    assert landed.state is TxState.FAILED
    assert "too shallow" in (landed.reason or "")
    assert await calm.pool("raydium") == raydium_before
    assert (await calm.pool("meteora"))["liquidity"] == str(drained.liquidity)
    assert await calm.router.fills("split-leg-refused") == 0


async def test_a_dropped_route_is_sent_again_reoptimised_and_fills_once(calm: Calm) -> None:
    order_id = await calm.place(amount="1000", slippage_bps=100)
    await calm.simulator.faults.plan(order_id, Step.LAND, Fault.DROP)
    with pytest.raises(RetryLater, match="blockhash expired"):
        await calm.executor.execute(order_id)

    assert await calm.executor.execute(order_id) is S.CONFIRMED

    events = await calm.events(order_id)
    routings = [e for e in events if e.status is S.ROUTING]
    assert [e.attempt for e in routings] == [1, 2]
    assert all(len(route_of(e)) == 2 for e in routings)
    first_tx, second_tx = (e.tx_hash for e in events if e.status is S.SUBMITTED)
    assert first_tx != second_tx
    assert await calm.router.fills(order_id) == 1
    assert await calm.venue_fills(order_id) == 0


async def test_a_lost_answer_from_the_router_is_adopted_not_sent_again(calm: Calm) -> None:
    order_id = await calm.place(amount="1000", slippage_bps=100)
    await calm.simulator.faults.plan(order_id, Step.SUBMIT, Fault.TIMEOUT_AFTER_SEND)
    with pytest.raises(RetryLater, match="answer timed out"):
        await calm.executor.execute(order_id)

    assert await calm.executor.execute(order_id) is S.CONFIRMED

    events = await calm.events(order_id)
    assert [e.attempt for e in events if e.status is S.ROUTING] == [1]
    assert events[-1].route is not None
    assert len(events[-1].route) == 2
    assert await calm.router.fills(order_id) == 1


async def test_an_order_too_small_to_split_stays_on_its_best_venue(calm: Calm) -> None:
    board = await calm.quoter.board(order_request(amount="1.5"))

    assert board.route is not None
    assert not board.route.split
    best = max((r for r in board.results if isinstance(r, Quote)), key=lambda q: q.amount_out)
    assert board.route.legs[0].dex == best.dex
    assert board.route.amount_out == best.amount_out
    assert not any(isinstance(r, QuoteFailure) for r in board.results)
