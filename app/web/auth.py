"""Who is calling, on every HTTP route and socket that is not public.

Programs send `Authorization: Bearer <key>` (or `X-API-Key`); browsers sign in once at
`/login` and carry a signed, HttpOnly session cookie. A write authenticated by the
cookie must also carry the CSRF token (a page on another site cannot read it). No valid
key: 401 with `WWW-Authenticate: Bearer` (pages redirect to `/login`); a valid key
without the scope a route needs: 403.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from secrets import compare_digest
from typing import Any
from urllib.parse import quote

from litestar import Request, WebSocket
from litestar.connection import ASGIConnection
from litestar.di import NamedDependency
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException
from litestar.handlers.base import BaseRouteHandler
from litestar.middleware.csrf import CSRF_SECRET_LENGTH, generate_csrf_hash
from litestar.status_codes import HTTP_401_UNAUTHORIZED, HTTP_503_SERVICE_UNAVAILABLE
from litestar.types import WebSocketResponseStartEvent

from app.domain.access import Principal, Scope
from app.web.context import WebContext
from app.web.errors import OUTAGES, RETRY_AFTER_SECONDS

log = logging.getLogger(__name__)

SESSION_COOKIE = "oee_session"
CSRF_COOKIE = "csrftoken"
CSRF_HEADER = "x-csrftoken"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
Caller = NamedDependency[Principal]
"""How handlers ask who is calling: `principal: Caller`."""

PRINCIPAL = "oee.principal"
"""Where the resolved caller is kept on the connection's state."""
CHALLENGE = {"WWW-Authenticate": 'Bearer realm="order-execution-engine"'}


def presented_key(connection: ASGIConnection[Any, Any, Any, Any]) -> str | None:
    header = connection.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    return connection.headers.get("x-api-key") or None


async def identify(
    connection: ASGIConnection[Any, Any, Any, Any], web: WebContext
) -> tuple[Principal | None, bool]:
    """(the principal, whether it came from the session cookie); (None, …) when nobody."""
    key = presented_key(connection)
    if key is not None:
        return await web.access.by_key(key), False
    cookie = connection.cookies.get(SESSION_COOKIE)
    if cookie:
        return await web.access.by_session(cookie), True
    return None, False


async def principal_of(connection: ASGIConnection[Any, Any, Any, Any]) -> Principal:
    """The caller, or 401. Cached on the connection: guards and handlers share one lookup."""
    cached = connection.scope.get("state", {}).get(PRINCIPAL)
    if isinstance(cached, Principal):
        return cached
    web: WebContext = connection.app.state.web
    principal, by_session = await identify(connection, web)
    if principal is None:
        raise NotAuthorizedException(detail="a valid API key is required", headers=CHALLENGE)
    unsafe = connection.scope.get("method", "GET") not in SAFE_METHODS
    if by_session and unsafe and not csrf_ok(connection, web.csrf_secret):
        raise PermissionDeniedException(detail="the CSRF token is missing or wrong")
    connection.scope.setdefault("state", {})[PRINCIPAL] = principal
    return principal


def requires(
    scope: Scope,
) -> Callable[[ASGIConnection[Any, Any, Any, Any], BaseRouteHandler], Awaitable[None]]:
    """A guard: the caller must hold `scope` (admin holds every scope)."""

    async def guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
        principal = await principal_of(connection)
        if not principal.may(scope):
            raise PermissionDeniedException(detail=f"this key lacks the {scope.value!r} scope")

    return guard


def csrf_ok(connection: ASGIConnection[Any, Any, Any, Any], secret: str) -> bool:
    """The double-submit check Litestar's CSRF middleware does for forms, for API writes."""
    sent = connection.headers.get(CSRF_HEADER, "")
    cookie = connection.cookies.get(CSRF_COOKIE, "")
    return (
        bool(sent)
        and _token(sent, secret) is not None
        and _token(sent, secret) == _token(cookie, secret)
    )


def _token(value: str, secret: str) -> str | None:
    if len(value) <= CSRF_SECRET_LENGTH:
        return None
    token, digest = value[:CSRF_SECRET_LENGTH], value[CSRF_SECRET_LENGTH:]
    return token if compare_digest(digest, generate_csrf_hash(token=token, secret=secret)) else None


def login_redirect(path: str) -> str:
    return f"/login?next={quote(path, safe='/')}"


async def provide_principal(request: Request[Any, Any, Any]) -> Principal:
    """The `principal` dependency of HTTP handlers."""
    return await principal_of(request)


async def socket_principal(socket: WebSocket[Any, Any, Any], web: WebContext) -> Principal | None:
    """The caller of a socket, or None after refusing the handshake: HTTP 401 (no valid
    key), or 503 with Retry-After when the key cannot be looked up (PostgreSQL is out)."""
    try:
        principal, _ = await identify(socket, web)
    except OUTAGES as error:
        log.warning("refusing a socket: the key store is unavailable (%s)", error)
        await refuse(socket, HTTP_503_SERVICE_UNAVAILABLE, "the key store is unavailable; retry")
        return None
    if principal is None:
        await refuse(socket, HTTP_401_UNAUTHORIZED, "a valid API key or session is required")
    return principal


async def refuse(socket: WebSocket[Any, Any, Any], status: int, detail: str) -> None:
    """Refuse a WebSocket handshake with an HTTP status and a JSON body (ASGI denial response)."""
    body = json.dumps({"status_code": status, "detail": detail}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    if status == HTTP_401_UNAUTHORIZED:
        headers.append((b"www-authenticate", CHALLENGE["WWW-Authenticate"].encode()))
    if status == HTTP_503_SERVICE_UNAVAILABLE:
        headers.append((b"retry-after", str(RETRY_AFTER_SECONDS).encode()))
    start: WebSocketResponseStartEvent = {
        "type": "websocket.http.response.start",
        "status": status,
        "headers": headers,
    }
    await socket.send(start)
    await socket.send({"type": "websocket.http.response.body", "body": body, "more_body": False})
