"""The simulator: what all simulated venues of a process share — the seed, the clock of
the simulated market, drift, price moves, chaos and the book (pools and ledger).

Every process that opens it agrees on one seed and one opening time (kept in Redis), so
every worker sees the same prices at the same moment. ("Market" alone, in this code base,
is a pair and a side: `app.domain.tokens.Market`.)
"""

from __future__ import annotations

import json
import secrets
from decimal import ROUND_FLOOR, Decimal

import msgspec
from redis.asyncio import Redis

from app.domain.drift import Drift
from app.domain.launches import Launch, LaunchSpec, mint_of
from app.domain.moves import PriceMove, shift_at
from app.domain.pool import PoolState
from app.domain.tokens import PAIRS_BY_SYMBOL, TOKENS, Pair, register
from app.venues.book import Book
from app.venues.catalog import VENUES, VenueSpec
from app.venues.chaos import Chaos, FaultScript
from app.venues.clock import Clock, SystemClock

_TENTH = Decimal("0.1")

_CREATE_LAUNCH = """
-- KEYS: launches, the new pool; ARGV: symbol, launch JSON, the pool's field/value pairs
if redis.call('HSETNX', KEYS[1], ARGV[1], ARGV[2]) == 0 then return 0 end
for i = 3, #ARGV, 2 do
  redis.call('HSET', KEYS[2], ARGV[i], ARGV[i + 1])
end
return 1
"""
_launch_decoder = msgspec.json.Decoder(Launch)


def _encode(launch: Launch) -> str:
    return msgspec.json.encode(launch).decode()


def _decode(raw: str | bytes) -> Launch:
    return _launch_decoder.decode(raw)


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
        self.launches: dict[str, Launch] = {}
        """Tokens launched in this market, by symbol, as far as this process knows."""
        self._create_launch = redis.register_script(_CREATE_LAUNCH)

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
        await self.learn_launches()

    def now(self) -> Decimal:
        """Market seconds since the simulation opened, to the tenth of a second below.

        Prices move in 100 ms steps: finer would cost a price computation per quote
        for no visible difference, coarser would make fills look frozen. Rounded down, so a
        pool that opens at `t` is never traded a moment before `t`.
        """
        return Decimal(self.clock.now() - self.epoch).quantize(_TENTH, rounding=ROUND_FLOOR)

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
        """Read the moves (and learn of launches) again if this process's copy is older
        than `MOVES_FRESH_SECONDS`."""
        if self.clock.now() - self._moves_read_at < self.MOVES_FRESH_SECONDS:
            return
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.hgetall(self.moves_key)
            pipe.hlen(self.launches_key)
            stored, launched = await pipe.execute()
        if int(launched) != len(self.launches):
            await self.learn_launches()
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
        """The moves' part of `pair`'s log price at `t` (as of the last `fresh`), and for a
        launched token's pair, its opening rush."""
        moved = shift_at(self._moves.get(pair.symbol, ()), t)
        launch = self.launches.get(pair.base)
        return moved + launch.rush(t) if launch is not None else moved

    # -- launches -----------------------------------------------------------------------

    @property
    def launches_key(self) -> str:
        return f"{self.prefix}:launches"

    @property
    def pools_channel(self) -> str:
        """Where pool events (created, open, liquidity) are published."""
        return f"{self.prefix}:pools"

    async def launch(self, spec: LaunchSpec) -> Launch | None:
        """Create the token's pool on its venue, opening `spec.open_in` seconds from now;
        None if a token of that symbol was launched already."""
        now = self.now()
        rush = 500 + int(2500 * self.chaos.roll("rush", spec.symbol))
        launch = Launch(
            spec.symbol,
            mint_of(spec.symbol, self.seed),
            spec.decimals,
            spec.venue,
            spec.quote,
            spec.base_reserve,
            spec.quote_reserve,
            now,
            now + spec.open_in,
            spec.safety,
            rush,
        )
        state = PoolState.seeded(spec.base_reserve, spec.quote_reserve)
        state = PoolState(state.liquidity, Decimal(0), now, 0, launch.opens_at)
        key = self.pool_key(spec.venue, launch.pair)
        fields = [item for pair in pool_fields(state).items() for item in pair]
        created = await self._create_launch(
            keys=[self.launches_key, key], args=[spec.symbol, _encode(launch), *fields]
        )
        if not created:
            return None
        self._learn(launch)
        return launch

    async def learn_launches(self) -> list[Launch]:
        """Read every launch and make the new ones known here; those new ones."""
        stored = await self.redis.hgetall(self.launches_key)
        new = []
        for raw in stored.values():
            launch = _decode(raw)
            if launch.symbol not in self.launches:
                self._learn(launch)
                new.append(launch)
        return new

    def _learn(self, launch: Launch) -> None:
        self.launches[launch.symbol] = launch
        register(launch.token(), launch.mint, launch.pair)

    async def pool(self, launch: Launch) -> PoolState:
        fields = await self.book.entry_of(self.pool_key(launch.venue, launch.pair))
        return pool_state(fields)

    async def change_liquidity(self, launch: Launch, factor: Decimal) -> PoolState:
        """Add (`factor` > 1) or remove liquidity from a launched token's pool, at its price."""
        key = self.pool_key(launch.venue, launch.pair)
        while True:
            fields = await self.book.entry_of(key)
            state = pool_state(fields)
            deeper = state.deeper(factor, self.now())
            if await self.book.settle_batch(key, fields["version"], pool_fields(deeper), []):
                return deeper

    def drift(self, stream: str, amplitude: Decimal) -> Drift:
        drift = self._drifts.get(stream)
        if drift is None:
            drift = self._drifts[stream] = Drift(self.seed, stream, amplitude)
        return drift

    def pool_key(self, venue: str, pair: Pair) -> str:
        return self.book.pool_key(venue, pair.symbol)


def pool_fields(state: PoolState) -> dict[str, str]:
    fields = {
        "liquidity": str(state.liquidity),
        "skew": str(state.skew),
        "updated_at": str(state.updated_at),
        "version": str(state.version),
    }
    if state.opens_at:
        fields["opens_at"] = str(state.opens_at)
    return fields


def pool_state(fields: dict[str, str]) -> PoolState:
    return PoolState(
        liquidity=Decimal(fields["liquidity"]),
        skew=Decimal(fields["skew"]),
        updated_at=Decimal(fields["updated_at"]),
        version=int(fields["version"]),
        opens_at=Decimal(fields.get("opens_at", "0")),
    )
