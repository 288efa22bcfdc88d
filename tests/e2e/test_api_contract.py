"""The JSON API over HTTP: its contract (README.md, "API"), and every bad input refused cleanly."""

from __future__ import annotations

from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import TestClient

from app.settings import Settings
from tests.builders import order_body
from tests.support.access import signed
from tests.support.db import count_orders

Client = TestClient[Litestar]


def test_placing_an_order_answers_201_with_its_id_and_links(client: Client) -> None:
    response = client.post("/api/orders/execute", json=order_body(amount=2))
    assert response.status_code == 201
    body = response.json()
    order_id = body["orderId"]
    assert body["status"] == "pending"
    assert body["order"]["amount"] == "2"
    assert body["order"]["slippageBps"] == 100
    assert body["links"] == {
        "self": f"/api/orders/{order_id}",
        "events": f"/api/orders/{order_id}/ws",
        "page": f"/orders/{order_id}",
    }
    detail = client.get(body["links"]["self"]).json()
    assert detail["order"]["status"] == "pending"
    assert [(e["seq"], e["status"]) for e in detail["events"]] == [(1, "pending")]


def test_amounts_may_be_json_numbers_and_slippage_defaults_to_50(client: Client) -> None:
    body = order_body(amount=0.25)
    del body["slippageBps"]
    response = client.post("/api/orders/execute", json=body)
    assert response.status_code == 201
    assert response.json()["order"]["amount"] == "0.25"
    assert response.json()["order"]["slippageBps"] == 50


@pytest.mark.parametrize(
    ("body", "field", "words"),
    [
        (order_body(tokenIn="DOGE"), "tokenIn", "not a supported token"),
        (order_body(tokenOut="SOL"), "tokenOut", "must differ"),
        (order_body(tokenIn="JUP", tokenOut="USDT"), "tokenOut", "no market"),
        (order_body(amount="0"), "amount", "greater than 0"),
        (order_body(amount=-5), "amount", "greater than 0"),
        (order_body(amount="lots"), "amount", "decimal"),
        (order_body(amount="1.0000000001"), "amount", "at most 9"),
        (order_body(amount="2000000000000"), "amount", "at most"),
        (order_body(amount=2e12), "amount", "at most"),
        (order_body(amount="2e12"), "amount", "decimal number"),
        (order_body(amount=True), "amount", "decimal"),
        (order_body(amount="١٢"), "amount", "decimal number"),
        (order_body(amount="\uff11"), "amount", "decimal number"),
        (order_body(amount="1_000"), "amount", "decimal number"),
        (order_body(amount="1." + "0" * 16_383), "amount", "too long"),
        (order_body(amount=None), "amount", "decimal"),
        (order_body(amount={"value": 1}), "amount", "decimal"),
        (order_body(slippageBps=0), "slippageBps", "1 to 5000"),
        (order_body(slippageBps=5001), "slippageBps", "1 to 5000"),
        (order_body(slippageBps=1.5), "slippageBps", "int"),
        (order_body(slippageBps=100.0), "slippageBps", "int"),
        (order_body(slippageBps="1e2"), "slippageBps", "int"),
        (order_body(slippageBps="100"), "slippageBps", "int"),
        (order_body(slippageBps=True), "slippageBps", "int"),
        (order_body(type="swap"), "type", "must be one of: market, limit"),
        (order_body(limitPrice="150"), "limitPrice", "does not apply to market orders"),
        (order_body(type="x" * 5000), "type", "length"),
        (order_body(tokenIn="S" * 5000), "tokenIn", "length"),
        (order_body(slipageBps=50), "slipageBps", "unknown field `slipageBps`"),
        (order_body(routing="split"), "routing", "must be one of: auto, single"),
        (order_body(routing=1), "routing", "str"),
        (order_body(routing="a" * 5000), "routing", "length"),
        ({"tokenIn": "SOL", "amount": "1"}, "tokenOut", "missing required field `tokenOut`"),
    ],
)
def test_bad_orders_get_400_naming_the_field_and_store_nothing(
    client: Client, settings: Settings, body: dict[str, Any], field: str, words: str
) -> None:
    before = count_orders(settings.database_url)
    response = client.post("/api/orders/execute", json=body)
    assert response.status_code == 400
    assert len(response.text) < 2000, "errors quote the input only briefly"
    problems = response.json()["extra"]
    assert any(p["key"] == field and words in p["message"] for p in problems), problems
    assert count_orders(settings.database_url) == before


