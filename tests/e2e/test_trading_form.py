"""The order form as a trader relies on it, in headless Chromium: a preview that stays true,
submits that say what happened (even when they fail), guards before a risky order, and a
dashboard that fits a phone."""

from __future__ import annotations

import secrets
from typing import Any

import httpx
import pytest

from tests.builders import order_body
from tests.e2e import test_browser as browser
from tests.e2e.test_browser import Site, orders_of_amount, settle_form, shoot, sign_in
from tests.support.access import bearer
from tests.support.waiting import wait_until

pytestmark = pytest.mark.browser

# The browser tests' fixtures: Chromium, a running site, a signed-in tab.
chromium = browser.chromium
site = browser.site
page = browser.page

PLACE = "#order-form button[type=submit]"


def ready(page: Any, site: Site) -> None:
    page.goto(site.live.http)
    page.locator("#conn[data-state=open]").wait_for()
    page.locator("#quote-preview .star").wait_for()


def test_after_a_form_error_the_preview_follows_the_new_amount(page: Any, site: Site) -> None:
    ready(page, site)
    page.fill("input[name=amount]", "abc")
    page.click(PLACE)
    page.locator("#error-amount").filter(has_text="decimal").wait_for()
    page.locator("#quote-preview").filter(has_text="decimal").wait_for()

    page.evaluate(
        """() => {
          window.__causes = [];
          document.addEventListener("htmx:configRequest", (event) => {
            if (event.detail.elt.id === "quote-source")
              window.__causes.push((event.detail.triggeringEvent || {}).type);
          });
        }"""
    )
    page.fill("input[name=amount]", "1.25")  # the form element was replaced by the error

    page.locator("#quote-preview caption").filter(has_text="Quotes for 1.25 SOL").wait_for()
    causes = page.evaluate("() => window.__causes")
    assert "input" in causes, f"typing asked for the quote, not only the timer: {causes}"
    assert page.evaluate("() => document.activeElement.name") == "amount"


def test_the_preview_refreshes_itself_and_shows_its_age(page: Any, site: Site) -> None:
    ready(page, site)
    page.evaluate("() => { window.__first = document.getElementById('quote-preview'); }")
    page.locator("#quote-age").filter(has_text="s ago").wait_for()

    # No input: the preview is replaced by a fresh one, and its age starts again.
    page.wait_for_function(
        "() => document.getElementById('quote-preview') !== window.__first", timeout=15_000
    )
    assert "just now" in page.locator("#quote-age").inner_text()


@pytest.mark.parametrize(
    ("status", "said"),
    [
        (403, "session has expired"),
        (500, "The server failed (500)"),
        (504, "may or may not be placed"),
        (None, "No answer"),
    ],
)
def test_a_failed_submit_says_what_it_means_in_the_form(
    page: Any, site: Site, status: int | None, said: str
) -> None:
    def refuse(route: Any) -> None:
        if route.request.method != "POST":
            route.continue_()
        elif status is None:
            route.abort("connectionreset")
        else:
            route.fulfill(status=status, body="{}", content_type="application/json")

    ready(page, site)
    page.route("**/orders", refuse)
    page.fill("input[name=amount]", "0.31")
    page.click(PLACE)

    message = page.locator("#form-status")
    message.filter(has_text=said).wait_for()
    assert message.get_attribute("data-kind") == "error"
    if status != 403:
        assert "never placed twice" in message.inner_text()
    settle_form(page)
    assert orders_of_amount(site, "0.31") == 0


def test_place_is_off_with_the_reason_while_no_venue_can_fill(page: Any, site: Site) -> None:
    ready(page, site)
    page.fill("input[name=amount]", "90000000")

    reason = page.locator("#quote-preview p.err")
    reason.filter(has_text="No venue can fill").wait_for()
    assert reason.count() == 1, "the reason is given once"
    page.locator(f"{PLACE}[disabled]").wait_for()

    page.fill("input[name=amount]", "1")
    page.locator("#quote-preview .star").wait_for()
    page.locator(f"{PLACE}:not([disabled])").wait_for()


