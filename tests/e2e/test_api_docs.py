"""The API docs at /schema: Swagger UI from this site only, so they work with no network."""

from __future__ import annotations

from html.parser import HTMLParser
from typing import Any
from urllib.parse import urlsplit

import pytest
from litestar import Litestar
from litestar.testing import TestClient

from app.web.docs import SWAGGER_UI_VERSION
from app.web.guards import CSP
from tests.e2e import test_browser as browser

Client = TestClient[Litestar]

# The browser tests' fixtures: Chromium, a running site, a signed-in tab that fails its test
# on a script error or a CSP violation.
chromium = browser.chromium
site = browser.site
page = browser.page


class Assets(HTMLParser):
    """Every script and stylesheet a page loads, and how many scripts or styles are inline."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []
        self.inline = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "script":
            if found.get("src"):
                self.urls.append(str(found["src"]))
            else:
                self.inline += 1
        elif tag == "link" and found.get("href"):
            self.urls.append(str(found["href"]))
        elif tag == "style" or "style" in found:
            self.inline += 1


def test_the_docs_page_loads_everything_from_this_site(client: Client) -> None:
    docs = client.get("/schema")
    assert docs.status_code == 200
    assert docs.headers["content-type"].startswith("text/html")
    assert docs.headers["content-security-policy"] == CSP
    assets = Assets()
    assets.feed(docs.text)
    assert assets.inline == 0, "the page's CSP allows no inline script or style"
    assert f"/static/vendor/swagger-ui-bundle-{SWAGGER_UI_VERSION}.js" in assets.urls
    assert f"/static/vendor/swagger-ui-{SWAGGER_UI_VERSION}.css" in assets.urls
    for url in assets.urls:
        parts = urlsplit(url)
        assert (parts.scheme, parts.netloc) == ("", ""), url
        assert url.startswith("/"), url
        assert client.get(url).status_code == 200, url
    bundle = client.get(f"/static/vendor/swagger-ui-bundle-{SWAGGER_UI_VERSION}.js").text
    assert f'PACKAGE_VERSION:"{SWAGGER_UI_VERSION}"' in bundle
    assert "/api/orders/execute" in client.get("/schema/openapi.json").json()["paths"]


@pytest.mark.browser
def test_the_docs_render_in_a_browser_with_no_network(page: Any, site: browser.Site) -> None:
    own = f"127.0.0.1:{site.port}"
    elsewhere: list[str] = []

    def only_this_site(route: Any) -> None:
        if urlsplit(route.request.url).netloc == own:
            route.continue_()
        else:
            elsewhere.append(route.request.url)
            route.abort()

    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.route("**/*", only_this_site)
    page.goto(f"{site.live.http}/schema")
    execute = page.locator('.opblock-summary-path[data-path="/api/orders/execute"]')
    execute.wait_for(state="visible")
    assert "/api/orders/execute" in execute.inner_text().replace("\u200b", "")
    execute.click()
    page.get_by_role("button", name="Try it out").first.wait_for(state="visible")
    assert elsewhere == [], "the docs must ask nothing of any other site"
    assert errors == []
