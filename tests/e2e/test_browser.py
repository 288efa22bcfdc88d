"""The dashboard in headless Chromium, driven as a trader would use it."""

from __future__ import annotations

import asyncio
import csv
import os
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.infra.embedded import free_port
from app.runtime import open_runtime
from app.settings import Settings
from tests.builders import order_body, order_request, settings_for
from tests.e2e.conftest import Live
from tests.support.access import ADMIN_KEY, bearer
from tests.support.infra import Infra, fresh_database
from tests.support.processes import Process, start_web, start_worker
from tests.support.waiting import wait_until

CHROMIUM = Path("/usr/bin/chromium")
TERMINAL = ("confirmed", "failed")

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    if not CHROMIUM.exists():
        reason = f"browser tests need Debian's Chromium at {CHROMIUM} (apt-get install -y chromium)"
        if os.environ.get("REQUIRE_BROWSER"):
            pytest.fail(reason)
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        yield browser
        browser.close()


class Site:
    """A web process and a worker with steps slow enough to watch, and a restartable web."""

    def __init__(self, infra: Infra, database_url: str) -> None:
        self.settings = settings_for(
            infra,
            database_url=database_url,
            mock_latency_scale=0.5,
            mock_seed=11,
            reconcile_interval_seconds=30.0,
            queue_name="browser",
            secret_key="browser-tests",
        )
        self.port = free_port()
        self.live = Live(f"127.0.0.1:{self.port}", self.settings)
        self.worker = start_worker(self.settings)
        self.web = self.start_web()

    def start_web(self) -> Process:
        return start_web(self.settings, port=self.port)[0]

    def stop(self) -> None:
        self.web.stop()
        self.worker.stop()


@pytest.fixture(scope="module")
def site(infra: Infra) -> Iterator[Site]:
    with fresh_database(infra, "oee_test_browser") as database_url:
        running = Site(infra, database_url)
        yield running
        running.stop()


@pytest.fixture
def page(chromium: Any, site: Site) -> Iterator[Any]:
    context = chromium.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
    tab = context.new_page()
    problems: list[str] = []
    tab.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    tab.on(
        "console",
        lambda message: (
            problems.append(message.text)
            if "Content Security Policy" in message.text or "Refused to" in message.text
            else None
        ),
    )
    tab.set_default_timeout(20_000)
    sign_in(tab, site.live.http)
    yield tab
    context.close()
    assert problems == [], "the page must run without script errors or CSP violations"


def sign_in(page: Any, base: str, key: str = ADMIN_KEY) -> None:
    """As a person does: the sign-in page, the key pasted, then the dashboard."""
    page.goto(f"{base}/login")
    page.fill("input[name=apiKey]", key)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/")


def watch_rows(page: Any) -> None:
    """Record every status each row shows, however it got there (insert or replace)."""
    page.evaluate(
        """() => {
          window.__seen = {};
          const note = (row) => {
            (window.__seen[row.id] ||= []).push(row.dataset.status);
          };
          const rows = document.getElementById("recent-rows");
          rows.querySelectorAll("tr").forEach(note);
          new MutationObserver((changes) => {
            for (const change of changes)
              for (const node of change.addedNodes)
                if (node.nodeType === 1 && node.matches("tr[id^=order-]")) note(node);
          }).observe(rows, { childList: true });
        }"""
    )


async def place_directly(settings: Settings) -> str:
    runtime = await open_runtime(settings)
    try:
        return (await runtime.desk.place(order_request(), "test")).id
    finally:
        await runtime.close()


def wait_for_terminal(page: Any, order_id: str) -> str:
    row = page.locator(f"#order-{order_id}")
    row.and_(page.locator("[data-status=confirmed], [data-status=failed]")).wait_for()
    status: str = row.get_attribute("data-status")
    return status


def shoot(page: Any, name: str) -> None:
    target = os.environ.get("SCREENSHOT_DIR")
    if target:
        Path(target).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(target) / name), full_page=True)


