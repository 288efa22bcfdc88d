"""The HTML pages over HTTP: content, the form's rules, CSRF, CSP, partials and CSV."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import UTC, datetime

import pytest
from litestar import Litestar
from litestar.testing import TestClient

from app.domain.status import OrderStatus
from app.events.schema import OrderView
from app.settings import Settings
from app.web.app import create_app
from tests.builders import order_body
from tests.support.db import count_orders

Client = TestClient[Litestar]
HTMX = {"HX-Request": "true"}


def csrf(client: Client) -> dict[str, str]:
    """The token a page hands to htmx (and sets as a cookie), as htmx sends it back."""
    page = client.get("/").text
    headers = json.loads(re.search(r"hx-headers='([^']+)'", page).group(1))  # type: ignore[union-attr]
    return {**headers, **HTMX}


def form(**overrides: str) -> dict[str, str]:
    fields = {"type": "market", "tokenIn": "SOL", "tokenOut": "USDC", "amount": "1.25"}
    fields["slippageBps"] = "80"
    fields.update(overrides)
    return fields


def test_the_dashboard_has_the_order_form_and_the_live_table(client: Client) -> None:
    response = client.get("/")
    assert response.status_code == 200
    page = response.text
    for field in ("type", "tokenIn", "tokenOut", "amount", "slippageBps"):
        assert f'name="{field}"' in page
    assert 'ws-connect="/ws/dashboard"' in page
    assert 'id="recent-rows"' in page
    assert "/static/vendor/htmx-2.0.11.min.js" in page
    assert "/static/vendor/htmx-ext-ws-2.0.4.js" in page


def test_pages_carry_a_content_security_policy_without_eval(client: Client) -> None:
    for path in ("/", "/orders"):
        policy = client.get(path).headers["content-security-policy"]
        assert "script-src 'self'" in policy
        assert "unsafe-eval" not in policy
        assert "unsafe-inline" not in policy
    assert '"allowEval": false' in client.get("/").text


def test_vendored_scripts_are_served_from_this_site(client: Client) -> None:
    htmx = client.get("/static/vendor/htmx-2.0.11.min.js")
    assert htmx.status_code == 200
    assert 'version:"2.0.11"' in htmx.text.replace(" ", "")
    assert "defineExtension('ws'" in client.get("/static/vendor/htmx-ext-ws-2.0.4.js").text


def test_the_form_places_an_order_and_answers_with_its_row(client: Client) -> None:
    response = client.post("/orders", data=form(), headers=csrf(client))
    assert response.status_code == 200
    row = response.text.strip()
    order_id = re.search(r'id="order-([0-9a-f-]{36})"', row).group(1)  # type: ignore[union-attr]
    assert row.startswith("<tr")
    assert 'data-status="pending"' in row
    order = client.get(f"/api/orders/{order_id}").json()["order"]
    assert (order["amount"], order["slippageBps"]) == ("1.25", 80)


def test_without_javascript_the_form_redirects_to_the_order_page(client: Client) -> None:
    token = csrf(client)["X-CSRFToken"]
    response = client.post("/orders", data={**form(), "_csrf_token": token}, follow_redirects=False)
    assert response.status_code == 303
    assert re.fullmatch(r"/orders/[0-9a-f-]{36}", response.headers["location"])


def test_a_form_post_without_the_csrf_token_is_refused(client: Client, settings: Settings) -> None:
    before = count_orders(settings.database_url)
    response = client.post("/orders", data=form(), headers=HTMX)
    assert response.status_code == 403
    assert count_orders(settings.database_url) == before


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        ({"amount": "0"}, "amount", "greater than 0"),
        ({"amount": "1.0000000001"}, "amount", "at most 9"),
        ({"tokenOut": "SOL"}, "tokenOut", "must differ"),
        ({"slippageBps": "9000"}, "slippageBps", "1 to 5000"),
    ],
)
def test_form_errors_are_shown_next_to_their_field_and_store_nothing(
    client: Client, settings: Settings, change: dict[str, str], field: str, words: str
) -> None:
    before = count_orders(settings.database_url)
    response = client.post("/orders", data=form(**change), headers=csrf(client))
    assert response.status_code == 422
    assert response.headers["hx-retarget"] == "#order-form"
    message = re.search(rf'id="error-{field}">([^<]*)<', response.text).group(1)  # type: ignore[union-attr]
    assert words in message
    assert count_orders(settings.database_url) == before


def test_the_quote_preview_marks_the_winner_and_the_minimum(client: Client) -> None:
    preview = client.get(
        "/partials/quote",
        params={"tokenIn": "SOL", "tokenOut": "USDC", "amount": "2", "slippageBps": "100"},
    ).text
    assert "raydium" in preview
    assert "meteora" in preview
    assert preview.count("★ best") == 1
    assert "Minimum received at 1.0 % slippage" in preview
    bad = client.get("/partials/quote", params={"tokenIn": "SOL", "tokenOut": "SOL", "amount": "1"})
    assert bad.status_code == 200
    assert "tokenOut must differ from tokenIn" in bad.text


def test_history_filters_by_status_and_htmx_gets_only_the_results(
    client: Client, empty_db: None
) -> None:
    for amount in ("1", "2"):
        client.post("/api/orders/execute", json=order_body(amount=amount))
    full = client.get("/orders", params={"status": "pending"})
    assert "<html" in full.text
    assert full.text.count('data-status="pending"') == 2
    partial = client.get("/orders", params={"status": "confirmed"}, headers=HTMX)
    assert "<html" not in partial.text
    assert 'id="history"' in partial.text
    assert "data-status=" not in partial.text
    assert "No orders match these filters." in partial.text
    bad = client.get("/orders", params={"status": "done"})
    assert bad.status_code == 422
    assert "status &#39;done&#39; is not one of" in bad.text
    assert "data-status=" not in bad.text, "a filter that cannot apply lists nothing"


def test_a_to_date_before_the_from_date_is_a_422_next_to_the_field(
    client: Client, empty_db: None
) -> None:
    client.post("/api/orders/execute", json=order_body())
    dates = {"from": "2026-11-21", "to": "2026-11-20"}
    for headers in ({}, HTMX):
        answer = client.get("/orders", params=dates, headers=headers)
        assert answer.status_code == 422
        said = re.search(r'id="error-to"[^>]*>([^<]*)<', answer.text).group(1)  # type: ignore[union-attr]
        assert "To (2026-11-20) is before From (2026-11-21)" in said
        assert "data-status=" not in answer.text
    assert 'id="error-to" hx-swap-oob="true"' in answer.text, "htmx: the message goes by the field"
    same_day = client.get("/orders", params={"from": "2026-11-21", "to": "2026-11-21"})
    assert same_day.status_code == 200
    assert client.get("/orders.csv", params=dates).status_code == 400


def test_history_says_no_orders_yet_when_nothing_is_filtered(
    client: Client, empty_db: None
) -> None:
    assert "No orders yet" in client.get("/orders").text
    filtered = client.get("/orders", params={"status": "failed"}).text
    assert "No orders match these filters." in filtered
    assert "No orders yet" not in filtered


def test_the_rows_partial_answers_only_rows_that_moved_on(client: Client) -> None:
    order_id = client.post("/api/orders/execute", json=order_body()).json()["orderId"]
    seq = client.get(f"/api/orders/{order_id}").json()["order"]["lastSeq"]
    behind = client.get("/partials/rows", params={"row": f"{order_id}:{seq - 1}"}).text
    assert f'id="order-{order_id}"' in behind
    current = client.get("/partials/rows", params={"row": f"{order_id}:{seq}"}).text
    assert "<tr" not in current
    assert "<tr" not in client.get("/partials/rows", params={"row": "nonsense:x"}).text


def test_the_csv_export_is_the_filtered_view(client: Client, empty_db: None) -> None:
    ids = [
        client.post("/api/orders/execute", json=order_body(tokenIn=t, tokenOut="USDC")).json()[
            "orderId"
        ]
        for t in ("SOL", "JUP", "SOL")
    ]
    export = client.get("/orders.csv", params={"pair": "SOL/USDC"})
    assert export.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(export.text)))
    assert [r["orderId"] for r in rows] == [ids[2], ids[0]]
    assert {r["status"] for r in rows} == {"pending"}
    page = client.get("/orders", params={"pair": "SOL/USDC"}).text
    assert re.findall(r'id="order-([0-9a-f-]{36})"', page) == [r["orderId"] for r in rows]


def test_the_order_page_shows_details_and_the_timeline(client: Client) -> None:
    order_id = client.post("/api/orders/execute", json=order_body()).json()["orderId"]
    page = client.get(f"/orders/{order_id}").text
    assert order_id in page
    assert 'ws-connect="/ws/dashboard?order=' in page
    assert 'class="timeline"' in page
    assert "pending" in page
    assert client.get("/orders/01a20088-6200-7d39-929e-4617a4fc898b").status_code == 404


def view(**overrides: object) -> OrderView:
    now = datetime(2026, 11, 21, 22, 40, tzinfo=UTC)
    fields: dict[str, object] = {
        "order_id": "01a20088-6200-7d39-929e-4617a4fc898b",
        "type": "market",
        "token_in": "SOL",
        "token_out": "USDC",
        "amount": "1.5",
        "slippage_bps": 50,
        "status": OrderStatus.CONFIRMED,
        "attempt": 1,
        "last_seq": 5,
        "created_at": now,
        "updated_at": now,
        "dex": "meteora",
        "tx_hash": "5KqZ8xYz1111111111111111111111111111111111111111abcd",
        "amount_out": "225.5",
        "executed_price": "150.333",
    }
    fields.update(overrides)
    return OrderView(**fields)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def templates(infra: object) -> object:
    settings = Settings(database_url="postgresql://unused/", redis_url="redis://unused/")
    app = create_app(settings.replace(secret_key="test"))
    return app.template_engine


def render(templates: object, name: str, **context: object) -> str:
    return str(templates.get_template(name).render(**context))  # type: ignore[attr-defined]


def test_the_row_partial_is_one_element_keyed_by_order_and_status(templates: object) -> None:
    row = render(templates, "partials/order_row.html", order=view())
    assert row.startswith('<tr id="order-01a20088-6200-7d39-929e-4617a4fc898b"')
    assert 'data-status="confirmed"' in row
    assert 'data-seq="5"' in row
    assert "hx-swap-oob" not in row
    assert "225.5" in row
    assert "150.333" in row
    assert "5KqZ8x…abcd" in row
    assert "@ 150.333 USDC/SOL" in row, "a price says its unit: quote per base"
    bought = render(
        templates, "partials/order_row.html", order=view(token_in="USDC", token_out="SOL")
    )
    assert "USDC/SOL" in bought, "either side, the pair's unit"
    pushed = render(templates, "partials/order_row.html", order=view(), oob=True)
    assert 'hx-swap-oob="true"' in pushed


def test_a_failed_row_says_why_and_a_retry_shows_its_attempt(templates: object) -> None:
    failed = view(
        status=OrderStatus.FAILED,
        amount_out=None,
        executed_price=None,
        attempt=2,
        error="slippage exceeded on raydium",
    )
    row = render(templates, "partials/order_row.html", order=failed)
    assert 'data-status="failed"' in row
    assert "slippage exceeded on raydium" in row
    long = "slippage exceeded: 148.231906 USDC is below the minimum 149.000000 USDC on raydium"
    failed_long = view(status=OrderStatus.FAILED, amount_out=None, executed_price=None, error=long)
    cut = render(templates, "partials/order_row.html", order=failed_long)
    assert cut.count(long) == 2, "the whole reason (CSS clamps it), and in its title"
    assert "try 2" in row
