"""Live order events over WebSocket, as JSON for programs.

Per-order streams never skip or repeat an event: the socket subscribes before it
reads the stored events, then forwards only newer seqs, and fills any gap (a lost
pub/sub message, a Redis reconnect) from the database.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import uuid
from collections.abc import AsyncIterator
from typing import Any

from litestar import WebSocket, websocket
from litestar.exceptions import WebSocketDisconnect
from litestar.params import FromPath
from litestar.status_codes import WS_1000_NORMAL_CLOSURE, WS_1008_POLICY_VIOLATION

from app.db.orders import OrderStore
from app.events.bus import Subscription
from app.events.schema import Notice, OrderEvent, encode
from app.ids import parse_uuid
from app.web.services import Services

GONE = (WebSocketDisconnect, OSError, RuntimeError)
SEQ = re.compile(r"[0-9]{1,9}")
RECHECK_SECONDS = 5.0
"""A watcher with no news re-reads the database this often (a lost publish must not hang it)."""
WS_1013_TRY_AGAIN_LATER = 1013


def origin_allowed(socket: WebSocket[Any, Any, Any], allowed: tuple[str, ...]) -> bool:
    """Browsers send Origin: accept our own site and configured ones; programs send none."""
    origin = socket.headers.get("origin")
    if origin is None:
        return True
    origin = origin.rstrip("/")
    scheme = "https" if socket.url.scheme in ("wss", "https") else "http"
    own = f"{scheme}://{socket.headers.get('host', '')}"
    return origin == own or origin in allowed


async def reject(socket: WebSocket[Any, Any, Any], reason: str) -> None:
    """Refuse the handshake (the client sees HTTP 403)."""
    await socket.close(code=WS_1008_POLICY_VIOLATION, reason=reason)


@contextlib.asynccontextmanager
async def closes(socket: WebSocket[Any, Any, Any], sub: Subscription) -> AsyncIterator[None]:
    """Wake the subscription's reader when the client goes away."""

    async def watch() -> None:
        with contextlib.suppress(*GONE):
            while (await socket.receive())["type"] != "websocket.disconnect":
                pass
        sub.close()

    watcher = asyncio.create_task(watch())
    try:
        yield
    finally:
        watcher.cancel()


async def send_event(socket: WebSocket[Any, Any, Any], event: OrderEvent) -> None:
    await socket.send_data(encode(event).decode(), mode="text")


@websocket("/api/orders/{order_id:str}/ws")
async def order_events(
    socket: WebSocket[Any, Any, Any], order_id: FromPath[str], services: Services
) -> None:
    """One order's events from seq 1 (or after `?since=N`), then live; closed after the last."""
    if not origin_allowed(socket, services.runtime.settings.allowed_origins):
        await reject(socket, "origin not allowed")
        return
    since_raw = socket.query_params.get("since", "0")
    await socket.accept()
    if not SEQ.fullmatch(since_raw):
        await socket.close(WS_1008_POLICY_VIOLATION, "since must be a whole number (a seq)")
        return
    parsed = parse_uuid(order_id)
    if parsed is None:
        await socket.close(WS_1008_POLICY_VIOLATION, f"unknown order {order_id!r}")
        return
    with contextlib.suppress(*GONE):
        async with services.hub.subscribe(str(parsed)) as sub, closes(socket, sub):
            await _stream(socket, services.runtime.store, parsed, int(since_raw), sub)


async def _stream(
    socket: WebSocket[Any, Any, Any],
    store: OrderStore,
    order_id: uuid.UUID,
    last: int,
    sub: Subscription,
) -> None:
    order = await store.get(order_id)
    if order is None:
        await socket.close(WS_1008_POLICY_VIOLATION, f"unknown order {str(order_id)!r}")
        return
    catch_up = True
    while True:
        if catch_up:
            for event in await store.events(order_id, after_seq=last):
                await send_event(socket, event)
                last = event.seq
                if event.terminal:
                    await socket.close(WS_1000_NORMAL_CLOSURE, f"order {event.status}")
                    return
            if order.terminal:
                # The client already has every event up to and past the end.
                await socket.close(WS_1000_NORMAL_CLOSURE, f"order {order.status}")
                return
            catch_up = False
        try:
            item = await asyncio.wait_for(sub.get(), RECHECK_SECONDS)
        except TimeoutError:
            catch_up = True
            continue
        if item is None:
            return
        if not isinstance(item, Notice) or item.event.seq > last + 1:
            catch_up = True
            continue
        event = item.event
        if event.seq <= last:
            continue
        await send_event(socket, event)
        last = event.seq
        if event.terminal:
            await socket.close(WS_1000_NORMAL_CLOSURE, f"order {event.status}")
            return


@websocket("/api/orders/ws")
async def all_events(socket: WebSocket[Any, Any, Any], services: Services) -> None:
    """Every order's events as they happen (no history: read the API for that)."""
    if not origin_allowed(socket, services.runtime.settings.allowed_origins):
        await reject(socket, "origin not allowed")
        return
    await socket.accept()
    with contextlib.suppress(*GONE):
        async with services.hub.subscribe(None) as sub, closes(socket, sub):
            while (item := await sub.get()) is not None:
                if not isinstance(item, Notice):
                    # Events were dropped for this client; say so rather than skip silently.
                    await socket.close(WS_1013_TRY_AGAIN_LATER, "fell behind; reconnect")
                    return
                await send_event(socket, item.event)