JSON = {"content-type": "application/json"}


@pytest.mark.parametrize(
    ("content", "headers", "status"),
    [
        (b"{not json", JSON, 400),
        (b"[1, 2]", JSON, 400),
        (b"", JSON, 400),
        (b"x" * (65 * 1024), JSON, 413),
        (b'{"type":"market","tokenIn":"SOL\xff","tokenOut":"USDC","amount":"1"}', JSON, 400),
        (b"[" * 1000 + b"]" * 1000, JSON, 400),
        (b'{"tokenIn":' * 5000 + b"1" + b"}" * 5000, JSON, 400),
        (b"\x00\x01\x02", JSON, 400),
        (b'{"tokenIn":"SOL","tokenOut":"USDC","amount":1e2}', JSON, 400),
        (b'{"tokenIn":"SOL","tokenOut":"USDC","amount":-1}', JSON, 400),
        # Cross-site pages can send these without a preflight: never an order.
        (b'{"tokenIn":"SOL","tokenOut":"USDC","amount":"1"}', {"content-type": "text/plain"}, 415),
        (
            b"tokenIn=SOL&tokenOut=USDC&amount=1",
            {"content-type": "application/x-www-form-urlencoded"},
            415,
        ),
        (b'{"tokenIn":"SOL","tokenOut":"USDC","amount":"1"}', {}, 415),
    ],
)
def test_malformed_oversized_or_non_json_bodies_are_refused(
    client: Client, settings: Settings, content: bytes, headers: dict[str, str], status: int
) -> None:
    before = count_orders(settings.database_url)
    response = client.post("/api/orders/execute", content=content, headers=headers)
    assert response.status_code == status
    assert response.json()["status_code"] == status
    assert response.json()["detail"]
    assert count_orders(settings.database_url) == before


def test_json_with_a_charset_or_a_json_suffix_is_accepted(client: Client) -> None:
    body = b'{"tokenIn":"SOL","tokenOut":"USDC","amount":"1"}'
    for media in ("application/json; charset=utf-8", "application/vnd.api+json"):
        response = client.post("/api/orders/execute", content=body, headers={"content-type": media})
        assert response.status_code == 201, response.text


@pytest.mark.parametrize("order_id", ["01a20088-6200-7d39-929e-4617a4fc898b", "not-a-uuid"])
def test_an_unknown_order_is_404(client: Client, order_id: str) -> None:
    response = client.get(f"/api/orders/{order_id}")
    assert response.status_code == 404
    assert order_id in response.json()["detail"]


def test_the_list_is_newest_first_filtered_and_paged(client: Client) -> None:
    placed = [
        client.post("/api/orders/execute", json=order_body(tokenIn="BONK", amount=1000 + i)).json()
        for i in range(5)
    ]
    ids = [p["orderId"] for p in placed][::-1]
    first = client.get("/api/orders", params={"tokenIn": "BONK", "limit": 3}).json()
    assert [o["orderId"] for o in first["items"]] == ids[:3]
    assert first["nextCursor"] == ids[2]
    second = client.get(first["next"]).json()
    assert [o["orderId"] for o in second["items"]][:2] == ids[3:]
    pending = client.get("/api/orders", params={"status": "pending", "tokenIn": "BONK"}).json()
    assert {o["status"] for o in pending["items"]} == {"pending"}
    assert client.get("/api/orders", params={"dex": "raydium", "tokenIn": "BONK"}).json() == {
        "items": [],
        "nextCursor": None,
        "next": None,
    }


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"status": "done"}, "status"),
        ({"tokenIn": "XYZ"}, "tokenIn"),
        ({"dex": "orca"}, "dex"),
        ({"limit": 0}, "limit"),
        ({"limit": 201}, "limit"),
        ({"cursor": "abc"}, "cursor"),
        ({"from": "yesterday"}, "from"),
        ({"from": "0001-01-01T00:00:00+05:00"}, "from"),
        ({"to": "9999-12-31T23:59:59-01:00"}, "to"),
        ({"from": "2026-11-21", "to": "2026-11-20"}, "to"),  # nothing could match
    ],
)
def test_bad_list_filters_get_400(client: Client, params: dict[str, Any], field: str) -> None:
    response = client.get("/api/orders", params=params)
    assert response.status_code == 400
    assert any(p["key"] == field for p in response.json()["extra"])


