"""Keys, scopes and ownership: every surface shows a key its own orders only."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from litestar import Litestar
from litestar.testing import TestClient
from websockets.exceptions import ConnectionClosed, InvalidStatus

from app.settings import Settings
from app.web.app import create_app
from tests.builders import order_body
from tests.e2e.conftest import Live
from tests.support.access import ADMIN_KEY, bearer, connect, signed
from tests.support.processes import start_web
from tests.support.waiting import wait_until

Client = TestClient[Litestar]


def make_key(admin: httpx.Client, name: str, scopes: list[str]) -> str:
    made = admin.post("/api/keys", json={"name": name, "scopes": scopes})
    assert made.status_code == 201, made.text
    key: str = made.json()["key"]
    return key


@pytest.fixture
def keys(client: Client) -> dict[str, str]:
    """Two traders (A, B) and a reader, made through the API by the admin."""
    return {
        "a": make_key(client, "trader A", ["read", "trade"]),
        "b": make_key(client, "trader B", ["read", "trade"]),
        "reader": make_key(client, "reader", ["read"]),
    }


def as_key(client: Client, key: str | None) -> dict[str, str]:
    client.headers.pop("Authorization", None)
    return bearer(key)


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/orders"),
        ("POST", "/api/orders/execute"),
        ("GET", "/api/orders/01a20088-6200-7d39-929e-4617a4fc898b"),
        ("GET", "/api/events"),
        ("GET", "/api/keys"),
        ("GET", "/api/webhooks"),
        ("GET", "/metrics"),
    ],
)
def test_without_a_key_the_api_answers_401_with_a_bearer_challenge(
    settings: Settings, method: str, path: str
) -> None:
    with TestClient(create_app(settings)) as anonymous:
        answer = anonymous.request(method, path, json=order_body() if method == "POST" else None)
        assert answer.status_code == 401
        assert answer.headers["www-authenticate"].startswith("Bearer")


@pytest.mark.parametrize("path", ["/healthz", "/api/tokens", "/login", "/static/app.css"])
def test_public_paths_need_no_key(settings: Settings, path: str) -> None:
    with TestClient(create_app(settings)) as anonymous:
        assert anonymous.get(path).status_code == 200
    quote = {"tokenIn": "SOL", "tokenOut": "USDC", "amount": "1"}
    with TestClient(create_app(settings)) as anonymous:
        assert anonymous.get("/api/quote", params=quote).status_code == 200


def test_pages_send_a_browser_without_a_session_to_sign_in(settings: Settings) -> None:
    with TestClient(create_app(settings)) as browser:
        answer = browser.get("/orders?status=confirmed", follow_redirects=False)
        assert answer.status_code == 303
        assert answer.headers["location"] == "/login?next=/orders%3Fstatus%3Dconfirmed"


def test_a_wrong_or_revoked_key_is_refused_and_x_api_key_works_too(
    client: Client, keys: dict[str, str]
) -> None:
    assert client.get("/api/orders", headers=as_key(client, "oee_nope_nope")).status_code == 401
    answer = client.get("/api/orders", headers={"X-API-Key": keys["a"]})
    assert answer.status_code == 200


def test_scopes_decide_what_a_key_may_do(client: Client, keys: dict[str, str]) -> None:
    reader = as_key(client, keys["reader"])
    refused = client.post("/api/orders/execute", json=order_body(), headers=reader)
    assert refused.status_code == 403
    assert "trade" in refused.json()["detail"]
    assert client.get("/api/orders", headers=reader).status_code == 200
    trader = as_key(client, keys["a"])
    assert client.get("/api/keys", headers=trader).status_code == 403
    assert client.get("/metrics", headers=trader).status_code == 403


def test_another_owners_order_is_exactly_like_an_unknown_one(
    client: Client, keys: dict[str, str]
) -> None:
    a, b = as_key(client, keys["a"]), as_key(client, keys["b"])
    placed = client.post("/api/orders/execute", json=order_body(), headers=a).json()
    order_id = placed["orderId"]
    assert client.get(f"/api/orders/{order_id}", headers=a).status_code == 200
    theirs = client.get(f"/api/orders/{order_id}", headers=b)
    unknown = client.get("/api/orders/01a20088-6200-7d39-929e-4617a4fc898b", headers=b)
    assert theirs.status_code == unknown.status_code == 404
    assert theirs.json().keys() == unknown.json().keys()
    listed = client.get("/api/orders", headers=b).json()["items"]
    assert order_id not in {o["orderId"] for o in listed}
    events = client.get("/api/events", params={"limit": 1000}, headers=b).json()["items"]
    assert order_id not in {e["orderId"] for e in events}
    mine = client.get("/api/events", params={"limit": 1000}, headers=a).json()["items"]
    assert order_id in {e["orderId"] for e in mine}
    admin = as_key(client, ADMIN_KEY)
    assert client.get(f"/api/orders/{order_id}", headers=admin).status_code == 200


def test_history_csv_and_order_page_show_only_your_orders(
    client: Client, keys: dict[str, str]
) -> None:
    a, b = as_key(client, keys["a"]), as_key(client, keys["b"])
    order_id = client.post("/api/orders/execute", json=order_body(), headers=a).json()["orderId"]
    assert order_id not in client.get("/orders.csv", headers=b).text
    assert order_id in client.get("/orders.csv", headers=a).text
    assert f"order-{order_id}" not in client.get("/orders", headers=b).text
    assert f"order-{order_id}" in client.get("/orders", headers=a).text
    assert client.get(f"/orders/{order_id}", headers=b).status_code == 404
    assert f"order-{order_id}" not in client.get("/", headers=b).text


def test_a_session_write_needs_the_csrf_token(settings: Settings) -> None:
    with TestClient(create_app(settings)) as browser:
        page = browser.get("/login").text
        token = page.split('name="_csrf_token" value="', 1)[1].split('"', 1)[0]
        browser.post("/login", data={"_csrf_token": token, "apiKey": ADMIN_KEY, "next": "/"})
        assert browser.get("/api/orders").status_code == 200  # reads ride on the cookie
        refused = browser.post("/api/orders/execute", json=order_body())
        assert refused.status_code == 403
        assert "CSRF" in refused.json()["detail"]
        placed = browser.post(
            "/api/orders/execute", json=order_body(), headers={"X-CSRFToken": token}
        )
        assert placed.status_code == 201
        browser.post("/logout", data={"_csrf_token": token})
        assert browser.get("/api/orders").status_code == 401


def test_keys_are_shown_once_listed_without_secrets_and_revoked(client: Client) -> None:
    made = client.post("/api/keys", json={"name": "ci", "scopes": ["read"]}).json()
    assert made["key"].startswith(f"oee_{made['prefix']}_")
    listed = {k["id"]: k for k in client.get("/api/keys").json()}
    assert made["id"] in listed
    assert "key" not in listed[made["id"]]
    assert json.dumps(listed).count(made["key"]) == 0
    reader = bearer(made["key"])
    client.headers.pop("Authorization")
    assert client.get("/api/orders", headers=reader).status_code == 200
    gone = client.delete(f"/api/keys/{made['id']}", headers=bearer(ADMIN_KEY))
    assert gone.status_code == 204
    wait_until(
        lambda: client.get("/api/orders", headers=reader).status_code == 401,
        timeout=1.0,
        what="the revoked key to be refused",
    )
    bad = client.post(
        "/api/keys", json={"name": "x", "scopes": ["root"]}, headers=bearer(ADMIN_KEY)
    )
    assert bad.status_code == 400
    assert "scope" in bad.json()["detail"]


@pytest.fixture
def second_web(live: Live) -> Iterator[str]:
    web, address = start_web(live.settings)
    try:
        yield f"http://{address}"
    finally:
        web.stop()


def test_a_revoked_key_is_refused_within_a_second_on_every_web_process(
    live: Live, api: httpx.Client, second_web: str
) -> None:
    made = api.post("/api/keys", json={"name": "to revoke", "scopes": ["read"]}).json()
    with httpx.Client(base_url=second_web, headers=bearer(made["key"])) as other:
        assert other.get("/api/orders").status_code == 200
        assert api.delete(f"/api/keys/{made['id']}").status_code == 204
        wait_until(
            lambda: other.get("/api/orders").status_code == 401,
            timeout=1.0,
            what="the other web process to refuse the revoked key",
        )


def read_events(ws: Any, count: int) -> list[dict[str, Any]]:
    return [json.loads(ws.recv(timeout=20)) for _ in range(count)]


def test_sockets_want_a_key_and_show_only_your_orders(live: Live, api: httpx.Client) -> None:
    for path in ("/api/orders/ws", "/ws/dashboard", "/api/orders/x/ws"):
        with pytest.raises(InvalidStatus) as refused:
            connect(f"{live.ws}{path}", key=None)
        assert refused.value.response.status_code == 401
    a = api.post("/api/keys", json={"name": "A", "scopes": ["read", "trade"]}).json()["key"]
    b = api.post("/api/keys", json={"name": "B", "scopes": ["read", "trade"]}).json()["key"]
    with (
        connect(f"{live.ws}/api/orders/ws", key=b) as firehose_b,
        connect(f"{live.ws}/ws/dashboard", key=b) as dashboard_b,
    ):
        dashboard_b.recv(timeout=10)  # the snapshot
        theirs = api.post("/api/orders/execute", json=order_body(), headers=bearer(a)).json()
        ours = api.post("/api/orders/execute", json=order_body(), headers=bearer(b)).json()
        seen = read_events(firehose_b, 5)
        assert {e["orderId"] for e in seen} == {ours["orderId"]}
        pushes = ""
        while ours["orderId"] not in pushes:
            pushes += str(dashboard_b.recv(timeout=20))
        assert theirs["orderId"] not in pushes
    with connect(f"{live.ws}/api/orders/{theirs['orderId']}/ws", key=b) as other:
        with pytest.raises(ConnectionClosed):
            other.recv(timeout=10)
        assert other.close_code == 1008
    with connect(f"{live.ws}/api/orders/{theirs['orderId']}/ws", key=a) as own:
        assert json.loads(own.recv(timeout=10))["seq"] == 1


def test_the_rate_limit_is_per_key(settings: Settings) -> None:
    with signed(TestClient(create_app(settings.replace(order_rate_limit=2)))) as admin:
        one, other = make_key(admin, "one", ["trade"]), make_key(admin, "other", ["trade"])
        admin.headers.pop("Authorization")
        codes = [
            admin.post("/api/orders/execute", json=order_body(), headers=bearer(one)).status_code
            for _ in range(3)
        ]
        assert codes == [201, 201, 429]
        theirs = admin.post("/api/orders/execute", json=order_body(), headers=bearer(other))
        assert theirs.status_code == 201
