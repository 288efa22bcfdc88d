"""The all-orders feed: stored events in `eventId` order, with no gap a reader can fall into.

Event ids come from a sequence, so they are handed out in order but committed in any
order: a reader that saw id 101 might later find 100 committed by a slower transaction.
The feed therefore serves events only up to a *horizon*, an id below which nothing can
still appear. It is found from PostgreSQL's own bookkeeping, with no lock on writers:

1. read the last id handed out (`issued`), then, in a later statement, take a snapshot;
2. every transaction that took an id ≤ `issued` already had a transaction id when
   `issued` was read (each statement writes `orders` before it inserts its event, see
   app/db/orders.py), so it is either finished at the snapshot or in its in-flight list;
3. once every transaction in that list has finished, `issued` is the horizon.

A round is one statement that returns the snapshot and then reads `issued`; the value
read in one round is checked against the snapshot of the next. Under load the horizon
trails the newest event by a round or two — milliseconds.
"""

from __future__ import annotations

import asyncio
from collections import deque
from dataclasses import dataclass

from app.db.database import Database
from app.db.orders import event_from_row
from app.events.schema import OrderEvent

_ROUND = """
SELECT pg_current_snapshot()::text AS snapshot,
       (SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM order_events_id_seq) AS issued
"""

_AFTER = """
SELECT e.*, o.owner FROM order_events e JOIN orders o ON o.id = e.order_id
WHERE e.id > $1 AND e.id <= $2 AND ($4::varchar IS NULL OR o.owner = $4)
ORDER BY e.id LIMIT $3
"""


@dataclass(frozen=True, slots=True)
class Snapshot:
    xmin: int
    """Every transaction id below this has finished."""
    in_flight: tuple[int, ...]

    @classmethod
    def parse(cls, text: str) -> Snapshot:
        """PostgreSQL's `xmin:xmax:xip,xip,…` text form."""
        xmin, _, running = text.split(":")
        return cls(int(xmin), tuple(int(x) for x in running.split(",") if x))


@dataclass(frozen=True, slots=True)
class _Candidate:
    issued: int
    blocker: int
    """The newest transaction that may still commit an id ≤ `issued`."""


class Horizon:
    """The pure part: which ids are final, given rounds of (snapshot, issued)."""

    def __init__(self) -> None:
        self.value: int | None = None
        """Every event with an id ≤ this is committed or never will be; None until known."""
        self.issued = 0
        """The last id handed out, as of the latest round."""
        self._last_issued: int | None = None
        self._waiting: deque[_Candidate] = deque()

    @property
    def behind(self) -> bool:
        """Ids were handed out that the horizon does not cover yet."""
        return self.value is None or self.value < self.issued

    def observe(self, snapshot: Snapshot, issued: int) -> int | None:
        """Take one round's readings (the snapshot taken before `issued` was read)."""
        if not snapshot.in_flight:
            # Nothing that was running before this snapshot still runs: every earlier
            # reading of `issued` is final.
            self._waiting.clear()
            self._settle(self._last_issued)
        else:
            while self._waiting and self._waiting[0].blocker < snapshot.xmin:
                self._settle(self._waiting.popleft().issued)
            if self._last_issued is not None:
                self._waiting.append(_Candidate(self._last_issued, max(snapshot.in_flight)))
        self._last_issued = issued
        self.issued = issued
        return self.value

    def _settle(self, issued: int | None) -> None:
        if issued is not None and (self.value is None or issued > self.value):
            self.value = issued


class EventFeed:
    """Reads the feed from PostgreSQL: the horizon, and events after a cursor."""

    POLL_SECONDS = 0.002

    def __init__(self, db: Database) -> None:
        self.db = db
        self.horizon = Horizon()
        self._lock = asyncio.Lock()

    async def advance(self) -> int | None:
        """One round: the horizon now (None until two rounds have run)."""
        async with self._lock:
            row = await self.db.fetchrow(_ROUND)
            assert row is not None
            return self.horizon.observe(Snapshot.parse(row["snapshot"]), int(row["issued"]))

    async def settled(self) -> int:
        """A horizon covering every event committed before this call (callers bound the wait).

        Transactions in flight are single statements, so this takes a few rounds at most.
        """
        await self.advance()
        target = self.horizon.issued
        while True:
            value = await self.advance()
            if value is not None and value >= target:
                return value
            await asyncio.sleep(self.POLL_SECONDS)  # polling the server's snapshot

    async def read(
        self, after: int, upto: int, limit: int, owner: str | None = None
    ) -> list[OrderEvent]:
        """Events with `after` < eventId ≤ `upto` (of `owner`'s orders, or all), in order."""
        return [event for event, _ in await self.read_owned(after, upto, limit, owner)]

    async def read_owned(
        self, after: int, upto: int, limit: int, owner: str | None = None
    ) -> list[tuple[OrderEvent, str]]:
        """As `read`, each event with its order's owner."""
        rows = await self.db.fetch(_AFTER, after, upto, limit, owner)
        return [(event_from_row(row), row["owner"]) for row in rows]
