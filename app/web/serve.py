"""Serve the web app: `python -m app.web.serve` (what `make run`, tests and the image run).

uvicorn with the limits a public port needs: a client gets `HEADER_TIMEOUT_SECONDS` to
send a request's headers (a connection that dribbles them is closed, so slow-header
connections cannot pile up), idle keep-alive connections close after
`KEEP_ALIVE_SECONDS`, WebSocket messages from clients are capped (every socket here is
read-only), and `X-Forwarded-*` headers are believed only from `FORWARDED_ALLOW_IPS`.
"""

from __future__ import annotations

import asyncio
from typing import Any

import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from app.logs import configure_logging
from app.settings import Settings

HEADER_TIMEOUT_SECONDS = 10.0
KEEP_ALIVE_SECONDS = 5
WS_MAX_MESSAGE_BYTES = 4096


class HeaderTimeoutProtocol(HttpToolsProtocol):
    """uvicorn's HTTP protocol, closing connections whose request headers take too long."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._header_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._arm()

    def on_headers_complete(self) -> None:
        self._disarm()
        super().on_headers_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _arm(self) -> None:
        self._disarm()
        self._header_timer = self.loop.call_later(HEADER_TIMEOUT_SECONDS, self._too_slow)

    def _disarm(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _too_slow(self) -> None:
        self._header_timer = None
        if not self.transport.is_closing():
            self.logger.warning("closing a connection that sent no complete request headers")
            self.transport.close()


def uvicorn_options(settings: Settings) -> dict[str, Any]:
    trusted = settings.forwarded_allow_ips
    return {
        "host": settings.host,
        "port": settings.port,
        "workers": settings.web_processes,
        "http": HeaderTimeoutProtocol,
        "ws_max_size": WS_MAX_MESSAGE_BYTES,
        "timeout_keep_alive": KEEP_ALIVE_SECONDS,
        "timeout_graceful_shutdown": 5,
        "proxy_headers": bool(trusted),
        "forwarded_allow_ips": trusted or None,
        "server_header": False,
        "access_log": False,
        "log_config": None,  # ours (configure_logging), text or JSON
    }


def main() -> None:
    settings = Settings.from_env()
    configure_logging(settings.log_format)
    uvicorn.run("app.web.asgi:build", factory=True, **uvicorn_options(settings))


if __name__ == "__main__":
    main()