def test_presets_set_the_slippage_and_more_than_one_percent_asks_first(
    page: Any, site: Site
) -> None:
    ready(page, site)
    page.click("button[data-slippage='50']")
    assert page.input_value("input[name=slippageBps]") == "50"
    assert page.locator("#slippage-hint").inner_text() == "= 0.50 %"

    page.fill("input[name=amount]", "0.4321")
    page.fill("input[name=slippageBps]", "500")
    page.locator("#quote-preview caption").filter(has_text="0.4321").wait_for()
    asked: list[str] = []

    def decline(dialog: Any) -> None:
        asked.append(dialog.message)
        dialog.dismiss()

    page.once("dialog", decline)
    page.click(PLACE)
    page.locator("#form-status").filter(has_text="Not placed").wait_for()
    assert asked
    assert "slippage of 5.00 %" in asked[0]
    assert orders_of_amount(site, "0.4321") == 0

    page.once("dialog", lambda dialog: dialog.accept())
    page.click(PLACE)
    page.locator("#form-status").filter(has_text="Placed").wait_for()
    wait_until(lambda: orders_of_amount(site, "0.4321") == 1, what="the confirmed order")


PHONE = {"width": 390, "height": 844}


def test_on_a_phone_no_page_scrolls_sideways_and_a_placed_order_is_announced(
    chromium: Any, site: Site
) -> None:
    context = chromium.new_context(viewport=PHONE, is_mobile=True, has_touch=True)
    phone = context.new_page()
    phone.set_default_timeout(20_000)
    try:
        sign_in(phone, site.live.http)
        phone.locator("#quote-preview .star").wait_for()
        phone.fill("input[name=amount]", "0.123")
        phone.locator("#quote-preview caption").filter(has_text="0.123").wait_for()
        phone.click(PLACE)
        status = phone.locator("#form-status")
        status.filter(has_text="Placed").wait_for()
        assert status.is_visible()
        assert status.locator("a").get_attribute("href").startswith("/orders/")
        order_page = status.locator("a").get_attribute("href")
        shoot(phone, "dashboard-phone.png")
        for path in ("/", "/orders", order_page):
            phone.goto(site.live.http + path)
            phone.locator("main").wait_for()
            widths = phone.evaluate(
                "() => [document.documentElement.scrollWidth, window.innerWidth]"
            )
            assert widths[0] <= widths[1], f"{path} scrolls sideways at 390 px: {widths}"
    finally:
        context.close()


def test_an_order_placed_here_is_announced_when_it_fills(page: Any, site: Site) -> None:
    earlier = httpx.post(  # a fill before it: two points make the pair's price line
        f"{site.live.http}/api/orders/execute", json=order_body(amount="0.1357"), headers=bearer()
    )
    assert earlier.status_code == 201
    ready(page, site)
    page.fill("input[name=amount]", "0.2468")
    page.locator("#quote-preview caption").filter(has_text="0.2468").wait_for()
    page.click(PLACE)
    toast = page.locator("#toasts .toast").filter(has_text="filled:")
    toast.wait_for()
    assert "USDC" in toast.inner_text()
    assert toast.locator("a").get_attribute("href").startswith("/orders/")
    # The toasts sit in a live region (role=status): a screen reader reads each one out.
    assert page.locator("#toasts").get_attribute("role") == "status"
    # The charts count the fill: its pair's price line shows.
    page.locator("#charts .spark").filter(has_text="SOL/USDC").wait_for()

    toast.locator("button.toast-close").click()
    assert toast.count() == 0


