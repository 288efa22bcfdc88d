"""The trigger: starts waiting limit orders when their price is there, expires the late ones.

It runs in every worker, but only the one holding a short Redis lease acts (another
takes over within `LEASE_SECONDS` if it dies). Each tick reads every pool with waiting
orders once, asks the index (app/services/limits.py) for the orders the market could
meet, and prices each of those for its full amount with the pools as read: an order whose
best quote after fees meets its minimum is moved `waiting → routing` (a compare-and-set
that also checks the expiry, so a cancel, an expiry and the trigger never both win) and
queued. Expiry is another compare-and-set, on the database's clock.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Mapping, Sequence
from decimal import Decimal

from redis.asyncio import Redis

from app.db.orders import Fired, Move, OrderStore
from app.domain.routing import Quote, QuoteResult
from app.domain.status import OrderStatus
from app.domain.tokens import Market, Side
from app.events.bus import EventPublisher
from app.events.schema import QuoteView, Recorded, amount
from app.metrics import METRICS
from app.services import prices
from app.services.limits import LimitIndex, Waiting, indexed
from app.services.queueing import ExecutionQueue
from app.venues.base import Pricing, Venue

log = logging.getLogger(__name__)

S = OrderStatus
LEASE_SECONDS = 3.0
CANDIDATES_PER_TICK = 2000
"""Orders priced per pair and side each tick at most (the rest wait for the next tick)."""
FIRE_BATCH = 200
"""Orders started by one statement: a move that crosses a thousand takes five statements,
sent at once, not a thousand in turn."""
RESYNC_EVERY = 2.0
RESYNC_WINDOW = 15.0
"""Every RESYNC_EVERY seconds the leader re-adds orders that began waiting in the last
RESYNC_WINDOW: a worker that died between storing `waiting` and indexing the order must
not leave it waiting forever. A re-added order that has moved on is dropped when seen."""

_RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) and 1 or 0
"""


class Trigger:
    def __init__(
        self,
        *,
        store: OrderStore,
        publisher: EventPublisher,
        queue: ExecutionQueue,
        index: LimitIndex,
        venues: Mapping[str, Venue],
        redis: Redis,
        namespace: str,
    ) -> None:
        self._store = store
        self._publisher = publisher
        self._queue = queue
        self._index = index
        self._venues = venues
        self._lease_key = f"{namespace}:trigger:leader"
        self._renew = redis.register_script(_RENEW)
        self._me = uuid.uuid4().hex
        self._leading = False
        self._resynced = 0.0

    @property
    def leading(self) -> bool:
        return self._leading

    async def tick(self) -> None:
        """One round: keep (or take) the lead; if leading, expire what is due and fire."""
        lease_ms = int(LEASE_SECONDS * 1000)
        lead = bool(await self._renew(keys=[self._lease_key], args=[self._me, lease_ms]))
        if lead and not self._leading:
            log.info("leading the limit trigger; rebuilding its index from the database")
            await self.rebuild()
        self._leading = lead
        if not lead:
            return
        started = time.process_time()
        await self.expire_due()
        if time.monotonic() - self._resynced >= RESYNC_EVERY:
            await self.resync(RESYNC_WINDOW)
        await self.scan()
        METRICS.observe("oee_trigger_tick_cpu_seconds", time.process_time() - started)

    async def rebuild(self) -> None:
        """The index from the database: every waiting order, nothing else."""
        await self._index.clear()
        after = ""
        while page := await self._store.waiting(after):
            await self._index.add(Waiting.of(order) for order in page if indexed(order))
            after = page[-1].id

    async def resync(self, window: float) -> None:
        """Index the orders that began waiting within `window` seconds (again, if indexed)."""
        self._resynced = time.monotonic()
        lately = await self._store.lately_waiting(window)
        await self._index.add(Waiting.of(order) for order in lately if indexed(order))

    async def expire_due(self) -> None:
        for order in await self._store.due_to_expire():
            note = "expired: its time ran out while it waited for its price"
            move = Move(S.WAITING, order.attempt, S.EXPIRED, order.attempt, note=note)
            recorded = await self._store.transition(order.id, move)
            if indexed(order):
                await self._index.remove([Waiting.of(order)])
            if recorded is not None:
                await self._announce(recorded)

    async def scan(self) -> None:
        markets = await self._index.markets()
        for pair in {m.pair for m in markets}:
            pricings = await prices.pricings(self._venues, pair)
            if not pricings:
                continue
            for market in (m for m in markets if m.pair == pair):
                await self._scan(market, pricings)

    async def _scan(self, market: Market, pricings: Sequence[Pricing]) -> None:
        marginals = [p.marginal(market.side) for p in pricings]
        best = max(marginals) if market.side is Side.SELL_BASE else min(marginals)
        due = []
        for waiting in await self._index.candidates(market, best, CANDIDATES_PER_TICK):
            quotes = [p.quote(market, waiting.amount) for p in pricings]
            offers = [q for q in quotes if isinstance(q, Quote)]
            top = max((q.amount_out for q in offers), default=Decimal(0))
            if top >= waiting.min_out:
                due.append((waiting, quotes, top))
        # The batches go out together: every crossed order is claimed at the price that
        # crossed it, before the first ones' executions compete for this process.
        batches = [due[start : start + FIRE_BATCH] for start in range(0, len(due), FIRE_BATCH)]
        await asyncio.gather(*(self._fire(batch) for batch in batches))

    async def _fire(self, due: Sequence[tuple[Waiting, list[QuoteResult], Decimal]]) -> None:
        """Start a batch: one statement moves them all, then their events go out and
        their jobs are queued."""
        fired = [_fired(waiting, quotes, top) for waiting, quotes, top in due]
        recorded = await self._store.trigger(fired)
        # Those that did not move were cancelled, expired or moved on: forgotten as well.
        await self._index.remove(waiting for waiting, _, _ in due)
        if not recorded:
            return
        METRICS.count("oee_limit_triggers_total", len(recorded))
        try:
            await self._publisher.publish_many(recorded)
        except Exception:
            log.exception("could not publish; watchers catch up from the database")
        await asyncio.gather(*(self._queue.enqueue(r.order.id) for r in recorded))

    async def _announce(self, recorded: Recorded) -> None:
        try:
            await self._publisher.publish(recorded)
        except Exception:
            log.exception("could not publish; watchers catch up from the database")


def _fired(waiting: Waiting, quotes: list[QuoteResult], top: Decimal) -> Fired:
    token = waiting.market.token_out.symbol
    return Fired(
        waiting.order_id,
        waiting.attempt,
        quotes=[QuoteView.of(q) for q in quotes],
        note=(
            f"triggered: the best offer, {amount(top)} {token}, meets the"
            f" {amount(waiting.min_out)} {token} the limit needs"
        ),
        details={"observedOut": str(top), "requiredOut": str(waiting.min_out)},
    )