def test_tokens_lists_tokens_and_pairs_with_their_venues(client: Client) -> None:
    catalog = client.get("/api/tokens").json()
    assert {t["symbol"] for t in catalog["tokens"]} >= {"SOL", "USDC", "USDT", "JUP", "BONK"}
    pairs = {p["symbol"]: p["venues"] for p in catalog["pairs"]}
    assert pairs["SOL/USDC"] == ["raydium", "meteora"]
    assert pairs["USDC/USDT"] == ["meteora"]


def test_quote_shows_every_venue_and_the_best_after_fees(client: Client) -> None:
    board = client.get(
        "/api/quote", params={"tokenIn": "SOL", "tokenOut": "USDC", "amount": "3"}
    ).json()
    quotes = {q["dex"]: q for q in board["quotes"]}
    assert set(quotes) == {"raydium", "meteora"}
    best = max(quotes.values(), key=lambda q: float(q["amountOut"]))
    assert board["best"]["dex"] == best["dex"]
    assert float(board["best"]["minReceived"]) < float(best["amountOut"])
    assert quotes["raydium"]["feeBps"] == "25"


def test_a_large_quote_shows_the_split_route_and_its_gain(client: Client) -> None:
    params = {"tokenIn": "SOL", "tokenOut": "USDC", "amount": "1000"}
    board = client.get("/api/quote", params=params).json()
    best = board["best"]
    legs = best["route"]
    assert sorted(leg["dex"] for leg in legs) == ["meteora", "raydium"]
    assert best["dex"] == "+".join(leg["dex"] for leg in legs)
    assert sum(leg["bps"] for leg in legs) == 10_000
    assert sum(float(leg["amountIn"]) for leg in legs) == pytest.approx(1000)
    assert float(best["gainBps"]) >= 1
    single = max(float(q["amountOut"]) for q in board["quotes"])
    assert float(best["amountOut"]) > single

    # Asked again (prices move every 100 ms): its own quotes are the reference.
    again = client.get("/api/quote", params={**params, "routing": "single"}).json()
    alone = again["best"]
    assert len(alone["route"]) == 1
    assert alone["gainBps"] is None
    assert (
        alone["amountOut"] == max(again["quotes"], key=lambda q: float(q["amountOut"]))["amountOut"]
    )


def test_quote_validates_like_an_order(client: Client) -> None:
    response = client.get("/api/quote", params={"tokenIn": "SOL", "tokenOut": "SOL", "amount": "1"})
    assert response.status_code == 400
    assert response.json()["extra"][0]["key"] == "tokenOut"
    missing = client.get("/api/quote", params={"tokenIn": "SOL"})
    assert missing.status_code == 400
    routing = {"tokenIn": "SOL", "tokenOut": "USDC", "amount": "1", "routing": "both"}
    assert client.get("/api/quote", params=routing).json()["extra"][0]["key"] == "routing"


def test_an_unfillable_quote_says_why(client: Client) -> None:
    board = client.get(
        "/api/quote", params={"tokenIn": "SOL", "tokenOut": "USDC", "amount": "50000000"}
    ).json()
    assert board["best"] is None
    assert "too shallow" in board["error"]


def test_health_and_schema(client: Client) -> None:
    health = client.get("/healthz")
    assert health.status_code == 200
    assert health.json() == {"status": "ok", "database": "ok", "redis": "ok", "events": "ok"}
    schema = client.get("/schema/openapi.json").json()
    assert "/api/orders/execute" in schema["paths"]


def test_the_rate_limit_answers_429_with_retry_after(settings: Settings) -> None:
    from app.web.app import create_app

    limited = settings.replace(order_rate_limit=3)
    with signed(TestClient(create_app(limited))) as client:
        # A key of its own: each key has its own allowance.
        fresh = client.post("/api/keys", json={"name": "limited", "scopes": ["trade"]})
        client.headers["Authorization"] = f"Bearer {fresh.json()['key']}"
        before = count_orders(settings.database_url)
        codes = [
            client.post("/api/orders/execute", json=order_body()).status_code for _ in range(3)
        ]
        refused = client.post("/api/orders/execute", json=order_body())
        assert codes == [201, 201, 201]
        assert refused.status_code == 429
        assert int(refused.headers["retry-after"]) >= 1
        assert refused.headers["ratelimit-limit"] == "3"
        assert "rate limit of 3 per minute" in refused.json()["detail"]
        assert count_orders(settings.database_url) == before + 3
