"""How the API says no: one error body, documented, logged without the request's body.

A server the engine needs (PostgreSQL, Redis) that is down or not answering is a 503
with `Retry-After`, never a 500: the client did nothing wrong and should come back, and
nothing was done. The one answer that cannot say either way is a 504 (see
`outcome_unknown`).

A browser asking for a page (not the JSON API, HTML preferred over JSON) gets the same
status as an HTML page in the site's frame (`pages/error.html`) instead of the JSON body;
a 5xx page says nothing of what went wrong.
"""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any
from urllib.parse import quote

import asyncpg
import msgspec
from litestar import MediaType, Request, Response
from litestar.exceptions import HTTPException
from litestar.openapi.datastructures import ResponseSpec
from litestar.response import Redirect, Template
from litestar.status_codes import (
    HTTP_401_UNAUTHORIZED,
    HTTP_404_NOT_FOUND,
    HTTP_500_INTERNAL_SERVER_ERROR,
    HTTP_503_SERVICE_UNAVAILABLE,
    HTTP_504_GATEWAY_TIMEOUT,
)
from litestar.types import ExceptionHandlersMap
from redis.exceptions import RedisError

from app.domain.problems import (
    Conflict,
    KeyInFlight,
    KeyReused,
    NotCancellable,
    OutcomeUnknown,
)
from app.web.guards import CSP

log = logging.getLogger("app.web")

RETRY_AFTER_SECONDS = 5
NOT_PAGES = ("/api", "/metrics", "/healthz", "/schema", "/static", "/ws")
"""Paths that are not pages: their errors are always the JSON body."""


class ErrorBody(msgspec.Struct, omit_defaults=True):
    """Litestar's standard error body."""

    status_code: int
    detail: str
    extra: list[dict[str, str]] | dict[str, Any] | None = None


def _spec(description: str) -> ResponseSpec:
    return ResponseSpec(data_container=ErrorBody, description=description, generate_examples=False)


BAD_REQUEST = {400: _spec("The request breaks a rule; `extra` names each field and rule.")}
NOT_FOUND = {404: _spec("No such resource (or not yours).")}
UNAVAILABLE = {
    503: _spec(
        "A server the engine needs is unavailable; nothing was done. Retry after"
        " `Retry-After` seconds."
    )
}
SIGNED_IN = {
    401: _spec("No valid API key (`Authorization: Bearer …` or `X-API-Key`) or session."),
    403: _spec("The key lacks the scope this needs (or a session write lacks its CSRF token)."),
}
ERRORS_FOR_READS = {**BAD_REQUEST, **SIGNED_IN, **UNAVAILABLE}
ERRORS_FOR_WRITES = {
    **BAD_REQUEST,
    **SIGNED_IN,
    409: _spec(
        "In conflict: a request with this Idempotency-Key is in flight, or the"
        " clientOrderId is taken."
    ),
    422: _spec("This Idempotency-Key was used with a different request."),
    413: _spec("The body is larger than 64 KiB."),
    415: _spec("The body is not sent as application/json."),
    429: _spec("Over the order rate limit; retry after `Retry-After` seconds."),
    **UNAVAILABLE,
}
PLACING = {
    **ERRORS_FOR_WRITES,
    504: _spec(
        "The database went silent while storing the order: it may or may not be placed."
        " `extra.orderId` names it: look it up, or retry with the same Idempotency-Key."
    ),
}

OUTAGES: tuple[type[Exception], ...] = (
    RedisError,
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.OperatorInterventionError,
    OSError,
)
"""Failures of the servers behind the engine, not of the request: PostgreSQL starting,
shutting down, crashed or cancelling a statement past its timeout (class 57 errors), a
lost connection. `OSError` covers a server that is not there at all: a refused
connection, a missing Unix socket (asyncpg raises `FileNotFoundError`), a timeout."""


def client_error(
    request: Request[Any, Any, Any], error: HTTPException
) -> Response[ErrorBody] | Redirect | Template:
    """A 4xx: answered with its reason, logged as a warning (never with the request body).

    A browser asking for a page without being signed in is sent to the sign-in page; one
    asking for a page that is not there (or an order that is not its own) gets an HTML 404.
    """
    if error.status_code == HTTP_401_UNAUTHORIZED and _is_page(request):
        path = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return Redirect(f"/login?next={quote(path, safe='/')}", status_code=303)
    if error.status_code >= 500:
        log.error("%s %s → %s", request.method, request.url.path[:200], error.status_code,
                  exc_info=error)  # fmt: skip
    else:
        log.warning(
            "%s %s → %s: %s",
            request.method,
            request.url.path[:200],
            error.status_code,
            str(error.detail)[:300],
        )
    if _wants_html(request):
        return error_page(request, error.status_code, str(error.detail), error.headers)
    extra = error.extra if isinstance(error.extra, list | dict) else None
    return Response(
        ErrorBody(error.status_code, str(error.detail), extra),
        status_code=error.status_code,
        headers=error.headers,
        media_type=MediaType.JSON,
    )


def _not_a_page(path: str) -> bool:
    return any(path == prefix or path.startswith(f"{prefix}/") for prefix in NOT_PAGES)


