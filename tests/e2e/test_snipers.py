"""Sniper orders on a running engine: they wait for a token that does not trade yet, never
send before its pool opens, and buy at once when every condition holds — or keep waiting,
expire on a failed safety check, or cancel."""

from __future__ import annotations

import json
import secrets
from datetime import datetime
from decimal import Decimal
from typing import Any

import httpx
from websockets.sync.client import connect

from tests.e2e.conftest import Live
from tests.e2e.test_limit_orders import at, events_of, status, wait_status
from tests.support.waiting import wait_until

STARTED = {"routing", "building", "submitted", "confirmed"}


def fresh_symbol() -> str:
    return "T" + secrets.token_hex(3).upper()


def snipe(api: httpx.Client, token: str, **fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "type": "sniper",
        "tokenIn": "SOL",
        "tokenOut": token,
        "amount": "1",
        "slippageBps": 500,
    }
    body.update(fields)
    placed = api.post("/api/orders/execute", json=body)
    assert placed.status_code == 201, placed.text
    order: dict[str, Any] = placed.json()["order"]
    return order


def launch(api: httpx.Client, symbol: str, **fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "symbol": symbol,
        "baseReserve": "1000000",
        "quoteReserve": "100",
        "openIn": 5,
    }
    body.update(fields)
    made = api.post("/api/sim/launches", json=body)
    assert made.status_code == 201, made.text
    pool: dict[str, Any] = made.json()
    return pool


def wait_note(api: httpx.Client, order_id: str, words: str) -> dict[str, Any]:
    def noted() -> dict[str, Any] | None:
        return next((e for e in events_of(api, order_id) if words in (e["note"] or "")), None)

    found: dict[str, Any] = wait_until(noted, timeout=20, what=f"a note saying {words!r}")
    return found


def test_a_sniper_waits_for_the_launch_and_buys_after_open_within_its_max_price(
    live: Live, api: httpx.Client
) -> None:
    symbol = fresh_symbol()
    order = snipe(api, symbol, maxPrice="0.0002", minLiquidity="50")
    assert order["tokenOut"] == symbol
    wait_note(api, order["orderId"], f"waiting for {symbol} to launch")

    pool = launch(api, symbol, openIn=5)
    opens_at = datetime.fromisoformat(pool["opensAt"])
    assert pool["status"] == "created"
    wait_note(api, order["orderId"], "pool created on raydium, opens at")
    assert status(api, order["orderId"]) == "waiting"

    assert wait_status(api, order["orderId"], {"confirmed", "failed"}) == "confirmed"
    events = events_of(api, order["orderId"])
    started = [e for e in events if e["status"] in STARTED]
    assert started
    early = [(e["status"], e["at"]) for e in started if at(e) < opens_at]
    assert not early, f"sent before the pool opened at {opens_at}: {early}"
    confirmed = events[-1]
    assert Decimal(confirmed["executedPrice"]) <= Decimal("0.0002")
    detail = api.get(f"/api/orders/{order['orderId']}").json()["order"]
    assert Decimal(detail["amountOut"]) >= Decimal(1) / Decimal("0.0002")
    assert detail["dex"] == "raydium"


def test_a_shallow_launch_keeps_it_waiting_until_liquidity_is_added(
    live: Live, api: httpx.Client
) -> None:
    symbol = fresh_symbol()
    order = snipe(api, symbol, minLiquidity="50")
    launch(api, symbol, quoteReserve="10", baseReserve="100000", openIn=1)

    wait_note(api, order["orderId"], "skipped: liquidity")
    assert status(api, order["orderId"]) == "waiting"

    deeper = api.post(f"/api/sim/pools/{symbol}/liquidity", json={"factor": "8"})
    assert deeper.status_code == 200, deeper.text
    assert Decimal(deeper.json()["quoteReserve"]) > 50

    assert wait_status(api, order["orderId"], {"confirmed", "failed"}) == "confirmed"


