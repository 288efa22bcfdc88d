"""Real worker processes: queue retries, a worker killed mid-order, double delivery.

Every test here starts from an empty database: a worker's reconciler would otherwise
queue the orders other tests left pending, and work through them first.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import TypeVar

import pytest

from app.domain.order import Order
from app.domain.status import TERMINAL, OrderStatus
from app.runtime import Runtime, open_runtime
from app.settings import Settings
from app.venues.chaos import Fault, Step
from tests.builders import order_request
from tests.support.ledger import fills
from tests.support.processes import start_worker
from tests.support.waiting import eventually

S = OrderStatus
T = TypeVar("T")


async def finished(runtime: Runtime, order_id: str, timeout: float = 60) -> Order:
    async def check() -> Order | None:
        order = await runtime.store.get(order_id)
        return order if order and order.status in TERMINAL else None

    return await eventually(check, timeout=timeout, what=f"order {order_id} to finish")


async def test_the_queue_retries_a_transient_failure_with_backoff(
    runtime: Runtime, empty_db: None
) -> None:
    order = await runtime.desk.place(order_request(), "test")  # no worker yet: it waits queued
    await runtime.simulator.faults.plan(order.id, Step.BUILD, Fault.TIMEOUT)
    worker = start_worker(runtime.settings)
    try:
        done = await finished(runtime, order.id)
    finally:
        worker.stop()
    assert done.status is S.CONFIRMED
    assert done.attempt == 2
    events = await runtime.store.events(order.id)
    retry = next(e for e in events if e.status is S.ROUTING and e.attempt == 2)
    assert "timed out" in (retry.error or "")
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    assert await fills(runtime, order.id) == 1


@pytest.fixture
async def slow_runtime(settings: Settings) -> AsyncIterator[Runtime]:
    # Landing takes 2-12.5 s at this scale: time enough to kill a worker while it waits.
    opened = await open_runtime(settings.replace(mock_latency_scale=5.0))
    try:
        yield opened
    finally:
        await opened.close()


async def test_a_worker_killed_while_an_order_is_submitted_loses_nothing(
    slow_runtime: Runtime, empty_db: None
) -> None:
    runtime = slow_runtime
    first = start_worker(runtime.settings)
    second = None
    try:
        # Generous slippage: this test is about the crash, not about the market moving
        # (other tests' trades in the shared pools) during the long landing.
        order = await runtime.desk.place(order_request(slippage_bps=3000), "test")

        async def submitted() -> Order | None:
            current = await runtime.store.get(order.id)
            return current if current and current.status is S.SUBMITTED else None

        sent = await eventually(submitted, timeout=30, what="the order to be submitted")
        second = start_worker(runtime.settings)
        first.kill()
        still_moving = await runtime.store.get(order.id)
        assert still_moving is not None
        assert still_moving.status is S.SUBMITTED

        done = await finished(runtime, order.id)
    finally:
        first.stop()
        if second is not None:
            second.stop()
    assert done.status is S.CONFIRMED
    assert done.tx_hash == sent.tx_hash, "the transaction already sent must not be resent"
    events = await runtime.store.events(order.id)
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    assert [e.status for e in events].count(S.CONFIRMED) == 1
    assert sum(e.status in TERMINAL for e in events) == 1
    assert await fills(runtime, order.id) == 1


async def test_a_killed_workers_orders_all_resume_at_once_not_one_by_one(
    slow_runtime: Runtime, empty_db: None
) -> None:
    runtime = slow_runtime
    settings = runtime.settings.replace(worker_concurrency=32)
    first = start_worker(settings)
    second = None
    try:
        orders = [
            await runtime.desk.place(order_request(amount="0.1", slippage_bps=3000), "test")
            for _ in range(20)
        ]

        async def all_submitted() -> bool:
            stored = [await runtime.store.get(o.id) for o in orders]
            return all(o is not None and o.status is S.SUBMITTED for o in stored)

        await eventually(all_submitted, timeout=30, what="every order to be submitted")
        first.kill()
        second = start_worker(settings)

        async def all_resumed() -> bool:
            # Swept back (a run counted), or already finished by the second worker.
            runs = await runtime.queue.runs([o.id for o in orders])
            stored = [await runtime.store.get(o.id) for o in orders]
            return all(runs.get(o.id, 0) >= 1 or (s is not None and s.terminal) for o, s in
                       zip(orders, stored, strict=True))  # fmt: skip

        # Taken over once the killed worker's heartbeat (2 s here) runs out, all at once
        # (a sweep one job at a time would need about a second per job).
        await eventually(
            all_resumed,
            timeout=settings.job_heartbeat_seconds + 5,
            what="every stuck order to be picked up again",
        )
        done = [await finished(runtime, o.id) for o in orders]
    finally:
        first.stop()
        if second is not None:
            second.stop()
    assert {o.status for o in done} == {S.CONFIRMED}
    for order in orders:
        assert await fills(runtime, order.id) == 1


async def test_two_workers_sharing_the_queue_execute_each_order_once(
    runtime: Runtime, empty_db: None
) -> None:
    workers = [start_worker(runtime.settings) for _ in range(2)]
    try:
        orders = [await runtime.desk.place(order_request(amount="0.5"), "test") for _ in range(20)]
        for order in orders:
            assert not await runtime.queue.enqueue(order.id), "one job per order"
        done = [await finished(runtime, order.id) for order in orders]
    finally:
        for worker in workers:
            worker.stop()
    assert {order.status for order in done} == {S.CONFIRMED}
    for order in orders:
        events = await runtime.store.events(order.id)
        assert sum(e.status in TERMINAL for e in events) == 1
        assert await fills(runtime, order.id) == 1


async def test_worker_logs_are_json_lines_that_name_the_order(
    runtime: Runtime, tmp_path: Path, empty_db: None
) -> None:
    log = tmp_path / "worker.log"
    worker = start_worker(runtime.settings.replace(log_format="json"), log=log)
    try:
        order = await runtime.desk.place(order_request(), "test")
        await finished(runtime, order.id)

        def logged() -> list[dict[str, str]]:
            lines = [json.loads(line) for line in log.read_text().splitlines() if line]
            return [line for line in lines if line.get("orderId") == order.id]

        about = await eventually(_async(logged), what="a log line about the order")
    finally:
        worker.stop()
    assert about[0]["message"].startswith("confirmed on ")
    assert about[0]["level"] == "info"


def _async(check: Callable[[], T]) -> Callable[[], Awaitable[T]]:
    async def wrapped() -> T:
        return check()

    return wrapped
