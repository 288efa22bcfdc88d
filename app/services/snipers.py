"""The sniper trigger: starts waiting sniper orders the moment their launch allows.

Event-driven: every worker subscribes to the pool events (app/events/pools.py), and the
one leading the limit trigger acts on them — a launch's `created`, `open` and `liquidity`
events each look up the snipers waiting for that token (an index on the waiting ones),
judge each (app/domain/kinds/sniper.py) against one read of the pool, and start those
that pass with the same compare-and-set as the limit trigger (a cancel or an expiry that
won is left alone). The others get a `waiting` event saying why they wait (once per
reason) or, failing a safety check, expire. Every `SWEEP_EVERY` seconds the leader also
looks again at snipers on open pools: an order placed as its pool opened, a price that
came back under `maxPrice`, an event lost on the way.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal

from app.db.orders import Fired, Move, OrderStore
from app.domain.kinds.sniper import Call, Sight, Verdict, judge
from app.domain.launches import Launch
from app.domain.order import Order
from app.domain.routing import Quote, QuoteFailure, QuoteResult
from app.domain.status import OrderStatus
from app.domain.tokens import find_market
from app.events.bus import EventPublisher
from app.events.pools import PoolEvent
from app.events.schema import QuoteView, Recorded
from app.metrics import METRICS
from app.services import prices
from app.services.launches import Launches
from app.services.queueing import ExecutionQueue
from app.venues.base import Pricing, Venue

log = logging.getLogger(__name__)

S = OrderStatus
SWEEP_EVERY = 2.0


class Snipers:
    def __init__(
        self,
        *,
        store: OrderStore,
        publisher: EventPublisher,
        queue: ExecutionQueue,
        launches: Launches,
        venues: Mapping[str, Venue],
        leading: Callable[[], bool],
    ) -> None:
        self._store = store
        self._publisher = publisher
        self._queue = queue
        self._launches = launches
        self._venues = venues
        self._leading = leading
        self._said: dict[str, str] = {}
        """The last note each waiting sniper was given (a reason is said once)."""
        self._swept = 0.0

    async def on_pool_event(self, event: PoolEvent) -> None:
        """A pool changed: judge the snipers waiting for its token (when leading)."""
        await self._launches.heard(event)
        if not self._leading():
            return
        launch = self._launches.find(event.pool.symbol)
        if launch is not None:
            await self.evaluate(launch)

    async def sweep(self) -> None:
        """Judge again the snipers waiting on open pools (when leading), every SWEEP_EVERY."""
        if not self._leading() or time.monotonic() - self._swept < SWEEP_EVERY:
            return
        self._swept = time.monotonic()
        named = [self._launches.find(name) for name in await self._store.sniper_targets()]
        open_now = {launch.symbol: launch for launch in named if launch is not None}
        for launch in open_now.values():
            if self._launches.trading(launch.symbol):
                await self.evaluate(launch)

    async def evaluate(self, launch: Launch) -> None:
        waiting = await self._store.snipers_for([launch.symbol, launch.mint])
        if not waiting:
            return
        pool = await self._launches.view(launch)
        pricings = await prices.pricings(self._venues, launch.pair)
        fire: list[tuple[Order, Verdict, list[QuoteResult]]] = []
        for order in waiting:
            quotes = _quotes(pricings, order, launch)
            sight = Sight(
                launch,
                is_open=pool.status == "open",
                opens_at=pool.opens_at.strftime("%H:%M:%S UTC"),
                liquidity=Decimal(pool.quote_reserve),
                best_out=max((q.amount_out for q in quotes if isinstance(q, Quote)), default=None),
                refusal="; ".join(q.message for q in quotes if isinstance(q, QuoteFailure)),
            )
            verdict = judge(order, sight)
            if verdict.call is Call.FIRE:
                fire.append((order, verdict, quotes))
            elif verdict.call is Call.EXPIRE:
                await self._expire(order, verdict)
            elif self._said.get(order.id) != verdict.reason:
                await self._note(order, verdict)
        if fire:
            await self._fire(fire)

    async def _fire(self, due: Sequence[tuple[Order, Verdict, list[QuoteResult]]]) -> None:
        fired = [
            Fired(
                order.id,
                order.attempt,
                [QuoteView.of(q) for q in quotes],
                verdict.note,
                verdict.details,
            )
            for order, verdict, quotes in due
        ]
        recorded = await self._store.trigger(fired)
        for order, _, _ in due:
            self._said.pop(order.id, None)
        if not recorded:
            return
        METRICS.count("oee_sniper_triggers_total", len(recorded))
        await self._announce(recorded)
        await asyncio.gather(*(self._queue.enqueue(r.order.id) for r in recorded))

    async def _expire(self, order: Order, verdict: Verdict) -> None:
        move = Move(S.WAITING, order.attempt, S.EXPIRED, order.attempt, note=verdict.note)
        recorded = await self._store.transition(order.id, move)
        self._said.pop(order.id, None)
        if recorded is not None:
            await self._announce([recorded])

    async def _note(self, order: Order, verdict: Verdict) -> None:
        move = Move(
            S.WAITING, order.attempt, S.WAITING, order.attempt, note=verdict.note, unexpired=True
        )
        recorded = await self._store.transition(order.id, move)
        if recorded is not None:
            self._said[order.id] = verdict.reason
            await self._announce([recorded])

    async def _announce(self, recorded: Sequence[Recorded]) -> None:
        try:
            await self._publisher.publish_many(recorded)
        except Exception:
            log.exception("could not publish; watchers catch up from the database")


def _quotes(pricings: Sequence[Pricing], order: Order, launch: Launch) -> list[QuoteResult]:
    market = find_market(order.token_in.symbol, launch.symbol)
    if market is None:
        return []
    return [p.quote(market, order.amount) for p in pricings]
