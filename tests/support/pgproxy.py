"""A TCP proxy in front of PostgreSQL that can go silent, as a paused (SIGSTOPped) server does.

Armed, it holds back the client's next statement execution (the protocol's Execute
message) — or, with `after_commit`, lets a COMMIT through and holds back the server's
answer — until `release()`; with `hang_up` as well, it then closes the client's
connection at once, as a server that crashed after committing does. A client that gives
up and closes meanwhile is closed on the server side only after the held bytes are
delivered, as a stopped server would read its socket buffer once it runs again.

It runs on a thread of its own: Piccolo connects synchronously (from another event loop)
while the engine starts, and the proxy must answer meanwhile.
"""

from __future__ import annotations

import asyncio
import contextlib
import struct
import threading
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import parse_qs, urlsplit

SSL_REQUEST = 80877103
T = TypeVar("T")


@dataclass
class _Link:
    server: asyncio.StreamWriter
    client: asyncio.StreamWriter
    held_up: list[bytes] = field(default_factory=list)
    held_down: list[bytes] = field(default_factory=list)
    client_gone: bool = False
    server_done: asyncio.Event = field(default_factory=asyncio.Event)


class SilentProxy:
    def __init__(self, database_url: str) -> None:
        self._url = urlsplit(database_url)
        self._server: asyncio.Server | None = None
        self._links: list[_Link] = []
        self._armed: str | None = None
        self._silent_up = False
        self._silent_down = False
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)

    async def _on_own_loop(self, work: Coroutine[Any, Any, T]) -> T:
        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(work, self._loop))

    async def start(self) -> str:
        """Start; the database URL that goes through the proxy."""
        self._thread.start()
        return await self._on_own_loop(self._start())

    async def _start(self) -> str:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        port = int(self._server.sockets[0].getsockname()[1])
        user = self._url.username or "postgres"
        return f"postgresql://{user}@127.0.0.1:{port}{self._url.path}"

    async def _open(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        socket_dir = parse_qs(self._url.query).get("host", [""])[0] or self._url.hostname or ""
        port = self._url.port or 5432
        if socket_dir.startswith("/"):  # a Unix socket, as the embedded server has
            return await asyncio.open_unix_connection(f"{socket_dir}/.s.PGSQL.{port}")
        return await asyncio.open_connection(socket_dir or "127.0.0.1", port)

    async def stop(self) -> None:
        if self._thread.is_alive():
            await self._on_own_loop(self._stop())
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(5)
            self._loop.close()

    async def _stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
        for link in self._links:
            for writer in (link.server, link.client):
                writer.close()
                with contextlib.suppress(ConnectionError):
                    await writer.wait_closed()
        tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def arm(self, *, after_commit: bool = False, hang_up: bool = False) -> None:
        """Go silent at the next statement execution (or after the next COMMIT, hanging
        up on the client with `hang_up`)."""
        self._armed = "execute" if not after_commit else "hang up" if hang_up else "commit"

    async def release(self) -> None:
        """Deliver everything held back, in order; then close what the client closed."""
        if self._thread.is_alive():
            await self._on_own_loop(self._release())

    async def _release(self) -> None:
        self._silent_up = self._silent_down = False
        for link in self._links:
            for chunk in link.held_up:
                link.server.write(chunk)
            link.held_up.clear()
            with contextlib.suppress(ConnectionError):
                await link.server.drain()
            if link.client_gone:
                link.server.close()
            for chunk in link.held_down:
                link.client.write(chunk)
            link.held_down.clear()
            if link.server_done.is_set():
                link.client.close()

    async def settled(self) -> None:
        """Until the server has closed every connection whose client went away: it has
        read (and acted on) everything it was sent."""
        await self._on_own_loop(self._settled())

    async def _settled(self) -> None:
        await asyncio.gather(*(link.server_done.wait() for link in self._links if link.client_gone))

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        server_reader, server_writer = await self._open()
        link = _Link(server_writer, writer)
        self._links.append(link)
        await asyncio.gather(
            self._up(reader, link), self._down(server_reader, link), return_exceptions=True
        )

    async def _up(self, reader: asyncio.StreamReader, link: _Link) -> None:
        """Client to server, message by message."""
        try:
            await self._pass_up(reader, link)
        except (asyncio.IncompleteReadError, ConnectionError):
            link.client_gone = True
            if not link.held_up:
                link.server.close()

    async def _pass_up(self, reader: asyncio.StreamReader, link: _Link) -> None:
        startup = True
        while True:
            if startup:
                head = await reader.readexactly(8)
                length, code = struct.unpack("!ii", head)
                message = head + await reader.readexactly(length - 8)
                startup = code == SSL_REQUEST  # after an SSL request comes the real startup
                kind = b""
            else:
                head = await reader.readexactly(5)
                kind, length = head[:1], struct.unpack("!i", head[1:])[0]
                message = head + await reader.readexactly(length - 4)
            if self._armed == "execute" and kind == b"E":
                self._go_silent(up=True)
            if self._silent_up:
                link.held_up.append(message)
                continue
            link.server.write(message)
            await link.server.drain()
            committing = kind == b"Q" and b"COMMIT" in message.upper()
            if committing and self._armed in ("commit", "hang up"):
                hang_up = self._armed == "hang up"
                self._go_silent(up=True, down=True)
                if hang_up:
                    link.client_gone = True
                    link.client.close()

    async def _down(self, reader: asyncio.StreamReader, link: _Link) -> None:
        with contextlib.suppress(ConnectionError):
            while chunk := await reader.read(65536):
                if self._silent_down or link.held_down:
                    link.held_down.append(chunk)
                    continue
                link.client.write(chunk)
                await link.client.drain()
        link.server_done.set()
        if not link.held_down:
            link.client.close()  # the server hung up: so does the proxy

    def _go_silent(self, *, up: bool = False, down: bool = False) -> None:
        self._armed = None
        self._silent_up = self._silent_up or up
        self._silent_down = self._silent_down or down
