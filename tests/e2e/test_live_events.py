"""Orders through real web and worker processes, watched over WebSocket as a program would."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import ClientConnection
from websockets.typing import Origin

from tests.builders import order_body
from tests.e2e.conftest import Live
from tests.support.access import connect
from tests.support.waiting import wait_until

TERMINAL = {"confirmed", "failed"}


def read_until_closed(ws: ClientConnection, timeout: float = 20) -> list[dict[str, Any]]:
    events = []
    try:
        while True:
            events.append(json.loads(ws.recv(timeout=timeout)))
    except ConnectionClosed:
        return events


def place(api: httpx.Client, **overrides: Any) -> str:
    response = api.post("/api/orders/execute", json=order_body(**overrides))
    assert response.status_code == 201, response.text
    order_id: str = response.json()["orderId"]
    return order_id


def test_a_watcher_sees_every_step_once_in_order_then_a_normal_close(
    live: Live, api: httpx.Client
) -> None:
    order_id = place(api)
    with connect(f"{live.ws}/api/orders/{order_id}/ws") as ws:
        events = read_until_closed(ws)
        assert ws.close_code == 1000
        assert ws.close_reason == "order confirmed"
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    assert [e["status"] for e in events] == [
        "pending", "routing", "building", "submitted", "confirmed"
    ]  # fmt: skip
    assert all(e["orderId"] == order_id for e in events)
    routing, building, submitted, confirmed = events[1:]
    assert {q["dex"] for q in routing["quotes"]} == {"raydium", "meteora"}
    assert building["dex"] in {"raydium", "meteora"}
    assert submitted["txHash"]
    assert confirmed["txHash"] == submitted["txHash"]
    assert confirmed["amountOut"]
    assert confirmed["executedPrice"]
    stored = api.get(f"/api/orders/{order_id}").json()["events"]
    assert stored == events


def test_a_late_watcher_gets_the_whole_history_and_since_skips_what_it_has(
    live: Live, api: httpx.Client
) -> None:
    order_id = place(api, tokenIn="USDC", tokenOut="SOL", amount="250")
    wait_until(
        lambda: api.get(f"/api/orders/{order_id}").json()["order"]["status"] in TERMINAL,
        what="the order to finish",
    )
    with connect(f"{live.ws}/api/orders/{order_id}/ws") as ws:
        everything = read_until_closed(ws)
        assert ws.close_code == 1000
    assert [e["seq"] for e in everything] == [1, 2, 3, 4, 5]
    with connect(f"{live.ws}/api/orders/{order_id}/ws?since=3") as ws:
        rest = read_until_closed(ws)
        assert ws.close_code == 1000
    assert rest == everything[3:]
    with connect(f"{live.ws}/api/orders/{order_id}/ws?since=5") as ws:
        assert read_until_closed(ws) == []
        assert ws.close_code == 1000


def test_the_firehose_carries_every_orders_events_live_in_event_id_order(
    live: Live, api: httpx.Client
) -> None:
    with connect(f"{live.ws}/api/orders/ws") as ws:
        ids = {place(api, amount=str(i + 1)) for i in range(3)}
        seen: dict[str, list[int]] = {order_id: [] for order_id in ids}
        event_ids: list[int] = []
        finished: set[str] = set()
        while finished != ids:
            event = json.loads(ws.recv(timeout=20))
            event_ids.append(event["eventId"])
            if event["orderId"] in ids:
                seen[event["orderId"]].append(event["seq"])
                if event["status"] in TERMINAL:
                    finished.add(event["orderId"])
    assert event_ids == sorted(set(event_ids))
    for seqs in seen.values():
        assert seqs == [1, 2, 3, 4, 5]


def feed_after(api: httpx.Client, after: int) -> list[dict[str, Any]]:
    """Every stored event after `after`, paging GET /api/events to its end."""
    events: list[dict[str, Any]] = []
    while True:
        page = api.get("/api/events", params={"after": after, "limit": 7}).json()
        if not page["items"]:
            return events
        events += page["items"]
        after = page["nextAfter"]


def test_a_firehose_client_that_reconnects_with_since_gets_exactly_what_it_missed(
    live: Live, api: httpx.Client
) -> None:
    with connect(f"{live.ws}/api/orders/ws") as ws:
        first = place(api)
        while (event := json.loads(ws.recv(timeout=20)))["orderId"] != first:
            pass
        last_seen = event["eventId"]
    # Gone (killed, closed for lagging, a network drop) while orders kept moving.
    missed_orders = {place(api, amount=str(i + 2)) for i in range(4)}
    wait_until(
        lambda: all(
            api.get(f"/api/orders/{o}").json()["order"]["status"] in TERMINAL
            for o in missed_orders | {first}
        ),
        what="the orders placed while away to finish",
    )
    stored = feed_after(api, last_seen)
    assert {e["orderId"] for e in stored} >= missed_orders
    with connect(f"{live.ws}/api/orders/ws?since={last_seen}") as ws:
        replayed = [json.loads(ws.recv(timeout=20)) for _ in stored]
    assert replayed == stored
    assert [e["eventId"] for e in replayed] == sorted({e["eventId"] for e in replayed})
    assert replayed[0]["eventId"] > last_seen


def test_the_stored_feed_pages_in_event_id_order(live: Live, api: httpx.Client) -> None:
    order_id = place(api)
    wait_until(
        lambda: api.get(f"/api/orders/{order_id}").json()["order"]["status"] in TERMINAL,
        what="the order to finish",
    )
    own = api.get(f"/api/orders/{order_id}").json()["events"]
    before = own[0]["eventId"] - 1
    page = api.get("/api/events", params={"after": before, "limit": 2}).json()
    assert [e["eventId"] for e in page["items"]] == sorted(e["eventId"] for e in page["items"])
    assert page["items"][0] == own[0]
    assert page["nextAfter"] == page["items"][-1]["eventId"]
    everything = feed_after(api, before)
    assert [e for e in everything if e["orderId"] == order_id] == own
    for bad in ({"after": "-1"}, {"after": "x"}, {"limit": "0"}, {"limit": "100000"}):
        assert api.get("/api/events", params=bad).status_code == 400


@pytest.mark.parametrize(
    ("path", "reason"),
    [
        ("/api/orders/01a20088-6200-7d39-929e-4617a4fc898b/ws", "unknown order"),
        ("/api/orders/not-an-id/ws", "unknown order"),
        ("/api/orders/" + "7" * 2_000 + "/ws", "unknown order"),
        ("/api/orders/%00%FF%FE/ws", "unknown order"),
        ("/api/orders/" + "%F0%9F%92%A9" * 200 + "/ws", "unknown order"),
        ("/ws/dashboard?order=01a20088-6200-7d39-929e-4617a4fc898b", "unknown order"),
        ("/ws/dashboard?order=" + "%F0%9F%92%A9" * 200, "unknown order"),
    ],
)
def test_an_unknown_order_is_closed_with_a_policy_code(live: Live, path: str, reason: str) -> None:
    with connect(f"{live.ws}{path}") as ws:
        assert read_until_closed(ws) == []
        assert ws.close_code == 1008
        assert reason in (ws.close_reason or "")


@pytest.mark.parametrize("since", ["two", "²", "-1", "99999999999", "9" * 5000])
def test_a_bad_since_is_closed_with_a_policy_code(
    live: Live, api: httpx.Client, since: str
) -> None:
    order_id = place(api)
    with connect(f"{live.ws}/api/orders/{order_id}/ws?since={since}") as ws:
        assert read_until_closed(ws) == []
        assert ws.close_code == 1008


def test_browsers_from_other_sites_cannot_open_sockets(live: Live, api: httpx.Client) -> None:
    order_id = place(api)
    for path in (f"/api/orders/{order_id}/ws", "/api/orders/ws"):
        with pytest.raises(InvalidStatus) as refused:
            connect(f"{live.ws}{path}", origin=Origin("http://evil.example"))
        assert refused.value.response.status_code == 403
    with connect(
        f"{live.ws}/api/orders/{order_id}/ws",
        origin=Origin(f"http://{live.address}"),
    ) as ws:
        assert read_until_closed(ws)[0]["seq"] == 1
