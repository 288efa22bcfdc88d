"""The live table and the history page as a reader relies on them, in headless Chromium: the
table holds still under the pointer, a burst is no console error, as many rows after a reload
as live; history filters that survive Back, a clear error for To before From, "No orders yet",
rows that follow their orders; prices with units, local times, Copy buttons."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import httpx
import pytest

from tests.builders import order_body
from tests.e2e import test_browser as browser
from tests.e2e.test_browser import Site, place_limit, shoot, sign_in, wait_for_terminal
from tests.support.access import bearer
from tests.support.waiting import wait_until

pytestmark = pytest.mark.browser

# The browser tests' fixtures: Chromium, a running site (a database of this module's own),
# a signed-in tab.
chromium = browser.chromium
site = browser.site
page = browser.page

DESKTOP = {"width": 1440, "height": 900}
PHONE = {"width": 390, "height": 844}
ENDED = {"confirmed", "failed", "cancelled", "expired"}


def errors_of(tab: Any) -> list[str]:
    """Everything the tab logs as an error from now on (htmx logs its errors to the console)."""
    found: list[str] = []
    tab.on(
        "console", lambda message: found.append(message.text) if message.type == "error" else None
    )
    tab.on("pageerror", lambda error: found.append(f"page error: {error}"))
    return found


def place(site: Site, count: int, **body: Any) -> list[str]:
    with httpx.Client(base_url=site.live.http, headers=bearer(), timeout=10) as api:
        ids = []
        for _ in range(count):
            placed = api.post("/api/orders/execute", json=order_body(**body))
            assert placed.status_code == 201, placed.text
            ids.append(placed.json()["orderId"])
        return ids


def all_ended(site: Site, ids: list[str]) -> bool:
    listed = httpx.get(
        f"{site.live.http}/api/orders", params={"limit": 200}, headers=bearer()
    ).json()["items"]
    status = {order["orderId"]: order["status"] for order in listed}
    return all(status.get(order_id) in ENDED for order_id in ids)


def dashboard(tab: Any, site: Site) -> None:
    tab.set_viewport_size(DESKTOP)
    tab.goto(site.live.http)
    tab.locator("#conn[data-state=open]").wait_for()


def row_ids(tab: Any) -> list[str]:
    ids: list[str] = tab.locator("#recent-rows > tr").evaluate_all(
        "(rows) => rows.map((row) => row.id.slice('order-'.length))"
    )
    return ids


def watch_under_pointer(tab: Any, row: Any) -> None:
    """Record which row is under the middle of `row` after every change to the page."""
    # The socket's first message re-renders every row: `row` may be between two renders.
    box = wait_until(row.bounding_box, what="the row on the page")
    tab.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    tab.evaluate(
        """(point) => {
          window.__under = new Set();
          const note = () => {
            const el = document.elementFromPoint(point.x, point.y);
            const row = el && el.closest("tr");
            window.__under.add(row ? row.id : "none");
          };
          note();
          new MutationObserver(note).observe(document.body,
            { childList: true, subtree: true, attributes: true, characterData: true });
        }""",
        {"x": box["x"] + box["width"] / 2, "y": box["y"] + box["height"] / 2},
    )


def under_pointer(tab: Any) -> list[str]:
    seen: list[str] = tab.evaluate("() => Array.from(window.__under)")
    return seen


def leave_the_table(tab: Any) -> None:
    tab.mouse.move(5, 5)  # the top bar


# Runs first: the module's database is empty until a test places an order.
def test_an_empty_history_says_no_orders_yet(page: Any, site: Site) -> None:
    page.goto(f"{site.live.http}/orders")
    page.locator("#history-rows-empty").filter(has_text="No orders yet").wait_for()
    page.select_option("select[name=status]", "failed")
    page.wait_for_url("**/orders?status=failed")
    page.locator("#history-rows-empty").filter(has_text="No orders match these filters").wait_for()


def test_the_table_holds_new_rows_under_the_pointer_and_shows_them_on_leaving(
    page: Any, site: Site
) -> None:
    waiting = place_limit(site, "1.05")
    shown = place(site, 3)
    dashboard(page, site)
    page.locator(f"#order-{shown[-1]}").wait_for()
    row = page.locator(f"#order-{shown[1]}")
    row.hover()
    watch_under_pointer(page, row)

    new = place(site, 5, amount="0.25")
    bar = page.locator("#held-rows")
    bar.filter(has_text="5 new orders — show").wait_for()
    assert bar.is_visible()
    assert not set(new) & set(row_ids(page)), "new orders wait off the table"
    # A row already shown still changes in place.
    httpx.post(f"{site.live.http}/api/orders/{waiting}/cancel", headers=bearer())
    page.locator(f"#order-{waiting}[data-status=cancelled]").wait_for()
    assert under_pointer(page) == [f"order-{shown[1]}"], "the row under the pointer stays"
    shoot(page, "dashboard-held.png")

    leave_the_table(page)
    page.wait_for_function("(id) => document.querySelector('#recent-rows > tr').id === id",
                           arg=f"order-{new[-1]}")  # fmt: skip
    ids = row_ids(page)
    assert ids[:5] == list(reversed(new)), "newest first"
    assert len(ids) == len(set(ids)), "one row per order"
    assert bar.is_hidden()

    # The bar shows them as well, while the pointer stays on the table.
    row.hover()
    more = place(site, 2, amount="0.26")
    bar.filter(has_text="2 new orders — show").wait_for()
    bar.click()
    page.locator(f"#recent-rows > tr#order-{more[-1]}").wait_for()
    assert row_ids(page)[:2] == list(reversed(more))


def test_keyboard_focus_in_the_table_holds_new_rows_too(page: Any, site: Site) -> None:
    waiting = place_limit(site, "1.05")
    shown = place(site, 1)
    wait_until(lambda: all_ended(site, shown), what="the order to end")
    dashboard(page, site)
    page.locator(f"#order-{waiting}").wait_for()
    page.focus(f"#order-{shown[0]} a.oid")
    page.keyboard.press("Tab")  # from the first row's link to the second's, by keyboard
    focused = "() => (document.activeElement.closest('tr') || {}).id"
    assert page.evaluate(focused) == f"order-{waiting}"
    leave_the_table(page)

    # The focused row changes: the focus stays in it, and new rows are still held.
    httpx.post(f"{site.live.http}/api/orders/{waiting}/cancel", headers=bearer())
    page.locator(f"#order-{waiting}[data-status=cancelled]").wait_for()
    assert page.evaluate(focused) == f"order-{waiting}"
    new = place(site, 1, amount="0.27")
    page.locator("#held-rows").filter(has_text="1 new order — show").wait_for()
    assert new[0] not in row_ids(page)

    page.keyboard.press("Shift+Tab")
    page.keyboard.press("Shift+Tab")  # to the button
    assert page.evaluate("() => document.activeElement.id") == "held-rows"
    page.keyboard.press("Shift+Tab")  # out of the table
    page.locator(f"#recent-rows > tr#order-{new[0]}").wait_for()
    assert row_ids(page)[0] == new[0]


def test_a_burst_of_100_orders_logs_no_error_and_the_row_under_the_pointer_stays_put(
    page: Any, site: Site
) -> None:
    errors = errors_of(page)
    earlier = place(site, 4)
    dashboard(page, site)
    max_rows = int(page.locator("#recent-rows").get_attribute("data-max-rows"))
    page.locator(f"#order-{earlier[0]}").wait_for()
    row = page.locator("#recent-rows > tr").nth(2)
    row_id = row.get_attribute("id")
    row.hover()
    watch_under_pointer(page, row)

    burst = place(site, 99, amount="0.1") + place(site, 1, amount="1000000000")  # one fails
    page.locator("#held-rows").filter(has_text="100 new orders").wait_for()
    wait_until(lambda: all_ended(site, burst), timeout=180, what="the burst to end")
    assert under_pointer(page) == [row_id], "held: the row under the pointer never changed"

    leave_the_table(page)
    page.wait_for_function("(id) => document.querySelector('#recent-rows > tr').id === id",
                           arg=f"order-{burst[-1]}")  # fmt: skip
    assert len(row_ids(page)) == max_rows

    # Every row is as high as every other, whatever its status (the failed one on top).
    heights = page.locator("#recent-rows > tr").evaluate_all(
        "(rows) => rows.map((row) => Math.round(row.getBoundingClientRect().height))"
    )
    assert len(set(heights)) == 1, f"rows of one height: {sorted(set(heights))}"
    shoot(page, "dashboard-burst.png")

    # Not held: every row comes in and the oldest go, while their updates keep arriving.
    second = place(site, 100, amount="0.11")
    wait_until(lambda: all_ended(site, second), timeout=180, what="the second burst to end")
    assert wait_for_terminal(page, second[-1]) in ENDED
    ids = row_ids(page)
    assert ids == list(reversed(second))[:max_rows]
    assert errors == [], "pushes for rows not on the page are no errors"

    page.reload()
    page.locator("#recent-rows > tr").nth(max_rows - 1).wait_for()
    assert len(row_ids(page)) == max_rows == 50, "a reload shows as many rows as the live table"


def test_rows_of_every_status_are_one_height_on_a_phone_too(page: Any, site: Site) -> None:
    failed = place(site, 1, amount="1000000000")
    page.set_viewport_size(PHONE)
    page.goto(site.live.http)
    page.locator(f"#order-{failed[0]}[data-status=failed]").wait_for()
    heights = page.locator("#recent-rows > tr").evaluate_all(
        "(rows) => rows.slice(0, 10).map((row) => Math.round(row.getBoundingClientRect().height))"
    )
    assert len(set(heights)) == 1, f"cards of one height: {heights}"
    shoot(page, "rows-phone.png")
    widths = page.evaluate("() => [document.documentElement.scrollWidth, window.innerWidth]")
    assert widths[0] <= widths[1], f"the dashboard scrolls sideways at 390 px: {widths}"


def test_after_back_the_history_filters_say_what_the_list_shows(page: Any, site: Site) -> None:
    place(site, 1, amount="1000000000")  # a failed order, besides the confirmed ones
    page.goto(f"{site.live.http}/orders")
    status = page.locator("select[name=status]")
    for chosen in ("confirmed", "failed"):
        page.select_option("select[name=status]", chosen)
        page.wait_for_url(f"**/orders?status={chosen}")
        page.locator(f"#history-rows > tr[data-status={chosen}]").first.wait_for()

    page.go_back()
    page.wait_for_url("**/orders?status=confirmed")
    page.wait_for_function(
        "() => document.querySelector('select[name=status]').value === 'confirmed'"
    )
    shown = page.locator("#history-rows > tr").evaluate_all(
        "(rows) => rows.map((row) => row.dataset.status)"
    )
    assert set(shown) == {"confirmed"}

    # Off to an order's page and back: the same.
    page.locator("#history-rows > tr a.oid").first.click()
    page.wait_for_url("**/orders/*")
    page.go_back()
    page.wait_for_url("**/orders?status=confirmed")
    page.locator("#history-rows > tr").first.wait_for()
    assert status.input_value() == "confirmed"

    page.go_back()
    page.wait_for_url(f"{site.live.http}/orders")
    page.wait_for_function("() => document.querySelector('select[name=status]').value === ''")


def test_a_to_date_before_the_from_date_is_said_beside_it_and_lists_nothing(
    page: Any, site: Site
) -> None:
    page.goto(f"{site.live.http}/orders")
    page.locator("#history-rows > tr").first.wait_for()
    page.fill("input[name=from]", "2026-11-21")
    page.wait_for_url("**/orders?from=2026-11-21")
    page.fill("input[name=to]", "2026-11-20")
    said = page.locator("#error-to")
    said.filter(has_text="is before From").wait_for()
    page.locator("input[name=to][aria-invalid=true]").wait_for()
    page.locator("#history [role=alert]").filter(has_text="Nothing listed").wait_for()
    assert page.locator("#history-rows > tr").count() == 0
    shoot(page, "history-dates.png")

    page.fill("input[name=to]", "2026-11-22")
    page.locator("input[name=to]:not([aria-invalid])").wait_for()
    assert said.inner_text() == ""

    answer = page.goto(f"{site.live.http}/orders?from=2026-11-21&to=2026-11-20")
    assert answer is not None
    assert answer.status == 422
    assert "is before From" in page.locator("#error-to").inner_text()
    assert page.locator("input[name=to]").get_attribute("aria-invalid") == "true"


def test_history_rows_of_orders_under_way_follow_them(page: Any, site: Site) -> None:
    waiting = place_limit(site, "1.05")
    page.goto(f"{site.live.http}/orders")
    page.locator(f"#order-{waiting}[data-status=waiting]").wait_for()
    cancelled = httpx.post(f"{site.live.http}/api/orders/{waiting}/cancel", headers=bearer())
    assert cancelled.is_success, cancelled.text
    page.locator(f"#order-{waiting}[data-status=cancelled]").wait_for()
    assert page.locator("#history-rows > tr").first.get_attribute("id") == f"order-{waiting}"


@pytest.fixture
def kolkata(chromium: Any, site: Site) -> Iterator[Any]:
    """A signed-in tab in UTC+05:30 that may use the clipboard."""
    context = chromium.new_context(viewport=DESKTOP, timezone_id="Asia/Kolkata")
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=site.live.http)
    tab = context.new_page()
    tab.set_default_timeout(20_000)
    sign_in(tab, site.live.http)
    yield tab
    context.close()


def confirmed_order(site: Site, tab: Any) -> dict[str, Any]:
    """An order run to its end, on its page, once the page's socket has sent its snapshot."""
    order_id = place(site, 1, tokenIn="SOL", tokenOut="USDC")[0]
    wait_until(lambda: all_ended(site, [order_id]), what="the order to end")
    tab.add_init_script(
        """document.addEventListener("htmx:wsAfterMessage",
             () => { window.__pushes = (window.__pushes || 0) + 1; });"""
    )
    tab.goto(f"{site.live.http}/orders/{order_id}")
    tab.wait_for_function("() => window.__pushes >= 1")
    tab.locator("#order-detail .badge.s-confirmed").wait_for()
    got = httpx.get(f"{site.live.http}/api/orders/{order_id}", headers=bearer()).json()
    order: dict[str, Any] = got["order"]
    return order


