"""The execution pipeline on real PostgreSQL and Redis, with scripted venue faults.

Each `execute` call is one queue run; calling it again is what the queue does on a retry.
"""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest

from app.db.orders import Move
from app.domain.retry import RetryLater
from app.domain.routing import min_received
from app.domain.status import OrderStatus
from app.domain.tokens import find_market
from app.events.schema import OrderEvent, amount
from app.ids import uuid7
from app.runtime import Runtime
from app.venues.base import SwapIntent
from app.venues.chaos import Fault, Step
from tests.builders import order_request
from tests.support.ledger import fills

S = OrderStatus


async def place(runtime: Runtime, **overrides: object) -> str:
    notice = await runtime.store.create(uuid7(), order_request(**overrides), "test")
    return notice.order.id


async def history(runtime: Runtime, order_id: str) -> list[OrderEvent]:
    events = await runtime.store.events(order_id)
    assert [e.seq for e in events] == list(range(1, len(events) + 1)), "seq must be gap-free"
    return events


def statuses(events: list[OrderEvent]) -> list[tuple[OrderStatus, int]]:
    return [(e.status, e.attempt) for e in events]


async def test_an_order_runs_pending_to_confirmed_with_every_step_recorded(
    runtime: Runtime,
) -> None:
    order_id = await place(runtime)
    assert await runtime.executor.execute(order_id) is S.CONFIRMED
    events = await history(runtime, order_id)
    assert statuses(events) == [
        (S.PENDING, 1), (S.ROUTING, 1), (S.BUILDING, 1), (S.SUBMITTED, 1), (S.CONFIRMED, 1)
    ]  # fmt: skip
    routing, building, submitted, confirmed = events[1:]
    assert {q.dex for q in routing.quotes or []} == {"raydium", "meteora"}
    best = max(routing.quotes or [], key=lambda q: Decimal(q.amount_out or 0))
    assert building.dex == best.dex
    assert submitted.tx_hash
    assert confirmed.tx_hash == submitted.tx_hash
    assert confirmed.amount_out
    assert confirmed.executed_price
    order = await runtime.store.get(order_id)
    assert order is not None
    assert amount(order.amount_out) == confirmed.amount_out
    assert order.amount_out is not None
    assert Decimal(order.amount_out) >= Decimal(order.min_out or "0")
    assert await fills(runtime, order_id) == 1


async def test_a_transient_failure_is_retried_as_attempt_two_with_its_cause(
    runtime: Runtime,
) -> None:
    order_id = await place(runtime)
    await runtime.simulator.faults.plan(order_id, Step.BUILD, Fault.TIMEOUT)
    with pytest.raises(RetryLater, match="timed out"):
        await runtime.executor.execute(order_id)
    waiting = await runtime.store.get(order_id)
    assert waiting is not None
    assert waiting.status is S.BUILDING
    assert "timed out" in (waiting.retry_reason or "")

    assert await runtime.executor.execute(order_id) is S.CONFIRMED
    events = await history(runtime, order_id)
    assert statuses(events)[3:] == [
        (S.ROUTING, 2), (S.BUILDING, 2), (S.SUBMITTED, 2), (S.CONFIRMED, 2)
    ]  # fmt: skip
    assert "timed out" in (events[3].error or "")
    assert await fills(runtime, order_id) == 1


async def test_a_lost_submit_answer_resumes_the_sent_transaction_not_a_new_one(
    runtime: Runtime,
) -> None:
    order_id = await place(runtime)
    await runtime.simulator.faults.plan(order_id, Step.SUBMIT, Fault.TIMEOUT_AFTER_SEND)
    with pytest.raises(RetryLater):
        await runtime.executor.execute(order_id)
    assert await runtime.executor.execute(order_id) is S.CONFIRMED
    events = await history(runtime, order_id)
    assert statuses(events)[-2:] == [(S.SUBMITTED, 1), (S.CONFIRMED, 1)]
    assert await fills(runtime, order_id) == 1


async def test_a_dropped_transaction_is_replaced_and_only_the_new_one_fills(
    runtime: Runtime,
) -> None:
    order_id = await place(runtime)
    await runtime.simulator.faults.plan(order_id, Step.LAND, Fault.DROP)
    with pytest.raises(RetryLater, match="blockhash expired"):
        await runtime.executor.execute(order_id)
    assert await runtime.executor.execute(order_id) is S.CONFIRMED
    events = await history(runtime, order_id)
    first_tx, second_tx = (e.tx_hash for e in events if e.status is S.SUBMITTED)
    assert first_tx != second_tx
    assert events[-1].tx_hash == second_tx
    assert await fills(runtime, order_id) == 1