def test_an_order_placed_in_the_form_moves_through_its_statuses_live(page: Any, site: Site) -> None:
    with httpx.Client(base_url=site.live.http, headers=bearer()) as api:
        placed = [
            api.post(
                "/api/orders/execute",
                json=order_body(tokenIn=token_in, tokenOut=token_out, amount=amount),
            ).json()["orderId"]
            for token_in, token_out, amount in (
                ("SOL", "USDC", "3"),
                ("USDC", "JUP", "400"),
                ("SOL", "USDC", "250"),
                ("JUP", "SOL", "900"),
                ("USDC", "USDT", "1500"),
            )
        ]
        # Settled first: the 250 SOL fill (split across both pools) would otherwise land
        # between the form order's quote and its fill, and move its price past 1 %.
        wait_until(
            lambda: all(
                api.get(f"/api/orders/{order_id}").json()["order"]["status"]
                in ("confirmed", "failed")
                for order_id in placed
            ),
            what="the orders placed over the API to settle",
        )
    page.goto(site.live.http)
    page.locator("#conn[data-state=open]").wait_for()
    watch_rows(page)
    page.select_option("select[name=tokenIn]", "SOL")
    page.select_option("select[name=tokenOut]", "USDC")
    page.fill("input[name=amount]", "2.5")
    page.fill("input[name=slippageBps]", "100")
    page.locator("#quote-preview .star").wait_for()
    assert page.locator("#slippage-hint").inner_text() == "= 1.00 %"
    before = set(page.evaluate("() => Object.keys(window.__seen)"))
    page.keyboard.press("Enter")  # submit from the keyboard

    new_row = page.wait_for_function(
        """(before) => Object.keys(window.__seen).find((id) => !before.includes(id))""",
        arg=list(before),
    )
    order_id = new_row.json_value().removeprefix("order-")
    assert wait_for_terminal(page, order_id) == "confirmed"
    seen = page.evaluate("(id) => window.__seen['order-' + id]", order_id)
    assert seen[0] == "pending"
    assert seen[-1] == "confirmed"
    assert len(set(seen)) >= 3, f"expected to watch at least three statuses, saw {seen}"
    assert page.locator(f"[id='order-{order_id}']").count() == 1, "exactly one row per order"
    assert page.url.rstrip("/") == site.live.http, "no reload, no navigation"
    page.locator("#charts figure").first.wait_for()
    shoot(page, "dashboard.png")


def test_form_errors_appear_next_to_the_field(page: Any, site: Site) -> None:
    page.goto(site.live.http)
    page.fill("input[name=amount]", "0")
    page.click("#order-form button[type=submit]")
    error = page.locator("#error-amount")
    error.filter(has_text="greater than 0").wait_for()
    assert page.locator("input[name=amount][aria-invalid=true]").count() == 1


def test_an_order_placed_over_the_api_appears_on_an_open_dashboard(page: Any, site: Site) -> None:
    page.goto(site.live.http)
    page.locator("#conn[data-state=open]").wait_for()
    order_id = httpx.post(
        f"{site.live.http}/api/orders/execute",
        json=order_body(tokenIn="USDC", tokenOut="SOL"),
        headers=bearer(),
    ).json()["orderId"]
    assert wait_for_terminal(page, order_id) in TERMINAL
    assert page.locator("#recent-rows > tr").first.get_attribute("id") == f"order-{order_id}"


def test_after_a_server_restart_the_dashboard_reconnects_and_catches_up(
    page: Any, site: Site
) -> None:
    page.goto(site.live.http)
    page.locator("#conn[data-state=open]").wait_for()
    site.web.stop()
    try:
        page.locator("#conn[data-state=closed]").wait_for()
        # Placed while the dashboard is cut off (the web process is down): the re-sync on
        # reconnect must bring it in; no pushed event reached this page.
        with ThreadPoolExecutor(1) as thread:  # Playwright's loop owns this thread
            order_id = thread.submit(asyncio.run, place_directly(site.settings)).result()
    finally:
        site.web = site.start_web()
    page.locator("#conn[data-state=open]").wait_for(timeout=30_000)
    assert wait_for_terminal(page, order_id) in TERMINAL


