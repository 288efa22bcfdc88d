"""Launched pools as the API shows them, their events, and the channel that carries them.

A pool event (`created`, `open`, `liquidity`) is published once by whoever made it happen
and reaches every process through one Redis pub/sub channel: web processes push it to
`WS /api/pools/ws` and the dashboard, workers' sniper trigger acts on it. Pub/sub keeps
no history; `GET /api/pools` is the record.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime
from typing import Literal

import msgspec
from redis.asyncio import Redis
from redis.exceptions import RedisError

log = logging.getLogger(__name__)

PoolStatus = Literal["created", "open"]
PoolChange = Literal["created", "open", "liquidity"]


class PoolView(msgspec.Struct, rename="camel", frozen=True):
    """A launched token's pool now."""

    symbol: str
    mint: str
    decimals: int
    venue: str
    pair: str
    quote_token: str
    status: PoolStatus
    price: str
    """Spot price now, quote token per token (fees aside)."""
    base_reserve: str
    quote_reserve: str
    """The pool's depth on the quote side: what `minLiquidity` is compared with."""
    created_at: datetime
    opens_at: datetime
    mint_renounced: bool
    freeze_renounced: bool
    top_holder_pct: str


class PoolEvent(msgspec.Struct, rename="camel", frozen=True):
    event: PoolChange
    at: datetime
    pool: PoolView


_decoder = msgspec.json.Decoder(PoolEvent)


def encode_pool_event(event: PoolEvent) -> bytes:
    return msgspec.json.encode(event)


def decode_pool_event(data: bytes | str) -> PoolEvent:
    return _decoder.decode(data)


class PoolWatch:
    """One reader's inbox of pool events; None once it is closed."""

    def __init__(self, capacity: int) -> None:
        self._queue: asyncio.Queue[PoolEvent | None] = asyncio.Queue(capacity)

    def offer(self, event: PoolEvent | None) -> None:
        with contextlib.suppress(asyncio.QueueFull):
            self._queue.put_nowait(event)

    async def get(self) -> PoolEvent | None:
        return await self._queue.get()

    def close(self) -> None:
        if self._queue.full():
            self._queue.get_nowait()
        self._queue.put_nowait(None)


class PoolHub:
    """This process's one subscription to the pools channel, fanned out in memory."""

    RECONNECT_DELAY = 0.5

    def __init__(
        self,
        redis: Redis,
        channel: str,
        on_event: Callable[[PoolEvent], Awaitable[None]] | None = None,
        capacity: int = 256,
    ) -> None:
        self._redis = redis
        self.channel = channel
        self._on_event = on_event
        """Told of every event first (e.g. to learn a launched token)."""
        self._capacity = capacity
        self._watches: set[PoolWatch] = set()
        self._task: asyncio.Task[None] | None = None
        self._ready = asyncio.Event()
        self._stopping = False

    @property
    def connected(self) -> bool:
        return self._ready.is_set()

    async def start(self) -> None:
        self._task = asyncio.create_task(self._pump(), name="pool-hub")
        await asyncio.wait_for(self._ready.wait(), timeout=10)

    async def stop(self) -> None:
        self._stopping = True
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, RedisError, OSError):
                await asyncio.wait_for(self._task, 3)
        for watch in self._watches:
            watch.close()

    @contextlib.asynccontextmanager
    async def subscribe(self) -> AsyncIterator[PoolWatch]:
        """Events from now until the block exits; None once the hub stops. A reader too
        slow to keep up misses events (the API's list is the record)."""
        watch = PoolWatch(self._capacity)
        self._watches.add(watch)
        try:
            yield watch
        finally:
            self._watches.discard(watch)

    async def _pump(self) -> None:
        while not self._stopping:
            pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(self.channel)
                self._ready.set()
                while not self._stopping:
                    message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
                    if message is not None and message["type"] == "message":
                        await self._receive(message["data"])
            except (RedisError, OSError) as error:
                self._ready.clear()
                log.warning("pool subscription lost (%s); reconnecting", error)
                await asyncio.sleep(self.RECONNECT_DELAY)
            finally:
                with contextlib.suppress(RedisError, OSError):
                    await pubsub.aclose()  # type: ignore[no-untyped-call]

    async def _receive(self, data: bytes | str) -> None:
        try:
            event = decode_pool_event(data)
        except (ValueError, msgspec.DecodeError):
            log.exception("undecodable pool event on %s", self.channel)
            return
        if self._on_event is not None:
            try:
                await self._on_event(event)
            except Exception:
                log.exception("pool event handler failed")
        for watch in list(self._watches):
            watch.offer(event)
