"""axe-core in every page of the site, signed in, in the browser's light and dark
preference: no critical and no serious violation."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.builders import order_body
from tests.e2e import test_browser as browser
from tests.e2e.test_browser import Site, sign_in
from tests.support.access import bearer

pytestmark = pytest.mark.browser

# The browser tests' fixtures: Chromium, a running site.
chromium = browser.chromium
site = browser.site

SERIOUS = ("critical", "serious")


def violations(page: Any) -> list[str]:
    from axe_playwright_python.sync_playwright import Axe

    found = Axe().run(page).response["violations"]
    return [
        f"{v['impact']} {v['id']} ({v['help']}): "
        + "; ".join(
            f"{' '.join(node['target'])} [{node.get('failureSummary', '')}]"
            for node in v["nodes"][:5]
        )
        for v in found
        if v["impact"] in SERIOUS
    ]


@pytest.fixture(params=["dark", "light"])
def scheme(request: Any) -> str:
    value: str = request.param
    return value


@pytest.fixture
def tab(chromium: Any, site: Site, scheme: str) -> Iterator[Any]:
    context = chromium.new_context(viewport={"width": 1280, "height": 900}, color_scheme=scheme)
    page = context.new_page()
    page.set_default_timeout(20_000)
    yield page
    context.close()


@pytest.fixture(scope="module")
def an_order(site: Site) -> str:
    placed = httpx.post(
        f"{site.live.http}/api/orders/execute", json=order_body(), headers=bearer()
    ).json()
    order_id: str = placed["orderId"]
    return order_id


def test_the_sign_in_page_has_no_serious_violation(tab: Any, site: Site) -> None:
    tab.goto(f"{site.live.http}/login")
    assert violations(tab) == []


@pytest.mark.parametrize("path", ["/", "/orders", "/orders/{order}", "/keys", "/nope"])
def test_every_page_signed_in_has_no_serious_violation(
    tab: Any, site: Site, an_order: str, path: str
) -> None:
    sign_in(tab, site.live.http)
    tab.goto(site.live.http + path.format(order=an_order))
    if path == "/":
        tab.locator("#conn[data-state=open]").wait_for()
        tab.locator("#quote-preview .star").wait_for()
    assert violations(tab) == []


def test_the_first_tab_offers_to_skip_to_the_content(tab: Any, site: Site) -> None:
    sign_in(tab, site.live.http)
    tab.keyboard.press("Tab")
    assert tab.evaluate("() => document.activeElement.textContent") == "Skip to content"
    tab.keyboard.press("Enter")
    assert tab.evaluate("() => document.activeElement.id") == "main"