def test_history_filters_by_status_and_exports_the_same_rows(page: Any, site: Site) -> None:
    with httpx.Client(base_url=site.live.http, headers=bearer()) as api:
        too_large = api.post("/api/orders/execute", json=order_body(amount="1000000000"))
        link = too_large.json()["links"]["self"]
        wait_until(
            lambda: api.get(link).json()["order"]["status"] == "failed",
            what="the oversized order to fail",
        )
    page.goto(f"{site.live.http}/orders")
    page.select_option("select[name=status]", "failed")
    page.wait_for_url("**/orders?status=failed")
    rows = page.locator("#history-rows > tr")
    rows.first.wait_for()
    statuses = rows.evaluate_all("(rows) => rows.map((row) => row.dataset.status)")
    assert statuses
    assert set(statuses) == {"failed"}
    shown = rows.evaluate_all("(rows) => rows.map((row) => row.id.slice('order-'.length))")
    with page.expect_download() as download:
        page.click("text=Export CSV")
    with open(download.value.path(), newline="") as exported_file:
        exported = list(csv.DictReader(exported_file))
    assert [row["orderId"] for row in exported] == shown
    assert {row["status"] for row in exported} == {"failed"}
    shoot(page, "history.png")


def test_the_order_page_shows_the_route_and_the_timeline(page: Any, site: Site) -> None:
    order_id = httpx.post(
        f"{site.live.http}/api/orders/execute", json=order_body(), headers=bearer()
    ).json()["orderId"]
    page.goto(f"{site.live.http}/orders/{order_id}")
    # Live while it runs: the timeline grows to the end without a reload.
    page.locator(".timeline .step.s-confirmed, .timeline .step.s-failed").wait_for()
    steps = page.locator(".timeline .step strong").all_inner_texts()
    assert steps == ["pending", "routing", "building", "submitted", "confirmed"]
    assert page.locator(".route .star").count() == 1
    assert "after fees" in page.locator(".route .why").first.inner_text()
    shoot(page, "order.png")


def orders_of_amount(site: Site, amount: str) -> int:
    listed = httpx.get(
        f"{site.live.http}/api/orders", params={"limit": 200}, headers=bearer()
    ).json()["items"]
    return sum(1 for order in listed if order["amount"] == amount)


def settle_form(page: Any) -> None:
    """Until the form has no request in flight."""
    page.wait_for_function(
        "() => !document.querySelector('#order-form.htmx-request, #order-form button[disabled]')"
    )


def test_a_double_click_or_enter_pressed_three_times_places_one_order(
    page: Any, site: Site
) -> None:
    page.goto(site.live.http)
    page.locator("#conn[data-state=open]").wait_for()
    page.fill("input[name=amount]", "0.777")
    page.locator("#quote-preview .star").wait_for()
    page.dblclick("#order-form button[type=submit]")
    page.locator("#recent-rows tr").first.wait_for()
    settle_form(page)
    page.click("#order-form button[type=submit]")  # and once more, for good measure
    page.locator("#form-status").filter(has_text="Already placed").wait_for()
    settle_form(page)
    assert orders_of_amount(site, "0.777") == 1

    page.fill("input[name=amount]", "0.778")  # a changed order is a new one
    page.locator("input[name=amount]").press("Enter")
    page.locator("input[name=amount]").press("Enter")
    page.locator("input[name=amount]").press("Enter")
    settle_form(page)
    wait_until(lambda: orders_of_amount(site, "0.778") == 1, what="the new order")
    assert orders_of_amount(site, "0.777") == 1


def price_now(site: Site, token_in: str, token_out: str, amount: str) -> Decimal:
    board = httpx.get(
        f"{site.live.http}/api/quote",
        params={"tokenIn": token_in, "tokenOut": token_out, "amount": amount},
        headers=bearer(),
    ).json()
    return Decimal(board["best"]["price"])