async def test_slippage_fails_at_once_with_the_reason(runtime: Runtime) -> None:
    order_id = await place(runtime, slippage_bps=50)
    await runtime.simulator.faults.plan(order_id, Step.LAND, Fault.ADVERSE)
    assert await runtime.executor.execute(order_id) is S.FAILED
    events = await history(runtime, order_id)
    assert statuses(events)[-1] == (S.FAILED, 1)
    assert "slippage exceeded" in (events[-1].error or "")
    order = await runtime.store.get(order_id)
    assert order is not None
    assert "slippage exceeded" in (order.error or "")
    assert await fills(runtime, order_id) == 0


async def test_too_large_an_order_fails_for_liquidity_without_retrying(runtime: Runtime) -> None:
    order_id = await place(runtime, amount="100000000")
    assert await runtime.executor.execute(order_id) is S.FAILED
    events = await history(runtime, order_id)
    assert statuses(events) == [(S.PENDING, 1), (S.ROUTING, 1), (S.FAILED, 1)]
    assert "too shallow" in (events[-1].error or "")


async def test_it_gives_up_after_three_attempts(runtime: Runtime) -> None:
    order_id = await place(runtime)
    for attempt in (1, 2, 3):
        await runtime.simulator.faults.plan(order_id, Step.BUILD, Fault.TIMEOUT, attempt=attempt)
    for _ in range(2):
        with pytest.raises(RetryLater):
            await runtime.executor.execute(order_id)
    assert await runtime.executor.execute(order_id) is S.FAILED
    events = await history(runtime, order_id)
    assert [e.attempt for e in events if e.status is S.ROUTING] == [1, 2, 3]
    assert "gave up after 3 attempts" in (events[-1].error or "")
    assert await fills(runtime, order_id) == 0


async def test_a_retry_never_fills_below_the_bound_set_by_the_first_quote(
    runtime: Runtime,
) -> None:
    """Attempt 1 quotes Raydium and its send times out; attempt 2 hears only Meteora, whose
    offer is far below the first quote: the order fails rather than fill below the bound.
    (One venue only: split, 2,000 SOL would go to both.)"""
    order_id = await place(runtime, amount="2000", slippage_bps=1, routing="single")
    await runtime.simulator.faults.plan(order_id, Step.SUBMIT, Fault.TIMEOUT, venue="raydium")
    await runtime.simulator.faults.plan(
        order_id, Step.QUOTE, Fault.TIMEOUT, attempt=2, venue="raydium"
    )
    with pytest.raises(RetryLater, match="timed out"):
        await runtime.executor.execute(order_id)
    assert await runtime.executor.execute(order_id) is S.FAILED
    events = await history(runtime, order_id)
    first_routing = events[1]
    assert first_routing.status is S.ROUTING
    best_first = max(Decimal(q.amount_out or 0) for q in first_routing.quotes or [])
    bound = min_received(best_first, 1, find_market("SOL", "USDC").token_out)  # type: ignore[union-attr]
    order = await runtime.store.get(order_id)
    assert order is not None
    assert Decimal(order.min_out or 0) == bound
    assert Decimal(order.quoted_out or 0) == best_first
    failed = events[-1]
    assert statuses(events)[-2:] == [(S.ROUTING, 2), (S.FAILED, 2)]
    assert "slippage exceeded" in (failed.error or "")
    assert f"minimum {amount(bound)} USDC" in (failed.error or "")
    assert "meteora" in (failed.error or "")
    assert await fills(runtime, order_id) == 0


async def test_a_retry_that_meets_the_bound_fills_and_keeps_the_first_quote(
    runtime: Runtime,
) -> None:
    order_id = await place(runtime, slippage_bps=100)
    await runtime.simulator.faults.plan(order_id, Step.BUILD, Fault.TIMEOUT)
    with pytest.raises(RetryLater):
        await runtime.executor.execute(order_id)
    assert await runtime.executor.execute(order_id) is S.CONFIRMED
    events = await history(runtime, order_id)
    first_best = max(Decimal(q.amount_out or 0) for q in events[1].quotes or [])
    order = await runtime.store.get(order_id)
    assert order is not None
    assert Decimal(order.quoted_out or 0) == first_best
    assert Decimal(order.amount_out or 0) >= Decimal(order.min_out or 0)


async def test_two_runs_at_once_execute_the_order_once(runtime: Runtime) -> None:
    order_ids = [await place(runtime) for _ in range(10)]
    await asyncio.gather(
        *(runtime.executor.execute(order_id) for order_id in order_ids for _ in range(2))
    )
    for order_id in order_ids:
        events = await history(runtime, order_id)
        assert [e.status for e in events].count(S.CONFIRMED) == 1
        assert statuses(events)[-1] == (S.CONFIRMED, 1)
        assert await fills(runtime, order_id) == 1


async def test_a_run_after_the_order_ended_does_nothing(runtime: Runtime) -> None:
    order_id = await place(runtime)
    await runtime.executor.execute(order_id)
    before = await history(runtime, order_id)
    assert await runtime.executor.execute(order_id) is S.CONFIRMED
    assert await history(runtime, order_id) == before


