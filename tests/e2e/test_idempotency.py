"""Safe retries: an Idempotency-Key places one order however often a request is repeated."""

from __future__ import annotations

import asyncio

import httpx
from litestar import Litestar
from litestar.testing import TestClient

from app.settings import Settings
from tests.builders import order_body
from tests.e2e.conftest import Live
from tests.support.access import bearer
from tests.support.db import query

Client = TestClient[Litestar]


def orders_with(database_url: str, client_order_id: str) -> int:
    rows = query(
        database_url, "SELECT count(*) AS n FROM orders WHERE client_order_id = $1", client_order_id
    )
    return int(rows[0]["n"])


def test_the_same_key_and_body_replay_the_first_answer(client: Client) -> None:
    body, key = order_body(amount="1.25"), {"Idempotency-Key": "retry-me-1"}
    first = client.post("/api/orders/execute", json=body, headers=key)
    again = client.post("/api/orders/execute", json=body, headers=key)
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again.headers["idempotent-replayed"] == "true"
    assert "idempotent-replayed" not in first.headers


def test_the_same_key_with_another_body_is_refused(client: Client, settings: Settings) -> None:
    key = {"Idempotency-Key": "retry-me-2"}
    assert client.post("/api/orders/execute", json=order_body(), headers=key).status_code == 201
    changed = client.post("/api/orders/execute", json=order_body(amount="9"), headers=key)
    assert changed.status_code == 422
    assert "different request" in changed.json()["detail"]


def test_a_request_that_failed_validation_leaves_the_key_free(
    client: Client, settings: Settings
) -> None:
    key = {"Idempotency-Key": "fix-and-retry"}
    bad = client.post(
        "/api/orders/execute", json=order_body(amount="0", clientOrderId="fix-1"), headers=key
    )
    assert bad.status_code == 400
    assert orders_with(settings.database_url, "fix-1") == 0
    fixed = client.post(
        "/api/orders/execute", json=order_body(amount="1", clientOrderId="fix-1"), headers=key
    )
    assert fixed.status_code == 201
    assert orders_with(settings.database_url, "fix-1") == 1


def test_a_bad_idempotency_key_is_a_400(client: Client) -> None:
    for key in ("", "x" * 256, "tab\there"):
        answer = client.post(
            "/api/orders/execute", json=order_body(), headers={"Idempotency-Key": key}
        )
        assert answer.status_code == 400, key


def test_twenty_concurrent_requests_with_one_key_place_one_order(
    live: Live, api: httpx.Client
) -> None:
    body = order_body(clientOrderId="burst-1")
    headers = {**bearer(), "Idempotency-Key": "burst-key"}

    async def burst() -> list[httpx.Response]:
        async with httpx.AsyncClient(base_url=live.http, headers=headers, timeout=20) as http:
            return list(
                await asyncio.gather(
                    *(http.post("/api/orders/execute", json=body) for _ in range(20))
                )
            )

    answers = asyncio.run(burst())
    assert {a.status_code for a in answers} <= {201, 409}
    placed = {a.json()["orderId"] for a in answers if a.status_code == 201}
    assert len(placed) == 1
    assert all(a.headers["retry-after"] for a in answers if a.status_code == 409)
    assert orders_with(live.settings.database_url, "burst-1") == 1


def test_two_owners_may_use_the_same_key_string(client: Client, settings: Settings) -> None:
    other = client.post("/api/keys", json={"name": "other", "scopes": ["trade"]}).json()["key"]
    key = {"Idempotency-Key": "shared-string"}
    mine = client.post("/api/orders/execute", json=order_body(), headers=key).json()
    client.headers.pop("Authorization")
    theirs = client.post(
        "/api/orders/execute", json=order_body(), headers={**key, **bearer(other)}
    ).json()
    assert mine["orderId"] != theirs["orderId"]


def test_client_order_ids_are_returned_filterable_and_unique_per_owner(client: Client) -> None:
    placed = client.post("/api/orders/execute", json=order_body(clientOrderId="bot-42")).json()
    assert placed["order"]["clientOrderId"] == "bot-42"
    found = client.get("/api/orders", params={"clientOrderId": "bot-42"}).json()["items"]
    assert [o["orderId"] for o in found] == [placed["orderId"]]
    taken = client.post("/api/orders/execute", json=order_body(clientOrderId="bot-42"))
    assert taken.status_code == 409
    assert placed["orderId"] in taken.json()["detail"]
    bad = client.post("/api/orders/execute", json=order_body(clientOrderId="no spaces!"))
    assert bad.status_code == 400
    assert bad.json()["extra"][0]["key"] == "clientOrderId"
