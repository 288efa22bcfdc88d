"""Waiting limit orders outlive their workers: SIGKILL every worker, start new ones, and the
orders still wait, then fill once when their price comes — with two triggers running."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import httpx
import pytest

from app.runtime import open_runtime
from app.settings import Settings
from tests.builders import settings_for
from tests.support.access import bearer
from tests.support.infra import Infra, fresh_database
from tests.support.processes import Process, start_web, start_worker
from tests.support.waiting import wait_until

PAIR = "BONK/USDC"  # a pair of its own: its moves disturb no other test
TERMINAL = {"confirmed", "failed", "cancelled", "expired"}
ORDERS = 12


@pytest.fixture
def settings_of_its_own(infra: Infra) -> Iterator[Settings]:
    with fresh_database(infra, "oee_test_durable") as url:
        yield settings_for(
            infra,
            database_url=url,
            queue_name="durable",
            mock_latency_scale=0.05,
            reconcile_interval_seconds=2.0,
        )


def statuses(api: httpx.Client, order_ids: list[str]) -> dict[str, str]:
    return {o: api.get(f"/api/orders/{o}").json()["order"]["status"] for o in order_ids}


def events(api: httpx.Client, order_id: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = api.get(f"/api/orders/{order_id}").json()["events"]
    return found


def move(api: httpx.Client, bps: int, hold: int) -> None:
    made = api.post("/api/sim/moves", json={"pair": PAIR, "moveBps": bps, "holdSeconds": hold})
    assert made.status_code == 201, made.text


async def fills(settings: Settings, order_ids: list[str]) -> dict[str, int]:
    runtime = await open_runtime(settings)
    try:
        return {o: sum([await v.fills(o) for v in runtime.simulated.values()]) for o in order_ids}
    finally:
        await runtime.close()


def test_orders_wait_through_every_worker_dying_and_fill_once_afterwards(
    settings_of_its_own: Settings,
) -> None:
    settings = settings_of_its_own
    workers: list[Process] = [start_worker(settings), start_worker(settings)]
    web, address = start_web(settings)
    try:
        with httpx.Client(base_url=f"http://{address}", headers=bearer(), timeout=10) as api:
            board = api.get(
                "/api/quote", params={"tokenIn": "BONK", "tokenOut": "USDC", "amount": "1000000"}
            ).json()
            limit = (Decimal(board["best"]["price"]) * Decimal("1.02")).quantize(
                Decimal("0.0000000001")
            )
            body = {"type": "limit", "tokenIn": "BONK", "tokenOut": "USDC",
                    "amount": "1000000", "limitPrice": str(limit), "expiresIn": 600}  # fmt: skip
            order_ids = [api.post("/api/orders/execute", json=body).json()["orderId"]]
            order_ids += [
                api.post("/api/orders/execute", json=body).json()["orderId"]
                for _ in range(ORDERS - 1)
            ]
            wait_until(
                lambda: set(statuses(api, order_ids).values()) == {"waiting"},
                what="every order to wait",
            )

            for worker in workers:
                worker.kill()  # SIGKILL: the trigger's leader dies with them
            assert set(statuses(api, order_ids).values()) == {"waiting"}

            workers = [start_worker(settings), start_worker(settings)]  # two triggers again
            move(api, 400, hold=30)
            wait_until(
                lambda: set(statuses(api, order_ids).values()) <= TERMINAL,
                timeout=60,
                what="every order to finish after the move",
            )
            assert set(statuses(api, order_ids).values()) == {"confirmed"}
            for order_id in order_ids:
                trail = events(api, order_id)
                assert [e["seq"] for e in trail] == list(range(1, len(trail) + 1))
                triggered = [e for e in trail if (e.get("note") or "").startswith("triggered")]
                assert len(triggered) == 1, f"{order_id} was triggered {len(triggered)} times"
                assert sum(e["status"] in TERMINAL for e in trail) == 1
            filled = asyncio.run(fills(settings, order_ids))
            assert filled == dict.fromkeys(order_ids, 1), "one fill per order, no more"
            move(api, -400, hold=0)
    finally:
        web.stop()
        for worker in workers:
            worker.stop()