def test_times_are_local_with_utc_in_their_title_and_prices_say_their_unit(
    kolkata: Any, site: Site
) -> None:
    order = confirmed_order(site, kolkata)
    placed = datetime.fromisoformat(order["createdAt"]).astimezone(UTC)
    local = placed.astimezone(timezone(timedelta(hours=5, minutes=30)))
    shown = kolkata.locator(".facts time[data-local]").last  # Placed
    assert shown.inner_text().startswith(local.strftime("%Y-%m-%d %H:%M:%S.%f")[:23])
    assert shown.get_attribute("title") == placed.strftime("%Y-%m-%d %H:%M:%S.%f")[:23] + " UTC"
    assert "USDC/SOL" in kolkata.locator(".facts").inner_text()

    kolkata.goto(site.live.http)
    row = kolkata.locator(f"#order-{order['orderId']}")
    assert "USDC/SOL" in row.locator(".c-out").inner_text()
    title = row.locator("time").get_attribute("title")
    assert local.strftime("%H:%M:%S") in title
    assert placed.strftime("%H:%M:%S") + " UTC" in title


def test_the_order_page_copies_its_id_and_tx_hash(kolkata: Any, site: Site) -> None:
    order = confirmed_order(site, kolkata)
    for label, value in (("order id", order["orderId"]), ("transaction hash", order["txHash"])):
        button = kolkata.get_by_role("button", name=f"Copy the {label}")
        button.click()
        button.filter(has_text="Copied").wait_for()
        assert kolkata.evaluate("() => navigator.clipboard.readText()") == value
    shoot(kolkata, "order-copied.png")


def test_without_the_clipboard_api_copy_selects_the_text(page: Any, site: Site) -> None:
    page.add_init_script("Object.defineProperty(navigator, 'clipboard', { value: undefined })")
    order = confirmed_order(site, page)
    button = page.get_by_role("button", name="Copy the order id")
    button.click()
    button.filter(has_text="press Ctrl+C").wait_for()
    assert page.evaluate("() => window.getSelection().toString()") == order["orderId"]
