"""Serve the web app: `python -m app.web.serve` (what `make run`, tests and the image run).

uvicorn with the limits a public port needs: a client gets `HEADER_TIMEOUT_SECONDS`
(10 s by default) to send a request's headers, so slow-header connections cannot pile up;
idle keep-alive connections close after `KEEP_ALIVE_SECONDS`; WebSocket messages from
clients are capped (every socket here is read-only) and a WebSocket client that stops
reading is dropped; `X-Forwarded-*` headers are believed only from `FORWARDED_ALLOW_IPS`.
"""

from __future__ import annotations

import asyncio
import functools
import socket
import struct
from typing import Any

import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.protocols.utils import ClientDisconnected
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol

from app.logs import configure_logging
from app.settings import Settings

KEEP_ALIVE_SECONDS = 5
ABANDON_SECONDS = 3.0
WS_SEND_BUFFER_BYTES = 256 * 1024
"""Kernel send buffer per WebSocket: bounds what a client that stops reading can hold up
(autotuned, it grows to 4 MiB) and lets the app notice it within seconds."""
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
        self._header_timer = self.loop.call_later(_header_timeout(), self._too_slow)

    def _disarm(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _too_slow(self) -> None:
        self._header_timer = None
        if not self.transport.is_closing():
            self.logger.warning("closing a connection that sent no complete request headers")
            self.transport.close()


class AbandoningWebSocketProtocol(WebSocketsSansIOProtocol):
    """uvicorn's WebSocket protocol, dropping clients that stopped reading.

    When the app is done with a socket, uvicorn closes the transport gracefully, which
    waits for everything buffered to be delivered: a client that stopped reading would
    hold the connection and its unsent messages forever. Whatever is still unsent
    `ABANDON_SECONDS` after the app finished is dropped with the connection.
    """

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, WS_SEND_BUFFER_BYTES)
        super().connection_made(transport)

    async def run_asgi(self) -> None:
        # uvicorn's own, but a handshake refused with an HTTP response (the ASGI "denial
        # response", e.g. 401 without a key) is a complete answer, not an app error.
        try:
            result = await self.app(self.scope, self.receive, self.send)
        except ClientDisconnected:
            pass
        except BaseException:
            self.logger.exception("Exception in ASGI application\n")
            self.send_500_response()
        else:
            if not self.handshake_complete and not self.close_sent:
                self.logger.error("ASGI callable returned without completing handshake.")
                self.send_500_response()
            elif result is not None:
                self.logger.error("ASGI callable should return None, but returned '%s'.", result)
        if self.close_timer is None:
            self.transport.close()
        self.loop.call_later(ABANDON_SECONDS, self._abandon)

    def _abandon(self) -> None:
        if self.transport.get_write_buffer_size() > 0:
            self.logger.warning("dropping a WebSocket client that stopped reading")
            sock = self.transport.get_extra_info("socket")
            if sock is not None:
                # Reset, rather than leave the kernel delivering the backlog to nobody.
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.transport.abort()


@functools.cache
def _header_timeout() -> float:
    # Read in each server process (uvicorn's extra processes are spawned, not forked).
    return Settings.from_env().header_timeout_seconds


def uvicorn_options(settings: Settings) -> dict[str, Any]:
    trusted = settings.forwarded_allow_ips
    return {
        "host": settings.host,
        "port": settings.port,
        "workers": settings.web_processes,
        "http": HeaderTimeoutProtocol,
        "ws": AbandoningWebSocketProtocol,
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
