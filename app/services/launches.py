"""Token launches on the simulated venues: made on demand or on a seeded schedule, opened
on time, deepened or drained — and each of those told to every process as a pool event.

Every worker runs `tick`; claims in Redis make sure each scheduled launch happens once and
each opening is announced once, whichever worker gets there first.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal

from redis.asyncio import Redis

from app.domain.launches import Launch, LaunchSpec, scheduled
from app.domain.tokens import MINTS
from app.events.pools import PoolChange, PoolEvent, PoolView, encode_pool_event
from app.events.schema import amount
from app.metrics import METRICS
from app.venues.simulated import SimulatedVenue
from app.venues.simulator import Simulator

log = logging.getLogger(__name__)

LEARN_EVERY = 2.0
"""Seconds between reads of every launch (a missed `created` event is learnt this late)."""
TIMER_HORIZON = 1.0
"""An opening due within this long gets a timer of its own: announced on time, not at the
next tick."""
OPEN_MARGIN = 0.002
"""Announced this long after the open time: the pool is open by every clock reading then."""


class LaunchTaken(Exception):
    """A token of that symbol was launched already."""


class Launches:
    def __init__(
        self,
        simulator: Simulator,
        venues: Mapping[str, SimulatedVenue],
        redis: Redis,
        *,
        every: float,
    ) -> None:
        self._simulator = simulator
        self._venues = venues
        self._redis = redis
        self._every = every
        self._announced: set[str] = set()
        self._timers: dict[str, asyncio.Task[None]] = {}
        self._slot = -1
        """The schedule's slot this process last tried to claim."""
        self._learnt_at = 0.0

    @property
    def venues(self) -> frozenset[str]:
        return frozenset(self._venues)

    def find(self, name: str) -> Launch | None:
        """The launch of the token called `name` (its symbol or its mint), if known here."""
        return self._simulator.launches.get(MINTS.get(name, name))

    def trading(self, name: str) -> bool:
        """Whether the token called `name` trades already (its pool is open)."""
        launch = self.find(name)
        return launch is not None and launch.open(self._simulator.now())

    async def heard(self, event: PoolEvent) -> None:
        """A pool event arrived: a new token is learnt at once."""
        if event.pool.symbol not in self._simulator.launches:
            await self.learn()

    async def learn(self) -> None:
        """Make every launch known here (after a restart, or a missed event)."""
        self._learnt_at = time.monotonic()
        await self._simulator.learn_launches()

    async def launch(self, spec: LaunchSpec) -> PoolView:
        """Create the pool; raises `LaunchTaken` if the symbol is taken."""
        launch = await self._simulator.launch(spec)
        if launch is None:
            raise LaunchTaken(f"{spec.symbol} is already launched")
        log.info(
            "launched %s on %s (%s), opens in %s s", launch.symbol, launch.venue, launch.mint,
            spec.open_in,
        )  # fmt: skip
        METRICS.count("oee_launches_total")
        return await self._tell("created", launch)

    async def change_liquidity(self, launch: Launch, factor: Decimal) -> PoolView:
        """Add (`factor` > 1) or remove liquidity at the pool's price."""
        await self._simulator.change_liquidity(launch, factor)
        return await self._tell("liquidity", launch)

    async def pools(self, limit: int | None = None) -> list[PoolView]:
        """The launched pools (the newest `limit` of them), newest first."""
        if time.monotonic() - self._learnt_at > LEARN_EVERY:
            await self.learn()
        launches = sorted(
            self._simulator.launches.values(), key=lambda launch: launch.created_at, reverse=True
        )
        return [await self.view(launch) for launch in launches[:limit]]

    async def view(self, launch: Launch) -> PoolView:
        venue = self._venues[launch.venue]
        await self._simulator.fresh()
        t = self._simulator.now()
        state = await self._simulator.pool(launch)
        base, quote = state.reserves(venue.target_price(launch.pair, t), t)
        safety = launch.safety
        return PoolView(
            symbol=launch.symbol,
            mint=launch.mint,
            decimals=launch.decimals,
            venue=launch.venue,
            pair=launch.pair.symbol,
            quote_token=launch.quote,
            status="open" if launch.open(t) else "created",
            price=amount(_significant(quote / base)) or "0",
            base_reserve=amount(base.quantize(Decimal(1))) or "0",
            quote_reserve=amount(quote.quantize(Decimal("0.000001"))) or "0",
            created_at=self._date(launch.created_at),
            opens_at=self._date(launch.opens_at),
            mint_renounced=safety.mint_renounced,
            freeze_renounced=safety.freeze_renounced,
            top_holder_pct=amount(safety.top_holder_pct) or "0",
        )

    async def tick(self) -> None:
        """Announce openings that are due (or set a timer for one due before the next
        tick); make the scheduled launch, if one is due."""
        if time.monotonic() - self._learnt_at > LEARN_EVERY:
            await self.learn()
        now = self._simulator.now()
        for launch in list(self._simulator.launches.values()):
            if launch.symbol in self._announced:
                continue
            if launch.open(now):
                await self._announce_open(launch)
                continue
            wall = self._simulator.epoch + float(launch.opens_at) + OPEN_MARGIN
            delay = wall - self._simulator.clock.now()
            if delay <= TIMER_HORIZON and launch.symbol not in self._timers:
                self._timers[launch.symbol] = asyncio.create_task(
                    self._open_after(launch, delay), name=f"opening {launch.symbol}"
                )
        if self._every > 0:
            await self._scheduled()

    def close(self) -> None:
        """Cancel the opening timers (another worker announces those openings)."""
        for timer in self._timers.values():
            timer.cancel()

    async def _open_after(self, launch: Launch, delay: float) -> None:
        await self._simulator.clock.sleep(delay)
        try:
            await self._announce_open(launch)
        finally:
            self._timers.pop(launch.symbol, None)

    async def _announce_open(self, launch: Launch) -> None:
        if launch.symbol in self._announced:
            return
        self._announced.add(launch.symbol)
        claim = f"{self._simulator.prefix}:opened:{launch.symbol}"
        if await self._redis.set(claim, "1", nx=True):
            await self._tell("open", launch)

    async def _scheduled(self) -> None:
        slot = int(self._simulator.clock.now() // self._every)
        if slot == self._slot:
            return  # this slot was claimed (by us or another worker) already
        self._slot = slot
        claim = f"{self._simulator.prefix}:launch-slot:{slot}"
        if not await self._redis.set(claim, "1", nx=True, ex=max(int(self._every * 4), 10)):
            return
        spec = scheduled(
            slot, lambda part: self._simulator.chaos.roll("launch", part), sorted(self._venues)
        )
        try:
            await self.launch(spec)
        except LaunchTaken:
            log.info("scheduled launch %s skipped: the symbol is taken", spec.symbol)

    async def _tell(self, change: PoolChange, launch: Launch) -> PoolView:
        view = await self.view(launch)
        event = PoolEvent(change, datetime.now(UTC), view)
        try:
            await self._redis.publish(self._simulator.pools_channel, encode_pool_event(event))
        except Exception:
            log.exception("could not publish the %s event of %s", change, launch.symbol)
        return view

    def _date(self, market_seconds: Decimal) -> datetime:
        return datetime.fromtimestamp(self._simulator.epoch + float(market_seconds), UTC)


def _significant(value: Decimal) -> Decimal:
    return value.quantize(Decimal(1).scaleb(value.adjusted() - 11)).normalize()
