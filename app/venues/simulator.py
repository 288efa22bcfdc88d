"""The simulator: what all simulated venues of a process share — the seed, the clock of
the simulated market, drift, price moves, chaos and the book (pools and ledger).

Every process that opens it agrees on one seed and one opening time (kept in Redis), so
every worker sees the same prices at the same moment. ("Market" alone, in this code base,
is a pair and a side: `app.domain.tokens.Market`.)
"""

from __future__ import annotations

import json
import secrets
from decimal import Decimal

from redis.asyncio import Redis

from app.domain.drift import Drift
from app.domain.moves import PriceMove, shift_at
from app.domain.pool import PoolState
from app.domain.tokens import PAIRS_BY_SYMBOL, TOKENS, Pair
from app.venues.book import Book
from app.venues.catalog import VENUES, VenueSpec
from app.venues.chaos import Chaos, FaultScript
from app.venues.clock import Clock, SystemClock

_TENTH = Decimal("0.1")


class Simulator:
    """What the simulated venues of a process share: seed, market clock, drift, chaos."""

    def __init__(
        self,
        redis: Redis,
        *,
        seed: int | None,
        failure_rate: float,
        latency_scale: float,
        clock: Clock | None = None,
        prefix: str = "sim",
    ) -> None:
        self.redis = redis
        self.prefix = prefix
        self.clock = clock or SystemClock()
        self._wanted_seed = seed
        self._failure_rate = failure_rate
        self._latency_scale = latency_scale
        self.seed = 0
        self.epoch = 0.0
        self.chaos = Chaos(0, failure_rate, latency_scale, self.clock)
        self.book = Book(redis, prefix)
        self.faults = FaultScript(self.book)
        self._drifts: dict[str, Drift] = {}
        self._moves: dict[str, tuple[PriceMove, ...]] = {}
        self._moves_read_at = -1.0

    async def open(self, venues: tuple[VenueSpec, ...] = VENUES) -> None:
        """Agree with every other process on seed and opening time; seed missing pools."""
        meta = f"{self.prefix}:meta"
        if self._wanted_seed is not None:
            await self.redis.hset(meta, "seed", str(self._wanted_seed))
        else:
            await self.redis.hsetnx(meta, "seed", str(secrets.randbits(62)))
        await self.redis.hsetnx(meta, "epoch", repr(self.clock.now()))
        stored = {str(k): str(v) for k, v in (await self.redis.hgetall(meta)).items()}
        self.seed, self.epoch = int(stored["seed"]), float(stored["epoch"])
        self.chaos = Chaos(self.seed, self._failure_rate, self._latency_scale, self.clock)
        for spec in venues:
            for symbol, tvl in spec.tvl_usd.items():
                pair = PAIRS_BY_SYMBOL[symbol]
                half = tvl / 2
                state = PoolState.seeded(
                    half / TOKENS[pair.base].usd_price, half / TOKENS[pair.quote].usd_price
                )
                key = self.pool_key(spec.name, pair)
                for name, value in pool_fields(state).items():
                    await self.redis.hsetnx(key, name, value)

    def now(self) -> Decimal:
        """Market seconds since the simulation opened, to the tenth of a second.

        Prices move in 100 ms steps: finer would cost a price computation per quote
        for no visible difference, coarser would make fills look frozen.
        """
        return Decimal(self.clock.now() - self.epoch).quantize(_TENTH)

    MOVES_FRESH_SECONDS = 0.1
    """Every process sees a move within this long of it being made."""

    @property
    def moves_key(self) -> str:
        return f"{self.prefix}:moves"

    async def move(self, pair: Pair, bps: Decimal, hold_seconds: Decimal) -> PriceMove:
        """Shift `pair`'s reference price on every venue by `bps`, hold it, then let it go."""
        made = PriceMove(self.now(), bps, hold_seconds)
        field = f"{pair.symbol}|{made.start}|{secrets.token_hex(4)}"
        await self.redis.hset(
            self.moves_key, field, json.dumps({"bps": str(bps), "hold": str(hold_seconds)})
        )
        self._moves_read_at = -1.0
        return made

    async def fresh(self) -> None:
        """Read the moves again if this process's copy is older than `MOVES_FRESH_SECONDS`."""
        if self.clock.now() - self._moves_read_at < self.MOVES_FRESH_SECONDS:
            return
        stored = await self.redis.hgetall(self.moves_key)
        now = self.now()
        moves: dict[str, list[PriceMove]] = {}
        over: list[str] = []
        for raw_field, value in stored.items():
            field = str(raw_field)
            symbol, start, _ = field.split("|")
            spec = json.loads(value)
            made = PriceMove(Decimal(start), Decimal(spec["bps"]), Decimal(spec["hold"]))
            if made.over(now):
                over.append(field)
            else:
                moves.setdefault(symbol, []).append(made)
        if over:
            await self.redis.hdel(self.moves_key, *over)
        self._moves = {symbol: tuple(found) for symbol, found in moves.items()}
        self._moves_read_at = self.clock.now()

    def shift(self, pair: Pair, t: Decimal) -> Decimal:
        """The moves' part of `pair`'s log price at `t` (as of the last `fresh`)."""
        return shift_at(self._moves.get(pair.symbol, ()), t)

    def drift(self, stream: str, amplitude: Decimal) -> Drift:
        drift = self._drifts.get(stream)
        if drift is None:
            drift = self._drifts[stream] = Drift(self.seed, stream, amplitude)
        return drift

    def pool_key(self, venue: str, pair: Pair) -> str:
        return self.book.pool_key(venue, pair.symbol)


def pool_fields(state: PoolState) -> dict[str, str]:
    return {
        "liquidity": str(state.liquidity),
        "skew": str(state.skew),
        "updated_at": str(state.updated_at),
        "version": str(state.version),
    }


def pool_state(fields: dict[str, str]) -> PoolState:
    return PoolState(
        liquidity=Decimal(fields["liquidity"]),
        skew=Decimal(fields["skew"]),
        updated_at=Decimal(fields["updated_at"]),
        version=int(fields["version"]),
    )
