"""Limit orders on a running engine: they wait for their price, fill when it comes, and
cancel or expire without ever racing a fill into a double outcome."""

from __future__ import annotations

import asyncio
import time
from datetime import datetime
from decimal import Decimal
from typing import Any

import httpx
import pytest

from app.runtime import open_runtime
from app.venues.chaos import Fault, Step
from tests.builders import order_body
from tests.e2e.conftest import Live
from tests.support.access import bearer
from tests.support.waiting import wait_until

PAIR = "SOL/USDT"  # a pair of their own: price moves here do not disturb other tests
TERMINAL = {"confirmed", "failed", "cancelled", "expired"}


def price_now(api: httpx.Client, token_in: str, token_out: str, amount: str) -> Decimal:
    board = api.get(
        "/api/quote", params={"tokenIn": token_in, "tokenOut": token_out, "amount": amount}
    ).json()
    return Decimal(board["best"]["price"])


def limit(api: httpx.Client, **fields: Any) -> dict[str, Any]:
    body = order_body(type="limit", tokenIn="SOL", tokenOut="USDT", amount="2")
    body.update(fields)
    body.pop("slippageBps")
    placed = api.post("/api/orders/execute", json=body)
    assert placed.status_code == 201, placed.text
    order: dict[str, Any] = placed.json()["order"]
    return order


def detail(api: httpx.Client, order_id: str) -> dict[str, Any]:
    found: dict[str, Any] = api.get(f"/api/orders/{order_id}").json()
    return found


def status(api: httpx.Client, order_id: str) -> str:
    return str(detail(api, order_id)["order"]["status"])


def wait_status(api: httpx.Client, order_id: str, wanted: set[str], timeout: float = 20) -> str:
    def reached() -> str | None:
        now = status(api, order_id)
        return now if now in wanted else None

    return wait_until(
        reached, timeout=timeout, what=f"order {order_id} to be {' or '.join(sorted(wanted))}"
    )


def move(api: httpx.Client, bps: int, hold: int = 20) -> datetime:
    made = api.post("/api/sim/moves", json={"pair": PAIR, "moveBps": bps, "holdSeconds": hold})
    assert made.status_code == 201, made.text
    return datetime.fromisoformat(made.json()["at"])


def events_of(api: httpx.Client, order_id: str) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = detail(api, order_id)["events"]
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1)), "seq must be gap-free"
    return events


