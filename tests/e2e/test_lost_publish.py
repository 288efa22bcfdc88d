"""A watcher never hangs on a lost notification: the database is the record."""

from __future__ import annotations

import asyncio
import json

from websockets.asyncio.client import connect

from app.db.orders import Move
from app.domain.status import OrderStatus
from app.ids import uuid7
from app.runtime import Runtime, open_runtime
from tests.builders import order_request
from tests.e2e.conftest import Live
from tests.support.access import bearer

S = OrderStatus


async def test_events_committed_without_a_publish_still_reach_the_watcher(live: Live) -> None:
    runtime = await open_runtime(live.settings)
    try:
        await watch_what_was_never_published(live, runtime)
    finally:
        await runtime.close()


async def watch_what_was_never_published(live: Live, runtime: Runtime) -> None:
    # Stored but never queued or announced: nothing but the database knows what follows.
    order_id = (await runtime.store.create(uuid7(), order_request(), "test")).order.id
    async with connect(f"{live.ws}/api/orders/{order_id}/ws", additional_headers=bearer()) as ws:
        first = json.loads(await asyncio.wait_for(ws.recv(), 10))
        assert first["status"] == "pending"
        # Commit the rest as a worker would, then "lose" every publish.
        moves = [
            Move(S.PENDING, 1, S.ROUTING, 1),
            Move(S.ROUTING, 1, S.FAILED, 1, error="no venue could fill it"),
        ]
        for move in moves:
            assert await runtime.store.transition(order_id, move) is not None
        rest = [json.loads(await asyncio.wait_for(ws.recv(), 15)) for _ in moves]
        await asyncio.wait_for(ws.wait_closed(), 10)
    assert [e["status"] for e in rest] == ["routing", "failed"]
    assert ws.close_code == 1000
