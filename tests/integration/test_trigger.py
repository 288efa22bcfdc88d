"""The limit trigger against real PostgreSQL and Redis: one leader, each order fired once,
and nothing lost when the index is (or a worker's entry never got) written."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from decimal import Decimal

import pytest

from app.db.orders import Move
from app.domain.status import OrderStatus
from app.domain.tokens import find_market
from app.ids import uuid7
from app.runtime import Runtime, open_runtime
from app.services.trigger import Trigger
from app.settings import Settings
from tests.builders import order_request
from tests.support.infra import Infra, fresh_database
from tests.support.waiting import eventually

S = OrderStatus
pytestmark = pytest.mark.usefixtures("empty_db")


@pytest.fixture(scope="module")
def own_database(infra: Infra) -> Iterator[str]:
    """A database of these tests' own: a trigger taking the lead indexes every waiting
    order in its database."""
    with fresh_database(infra, "oee_test_trigger") as url:
        yield url


@pytest.fixture
async def runtime(settings: Settings, own_database: str) -> AsyncIterator[Runtime]:
    opened = await open_runtime(settings.replace(database_url=own_database))
    try:
        yield opened
    finally:
        await opened.close()


OWNER = "key-trigger-tests"


async def waiting_limit(runtime: Runtime, limit_price: str, *, index: bool = True) -> str:
    """A limit order selling 1 SOL for USDC, stored and moved to `waiting` as a worker does."""
    request = order_request(type="limit", slippage_bps=None, terms={"limitPrice": limit_price})
    order = (await runtime.store.create(uuid7(), request, "test", OWNER)).order
    if index:
        await runtime.executor.execute(order.id)  # the limit policy: wait, and join the index
    else:  # as if the worker died between storing `waiting` and indexing the order
        await runtime.store.transition(order.id, Move(S.PENDING, 1, S.WAITING, 1))
    return order.id


def another_trigger(runtime: Runtime) -> Trigger:
    """A second trigger, as a second worker process has."""
    return Trigger(
        store=runtime.store,
        publisher=runtime.publisher,
        queue=runtime.queue,
        index=runtime.limits,
        venues=runtime.venues,
        redis=runtime.redis,
        namespace=runtime.settings.queue_name,
    )


async def price_now(runtime: Runtime) -> Decimal:
    market = find_market("SOL", "USDC")
    assert market is not None
    board = await runtime.quoter.board(order_request(amount=Decimal(1)))
    assert board.price is not None
    return board.price


async def statuses(runtime: Runtime, order_id: str) -> list[OrderStatus]:
    return [event.status for event in await runtime.store.events(order_id)]


async def test_only_one_trigger_leads_and_another_takes_over_when_it_stops(
    runtime: Runtime,
) -> None:
    first, second = runtime.trigger, another_trigger(runtime)
    await first.tick()
    await second.tick()
    assert (first.leading, second.leading) == (True, False)

    # The leader dies (it stops renewing): the other leads once the lease runs out.
    async def second_leads() -> bool:
        await second.tick()
        return second.leading

    await eventually(second_leads, timeout=10, what="the second trigger to take over")
    await first.tick()
    assert not first.leading, "the old leader finds the lease taken and stands down"


async def test_two_triggers_scanning_at_once_start_each_crossed_order_once(
    runtime: Runtime,
) -> None:
    below = str((await price_now(runtime) * Decimal("0.5")).quantize(Decimal("0.01")))
    orders = [await waiting_limit(runtime, below) for _ in range(20)]
    queued_before = await runtime.queue.live(orders)
    assert queued_before == set()

    # Both act as if they led (a lease is a hint; the compare-and-set is the guarantee).
    await asyncio.gather(runtime.trigger.scan(), another_trigger(runtime).scan())

    for order_id in orders:
        assert await statuses(runtime, order_id) == [S.PENDING, S.WAITING, S.ROUTING]
    assert await runtime.queue.live(orders) == set(orders)
    assert await runtime.limits.size() == 0


async def test_a_new_leader_rebuilds_the_index_from_the_database(runtime: Runtime) -> None:
    below = str((await price_now(runtime) * Decimal("0.5")).quantize(Decimal("0.01")))
    far = str((await price_now(runtime) * Decimal("3")).quantize(Decimal("0.01")))
    crossed, waits = await waiting_limit(runtime, below), await waiting_limit(runtime, far)
    await runtime.limits.clear()  # Redis lost the index (a restart without persistence)

    await runtime.trigger.tick()  # takes the lead: rebuilds, then scans

    assert await statuses(runtime, crossed) == [S.PENDING, S.WAITING, S.ROUTING]
    assert await statuses(runtime, waits) == [S.PENDING, S.WAITING]
    assert await runtime.limits.size() == 1


async def test_an_order_a_dying_worker_never_indexed_is_found_while_the_leader_leads(
    runtime: Runtime,
) -> None:
    await runtime.trigger.tick()  # already leading: no rebuild will come
    below = str((await price_now(runtime) * Decimal("0.5")).quantize(Decimal("0.01")))
    lost = await waiting_limit(runtime, below, index=False)
    assert await runtime.limits.size() == 0, "nothing indexed it"

    async def started() -> bool:
        await runtime.trigger.tick()
        return S.ROUTING in await statuses(runtime, lost)

    await eventually(started, timeout=10, what="the leader to find the unindexed order")


async def test_a_crossed_batch_starts_every_order_still_waiting_and_no_other(
    runtime: Runtime,
) -> None:
    """One statement starts the batch; an order cancelled or expired before it is left as
    it is, and each started order's `routing` event reaches the owner's webhook outbox."""
    hook = (
        await runtime.webhooks.subscribe(OWNER, "https://example.test/hook", frozenset({S.ROUTING}))
    ).record
    below = str((await price_now(runtime) * Decimal("0.5")).quantize(Decimal("0.01")))
    orders = [await waiting_limit(runtime, below) for _ in range(12)]
    cancelled, expired, started = orders[:3], orders[3], orders[4:]
    for order_id in cancelled:  # the index still lists them: only the database knows
        move = Move(S.WAITING, 1, S.CANCELLED, 1, note="cancelled by its owner")
        assert await runtime.store.transition(order_id, move) is not None
    await runtime.db.execute(
        "UPDATE orders SET expires_at = now() - interval '1 second' WHERE id = $1",
        uuid.UUID(expired),
    )

    await runtime.trigger.scan()

    for order_id in started:
        events = await runtime.store.events(order_id)
        assert [e.status for e in events] == [S.PENDING, S.WAITING, S.ROUTING]
        routing = events[-1]
        assert routing.details is not None
        assert Decimal(routing.details["observedOut"]) >= Decimal(routing.details["requiredOut"])
        assert routing.quotes, "the routing event carries the quotes that started it"
    for order_id in cancelled:
        assert await statuses(runtime, order_id) == [S.PENDING, S.WAITING, S.CANCELLED]
    assert await statuses(runtime, expired) == [S.PENDING, S.WAITING]
    assert await runtime.queue.live(orders) == set(started)
    assert await runtime.limits.size() == 0, "the index forgets what it fired or lost"
    queued = await runtime.db.fetchval(
        "SELECT count(*) FROM webhook_deliveries WHERE webhook_id = $1", hook.id
    )
    assert queued == len(started)
