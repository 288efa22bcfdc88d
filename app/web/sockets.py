"""Live order events over WebSocket, as JSON for programs.

Per-order streams never skip or repeat an event: the socket subscribes before it
reads the stored events, then forwards only newer seqs, and fills any gap (a lost
pub/sub message, a Redis reconnect) from the database.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import AsyncIterator
from typing import Any

from litestar import WebSocket, websocket
from litestar.exceptions import WebSocketDisconnect
from litestar.params import FromPath
from litestar.status_codes import (
    HTTP_403_FORBIDDEN,
    WS_1000_NORMAL_CLOSURE,
    WS_1008_POLICY_VIOLATION,
)
from uvicorn.protocols.utils import ClientDisconnected

from app.domain.access import Principal, Scope
from app.domain.order import Order
from app.domain.problems import shown
from app.events.bus import Subscription
from app.events.pools import PoolWatch
from app.events.schema import Notice, OrderEvent, encode
from app.services.feed import FeedPump, FeedSubscription
from app.services.reads import OrderReads
from app.settings import Settings
from app.web.auth import refuse, socket_principal
from app.web.context import Web, WebContext
from app.web.errors import OUTAGES

log = logging.getLogger(__name__)

GONE = (WebSocketDisconnect, ClientDisconnected, RuntimeError)
"""The client went away (sending to a closed socket raises one of these)."""
SEQ = re.compile(r"[0-9]{1,9}")
EVENT_ID = re.compile(r"[0-9]{1,18}")
MAX_REASON_BYTES = 123
"""A close frame's reason must fit in 123 bytes of UTF-8 (RFC 6455)."""
RECHECK_SECONDS = 5.0
"""A watcher with no news re-reads the database this often (a lost publish must not hang it)."""
WS_1013_TRY_AGAIN_LATER = 1013
SEND_SECONDS = 3.0
"""A client that has not taken a message for this long is too slow and is closed."""


def origin_allowed(socket: WebSocket[Any, Any, Any], settings: Settings) -> bool:
    """Browsers send Origin: accept the engine's own origins and configured ones.

    Compared with the hosts the engine serves, never with the request's own Host header
    (a DNS-rebinding page controls both). Programs send no Origin and are let in.
    """
    origin = socket.headers.get("origin")
    if origin is None:
        return True
    return origin.rstrip("/").lower() in own_origins(settings)


def own_origins(settings: Settings) -> set[str]:
    origins = {o.lower() for o in settings.allowed_origins}
    if settings.public_url:
        origins.add(settings.public_url.lower())
    for host in settings.served_hosts:
        for scheme in ("http", "https"):
            origins.add(f"{scheme}://{host}:{settings.port}")
            if settings.port in (80, 443):
                origins.add(f"{scheme}://{host}")
    return origins


async def reject(socket: WebSocket[Any, Any, Any], reason: str) -> None:
    """Refuse the handshake (the client sees HTTP 403)."""
    await close(socket, WS_1008_POLICY_VIOLATION, reason)


async def close(socket: WebSocket[Any, Any, Any], code: int, reason: str) -> None:
    """Close with a reason cut to what a close frame can carry."""
    encoded = reason.encode()
    if len(encoded) > MAX_REASON_BYTES:
        reason = encoded[: MAX_REASON_BYTES - 3].decode(errors="ignore") + "…"
    await socket.close(code=code, reason=reason)


@contextlib.asynccontextmanager
async def closes(
    socket: WebSocket[Any, Any, Any], sub: Subscription | FeedSubscription | PoolWatch
) -> AsyncIterator[None]:
    """Wake the subscription's reader when the client goes away."""

    async def watch() -> None:
        with contextlib.suppress(*GONE, OSError):
            while (await socket.receive())["type"] != "websocket.disconnect":
                pass
        sub.close()

    watcher = asyncio.create_task(watch())
    try:
        yield
    finally:
        watcher.cancel()


class TooSlow(Exception):
    """The client has not read what it was sent for `SEND_SECONDS`."""

    def __init__(self, reason: str = "too slow to read; reconnect") -> None:
        super().__init__(reason)
        self.reason = reason


async def send_text(socket: WebSocket[Any, Any, Any], text: str) -> None:
    """Send, or raise `TooSlow` if the client's buffers stay full (it is not reading)."""
    try:
        async with asyncio.timeout(SEND_SECONDS):
            await socket.send_data(text, mode="text")
    except TimeoutError:
        raise TooSlow from None


async def send_event(socket: WebSocket[Any, Any, Any], event: OrderEvent) -> None:
    await send_text(socket, encode(event).decode())


@contextlib.asynccontextmanager
async def guarded(socket: WebSocket[Any, Any, Any]) -> AsyncIterator[None]:
    """How a socket ends when something other than its client goes wrong.

    A client that stops reading is closed with 1013 (try again later), and so is every
    client when PostgreSQL or Redis fails mid-stream: with a reason, never an unhandled
    error or a dropped connection. Reconnecting with `since` resumes where it stopped.
    """
    try:
        yield
    except TooSlow as slow:
        await _close_quickly(socket, WS_1013_TRY_AGAIN_LATER, slow.reason)
    except GONE:
        pass
    except OUTAGES as error:
        log.warning("closing a socket: %s", error)
        reason = "the engine's store is unavailable; reconnect shortly"
        await _close_quickly(socket, WS_1013_TRY_AGAIN_LATER, reason)


