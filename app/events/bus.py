"""Live events across processes: one Redis pub/sub channel, fanned out in memory.

Workers publish each event after its transaction commits. Every web process holds a
single subscription and hands each notice to the sockets that want it, so Redis
load does not grow with the number of watchers. Pub/sub keeps no history: a
subscriber that may have missed something gets `RESYNC` and reads the database.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Final

from redis.asyncio import Redis
from redis.asyncio.client import PubSub
from redis.exceptions import RedisError

from app.events.schema import Notice, Recorded, decode_notice, encode

log = logging.getLogger(__name__)


class _Resync:
    """Sentinel: notices may have been lost; read the database to catch up."""


RESYNC: Final = _Resync()
Item = Notice | _Resync


class EventPublisher:
    def __init__(self, redis: Redis, channel: str) -> None:
        self._redis = redis
        self.channel = channel

    async def publish(self, recorded: Recorded) -> None:
        await self._redis.publish(self.channel, encode(recorded.notice()))

    async def publish_many(self, recorded: Sequence[Recorded]) -> None:
        """Several events in one round trip, in order."""
        async with self._redis.pipeline(transaction=False) as pipe:
            for one in recorded:
                pipe.publish(self.channel, encode(one.notice()))
            await pipe.execute()


class Subscription:
    """A bounded inbox; on overflow it drops notices and asks its reader to resync."""

    def __init__(self, capacity: int, owner: str | None = None) -> None:
        self.owner = owner
        """Only notices about this owner's orders; None: everyone's."""
        self._queue: asyncio.Queue[Item | None] = asyncio.Queue(capacity)
        self._lagging = False

    def offer(self, item: Item | None) -> None:
        if isinstance(item, Notice) and self.owner is not None and item.owner != self.owner:
            return
        if self._lagging and self._queue.full():
            return
        try:
            if self._lagging:
                self._queue.put_nowait(RESYNC)
                self._lagging = False
            self._queue.put_nowait(item)
        except asyncio.QueueFull:
            self._lagging = True

    async def get(self) -> Item | None:
        """The next notice, RESYNC, or None once the subscription is closed."""
        return await self._queue.get()

    def close(self) -> None:
        """Wake the reader with None (used when its socket goes away)."""
        if self._queue.full():
            self._queue.get_nowait()
        self._queue.put_nowait(None)


class EventHub:
    """This process's one subscription to the event channel."""

    RECONNECT_DELAY = 0.5

    def __init__(
        self,
        redis: Redis,
        channel: str,
        capacity: int = 256,
        on_notice: Callable[[], None] | None = None,
    ) -> None:
        self._redis = redis
        self.channel = channel
        self._on_notice = on_notice
        """Told of every notice (and every possible loss of one), e.g. to wake the feed."""
        self._capacity = capacity
        self._by_order: dict[str, set[Subscription]] = {}
        self._everything: set[Subscription] = set()
        self._task: asyncio.Task[None] | None = None
        self._ready = asyncio.Event()
        self._stopping = False
        self._pubsub: PubSub | None = None

    @property
    def connected(self) -> bool:
        return self._ready.is_set()

    @property
    def watchers(self) -> int:
        return len(self._everything) + sum(len(s) for s in self._by_order.values())

    async def start(self) -> None:
        self._task = asyncio.create_task(self._pump(), name="event-hub")
        await asyncio.wait_for(self._ready.wait(), timeout=10)

    async def stop(self) -> None:
        self._stopping = True
        if self._task is not None:
            self._task.cancel()
            done, _ = await asyncio.wait({self._task}, timeout=2)
            if not done and self._pubsub is not None:
                # The cancel was swallowed mid-read: closing the connection ends the read.
                await self._pubsub.aclose()  # type: ignore[no-untyped-call]
            with contextlib.suppress(asyncio.CancelledError, RedisError, OSError):
                await self._task
        for sub in [*self._everything, *(s for subs in self._by_order.values() for s in subs)]:
            sub.close()

    @contextlib.asynccontextmanager
    async def subscribe(
        self, order_id: str | None = None, owner: str | None = None
    ) -> AsyncIterator[Subscription]:
        """Notices of one order (or of all, with None; of `owner`'s orders only, if given),
        from now until the block exits."""
        sub = Subscription(self._capacity, owner)
        if order_id is None:
            self._everything.add(sub)
        else:
            self._by_order.setdefault(order_id, set()).add(sub)
        try:
            yield sub
        finally:
            if order_id is None:
                self._everything.discard(sub)
            else:
                subs = self._by_order.get(order_id, set())
                subs.discard(sub)
                if not subs:
                    self._by_order.pop(order_id, None)

    def dispatch(self, item: Notice | _Resync) -> None:
        if self._on_notice is not None:
            self._on_notice()
        if isinstance(item, Notice):
            targets = [*self._everything, *self._by_order.get(item.event.order_id, ())]
        else:
            targets = [*self._everything, *(s for subs in self._by_order.values() for s in subs)]
        for sub in targets:
            sub.offer(item)

    async def _pump(self) -> None:
        first = True
        # The flag, not just the cancellation, ends the loop: redis-py may swallow a cancel.
        while not self._stopping:
            pubsub = self._pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(self.channel)
                if not first:
                    # Anything published while we were away is lost to us.
                    self.dispatch(RESYNC)
                first = False
                self._ready.set()
                while not self._stopping:
                    # A bounded wait, so a stop request is seen within a second.
                    message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
                    if message is not None and message["type"] == "message":
                        self._receive(message["data"])
            except (RedisError, OSError) as error:
                self._ready.clear()
                log.warning("event subscription lost (%s); reconnecting", error)
                await asyncio.sleep(self.RECONNECT_DELAY)
            finally:
                with contextlib.suppress(RedisError, OSError):
                    await pubsub.aclose()  # type: ignore[no-untyped-call]

    def _receive(self, data: bytes | str) -> None:
        try:
            notice = decode_notice(data if isinstance(data, bytes) else data.encode())
        except ValueError:
            log.exception("undecodable event on %s", self.channel)
            return
        self.dispatch(notice)
