"""The all-orders feed: stored events in `eventId` order, with no gap a reader can fall into.

Event ids come from a sequence, so they are handed out in order but committed in any
order: a reader that saw id 101 might later find 100 committed by a slower transaction.
The feed therefore serves events only up to a *horizon*, an id below which nothing can
still appear. It is found from PostgreSQL's own bookkeeping, with no lock on writers:

1. a round reads the last id handed out (`issued`) and takes a transaction id of its own;
2. every transaction holding an id ≤ the `issued` of one round got its transaction id
   before the next round began (each statement writes `orders` before it inserts its
   event, see app/db/orders.py), so it is older than that next round's own id `X`;
3. once a snapshot's `xmin` reaches `X`, every transaction older than `X` has finished,
   and that `issued` is the horizon.

A snapshot's in-flight list alone cannot say this: it leaves out transactions newer than
the newest one that finished, so "nothing in flight" may still have a writer running.
Each round spends one transaction id for its bound (a few hundred a second at most, while
events flow; two a second when idle). Under load the horizon trails the newest event by
two or three rounds — milliseconds.
"""

from __future__ import annotations

import asyncio
from collections import deque
from dataclasses import dataclass

from app.db.database import Database
from app.db.orders import event_from_row
from app.events.schema import OrderEvent

_ROUND = """
SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint AS xmin,
       pg_current_xact_id()::text::bigint AS xact,
       (SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM order_events_id_seq) AS issued
"""

_AFTER = """
SELECT e.*, o.owner FROM order_events e JOIN orders o ON o.id = e.order_id
WHERE e.id > $1 AND e.id <= $2 AND ($4::varchar IS NULL OR o.owner = $4)
ORDER BY e.id LIMIT $3
"""


@dataclass(frozen=True, slots=True)
class Round:
    """One round's readings, all from one statement."""

    xmin: int
    """Every transaction id below this had finished when the round's snapshot was taken."""
    issued: int
    """The last event id handed out."""
    xact: int
    """The round's own transaction id: newer than any transaction that had begun before."""


@dataclass(frozen=True, slots=True)
class _Candidate:
    issued: int
    bound: int
    """Every transaction that may still commit an id ≤ `issued` is older than this."""


class Horizon:
    """The pure part: which ids are final, given successive rounds."""

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

    def observe(self, reading: Round) -> int | None:
        """Take one round's readings; the horizon after it."""
        while self._waiting and self._waiting[0].bound <= reading.xmin:
            self._settle(self._waiting.popleft().issued)
        if self._last_issued is not None:
            # Whoever holds an id ≤ the previous round's `issued` began before this round.
            self._waiting.append(_Candidate(self._last_issued, reading.xact))
        self._last_issued = reading.issued
        self.issued = reading.issued
        return self.value

    def _settle(self, issued: int) -> None:
        if self.value is None or issued > self.value:
            self.value = issued


class EventFeed:
    """Reads the feed from PostgreSQL: the horizon, and events after a cursor."""

    POLL_SECONDS = 0.002

    def __init__(self, db: Database) -> None:
        self.db = db
        self.horizon = Horizon()
        self._lock = asyncio.Lock()

    async def advance(self) -> int | None:
        """One round: the horizon now (None until three rounds have run)."""
        async with self._lock:
            row = await self.db.fetchrow(_ROUND)
            assert row is not None
            return self.horizon.observe(Round(row["xmin"], row["issued"], row["xact"]))

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
