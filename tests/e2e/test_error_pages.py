"""Errors a browser sees are pages of the site; programs keep the JSON error body."""

from __future__ import annotations

import httpx
import pytest
from litestar import Litestar
from litestar.testing import TestClient
from redis.exceptions import ConnectionError as RedisConnectionError

from app.settings import Settings
from app.web import pages
from app.web.app import create_app
from app.web.guards import CSP
from tests.builders import order_body
from tests.support.access import bearer

Client = TestClient[Litestar]

BROWSER = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}
"""What a browser sends when it navigates to a page."""
UNKNOWN_ORDER = "01a20088-6200-7d39-929e-4617a4fc898b"
NAVIGATION = ('aria-label="Main"', 'href="/"', 'href="/orders"', 'href="/schema"')


def assert_site_page(response: httpx.Response, status: int) -> str:
    """An HTML page in the site's frame (its navigation, a way back), with the site's CSP."""
    assert response.status_code == status
    assert response.headers["content-type"].startswith("text/html")
    assert response.headers["content-security-policy"] == CSP
    page = response.text
    assert page.lstrip().lower().startswith("<!doctype html>")
    for link in NAVIGATION:
        assert link in page, link
    assert "Back to the dashboard" in page
    assert "/static/app.css" in page
    return page


def test_an_unknown_page_is_a_404_page_with_the_navigation(client: Client) -> None:
    page = assert_site_page(client.get("/nope", headers=BROWSER), 404)
    assert "Page not found" in page
    assert "There is no page at /nope." in page


def test_without_signing_in_an_unknown_page_is_still_a_404_page_and_pages_still_redirect(
    settings: Settings,
) -> None:
    with TestClient(create_app(settings)) as browser:
        assert_site_page(browser.get("/nope", headers=BROWSER), 404)
        for path in ("/", f"/orders/{UNKNOWN_ORDER}"):
            answer = browser.get(path, headers=BROWSER, follow_redirects=False)
            assert answer.status_code == 303, path
            assert answer.headers["location"].startswith("/login?next=/"), path


def test_an_unknown_order_is_a_404_page(client: Client) -> None:
    page = assert_site_page(client.get(f"/orders/{UNKNOWN_ORDER}", headers=BROWSER), 404)
    assert f"No order with id &#39;{UNKNOWN_ORDER}&#39;" in page
    assert "Signed in as" in page  # the viewer's own frame: who they are, sign out


def test_another_owners_order_is_the_same_404_page_as_an_unknown_one(client: Client) -> None:
    keys = [
        client.post("/api/keys", json={"name": f"trader {n}", "scopes": ["read", "trade"]})
        for n in "AB"
    ]
    a, b = (bearer(k.json()["key"]) for k in keys)
    client.headers.pop("Authorization")
    order_id = client.post("/api/orders/execute", json=order_body(), headers=a).json()["orderId"]
    assert client.get(f"/orders/{order_id}", headers={**a, **BROWSER}).status_code == 200
    theirs = assert_site_page(client.get(f"/orders/{order_id}", headers={**b, **BROWSER}), 404)
    unknown = assert_site_page(
        client.get(f"/orders/{UNKNOWN_ORDER}", headers={**b, **BROWSER}), 404
    )
    assert theirs.replace(order_id, UNKNOWN_ORDER) == unknown
    assert "trader A" not in theirs


def test_an_unescaped_id_in_the_path_is_shown_escaped(client: Client) -> None:
    page = assert_site_page(client.get("/orders/<b>x</b>", headers=BROWSER), 404)
    assert "<b>x</b>" not in page


@pytest.mark.parametrize(
    "path", ["/api/nope", f"/api/orders/{UNKNOWN_ORDER}", "/metrics/nope", "/healthz/nope"]
)
def test_the_json_api_answers_json_even_to_a_browser(client: Client, path: str) -> None:
    answer = client.get(path, headers=BROWSER)
    assert answer.status_code == 404
    assert answer.headers["content-type"].startswith("application/json")
    assert answer.json().keys() == {"status_code", "detail"}


def test_programs_and_htmx_keep_the_json_body_on_pages(client: Client) -> None:
    for headers in ({}, {"Accept": "application/json"}, {**BROWSER, "HX-Request": "true"}):
        answer = client.get(f"/orders/{UNKNOWN_ORDER}", headers=headers)
        assert answer.status_code == 404
        assert answer.headers["content-type"].startswith("application/json")
        assert answer.json()["detail"] == f"no order with id '{UNKNOWN_ORDER}'"
    assert client.get("/nope").json() == {"status_code": 404, "detail": "Not Found"}


def test_a_bug_on_a_page_is_a_500_page_that_tells_nothing(
    client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(*_: object) -> dict[str, object]:
        raise RuntimeError("the secret internals")

    monkeypatch.setattr(pages, "dashboard_context", broken)
    page = assert_site_page(client.get("/", headers=BROWSER), 500)
    assert "Something went wrong" in page
    assert "secret" not in page
    assert "RuntimeError" not in page
    assert "Traceback" not in page
    program = client.get("/")
    assert program.status_code == 500
    assert program.json() == {"status_code": 500, "detail": "Internal Server Error"}


def test_an_outage_on_a_page_is_a_503_page_with_retry_after(
    client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def cut_off(*_: object) -> dict[str, object]:
        raise RedisConnectionError("Error 111 connecting to 10.0.0.7:6379")

    monkeypatch.setattr(pages, "dashboard_context", cut_off)
    answer = client.get("/", headers=BROWSER)
    page = assert_site_page(answer, 503)
    assert answer.headers["retry-after"] == "5"
    assert "10.0.0.7" not in page
    assert client.get("/").json()["detail"] == "Redis is unavailable; retry shortly"
