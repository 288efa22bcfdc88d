"""Two web processes and two workers against one PostgreSQL and one Redis, one worker killed."""

from __future__ import annotations

import asyncio
import json
from functools import partial
from typing import Any

import httpx
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from app.domain.status import TERMINAL, OrderStatus
from app.runtime import Runtime
from app.settings import Settings
from tests.builders import order_body
from tests.support.access import bearer
from tests.support.ledger import fills
from tests.support.processes import Process, start_web, start_worker
from tests.support.waiting import eventually

ORDERS = 40


async def read_all(url: str) -> list[dict[str, Any]]:
    events = []
    async with connect(url, additional_headers=bearer()) as ws:
        try:
            async for message in ws:
                events.append(json.loads(message))
        except ConnectionClosed:
            pass
    return events


async def test_two_webs_two_workers_one_killed_nothing_lost(
    runtime: Runtime, empty_db: None
) -> None:
    settings: Settings = runtime.settings.replace(
        mock_latency_scale=0.2, worker_concurrency=5, order_rate_limit=0
    )
    processes: list[Process] = []
    try:
        workers = [start_worker(settings) for _ in range(2)]
        processes += workers
        web_a, address_a = start_web(settings)
        web_b, address_b = start_web(settings)
        processes += [web_a, web_b]

        async with (
            httpx.AsyncClient(base_url=f"http://{address_a}", headers=bearer()) as a,
            httpx.AsyncClient(base_url=f"http://{address_b}", headers=bearer()) as b,
            connect(f"ws://{address_b}/api/orders/ws", additional_headers=bearer()) as firehose,
        ):
            first = (await a.post("/api/orders/execute", json=order_body())).json()["orderId"]
            # Posted to A, watched on B.
            watch = asyncio.create_task(read_all(f"ws://{address_b}/api/orders/{first}/ws"))
            ids = [first]
            for i in range(1, ORDERS):
                web = a if i % 2 else b
                body = order_body(amount=str(1 + i % 7), slippageBps=3000)
                ids.append((await web.post("/api/orders/execute", json=body)).json()["orderId"])
                if i == ORDERS // 2:
                    workers[0].kill()  # mid-load, with orders in flight on it

            finished: set[str] = set()
            while finished != set(ids):
                event = json.loads(await asyncio.wait_for(firehose.recv(), timeout=60))
                if event["status"] in ("confirmed", "failed"):
                    finished.add(event["orderId"])
            watched = await asyncio.wait_for(watch, timeout=30)
    finally:
        for process in processes:
            process.stop()

    assert [e["seq"] for e in watched] == list(range(1, len(watched) + 1))
    assert watched[-1]["status"] in ("confirmed", "failed")
    for order_id in ids:
        order = await eventually(partial(runtime.store.get, order_id), what=order_id)
        events = await runtime.store.events(order_id)
        assert sum(e.status in TERMINAL for e in events) == 1, order_id
        assert [e.seq for e in events] == list(range(1, len(events) + 1))
        fills_of = await fills(runtime, order_id)
        assert fills_of == (1 if order.status is OrderStatus.CONFIRMED else 0), order_id
