"""Order persistence on real PostgreSQL: guarded transitions and gap-free event numbering."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest

from app.db.orders import Move
from app.domain.filters import OrderFilter
from app.domain.status import IllegalTransition, OrderStatus
from app.ids import uuid7
from app.runtime import Runtime
from tests.builders import order_request

S = OrderStatus


async def place(runtime: Runtime, **overrides: object) -> str:
    notice = await runtime.store.create(uuid7(), order_request(**overrides), "test")
    return notice.order.id


async def test_a_new_order_is_pending_with_event_one(runtime: Runtime) -> None:
    order_id = await place(runtime)
    order = await runtime.store.get(order_id)
    events = await runtime.store.events(order_id)
    assert order is not None
    assert order.status is S.PENDING
    assert order.amount == Decimal("1.5")
    assert [(e.seq, e.status, e.attempt) for e in events] == [(1, S.PENDING, 1)]


async def test_a_transition_from_the_expected_status_writes_the_next_event(
    runtime: Runtime,
) -> None:
    order_id = await place(runtime)
    notice = await runtime.store.transition(order_id, Move(S.PENDING, 1, S.ROUTING, 1))
    assert notice is not None
    assert (notice.event.seq, notice.event.status, notice.order.status) == (2, S.ROUTING, S.ROUTING)
    assert [e.seq for e in await runtime.store.events(order_id)] == [1, 2]


async def test_a_transition_from_a_stale_status_changes_nothing(runtime: Runtime) -> None:
    order_id = await place(runtime)
    assert await runtime.store.transition(order_id, Move(S.PENDING, 1, S.ROUTING, 1))
    stale = await runtime.store.transition(order_id, Move(S.PENDING, 1, S.ROUTING, 1))
    wrong_attempt = await runtime.store.transition(
        order_id, Move(S.ROUTING, 2, S.BUILDING, 2, dex="raydium")
    )
    assert stale is None
    assert wrong_attempt is None
    order = await runtime.store.get(order_id)
    assert order is not None
    assert order.status is S.ROUTING
    assert order.dex is None
    assert len(await runtime.store.events(order_id)) == 2


async def test_racing_writers_of_one_step_produce_exactly_one_event(runtime: Runtime) -> None:
    order_id = await place(runtime)
    results = await asyncio.gather(
        *(runtime.store.transition(order_id, Move(S.PENDING, 1, S.ROUTING, 1)) for _ in range(10))
    )
    assert sum(r is not None for r in results) == 1
    assert [e.seq for e in await runtime.store.events(order_id)] == [1, 2]


async def test_an_illegal_move_is_refused_before_touching_the_database(runtime: Runtime) -> None:
    order_id = await place(runtime)
    with pytest.raises(IllegalTransition):
        Move(S.PENDING, 1, S.CONFIRMED, 1)
    assert len(await runtime.store.events(order_id)) == 1


async def test_a_retry_clears_the_old_attempts_venue_and_keeps_the_cause(runtime: Runtime) -> None:
    order_id = await place(runtime)
    await runtime.store.transition(order_id, Move(S.PENDING, 1, S.ROUTING, 1))
    await runtime.store.transition(
        order_id, Move(S.ROUTING, 1, S.BUILDING, 1, dex="meteora", quoted_out=Decimal(200))
    )
    await runtime.store.note_retry(order_id, S.BUILDING, 1, "RPC timed out")
    order = await runtime.store.get(order_id)
    assert order is not None
    assert order.retry_reason == "RPC timed out"
    retry = await runtime.store.transition(
        order_id, Move(S.BUILDING, 1, S.ROUTING, 2, error="RPC timed out")
    )
    assert retry is not None
    assert (retry.event.attempt, retry.event.error) == (2, "RPC timed out")
    assert retry.order.dex is None
    assert retry.order.retry_reason is None
    assert retry.order.error is None, "a retry's cause is not the order's failure"


async def test_pages_walk_newest_first_and_filter(runtime: Runtime, empty_db: None) -> None:
    ids = [await place(runtime, token_in="JUP", token_out="USDC", amount="7") for _ in range(5)]
    moved = ids[1]
    await runtime.store.transition(moved, Move(S.PENDING, 1, S.ROUTING, 1))
    first = await runtime.store.page(OrderFilter(token_in="JUP", limit=2))
    assert [o.id for o in first.items] == ids[::-1][:2]
    assert first.next_cursor == ids[3]
    rest = await runtime.store.page(OrderFilter(token_in="JUP", limit=10, before=ids[3]))
    assert [o.id for o in rest.items] == ids[::-1][2:]
    assert rest.next_cursor is None
    routing = await runtime.store.page(OrderFilter(token_in="JUP", statuses=[S.ROUTING]))
    assert [o.id for o in routing.items] == [moved]
    counts = await runtime.store.count_by_status(OrderFilter(token_in="JUP"))
    assert counts == {S.PENDING: 4, S.ROUTING: 1}
