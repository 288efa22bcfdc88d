"""Signed webhooks: every subscribed event of your orders, at least once, never another's."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import secrets
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from app.domain.status import OrderStatus
from app.runtime import open_runtime
from app.settings import Settings
from tests.builders import order_body, order_request
from tests.e2e.conftest import Live
from tests.support.access import bearer
from tests.support.db import query
from tests.support.infra import Infra, fresh_database
from tests.support.processes import start_worker
from tests.support.waiting import wait_until

TERMINAL = {"confirmed", "failed"}


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes

    @property
    def event(self) -> dict[str, Any]:
        parsed: dict[str, Any] = json.loads(self.body)
        return parsed


@dataclass
class Receiver:
    """A local HTTP endpoint: records deliveries; answers from a script (then 200)."""

    answers: list[int] = field(default_factory=list)
    hold: threading.Event | None = None
    """While set, the first request waits until it is cleared (a slow receiver)."""
    received: list[Received] = field(default_factory=list)
    holding: threading.Event = field(default_factory=threading.Event)

    def serve(self) -> tuple[ThreadingHTTPServer, str]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["content-length"]))
                if receiver.hold is not None and not receiver.holding.is_set():
                    receiver.holding.set()
                    receiver.hold.wait(30)
                headers = {k.lower(): v for k, v in self.headers.items()}
                receiver.received.append(Received(headers, body))
                status = receiver.answers.pop(0) if receiver.answers else 200
                self.send_response(status)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *_: Any) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        return server, f"http://127.0.0.1:{server.server_address[1]}/hook"

    def of(self, order_id: str) -> list[Received]:
        return [r for r in self.received if r.event["orderId"] == order_id]


@pytest.fixture
def receiver() -> Iterator[tuple[Receiver, str]]:
    made = Receiver()
    server, url = made.serve()
    try:
        yield made, url
    finally:
        server.shutdown()
        server.server_close()


def signed_by(secret: str, delivery: Received) -> bool:
    """Check `Webhook-Signature: t=…,v1=…` as a receiver does (Stripe's scheme)."""
    parts = dict(p.split("=", 1) for p in delivery.headers["webhook-signature"].split(","))
    expected = hmac.new(
        secret.encode(), f"{parts['t']}.{delivery.body.decode()}".encode(), hashlib.sha256
    ).hexdigest()
    return hmac.compare_digest(expected, parts["v1"])


def subscribe(api: httpx.Client, key: str, url: str, events: list[str]) -> str:
    made = api.post("/api/webhooks", json={"url": url, "events": events}, headers=bearer(key))
    assert made.status_code == 201, made.text
    secret: str = made.json()["secret"]
    return secret


def test_every_terminal_event_of_your_orders_arrives_signed_and_nothing_of_others(
    live: Live, api: httpx.Client, receiver: tuple[Receiver, str]
) -> None:
    hook, url = receiver
    a = api.post("/api/keys", json={"name": "A", "scopes": ["read", "trade"]}).json()["key"]
    b = api.post("/api/keys", json={"name": "B", "scopes": ["read", "trade"]}).json()["key"]
    secret = subscribe(api, a, url, ["confirmed", "failed"])
    mine = [
        api.post("/api/orders/execute", json=order_body(amount=str(i + 1)), headers=bearer(a))
        for i in range(3)
    ]
    theirs = api.post("/api/orders/execute", json=order_body(), headers=bearer(b)).json()
    ids = [m.json()["orderId"] for m in mine]
    wait_until(lambda: all(hook.of(i) for i in ids), timeout=30, what="a delivery per order")
    for order_id in ids:
        delivery = hook.of(order_id)[0]
        assert delivery.event["status"] in TERMINAL
        assert delivery.headers["event-id"] == f"{order_id}:{delivery.event['seq']}"
        assert signed_by(secret, delivery)
        assert not signed_by("whsec_wrong", delivery)
    wait_until(
        lambda: api.get(f"/api/orders/{theirs['orderId']}").json()["order"]["status"] in TERMINAL,
        what="B's order to finish",
    )
    assert hook.of(theirs["orderId"]) == []
    assert {r.event["status"] for r in hook.received} <= TERMINAL
    listed = api.get("/api/webhooks", headers=bearer(a)).json()
    assert listed[0]["lastStatus"] == "HTTP 200"
    assert api.get("/api/webhooks", headers=bearer(b)).json() == []


def test_a_receiver_that_fails_twice_gets_the_event_on_the_third_try(
    live: Live, api: httpx.Client, receiver: tuple[Receiver, str]
) -> None:
    hook, url = receiver
    hook.answers = [500, 500]
    key = api.post("/api/keys", json={"name": "C", "scopes": ["read", "trade"]}).json()["key"]
    subscribe(api, key, url, ["confirmed"])
    order_id = api.post("/api/orders/execute", json=order_body(), headers=bearer(key)).json()[
        "orderId"
    ]
    # Retries come after ≈1 s and ≈10 s.
    wait_until(lambda: len(hook.of(order_id)) >= 3, timeout=30, what="the third try")
    tries = hook.of(order_id)
    assert len({t.headers["event-id"] for t in tries}) == 1
    listed = api.get("/api/webhooks", headers=bearer(key)).json()[0]
    assert listed["failures"] == 2
    assert listed["lastStatus"] == "HTTP 200"


def test_bad_subscriptions_are_refused(api: httpx.Client) -> None:
    for body, key in (
        ({"url": "ftp://x/y", "events": ["confirmed"]}, "url"),
        ({"url": "http://127.0.0.1/h", "events": ["shipped"]}, "events"),
        ({"url": "http://127.0.0.1/h", "events": []}, "events"),
    ):
        answer = api.post("/api/webhooks", json=body)
        assert answer.status_code == 400
        assert answer.json()["extra"][0]["key"] == key


@pytest.fixture
def own_database(infra: Infra, settings: Settings) -> Iterator[Settings]:
    """A database of its own, so only this test's workers deliver its webhooks."""
    with fresh_database(infra, "oee_test_hooks") as url:
        yield settings.replace(database_url=url, queue_name=f"hooks-{secrets.token_hex(3)}")


def test_a_worker_killed_mid_delivery_loses_nothing(
    own_database: Settings, receiver: tuple[Receiver, str]
) -> None:
    hook, url = receiver
    hook.hold = threading.Event()
    settings = own_database

    async def place() -> str:
        runtime = await open_runtime(settings)
        try:
            await runtime.webhooks.subscribe("", url, frozenset({OrderStatus.PENDING}))
            return (await runtime.desk.place(order_request(), "test")).id
        finally:
            await runtime.close()

    first = start_worker(settings)
    second = None
    try:
        order_id = asyncio.run(place())
        wait_until(hook.holding.is_set, timeout=20, what="the delivery to reach the receiver")
        first.kill()  # mid-delivery: the receiver has the request, no answer went back
        hook.hold.set()  # the dead worker never hears the answer to that request
        second = start_worker(settings)
        # Its lease runs out and another worker sends the event again: at least once.
        wait_until(
            lambda: len(hook.of(order_id)) >= 2, timeout=40, what="the delivery to be sent again"
        )
        wait_until(
            lambda: delivered(settings.database_url) == 1,
            what="the delivery to be recorded as done",
        )
    finally:
        hook.hold.set()
        first.stop()
        if second is not None:
            second.stop()
    assert {r.headers["event-id"] for r in hook.of(order_id)} == {f"{order_id}:1"}


def delivered(database_url: str) -> int:
    rows = query(
        database_url, "SELECT count(*) AS n FROM webhook_deliveries WHERE delivered_at IS NOT NULL"
    )
    return int(rows[0]["n"])