def test_the_flip_sells_what_you_would_get(page: Any, site: Site) -> None:
    ready(page, site)
    page.select_option("select[name=tokenIn]", "SOL")
    page.select_option("select[name=tokenOut]", "USDC")
    page.fill("input[name=amount]", "150")
    page.locator("#quote-preview caption").filter(has_text="150 SOL").wait_for()

    page.click("[data-flip]")

    assert page.input_value("select[name=tokenIn]") == "USDC"
    assert page.input_value("select[name=tokenOut]") == "SOL"
    page.locator("#quote-preview caption").filter(has_text="150 USDC").wait_for()
    page.locator("#quote-preview .star").wait_for()


def test_a_large_order_previews_its_split_and_its_page_shows_each_leg(
    page: Any, site: Site
) -> None:
    ready(page, site)
    page.fill("input[name=amount]", "1000")
    split = page.locator("#quote-preview tr.split")
    split.wait_for()
    assert "raydium" in split.inner_text()
    assert "meteora" in split.inner_text()
    assert "vs one venue" in split.inner_text()

    page.select_option("select[name=routing]", "single")
    split.wait_for(state="detached")
    page.select_option("select[name=routing]", "auto")
    split.wait_for()

    page.fill("input[name=slippageBps]", "100")
    asked: list[str] = []

    def accept(dialog: Any) -> None:
        asked.append(dialog.message)
        dialog.accept()

    page.once("dialog", accept)
    page.click(PLACE)
    status = page.locator("#form-status")
    status.filter(has_text="Placed").wait_for()
    # The split's largest leg moves its pool over 1 %: the form asked first.
    assert asked
    assert "price impact" in asked[0]
    page.goto(site.live.http + status.locator("a").get_attribute("href"))
    page.locator(".timeline .step.s-confirmed").wait_for()
    legs = page.locator(".route table.legs tbody tr")
    assert legs.count() == 2
    received = legs.locator("td:nth-child(5)").all_inner_texts()
    assert all("USDC" in cell for cell in received), received
    assert "one transaction" in page.locator(".facts").inner_text()
    assert "more than" in page.locator(".route .why").first.inner_text()
    shoot(page, "order-split.png")


def test_a_sniper_from_the_form_waits_and_the_launches_panel_follows_its_launch_live(
    page: Any, site: Site
) -> None:
    symbol = "F" + secrets.token_hex(3).upper()
    ready(page, site)
    page.check("input[name=type][value=sniper]")
    assert not page.locator("select[name=tokenOut]").is_visible(), "a sniper names its token"
    page.fill("input[name=snipe]", symbol)
    page.locator("#quote-preview").filter(has_text=f"Waits for {symbol} to launch").wait_for()
    page.fill("input[name=maxPrice]", "0.0005")
    page.fill("input[name=minLiquidity]", "50")
    page.check("input[name=requireMintRenounced]")
    page.click(PLACE)
    status = page.locator("#form-status")
    status.filter(has_text="Placed").wait_for()
    order_id = status.locator("a").get_attribute("href").removeprefix("/orders/")
    placed = httpx.get(f"{site.live.http}/api/orders/{order_id}", headers=bearer()).json()
    assert placed["order"]["type"] == "sniper"
    assert placed["order"]["tokenOut"] == symbol
    row = page.locator(f"[id='order-{order_id}']")
    row.and_(page.locator("[data-status=waiting]")).wait_for()

    made = httpx.post(
        f"{site.live.http}/api/sim/launches",
        json={"symbol": symbol, "baseReserve": "1000000", "quoteReserve": "100", "openIn": 2},
        headers=bearer(),
    )
    assert made.status_code == 201, made.text

    launch = page.locator(f"#launches [data-symbol={symbol}]")
    launch.wait_for()  # pushed: no reload
    launch.and_(page.locator("[data-status=open]")).wait_for()
    wait_until(
        lambda: (
            httpx.get(f"{site.live.http}/api/orders/{order_id}", headers=bearer()).json()["order"][
                "status"
            ]
            == "confirmed"
        ),
        what="the sniper to buy once the pool opened",
    )
    row.and_(page.locator("[data-status=confirmed]")).wait_for()
    shoot(page, "launches.png")