def _is_page(request: Request[Any, Any, Any]) -> bool:
    return request.method == "GET" and not _not_a_page(request.url.path)


def _wants_html(request: Request[Any, Any, Any]) -> bool:
    """A browser asking for a page: not the JSON API, not htmx, HTML preferred over JSON.

    `Accept: */*` (curl, httpx, most programs) or none at all keeps the JSON body.
    """
    if _not_a_page(request.url.path) or request.headers.get("hx-request"):
        return False
    return request.accept.best_match([MediaType.JSON, MediaType.HTML]) == MediaType.HTML


def error_page(
    request: Request[Any, Any, Any],
    status: int,
    detail: str,
    headers: dict[str, str] | None = None,
) -> Template:
    """The error as a page of the site: its navigation, what happened, the way back."""
    from app.web.auth import PRINCIPAL  # here: app.web.auth imports this module

    phrase = _phrase(status)
    if status == HTTP_404_NOT_FOUND:
        title = "Page not found"
        specific = bool(detail) and detail != phrase
        message = _sentence(detail) if specific else f"There is no page at {request.url.path}."
    elif status >= HTTP_500_INTERNAL_SERVER_ERROR:
        title = "Something went wrong" if status == HTTP_500_INTERNAL_SERVER_ERROR else phrase
        message = (
            "The server could not show this page. The error has been logged; please try again."
            if status == HTTP_500_INTERNAL_SERVER_ERROR
            else "A server the engine needs is unavailable; please try again shortly."
        )
    else:
        title, message = phrase, _sentence(detail)
    viewer = request.scope.get("state", {}).get(PRINCIPAL)
    return Template(
        "pages/error.html",
        context={
            "page": "error",
            "viewer": viewer,
            "status": status,
            "title": title,
            "message": message[:300],
        },
        status_code=status,
        headers={**(headers or {}), "Content-Security-Policy": CSP},
    )


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def _sentence(text: str) -> str:
    text = text.strip() or "Something was wrong with this request"
    return text[0].upper() + text[1:] + ("" if text.endswith((".", "?", "!")) else ".")


def outage(request: Request[Any, Any, Any], error: Exception) -> Response[ErrorBody] | Template:
    """PostgreSQL or Redis is down or not answering: 503, come back shortly."""
    what = "Redis" if isinstance(error, RedisError) else "the database"
    if isinstance(error, TimeoutError | ConnectionError):
        what = "a server the engine needs"
    log.warning("%s %s → 503: %s (%s)", request.method, request.url.path[:200], what, error)
    retry = {"Retry-After": str(RETRY_AFTER_SECONDS)}
    if _wants_html(request):
        return error_page(request, HTTP_503_SERVICE_UNAVAILABLE, "", retry)
    return Response(
        ErrorBody(HTTP_503_SERVICE_UNAVAILABLE, f"{what} is unavailable; retry shortly"),
        status_code=HTTP_503_SERVICE_UNAVAILABLE,
        headers=retry,
        media_type=MediaType.JSON,
    )


def conflict(request: Request[Any, Any, Any], error: Conflict) -> Response[ErrorBody]:
    """409 (retry later, or pick another clientOrderId) or 422 (a reused idempotency key)."""
    status = 422 if isinstance(error, KeyReused) else 409
    headers = {"Retry-After": "1"} if isinstance(error, KeyInFlight) else {}
    extra = {"status": error.status} if isinstance(error, NotCancellable) else None
    log.warning("%s %s → %s: %s", request.method, request.url.path[:200], status, error.message)
    return Response(
        ErrorBody(status, error.message, extra),
        status_code=status,
        headers=headers,
        media_type=MediaType.JSON,
    )


def outcome_unknown(request: Request[Any, Any, Any], error: OutcomeUnknown) -> Response[ErrorBody]:
    """The database went silent while committing a new order: 504, with its id to look up.

    Not a 503, which promises nothing was stored. The order exists if `GET
    /api/orders/{orderId}` finds it (and then runs like any other); retrying with the
    same Idempotency-Key is always safe.
    """
    log.warning("%s %s → 504: %s", request.method, request.url.path[:200], error.message)
    return Response(
        ErrorBody(HTTP_504_GATEWAY_TIMEOUT, error.message, {"orderId": error.order_id}),
        status_code=HTTP_504_GATEWAY_TIMEOUT,
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
        media_type=MediaType.JSON,
    )


def server_error(
    request: Request[Any, Any, Any], error: Exception
) -> Response[ErrorBody] | Template:
    """A bug: logged with its traceback, answered without details (a page or JSON)."""
    log.error("%s %s → 500", request.method, request.url.path[:200], exc_info=error)
    if _wants_html(request):
        return error_page(request, HTTP_500_INTERNAL_SERVER_ERROR, "")
    return Response(
        ErrorBody(500, "Internal Server Error"), status_code=500, media_type=MediaType.JSON
    )


EXCEPTION_HANDLERS: ExceptionHandlersMap = {
    Exception: server_error,
    HTTPException: client_error,
    Conflict: conflict,
    OutcomeUnknown: outcome_unknown,
    **dict.fromkeys(OUTAGES, outage),
}