async def test_an_order_left_in_routing_by_a_lost_worker_is_resumed_in_the_same_attempt(
    runtime: Runtime,
) -> None:
    """A run that stopped is not a failed attempt: it costs the order none of its three."""
    order_id = await place(runtime)
    await runtime.store.transition(order_id, Move(S.PENDING, 1, S.ROUTING, 1))
    assert await runtime.executor.execute(order_id) is S.CONFIRMED
    events = await history(runtime, order_id)
    assert statuses(events)[2] == (S.ROUTING, 1)
    assert "resumed" in (events[2].note or "")
    assert events[2].error is None
    assert statuses(events)[-1] == (S.CONFIRMED, 1)


async def test_an_order_left_in_building_by_a_lost_worker_is_sent_in_the_same_attempt(
    runtime: Runtime,
) -> None:
    order_id = await place(runtime)
    market = find_market("SOL", "USDC")
    assert market is not None
    await runtime.store.transition(order_id, Move(S.PENDING, 1, S.ROUTING, 1))
    quote = await runtime.simulated["meteora"].quote(market, Decimal("1.5"))
    min_out = min_received(quote.amount_out, 100, market.token_out)  # type: ignore[union-attr]
    await runtime.store.transition(
        order_id, Move(S.ROUTING, 1, S.BUILDING, 1, dex="meteora", min_out=min_out)
    )
    assert await runtime.executor.execute(order_id) is S.CONFIRMED
    events = await history(runtime, order_id)
    assert statuses(events)[-2:] == [(S.SUBMITTED, 1), (S.CONFIRMED, 1)]
    assert events[-1].dex == "meteora"
    assert await fills(runtime, order_id) == 1


async def test_a_lost_worker_after_sending_is_resumed_by_asking_the_venue(
    runtime: Runtime,
) -> None:
    """The worker sent the transaction and died before recording it: adopt, never resend."""
    order_id = await place(runtime)
    market = find_market("SOL", "USDC")
    assert market is not None
    venue = runtime.simulated["raydium"]
    await runtime.store.transition(order_id, Move(S.PENDING, 1, S.ROUTING, 1))
    quote = await venue.quote(market, Decimal("1.5"))
    min_out = min_received(quote.amount_out, 100, market.token_out)  # type: ignore[union-attr]
    await runtime.store.transition(
        order_id, Move(S.ROUTING, 1, S.BUILDING, 1, dex="raydium", min_out=min_out)
    )
    sent = await venue.submit(
        await venue.build(SwapIntent(order_id, 1, market, Decimal("1.5"), min_out))
    )
    assert await runtime.executor.execute(order_id) is S.CONFIRMED
    events = await history(runtime, order_id)
    assert statuses(events)[-2:] == [(S.SUBMITTED, 1), (S.CONFIRMED, 1)]
    assert events[-1].tx_hash == sent.tx_hash
    assert await fills(runtime, order_id) == 1


async def test_a_job_carrying_the_placed_order_runs_it_without_reading_it_first(
    runtime: Runtime,
) -> None:
    notice = await runtime.store.create(uuid7(), order_request(), "test")
    order_id = notice.order.id
    assert await runtime.executor.execute(order_id, placed=notice.order) is S.CONFIRMED
    assert statuses(await history(runtime, order_id))[-1] == (S.CONFIRMED, 1)


async def test_a_stale_placed_snapshot_falls_back_to_the_stored_order(runtime: Runtime) -> None:
    notice = await runtime.store.create(uuid7(), order_request(), "test")
    order_id = notice.order.id
    await runtime.store.transition(order_id, Move(S.PENDING, 1, S.ROUTING, 1))  # a lost run
    assert await runtime.executor.execute(order_id, placed=notice.order) is S.CONFIRMED
    events = await history(runtime, order_id)
    assert statuses(events)[2] == (S.ROUTING, 1)
    assert sum(e.status is S.CONFIRMED for e in events) == 1
    assert await fills(runtime, order_id) == 1


async def test_out_of_attempts_a_sent_transaction_is_settled_not_abandoned(
    runtime: Runtime,
) -> None:
    """The venue took the transaction but its answer was lost, on the last attempt."""
    order_id = await place(runtime)
    for attempt in (1, 2):
        await runtime.simulator.faults.plan(order_id, Step.BUILD, Fault.TIMEOUT, attempt=attempt)
    await runtime.simulator.faults.plan(order_id, Step.SUBMIT, Fault.TIMEOUT_AFTER_SEND, attempt=3)
    for _ in range(2):
        with pytest.raises(RetryLater):
            await runtime.executor.execute(order_id)
    assert await runtime.executor.execute(order_id) is S.CONFIRMED
    assert statuses(await history(runtime, order_id))[-2:] == [(S.SUBMITTED, 3), (S.CONFIRMED, 3)]
    assert await fills(runtime, order_id) == 1