def place_limit(site: Site, above: str) -> str:
    """Sell 100 JUP (a pair no other browser test moves) at `above` times the price now."""
    limit = (price_now(site, "JUP", "USDC", "100") * Decimal(above)).quantize(Decimal("0.0001"))
    body = {"type": "limit", "tokenIn": "JUP", "tokenOut": "USDC", "amount": "100",
            "limitPrice": str(limit), "expiresIn": 600}  # fmt: skip
    placed = httpx.post(f"{site.live.http}/api/orders/execute", json=body, headers=bearer())
    assert placed.status_code == 201, placed.text
    order_id: str = placed.json()["orderId"]
    return order_id


def test_a_limit_order_from_the_form_shows_its_distance_and_cancels_from_its_row(
    page: Any, site: Site
) -> None:
    page.goto(site.live.http)
    page.locator("#conn[data-state=open]").wait_for()
    page.check("input[name=type][value=limit]")
    assert not page.locator("#slippage-bps").is_visible(), "a limit sets its own bound"
    page.select_option("select[name=tokenIn]", "JUP")
    page.select_option("select[name=tokenOut]", "USDC")
    page.fill("input[name=amount]", "100")
    page.locator("#price-now").filter(has_text="USDC per JUP").wait_for()
    limit = (price_now(site, "JUP", "USDC", "100") * Decimal("1.03")).quantize(Decimal("0.0001"))
    page.fill("input[name=limitPrice]", str(limit))
    page.locator("#quote-preview").filter(has_text="% away").wait_for()
    page.click("#order-form button[type=submit]")

    row = page.locator("#recent-rows tr[data-status=waiting]").first
    row.wait_for()
    order_id = row.get_attribute("id").removeprefix("order-")
    assert f"≥ {limit.normalize()} USDC per JUP" in row.inner_text()
    # The distance arrives (and stays fresh) by itself.
    page.locator(f"#gap-{order_id}").filter(has_text="% away").wait_for()
    shoot(page, "limit-waiting.png")
    page.set_viewport_size({"width": 390, "height": 844})
    shoot(page, "limit-waiting-phone.png")

    page.locator(f"#order-{order_id} button.cancel").click()
    page.locator(f"#order-{order_id}[data-status=cancelled]").wait_for()
    assert page.locator(f"#order-{order_id} button.cancel").count() == 0
    stored = httpx.get(f"{site.live.http}/api/orders/{order_id}", headers=bearer()).json()
    assert stored["order"]["status"] == "cancelled"


def test_moving_the_market_from_the_dashboard_fills_a_waiting_limit_live(
    page: Any, site: Site
) -> None:
    order_id = place_limit(site, "1.02")
    page.goto(site.live.http)
    page.locator("#conn[data-state=open]").wait_for()
    page.locator(f"#order-{order_id}[data-status=waiting]").wait_for()
    page.select_option("#market-panel select[name=pair]", "JUP/USDC")
    page.fill("#market-panel input[name=moveBps]", "400")
    page.fill("#market-panel input[name=holdSeconds]", "20")
    page.click("#market-panel button[type=submit]")
    page.locator("#market-panel .form-status").filter(has_text="JUP/USDC moved +400 bps").wait_for()
    assert wait_for_terminal(page, order_id) == "confirmed"
    back = {"pair": "JUP/USDC", "moveBps": -400, "holdSeconds": 0}
    assert httpx.post(f"{site.live.http}/api/sim/moves", json=back, headers=bearer()).is_success


def test_the_order_page_of_a_waiting_limit_shows_it_and_cancels_it(page: Any, site: Site) -> None:
    order_id = place_limit(site, "1.05")
    page.goto(f"{site.live.http}/orders/{order_id}")
    page.locator(".timeline .step.s-waiting").wait_for()
    facts = page.locator(".facts").inner_text()
    assert "USDC per JUP" in facts
    assert "Waits until" in facts
    page.locator(f"#gap-{order_id}").filter(has_text="% away").wait_for()
    shoot(page, "limit-order.png")
    page.click("#order-detail button.cancel")
    page.locator("#order-detail .badge.s-cancelled").wait_for()
    assert page.locator("#order-detail button.cancel").count() == 0
    assert page.locator(".timeline .step strong").all_inner_texts()[-1] == "cancelled"