def test_a_launch_failing_a_safety_check_expires_the_sniper_unfilled(
    live: Live, api: httpx.Client
) -> None:
    symbol = fresh_symbol()
    careful = snipe(api, symbol, requireMintRenounced=True)
    holders = snipe(api, symbol, maxTopHolderPct="20")
    launch(api, symbol, mintRenounced=False, topHolderPct="35", openIn=2)

    assert wait_status(api, careful["orderId"], {"expired", "confirmed"}) == "expired"
    assert wait_status(api, holders["orderId"], {"expired", "confirmed"}) == "expired"
    assert "mint authority not renounced" in (events_of(api, careful["orderId"])[-1]["note"])
    assert "top holder has 35 %" in (events_of(api, holders["orderId"])[-1]["note"])
    for order in (careful, holders):
        assert not any(e["status"] in STARTED for e in events_of(api, order["orderId"]))


def test_a_price_above_the_max_keeps_it_waiting_until_it_expires(
    live: Live, api: httpx.Client
) -> None:
    symbol = fresh_symbol()
    order = snipe(api, symbol, maxPrice="0.00001", expiresIn=12)
    launch(api, symbol, openIn=1)

    wait_note(api, order["orderId"], "is above the max 0.00001")
    assert wait_status(api, order["orderId"], {"expired", "confirmed"}, timeout=30) == "expired"
    assert not any(e["status"] in STARTED for e in events_of(api, order["orderId"]))


def test_a_waiting_sniper_cancels(live: Live, api: httpx.Client) -> None:
    order = snipe(api, fresh_symbol())
    wait_note(api, order["orderId"], "to launch")

    cancelled = api.post(f"/api/orders/{order['orderId']}/cancel")

    assert cancelled.status_code == 200
    assert cancelled.json()["order"]["status"] == "cancelled"


def test_a_token_that_trades_already_cannot_be_sniped(live: Live, api: httpx.Client) -> None:
    symbol = fresh_symbol()
    pool = launch(api, symbol, openIn=0)

    for name in (symbol, pool["mint"], "USDC"):
        refused = api.post(
            "/api/orders/execute",
            json={"type": "sniper", "tokenIn": "SOL", "tokenOut": name, "amount": "1"},
        )
        assert refused.status_code == 400, refused.text
        problem = refused.json()["extra"][0]
        assert problem["key"] == "tokenOut"
        assert "already launched and trading" in problem["message"]
    listed = {p["symbol"]: p for p in api.get("/api/pools").json()}
    assert listed[symbol]["status"] == "open"


def test_the_pools_socket_tells_of_a_launch_and_its_opening(live: Live, api: httpx.Client) -> None:
    symbol = fresh_symbol()
    seen: list[dict[str, Any]] = []
    headers = {"Authorization": api.headers["Authorization"]}
    with connect(f"{live.ws}/api/pools/ws", additional_headers=headers, open_timeout=10) as ws:
        launch(api, symbol, openIn=1)
        while len([e for e in seen if e["pool"]["symbol"] == symbol]) < 2:
            seen.append(json.loads(ws.recv(timeout=15)))
    mine = [e for e in seen if e["pool"]["symbol"] == symbol]
    assert [e["event"] for e in mine] == ["created", "open"]
    assert [e["pool"]["status"] for e in mine] == ["created", "open"]
    assert mine[0]["pool"]["mint"] == mine[1]["pool"]["mint"]


def test_a_market_order_before_the_pool_opens_fails_as_not_open(
    live: Live, api: httpx.Client
) -> None:
    symbol = fresh_symbol()
    launch(api, symbol, openIn=600)
    placed = api.post(
        "/api/orders/execute",
        json={"type": "market", "tokenIn": "SOL", "tokenOut": symbol, "amount": "1"},
    )
    assert placed.status_code == 201, placed.text
    order_id = placed.json()["orderId"]

    assert wait_status(api, order_id, {"failed", "confirmed"}) == "failed"
    assert "not open yet" in (events_of(api, order_id)[-1]["error"] or "")
