"""The firehose: every order's events, in eventId order, live — and resumable.

One pump per web process reads the feed from PostgreSQL (app/db/feed.py) up to its
horizon and hands each event, in order, to every subscriber. Pub/sub notices only wake
it early; a lost publish costs latency (the pump also looks every half second), never an
event. A subscriber starts at the pump's position and reads anything older from the
database first, so `since=<eventId>` resumes with no gap and no duplicate.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator

from app.db.database import Database
from app.db.feed import EventFeed
from app.events.schema import OrderEvent

log = logging.getLogger(__name__)


class FeedSubscription:
    """Events after `start`, in order, in a bounded inbox.

    A reader that lets the inbox fill has fallen behind: it is told once (`get` returns
    None) and must reconnect with `since` to read the rest from the database.
    """

    def __init__(self, start: int, capacity: int, owner: str | None = None) -> None:
        self.start = start
        self.owner = owner
        """Only this owner's orders' events; None: everyone's."""
        self.last = start
        """The newest event id handed to this subscription."""
        self.overflowed = False
        self._inbox: asyncio.Queue[OrderEvent | None] = asyncio.Queue(capacity)

    def offer(self, event: OrderEvent, owner: str) -> None:
        if self.overflowed or event.event_id <= self.last:
            return
        if self.owner is not None and owner != self.owner:
            return
        try:
            self._inbox.put_nowait(event)
            self.last = event.event_id
        except asyncio.QueueFull:
            self.overflowed = True
            self.close()

    async def get(self) -> OrderEvent | None:
        """The next event; None when the subscription ended (overflow or close)."""
        return await self._inbox.get()

    def close(self) -> None:
        if self._inbox.full():
            self._inbox.get_nowait()
        self._inbox.put_nowait(None)


class FeedPump:
    IDLE_POLL_SECONDS = 0.5
    """With no notice, the pump still looks this often (a publish may have been lost)."""
    BUSY_POLL_SECONDS = 0.003
    """While the horizon trails the newest id, the next round comes this soon."""
    ROUND_GAP_SECONDS = 0.015
    """Rounds start at least this far apart. Under load every commit pokes the pump; a round
    per poke would cost two statements for a handful of events (measured: ~1.8 extra
    statements per order at 200 orders/s). A quiet feed is read at once, as before."""
    BATCH = 500
    START_SECONDS = 5.0

    def __init__(self, db: Database, capacity: int = 4096) -> None:
        self.feed = EventFeed(db)
        self.capacity = capacity
        self.position: int | None = None
        """Every event up to this id has been handed to subscribers."""
        self._subscribers: set[FeedSubscription] = set()
        self._wake = asyncio.Event()
        self._ready = asyncio.Event()
        self._stopping = False
        self._task: asyncio.Task[None] | None = None

    @property
    def subscribers(self) -> int:
        return len(self._subscribers)

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="feed-pump")

    async def stop(self) -> None:
        self._stopping = True
        self._wake.set()
        if self._task is not None:
            await self._task
        for sub in self._subscribers:
            sub.close()

    async def read(
        self, after: int, upto: int, limit: int, owner: str | None = None
    ) -> list[OrderEvent]:
        """Stored events with `after` < eventId ≤ `upto` (of `owner`'s orders), in order."""
        return await self.feed.read(after, upto, limit, owner)

    async def horizon(self) -> int:
        """An eventId below which every event is stored for good (see app/db/feed.py)."""
        return await self.feed.settled()

    def poke(self) -> None:
        """Something was committed: look soon (if anyone listens)."""
        if self._subscribers:
            self._wake.set()

    @contextlib.asynccontextmanager
    async def subscribe(self, owner: str | None = None) -> AsyncIterator[FeedSubscription]:
        """Events after the pump's position (of `owner`'s orders), live, until the block exits.

        Raises TimeoutError when the pump cannot reach the database within `START_SECONDS`.
        """
        if not self._subscribers:
            self._ready.clear()  # nobody listened: the position may be far behind
        self._wake.set()
        async with asyncio.timeout(self.START_SECONDS):
            await self._ready.wait()
        assert self.position is not None
        sub = FeedSubscription(self.position, self.capacity, owner)
        self._subscribers.add(sub)
        try:
            yield sub
        finally:
            self._subscribers.discard(sub)

    async def _run(self) -> None:
        while not self._stopping:
            self._wake.clear()
            began = time.monotonic()
            try:
                await self._round()
            except Exception as error:
                self._ready.clear()
                log.warning("event feed unavailable (%s); retrying", error)
                await self._pause(1.0)
                continue
            if not self._subscribers and self._ready.is_set():
                # Nobody listens: no rounds until a subscriber arrives.
                await self._pause(None)
            elif self.feed.horizon.behind:
                await self._pause(self.BUSY_POLL_SECONDS)
            else:
                await self._pause(self.IDLE_POLL_SECONDS)
            rest = began + self.ROUND_GAP_SECONDS - time.monotonic()
            if rest > 0 and not self._stopping:
                await asyncio.sleep(rest)  # what arrives meanwhile is read in the next round

    async def _pause(self, seconds: float | None) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), seconds)

    async def _round(self) -> None:
        if self._ready.is_set():
            horizon = await self.feed.advance()
        else:
            # Starting, or a first subscriber after a quiet spell: catch up to now at once.
            async with asyncio.timeout(self.START_SECONDS):
                horizon = await self.feed.settled()
        if horizon is None:
            return
        if self.position is None or not self._subscribers:
            # Nobody to hand older events to: start (or skip ahead) at the horizon.
            self.position = max(self.position or 0, horizon)
        while self.position < horizon:
            events = await self.feed.read_owned(self.position, horizon, self.BATCH)
            for event, owner in events:
                for sub in list(self._subscribers):
                    sub.offer(event, owner)
            self.position = events[-1][0].event_id if len(events) == self.BATCH else horizon
        self._ready.set()