def at(event: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(event["at"])


def test_a_limit_above_the_market_waits_then_fills_when_a_move_brings_its_price(
    live: Live, api: httpx.Client
) -> None:
    now = price_now(api, "SOL", "USDT", "2")
    sell = limit(api, limitPrice=str((now * Decimal("1.02")).quantize(Decimal("0.01"))))
    wait_status(api, sell["orderId"], {"waiting"})
    waiting = events_of(api, sell["orderId"])[-1]
    assert waiting["details"]["limitPrice"] == sell["limitPrice"]
    assert waiting["details"]["expiresAt"]
    watched_until = time.monotonic() + 15
    while time.monotonic() < watched_until:  # the market wanders, but not 2 %
        assert status(api, sell["orderId"]) == "waiting"
        time.sleep(0.5)  # wait-ok: watching that nothing happens
    moved_at = move(api, 300)
    assert wait_status(api, sell["orderId"], TERMINAL) == "confirmed"
    events = events_of(api, sell["orderId"])
    triggered = next(e for e in events if e["status"] == "routing")
    assert (at(triggered) - moved_at).total_seconds() < 1.0
    assert triggered["details"]["observedOut"]
    assert Decimal(triggered["details"]["observedOut"]) >= Decimal(
        triggered["details"]["requiredOut"]
    )
    order = detail(api, sell["orderId"])["order"]
    assert Decimal(order["amountOut"]) >= Decimal(order["minOut"])
    assert Decimal(order["executedPrice"]) >= Decimal(sell["limitPrice"])
    assert sum(e["status"] in TERMINAL for e in events) == 1
    move(api, -300, hold=0)  # back to where it was


def test_a_buy_limit_below_the_market_fills_when_the_price_drops(
    live: Live, api: httpx.Client
) -> None:
    now = price_now(api, "USDT", "SOL", "300")
    body = order_body(
        type="limit", tokenIn="USDT", tokenOut="SOL", amount="300",
        limitPrice=str((now * Decimal("0.98")).quantize(Decimal("0.01"))),
    )  # fmt: skip
    body.pop("slippageBps")
    buy = api.post("/api/orders/execute", json=body).json()["order"]
    wait_status(api, buy["orderId"], {"waiting"})
    move(api, -300)
    assert wait_status(api, buy["orderId"], TERMINAL) == "confirmed"
    order = detail(api, buy["orderId"])["order"]
    assert Decimal(order["executedPrice"]) <= Decimal(buy["limitPrice"])
    assert Decimal(order["amountOut"]) >= Decimal(order["minOut"])
    move(api, 300, hold=0)


def test_cancel_while_waiting_wins_and_a_later_move_fills_nothing(
    live: Live, api: httpx.Client
) -> None:
    now = price_now(api, "SOL", "USDT", "2")
    order = limit(api, limitPrice=str((now * Decimal("1.02")).quantize(Decimal("0.01"))))
    wait_status(api, order["orderId"], {"waiting"})
    first = api.post(f"/api/orders/{order['orderId']}/cancel")
    again = api.post(f"/api/orders/{order['orderId']}/cancel")
    assert first.status_code == again.status_code == 200
    assert first.json() == again.json()
    assert first.json()["order"]["status"] == "cancelled"
    move(api, 400, hold=3)
    other = limit(api, limitPrice="0.01")  # crosses at once: proves the trigger is running
    assert wait_status(api, other["orderId"], TERMINAL) == "confirmed"
    assert status(api, order["orderId"]) == "cancelled"
    events = events_of(api, order["orderId"])
    assert [e["status"] for e in events] == ["pending", "waiting", "cancelled"]
    move(api, -400, hold=0)


def test_a_market_order_already_executing_cannot_be_cancelled(
    live: Live, api: httpx.Client
) -> None:
    placed = api.post("/api/orders/execute", json=order_body(tokenIn="SOL", tokenOut="USDT"))
    order_id = placed.json()["orderId"]
    wait_status(api, order_id, {"routing", "building", "submitted", *TERMINAL})
    refused = api.post(f"/api/orders/{order_id}/cancel")
    assert refused.status_code == 409
    assert refused.json()["extra"]["status"] != "cancelled"
    assert wait_status(api, order_id, TERMINAL) in {"confirmed", "failed"}
    assert api.post("/api/orders/nope/cancel").status_code == 404


def test_an_order_with_three_seconds_expires_between_three_and_four(
    live: Live, api: httpx.Client
) -> None:
    order = limit(api, limitPrice="1000000", expiresIn=3)
    assert wait_status(api, order["orderId"], TERMINAL, timeout=10) == "expired"
    events = events_of(api, order["orderId"])
    placed, expired = at(events[0]), at(events[-1])
    assert [e["status"] for e in events] == ["pending", "waiting", "expired"]
    assert 3.0 <= (expired - placed).total_seconds() < 4.0


@pytest.mark.parametrize(
    ("fields", "key"),
    [
        ({"limitPrice": "-1"}, "limitPrice"),
        ({"limitPrice": "abc"}, "limitPrice"),
        ({"limitPrice": "150", "expiresIn": 0}, "expiresIn"),
        ({"limitPrice": "150", "expiresIn": 40 * 86400}, "expiresIn"),
        ({"limitPrice": "150", "expiresAt": "2001-01-01T00:00:00Z"}, "expiresAt"),
        ({"limitPrice": "150", "expiresAt": "tomorrow"}, "expiresAt"),
        ({"limitPrice": "150", "expiresAt": "2030-01-01T00:00:00Z"}, "expiresAt"),
        ({"limitPrice": "150", "expiresIn": 60, "expiresAt": "2030-01-01T00:00:00Z"}, "expiresIn"),
        ({}, "limitPrice"),
    ],
)
def test_bad_limit_terms_are_400_naming_the_field(
    api: httpx.Client, fields: dict[str, Any], key: str
) -> None:
    body = order_body(type="limit", **fields)
    body.pop("slippageBps")
    refused = api.post("/api/orders/execute", json=body)
    assert refused.status_code == 400
    assert key in {p["key"] for p in refused.json()["extra"]}


def test_a_fill_that_misses_the_limit_waits_again_and_fills_on_the_next_crossing(
    live: Live, api: httpx.Client
) -> None:
    now = price_now(api, "SOL", "USDT", "2")
    order = limit(api, limitPrice=str((now * Decimal("1.02")).quantize(Decimal("0.01"))))
    order_id = order["orderId"]
    wait_status(api, order_id, {"waiting"})

    async def adverse_landing() -> None:
        runtime = await open_runtime(live.settings)
        try:
            await runtime.simulator.faults.plan(order_id, Step.LAND, Fault.ADVERSE)
        finally:
            await runtime.close()

    asyncio.run(adverse_landing())
    move(api, 250, hold=2)
    wait_until(
        lambda: sum(e["status"] == "waiting" for e in events_of(api, order_id)) == 2,
        what="the order to wait again",
    )
    again = [e for e in events_of(api, order_id) if e["status"] == "waiting"][-1]
    assert "waiting again" in again["note"]
    move(api, 400, hold=10)
    assert wait_status(api, order_id, TERMINAL) == "confirmed"
    events = events_of(api, order_id)
    assert sum(e["status"] in TERMINAL for e in events) == 1
    assert Decimal(detail(api, order_id)["order"]["executedPrice"]) >= Decimal(order["limitPrice"])
    move(api, -650, hold=0)


def test_fifty_cancels_racing_a_triggering_move_each_end_once(
    live: Live, api: httpx.Client
) -> None:
    now = price_now(api, "SOL", "USDT", "2")
    price = str((now * Decimal("1.01")).quantize(Decimal("0.01")))
    orders = [limit(api, limitPrice=price, amount="0.05")["orderId"] for _ in range(50)]
    for order_id in orders:
        wait_status(api, order_id, {"waiting"})

    async def race() -> list[int]:
        async with httpx.AsyncClient(base_url=live.http, headers=bearer(), timeout=20) as http:

            async def cancel(index: int, order_id: str) -> int:
                # Spread over the moment the trigger fires: some before it, some after.
                await asyncio.sleep(index * 0.02)  # wait-ok: staggering the racers
                return (await http.post(f"/api/orders/{order_id}/cancel")).status_code

            moving = http.post(
                "/api/sim/moves", json={"pair": PAIR, "moveBps": 300, "holdSeconds": 10}
            )
            answers = await asyncio.gather(moving, *(cancel(i, o) for i, o in enumerate(orders)))
            return [code for code in answers[1:] if isinstance(code, int)]

    codes = asyncio.run(race())
    assert set(codes) <= {200, 409}
    print(f"cancel won {codes.count(200)} times, the trigger {codes.count(409)}")
    for order_id, code in zip(orders, codes, strict=True):
        final = wait_status(api, order_id, TERMINAL)
        events = events_of(api, order_id)
        assert sum(e["status"] in TERMINAL for e in events) == 1
        assert final == ("cancelled" if code == 200 else "confirmed"), (order_id, code, final)
    filled = asyncio.run(fills(live, orders))
    for order_id in orders:
        assert filled[order_id] == (1 if status(api, order_id) == "confirmed" else 0)
    move(api, -300, hold=0)


async def fills(live: Live, orders: list[str]) -> dict[str, int]:
    runtime = await open_runtime(live.settings)
    try:
        return {o: sum([await v.fills(o) for v in runtime.simulated.values()]) for o in orders}
    finally:
        await runtime.close()
