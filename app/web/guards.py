"""What every request passes before the app sees it: its Host, and the headers it gets back.

The Host check refuses names the engine does not serve (DNS rebinding: a page on
evil.example that re-points its name at 127.0.0.1 sends `Host: evil.example`). Litestar's
own middleware compares the Host header with its port included and answers a WebSocket
with an HTTP response, so the check is written here, for both kinds of connection.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable

from litestar.enums import ScopeType
from litestar.types import ASGIApp, HTTPResponseStartEvent, Message, Receive, Scope, Send

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'"
)
"""The pages' Content-Security-Policy: everything from this site, no inline script or style."""

SECURITY_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"x-frame-options", b"DENY"),
)


def host_name(header: str) -> str:
    """`Host` without its port: `example.com:8000` → `example.com`, `[::1]:80` → `[::1]`."""
    header = header.strip().lower()
    if header.startswith("["):
        return header[: header.find("]") + 1]
    return header.rsplit(":", 1)[0] if header.count(":") == 1 else header


def guards(allowed_hosts: Iterable[str]) -> Callable[[ASGIApp], ASGIApp]:
    """Middleware: refuse unknown Host names; add security headers to every HTTP response."""
    allowed = frozenset(h.lower() for h in allowed_hosts)

    def middleware(app: ASGIApp) -> ASGIApp:
        async def guarded(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] not in (ScopeType.HTTP, ScopeType.WEBSOCKET):
                await app(scope, receive, send)
                return
            host = next((v.decode("latin-1") for k, v in scope["headers"] if k == b"host"), "")
            if host_name(host) not in allowed:
                await _refuse(scope, send, host)
                return
            if scope["type"] == ScopeType.WEBSOCKET:
                await app(scope, receive, send)
                return

            async def send_with_headers(message: Message) -> None:
                if message["type"] == "http.response.start":
                    message["headers"] = [*message.get("headers", ()), *SECURITY_HEADERS]
                await send(message)

            await app(scope, receive, send_with_headers)

        return guarded

    return middleware


async def _refuse(scope: Scope, send: Send, host: str) -> None:
    if scope["type"] == ScopeType.WEBSOCKET:
        # Closing before accepting refuses the handshake (the client sees HTTP 403).
        await send({"type": "websocket.close", "code": 1008, "reason": "host not allowed"})
        return
    body = json.dumps(
        {"status_code": 400, "detail": f"this server does not answer to host {host[:80]!r}"}
    ).encode()
    start: HTTPResponseStartEvent = {
        "type": "http.response.start",
        "status": 400,
        "headers": [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            *SECURITY_HEADERS,
        ],
    }
    await send(start)
    await send({"type": "http.response.body", "body": body, "more_body": False})
