"""The API docs at `/schema`: Swagger UI served from this site, so it works offline.

Litestar's Swagger plugin loads Swagger UI (and a favicon) from a CDN and starts it with an
inline script. Here the pinned copy in `static/vendor/` is used, and the page starts it
from `static/api-docs.js`, so `/schema` keeps the site's Content-Security-Policy (no
inline script or style, nothing from another origin).
"""

from __future__ import annotations

from html import escape
from typing import Any

from litestar import Request, Router
from litestar.datastructures import ResponseHeader
from litestar.openapi.config import OpenAPIConfig
from litestar.openapi.plugins import SwaggerRenderPlugin

from app.web.guards import CSP

SWAGGER_UI_VERSION = "5.35.0"
"""The npm package swagger-ui-dist at this version: its bundle and stylesheet, unmodified."""
VENDOR = "/static/vendor"
DOCS_PATH = "/schema"


class LocalSwagger(SwaggerRenderPlugin):
    """Swagger UI from `static/vendor/`, started by `static/api-docs.js`.

    No standalone preset script: the page uses the bundle's own layout (no top bar with a
    URL field), so `render` loads only the bundle and its stylesheet.
    """

    def __init__(self) -> None:
        super().__init__(
            version=SWAGGER_UI_VERSION,
            js_url=f"{VENDOR}/swagger-ui-bundle-{SWAGGER_UI_VERSION}.js",
            css_url=f"{VENDOR}/swagger-ui-{SWAGGER_UI_VERSION}.css",
            favicon='<link rel="icon" href="/static/favicon.svg" type="image/svg+xml">',
            style="",
        )

    def render(self, request: Request[Any, Any, Any], openapi_schema: dict[str, Any]) -> bytes:
        """The page: no inline script; the start script reads its settings from data-*."""
        data = {"spec-url": self.get_openapi_json_route(request)}
        csrf = request.app.csrf_config
        if csrf is not None and not csrf.cookie_httponly:
            # "Try it out" from a signed-in browser: a write riding on the session cookie
            # needs the CSRF token in a header, as Litestar's own Swagger page sends it.
            data |= {"csrf-cookie": csrf.cookie_name, "csrf-header": csrf.header_name}
        attributes = " ".join(f'data-{k}="{escape(v)}"' for k, v in data.items())
        title = escape(str(openapi_schema["info"]["title"]))
        page = f"""<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>{title} · API</title>
  {self.favicon}
  <link rel="stylesheet" href="{self.css_url}">
  <script src="{self.js_url}" defer></script>
  <script src="/static/api-docs.js" defer></script>
</head>
<body>
  <div id="swagger-ui" {attributes}></div>
</body>
</html>
"""
        return page.encode()


def openapi_config() -> OpenAPIConfig:
    """`/schema` (Swagger UI) and `/schema/openapi.json`, under the site's CSP."""
    return OpenAPIConfig(
        title="Order Execution Engine",
        version="0.1.0",
        render_plugins=[LocalSwagger()],
        openapi_router=Router(
            DOCS_PATH,
            route_handlers=[],
            include_in_schema=False,
            dto=None,
            return_dto=None,
            response_headers=[ResponseHeader(name="Content-Security-Policy", value=CSP)],
        ),
    )