async def _close_quickly(socket: WebSocket[Any, Any, Any], code: int, reason: str) -> None:
    """Close without waiting long on a client that may not be reading."""
    with contextlib.suppress(*GONE, OSError):
        async with asyncio.timeout(1.0):
            await close(socket, code, reason)


async def reader(socket: WebSocket[Any, Any, Any], web: WebContext) -> Principal | None:
    """Who reads on this socket: a caller with the `read` scope, from an allowed origin.

    None once the handshake has been refused (and said why)."""
    if not origin_allowed(socket, web.settings):
        await reject(socket, "origin not allowed")
        return None
    principal = await socket_principal(socket, web)
    if principal is None:
        return None
    if not principal.may(Scope.READ):
        await refuse(socket, HTTP_403_FORBIDDEN, "this key lacks the 'read' scope")
        return None
    return principal


@websocket("/api/orders/{order_id:str}/ws")
async def order_events(socket: WebSocket[Any, Any, Any], order_id: FromPath[str], web: Web) -> None:
    """One order's events from seq 1 (or after `?since=N`), then live; closed after the last."""
    principal = await reader(socket, web)
    if principal is None:
        return
    since_raw = socket.query_params.get("since", "0")
    await socket.accept()
    if not SEQ.fullmatch(since_raw):
        await close(socket, WS_1008_POLICY_VIOLATION, "since must be a whole number (a seq)")
        return
    async with guarded(socket):
        order = await web.orders.order(order_id, principal.owner_filter)
        if order is None:
            await close(socket, WS_1008_POLICY_VIOLATION, f"unknown order {shown(order_id)}")
            return
        if not web.hub.connected:
            await close(socket, WS_1013_TRY_AGAIN_LATER, "live events are reconnecting; retry")
            return
        async with web.hub.subscribe(order.id) as sub, closes(socket, sub):
            await _stream(socket, web.orders, order, int(since_raw), sub)


async def _stream(
    socket: WebSocket[Any, Any, Any],
    orders: OrderReads,
    order: Order,
    last: int,
    sub: Subscription,
) -> None:
    """Stored events after seq `last`, then live ones; the database fills any gap."""
    catch_up = True
    while True:
        if catch_up:
            for event in await orders.events(order.id, after_seq=last):
                await send_event(socket, event)
                last = event.seq
                if event.terminal:
                    await close(socket, WS_1000_NORMAL_CLOSURE, f"order {event.status}")
                    return
            if order.terminal:
                # The client already has every event up to and past the end.
                await close(socket, WS_1000_NORMAL_CLOSURE, f"order {order.status}")
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
            await close(socket, WS_1000_NORMAL_CLOSURE, f"order {event.status}")
            return


@websocket("/api/orders/ws")
async def all_events(socket: WebSocket[Any, Any, Any], web: Web) -> None:
    """Every order's events in eventId order, live; `?since=<eventId>` replays what came after.

    A client that falls behind is closed with 1013 and a reason naming the last eventId
    it was sent: reconnecting with `since` set to it loses nothing.
    """
    principal = await reader(socket, web)
    if principal is None:
        return
    since_raw = socket.query_params.get("since")
    await socket.accept()
    if since_raw is not None and not EVENT_ID.fullmatch(since_raw):
        await close(socket, WS_1008_POLICY_VIOLATION, "since must be a whole number (an eventId)")
        return
    since = None if since_raw is None else int(since_raw)
    async with guarded(socket):
        try:
            async with web.feed.subscribe(principal.owner_filter) as sub, closes(socket, sub):
                fell_behind_at = await _firehose(socket, web.feed, sub, since)
        except TimeoutError:
            reason = "the event store is unavailable; reconnect shortly"
            await close(socket, WS_1013_TRY_AGAIN_LATER, reason)
            return
        if fell_behind_at is not None:
            await _close_quickly(
                socket,
                WS_1013_TRY_AGAIN_LATER,
                f"fell behind; reconnect with since={fell_behind_at}",
            )


async def _firehose(
    socket: WebSocket[Any, Any, Any], feed: FeedPump, sub: FeedSubscription, since: int | None
) -> int | None:
    """Stream until the client leaves (None) or falls behind (the last eventId sent)."""
    sent = sub.start if since is None else since
    try:
        while sent < sub.start:
            older = await feed.read(sent, sub.start, FeedPump.BATCH, sub.owner)
            if not older:
                break
            for stored in older:
                await send_event(socket, stored)
                sent = stored.event_id
        while (live := await sub.get()) is not None:
            if live.event_id > sent:
                await send_event(socket, live)
                sent = live.event_id
    except TooSlow:
        raise TooSlow(f"too slow; reconnect with since={sent}") from None
    return sent if sub.overflowed else None
