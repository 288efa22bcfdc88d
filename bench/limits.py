"""The limits scenario: many waiting limit orders, and a price move that crosses some of them.

Placing 100,000 orders through the API would take many minutes on a small machine, so they
are written straight into PostgreSQL, row for row as the engine stores a limit order that
began waiting (`_CREATE` then the `pending → waiting` transition of `Run.wait`): the order
with status `waiting`, `last_seq` 2, its terms, limit, minimum out (`min_out_at`) and
expiry, and its `pending` and `waiting` events. A few orders placed through the API first
(one per pair and side) are the pattern: the rows written for them are compared column by
column with what the engine stored (`shape`), so a change to how the engine stores a limit
order shows up here instead of skewing the numbers.

The sequence, with one web process and one worker:

1. the pattern orders through the API; the idle trigger's CPU per tick with just those
   waiting (the baseline); the pools quoted for every size the scenario uses;
2. the worker stops, the orders are written (most 3-30 % away from the price now, across
   pairs and both sides; `crossing` of them 1-2 % away on one pair and side), a fresh
   worker starts: it takes the trigger's lead and rebuilds the index from the database,
   timed from its log line to the index holding every order;
3. the idle trigger's CPU per tick (`oee_trigger_tick_cpu_seconds`, nothing crossing),
   the worker's CPU and RSS;
4. the admin's price move (`POST /api/sim/moves`): from the moment it is sent to each
   crossed order's `routing` event (`at`, the database's clock on the same machine) and
   to its `confirmed` event; every crossed order must confirm at its limit or better and
   every other order must still be waiting.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import random
import signal
import time
import uuid
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
from redis.asyncio import Redis

from app.domain.kinds.limit import min_out_at
from app.domain.tokens import PAIRS_BY_SYMBOL, Market, Side, executed_price
from bench import checks
from bench.load import bearer
from bench.measure import ProcessMeter, percentile, rss_mb
from bench.scenarios import Servers, _spy, metrics_text

TICK_METRIC = "oee_trigger_tick_cpu_seconds"
PAIRS = ("SOL/USDC", "SOL/USDT", "JUP/USDC", "JUP/SOL", "BONK/SOL", "BONK/USDC")
"""The pairs orders wait on, each on both sides (USDC/USDT, barely moving, is left out)."""
MOVED_PAIR = PAIRS_BY_SYMBOL["SOL/USDC"]


def moved_market(move_bps: int) -> Market:
    """Where the crossing orders wait: selling SOL for USDC, crossed by a move up; buying
    SOL with USDC, by a move down."""
    return Market(MOVED_PAIR, Side.SELL_BASE if move_bps > 0 else Side.BUY_BASE)


SIZES_USD = (Decimal(20), Decimal(60), Decimal(150), Decimal(400))
CROSSING_SIZES_USD = (Decimal(15), Decimal(30), Decimal(45))
"""Small, so the crossed orders' own fills (~$30k in all) barely move the pool they sell
into: each is 1-2 % from its limit before the move, ~1 % past it after."""
EXPIRES_IN = 7 * 24 * 3600
CLIENT = "127.0.0.1"
SLIPPAGE_BPS = 50
"""What the API stores for a limit order that names no slippage (it has no use for it)."""
FAR = (Decimal("0.03"), Decimal("0.30"))
FAR_ON_MOVED = (Decimal("0.05"), Decimal("0.30"))
"""A +300 bps move lifts the price by e^0.03 − 1 = 3.05 % (−300: 2.96 % down) and drift
adds a little, so on the moved pair and side the others start at 5 %: an order there at
3.2 % would be crossed for real, and counted as a false trigger."""
NEAR = (Decimal("0.01"), Decimal("0.02"))
PATTERN_AWAY = Decimal("0.25")


# -- what to write -------------------------------------------------------------------------


def markets() -> list[Market]:
    return [Market(PAIRS_BY_SYMBOL[p], side) for p in PAIRS for side in Side]


def name(market: Market) -> str:
    return f"{market.token_in.symbol}→{market.token_out.symbol}"


def size(market: Market, usd: Decimal) -> Decimal:
    """`usd` worth of the market's input token, in whole units of it."""
    token = market.token_in
    return token.floor(usd / token.usd_price)


def limit_for(market: Market, price_now: Decimal, away: Decimal) -> Decimal:
    """The limit `away` (a fraction) from `price_now` against the order: a sell asks more,
    a buy offers less; 8 significant digits, in the API's plain notation."""
    raw = price_now * (1 + away) if market.side is Side.SELL_BASE else price_now * (1 - away)
    exponent = raw.adjusted() - 7
    return raw.quantize(Decimal(1).scaleb(exponent))


def price_text(price: Decimal) -> str:
    return format(price, "f")


@dataclass(frozen=True)
class Planned:
    """One limit order to write, as it would stand once waiting."""

    order_id: uuid.UUID
    market: Market
    amount: Decimal
    limit: Decimal
    created_at: datetime
    waiting_at: datetime
    crossing: bool
    away: Decimal


ORDER_COLUMNS = (
    "id", "type", "token_in", "token_out", "amount_in", "slippage_bps", "status", "attempt",
    "last_seq", "client", "terms", "owner", "client_order_id", "limit_price", "min_out",
    "expires_at", "created_at", "updated_at", "triggered",
)  # fmt: skip
EVENT_COLUMNS = ("order_id", "seq", "status", "at", "attempt", "note", "details")


def order_record(p: Planned, owner: str) -> tuple[Any, ...]:
    """The `orders` row, as `_CREATE` writes it and the `waiting` transition leaves it."""
    limit = price_text(p.limit)
    terms = {"expiresIn": str(EXPIRES_IN), "limitPrice": limit}
    return (
        p.order_id, "limit", p.market.token_in.symbol, p.market.token_out.symbol, p.amount,
        SLIPPAGE_BPS, "waiting", 1, 2, CLIENT, json.dumps(terms), owner, None, Decimal(limit),
        min_out_at(p.market, p.amount, Decimal(limit)), _expiry(p), p.created_at, p.waiting_at,
        False,
    )  # fmt: skip


def event_records(p: Planned) -> list[tuple[Any, ...]]:
    """Its `pending` event (with the order) and its `waiting` event (`Run.wait`)."""
    details = {"limitPrice": price_text(p.limit), "expiresAt": _expiry(p).isoformat()}
    return [
        (p.order_id, 1, "pending", p.created_at, 1, None, None),
        (p.order_id, 2, "waiting", p.waiting_at, 1, "waiting for its price", json.dumps(details)),
    ]


def _expiry(p: Planned) -> datetime:
    return p.created_at + timedelta(seconds=EXPIRES_IN)


def uuid7_at(at: datetime, counter: int) -> uuid.UUID:
    """A version-7 id for an order created at `at` (app/ids.py's layout)."""
    millis = int(at.timestamp() * 1000)
    value = (millis & (2**48 - 1)) << 80
    value |= 0x7 << 76
    value |= (counter & 0xFFF) << 64
    value |= 0b10 << 62
    value |= int.from_bytes(os.urandom(8), "big") & (2**62 - 1)
    return uuid.UUID(int=value)


def plan(
    total: int,
    crossing: int,
    prices: dict[tuple[Market, Decimal], Decimal],
    *,
    moved: Market,
    since: datetime,
    until: datetime,
    seed: int = 7,
) -> list[Planned]:
    """`total` orders, oldest first, created evenly between `since` and `until`: `crossing`
    of them on the moved market 1-2 % away, the others 3-30 % away round-robin over every
    market (5-30 % on the moved one)."""
    rng = random.Random(seed)
    kinds: list[tuple[Market, bool]] = [(moved, True)] * crossing
    every = markets()
    kinds += [(every[i % len(every)], False) for i in range(total - crossing)]
    rng.shuffle(kinds)
    span = (until - since) / max(1, total)
    planned = []
    for i, (market, near) in enumerate(kinds):
        sizes = CROSSING_SIZES_USD if near else SIZES_USD
        amount = size(market, rng.choice(sizes))
        low, high = NEAR if near else FAR_ON_MOVED if market == moved else FAR
        away = low + (high - low) * Decimal(rng.random()).quantize(Decimal("0.0001"))
        created = since + span * i
        waiting = created + timedelta(milliseconds=rng.randint(4, 40))
        planned.append(
            Planned(
                uuid7_at(created, i),
                market,
                amount,
                limit_for(market, prices[(market, amount)], away),
                created,
                waiting,
                near,
                away,
            )
        )
    return planned


def sizes_needed(moved: Market) -> set[tuple[Market, Decimal]]:
    found = {(m, size(m, usd)) for m in markets() for usd in SIZES_USD}
    found |= {(moved, size(moved, usd)) for usd in CROSSING_SIZES_USD}
    return found


async def write(database_url: str, planned: Sequence[Planned], owner: str) -> float:
    """COPY the orders and their events in one transaction, then ANALYZE (as autovacuum
    would have by the time that many orders had gathered); seconds taken."""
    started = time.monotonic()
    conn = await asyncpg.connect(database_url)
    try:
        async with conn.transaction():
            await conn.copy_records_to_table(
                "orders", records=[order_record(p, owner) for p in planned], columns=ORDER_COLUMNS
            )
            await conn.copy_records_to_table(
                "order_events",
                records=[e for p in planned for e in event_records(p)],
                columns=EVENT_COLUMNS,
            )
        await conn.execute("ANALYZE orders; ANALYZE order_events")
    finally:
        await conn.close()
    return time.monotonic() - started


# -- the pattern: orders placed through the API, compared with what we would write ---------


async def place_pattern(
    session: aiohttp.ClientSession, prices: dict[tuple[Market, Decimal], Decimal]
) -> list[str]:
    ids = []
    for market in markets():
        amount = size(market, SIZES_USD[1])
        limit = limit_for(market, prices[(market, amount)], PATTERN_AWAY)
        body = {
            "type": "limit",
            "tokenIn": market.token_in.symbol,
            "tokenOut": market.token_out.symbol,
            "amount": str(amount),
            "limitPrice": price_text(limit),
            "expiresIn": EXPIRES_IN,
        }
        async with session.post("/api/orders/execute", json=body) as response:
            if response.status != 201:
                raise RuntimeError(f"placing {body}: {response.status} {await response.text()}")
            ids.append((await response.json())["orderId"])
    return ids


async def shape(database_url: str, ids: Sequence[str]) -> dict[str, Any]:
    """The rows this scenario would write for the pattern orders, against the engine's."""
    conn = await asyncpg.connect(database_url)
    try:
        orders = await conn.fetch(
            f"SELECT {', '.join(ORDER_COLUMNS)} FROM orders WHERE id = ANY($1::uuid[])",
            [uuid.UUID(i) for i in ids],
        )
        events = await conn.fetch(
            f"SELECT {', '.join(EVENT_COLUMNS)} FROM order_events"
            " WHERE order_id = ANY($1::uuid[]) ORDER BY order_id, seq",
            [uuid.UUID(i) for i in ids],
        )
    finally:
        await conn.close()
    by_order: dict[uuid.UUID, list[asyncpg.Record]] = {}
    for event in events:
        by_order.setdefault(event["order_id"], []).append(event)
    differences: list[str] = []
    for row in orders:
        market = Market(
            PAIRS_BY_SYMBOL[_pair_of(row["token_in"], row["token_out"])],
            Side.SELL_BASE if _is_base(row["token_in"], row["token_out"]) else Side.BUY_BASE,
        )
        stored = by_order.get(row["id"], [])
        if len(stored) != 2:
            differences.append(f"{row['id']}: {len(stored)} events, not 2")
            continue
        p = Planned(
            row["id"],
            market,
            row["amount_in"],
            row["limit_price"],
            row["created_at"],
            stored[1]["at"],
            False,
            PATTERN_AWAY,
        )
        ours = [order_record(p, row["owner"]), *event_records(p)]
        theirs = [tuple(row.values()), *(tuple(e.values()) for e in stored)]
        columns = [ORDER_COLUMNS, EVENT_COLUMNS, EVENT_COLUMNS]
        for names, mine, engine in zip(columns, ours, theirs, strict=True):
            for column, a, b in zip(names, mine, engine, strict=True):
                if _canonical(a) != _canonical(b):
                    differences.append(f"{column}: we write {a!r}, the engine stored {b!r}")
    return {"orders": len(orders), "differences": differences[:10]}


def _pair_of(token_in: str, token_out: str) -> str:
    direct = f"{token_in}/{token_out}"
    return direct if direct in PAIRS_BY_SYMBOL else f"{token_out}/{token_in}"


def _is_base(token_in: str, token_out: str) -> bool:
    return f"{token_in}/{token_out}" in PAIRS_BY_SYMBOL


def _canonical(value: Any) -> Any:
    """Values as the database gives them back: JSON text parsed, numbers by value and scale."""
    if isinstance(value, str) and value.startswith("{"):
        return json.loads(value)
    if isinstance(value, Decimal):
        return str(value)
    return value


# -- reading the engine --------------------------------------------------------------------


async def best_out(session: aiohttp.ClientSession, market: Market, amount: Decimal) -> Decimal:
    """The best quote after fees for the whole amount (`GET /api/quote`)."""
    params = {
        "tokenIn": market.token_in.symbol,
        "tokenOut": market.token_out.symbol,
        "amount": str(amount),
    }
    async with session.get("/api/quote", params=params) as response:
        response.raise_for_status()
        board = await response.json()
    if board["best"] is None:
        raise RuntimeError(f"no venue quotes {amount} {name(market)}: {board['error']}")
    return Decimal(board["best"]["amountOut"])


async def prices_now(
    session: aiohttp.ClientSession, wanted: Iterable[tuple[Market, Decimal]]
) -> dict[tuple[Market, Decimal], Decimal]:
    """Per market and size: the price (quote per base) the whole amount would fetch now."""
    prices = {}
    for market, amount in wanted:
        prices[(market, amount)] = executed_price(
            market, amount, await best_out(session, market, amount)
        )
    return prices


@dataclass
class Histogram:
    """A cumulative histogram from /metrics: upper bound → observations at or below it."""

    buckets: dict[float, float]
    total: float
    count: float

    @classmethod
    def read(cls, text: str, metric: str) -> Histogram:
        buckets: dict[float, float] = {}
        total = count = 0.0
        for line in text.splitlines():
            if line.startswith(f"{metric}_bucket"):
                le = line.split('le="', 1)[1].split('"', 1)[0]
                buckets[math.inf if le == "+Inf" else float(le)] = float(line.split()[-1])
            elif line.startswith(f"{metric}_sum"):
                total = float(line.split()[-1])
            elif line.startswith(f"{metric}_count"):
                count = float(line.split()[-1])
        return cls(buckets, total, count)

    def minus(self, before: Histogram) -> Histogram:
        return Histogram(
            {le: n - before.buckets.get(le, 0.0) for le, n in self.buckets.items()},
            self.total - before.total,
            self.count - before.count,
        )

    def quantile(self, q: float) -> float | None:
        """As Prometheus' histogram_quantile: linear within the bucket the rank falls in."""
        if self.count <= 0:
            return None
        rank = q * self.count
        lower, below = 0.0, 0.0
        for le in sorted(self.buckets):
            seen = self.buckets[le]
            if seen >= rank:
                if le == math.inf:
                    return lower
                inside = seen - below
                return lower + (le - lower) * ((rank - below) / inside if inside else 1.0)
            lower, below = le, seen
        return lower

    def bucket(self, q: float) -> tuple[float, float] | None:
        """The bucket (lower, upper bound) the q-quantile falls in: what is known for sure."""
        if self.count <= 0:
            return None
        lower = 0.0
        for le in sorted(self.buckets):
            if self.buckets[le] >= q * self.count:
                return lower, le
            lower = le
        return lower, math.inf

    def summary(self) -> dict[str, Any]:
        """Ticks, the exact mean, p50/p99 (ms) interpolated and the buckets they fall in."""
        p50, p99 = self.quantile(0.50), self.quantile(0.99)

        def ms(bounds: tuple[float, float] | None) -> list[float] | None:
            return [round(b * 1000, 3) for b in bounds] if bounds else None

        return {
            "ticks": int(self.count),
            "mean_ms": round(self.total / self.count * 1000, 3) if self.count else None,
            "p50_ms": round(p50 * 1000, 2) if p50 is not None else None,
            "p99_ms": round(p99 * 1000, 2) if p99 is not None else None,
            "p50_bucket_ms": ms(self.bucket(0.50)),
            "p99_bucket_ms": ms(self.bucket(0.99)),
            "buckets": {
                ("+Inf" if le == math.inf else f"{le:g}"): int(n)
                for le, n in sorted(self.buckets.items())
            },
        }


async def tick_histogram(base: str, key: str) -> Histogram:
    return Histogram.read(await metrics_text(base, key), TICK_METRIC)


async def idle_ticks(
    base: str, key: str, pid: int, seconds: float
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The trigger's CPU per tick over `seconds` of nothing crossing (from the metric), and
    the whole worker's CPU over the same window (every loop and the queue's own polling)."""
    await asyncio.sleep(1.2)  # wait-ok: the metric flushes once a second; a clean start
    before = await tick_histogram(base, key)
    meter = ProcessMeter({"worker": pid})
    meter.start()
    await asyncio.sleep(seconds)  # wait-ok: the window measured, nothing crossing
    measured = meter.stop()
    await asyncio.sleep(1.2)  # wait-ok: the window's last ticks reach the metric
    ticks = (await tick_histogram(base, key)).minus(before).summary()
    cpu = measured["worker"]["cpu_seconds"]
    worker = {
        "seconds": round(meter.machine["wall_seconds"], 1),
        "cpu_seconds": cpu,
        "cpu_share_of_a_core": round(cpu / meter.machine["wall_seconds"], 4),
        "cpu_ms_per_tick": round(cpu * 1000 / ticks["ticks"], 2) if ticks["ticks"] else None,
    }
    return ticks, worker


async def statuses(conn: asyncpg.Connection, ids: Sequence[uuid.UUID]) -> Counter[str]:
    rows = await conn.fetch(
        "SELECT status, count(*) AS n FROM orders WHERE id = ANY($1::uuid[]) GROUP BY status",
        ids,
    )
    return Counter({row["status"]: int(row["n"]) for row in rows})


async def limit_statuses(conn: asyncpg.Connection) -> Counter[str]:
    """Every limit order by status (the other scenarios of a run place market orders)."""
    rows = await conn.fetch(
        "SELECT status, count(*) AS n FROM orders WHERE type = 'limit' GROUP BY status"
    )
    return Counter({row["status"]: int(row["n"]) for row in rows})


async def index_size(redis: Redis, namespace: str) -> int:
    return int(await redis.hlen(f"{namespace}:limits:orders"))


def log_moment(path: Path, text: str, since: float) -> float | None:
    """When a JSON log line containing `text` was first written at or after `since` (its
    `at`), if one was (a kept log folder may hold earlier runs' lines)."""
    if not path.exists():
        return None
    for line in path.read_text(errors="replace").splitlines():
        if text not in line:
            continue
        try:
            at = datetime.fromisoformat(json.loads(line)["at"]).timestamp()
        except (ValueError, KeyError):
            continue
        if at >= since:
            return at
    return None


CROSSED_BY_BPS = 150
"""The least a crossing order is crossed by the move: the thousand crossed orders' own
sales (~$30k) take most of a percent off the price they sell at."""
SPARED_BY_BPS = 50
"""The least every other order on the moved side stays short of its limit after it."""


async def move_size(
    session: aiohttp.ClientSession, planned: Sequence[Planned], moved: Market, wanted_bps: int
) -> tuple[int, dict[str, float]]:
    """The move to make now: `wanted_bps`, unless the price drifted since the orders were
    planned (the simulator's prices wander; a minute is enough for a percent). Then as
    large as it must be for every crossing order to cross by CROSSED_BY_BPS, and no larger
    than leaves every other order on that side SPARED_BY_BPS short of its limit."""
    on_moved = [p for p in planned if p.market == moved]
    now = await prices_now(session, {(moved, p.amount) for p in on_moved})

    def away_bps(p: Planned) -> float:
        price = now[(moved, p.amount)]
        ratio = p.limit / price if moved.side is Side.SELL_BASE else price / p.limit
        return float(ratio.ln()) * 10_000

    crossing = [away_bps(p) for p in on_moved if p.crossing]
    others = [away_bps(p) for p in on_moved if not p.crossing]
    need = math.ceil(max(crossing, default=0.0) + CROSSED_BY_BPS)
    room = math.floor(min(others, default=math.inf) - SPARED_BY_BPS)
    size = max(need, min(abs(wanted_bps), room))
    if size > room:
        raise RuntimeError(
            f"the price drifted too far since the orders were planned: crossing every near"
            f" order needs {need} bps, leaving the others uncrossed allows {room}"
        )
    spread = {
        "crossing_farthest_bps": round(max(crossing, default=0.0), 1),
        "crossing_nearest_bps": round(min(crossing, default=0.0), 1),
        "others_nearest_bps": round(min(others, default=math.inf), 1),
    }
    return (size if wanted_bps > 0 else -size), spread


# -- the scenario --------------------------------------------------------------------------


async def limits(
    servers: Servers,
    *,
    orders: int,
    crossing: int,
    move_bps: int,
    idle_seconds: float = 20.0,
    concurrency: int = 32,
    latency_scale: float = 0.0,
    failure_rate: float = 0.0,
    timeout: float = 180.0,
) -> dict[str, Any]:
    """See the module's docstring. Zero simulated latency and no failures by default: the
    trigger's latency is measured, not the venues' (their delays only lengthen the time to
    `confirmed`, and a failed attempt's backoff would stretch its tail)."""
    env = {
        "MOCK_LATENCY_SCALE": repr(latency_scale),
        "MOCK_FAILURE_RATE": repr(failure_rate),
        "WORKER_CONCURRENCY": str(concurrency),
    }
    moved = moved_market(move_bps)
    stack = servers.processes("limits", 1, 1, **env)
    base, key = stack.url, servers.admin_key
    namespace = stack.env["QUEUE_NAME"]
    redis = Redis.from_url(servers.redis_url, decode_responses=True)
    conn = await asyncpg.connect(servers.database_url)
    try:
        async with aiohttp.ClientSession(base_url=base, headers=bearer(key)) as session:
            # 1. The pattern orders, the baseline, the prices now.
            pattern_prices = await prices_now(
                session, {(m, size(m, SIZES_USD[1])) for m in markets()}
            )
            pattern = await place_pattern(session, pattern_prices)
            await _until(
                lambda: _waiting(conn, pattern, len(pattern)), 30, "the pattern orders wait"
            )
            baseline, _ = await idle_ticks(base, key, stack.workers[0].pid, idle_seconds / 2)
            prices = await prices_now(session, sizes_needed(moved))
            pattern_shape = await shape(servers.database_url, pattern)
            owner = str(
                await conn.fetchval("SELECT owner FROM orders WHERE id = $1", uuid.UUID(pattern[0]))
            )

            # 2. The worker goes; the orders are written; a new worker rebuilds the index.
            first = stack.workers[0]
            first.send_signal(signal.SIGTERM)
            await asyncio.to_thread(first.wait, 30)
            now = datetime.now(UTC)
            planned = plan(
                orders - len(pattern),
                crossing,
                prices,
                moved=moved,
                since=now - timedelta(hours=6),
                until=now - timedelta(minutes=1),
            )
            written = await write(servers.database_url, planned, owner)
            redis_before = int((await redis.info("memory"))["used_memory"])
            started = time.time()
            worker = stack.add_worker()
            full = await _until(
                lambda: _index_has(redis, namespace, orders), 300, "the index is rebuilt"
            )
            indexed = time.time()
            led = log_moment(
                servers.log_dir("limits") / "worker-2.log", "leading the limit", started
            )
            redis_after = int((await redis.info("memory"))["used_memory"])
            rss_rebuilt = rss_mb(worker.pid)

            # 3. Nothing crossing: the trigger's CPU per tick, the worker's CPU and memory.
            ticks, worker_cpu = await idle_ticks(base, key, worker.pid, idle_seconds)
            rss_idle = rss_mb(worker.pid)
            before_move = await limit_statuses(conn)

            # 4. The move.
            near = [p.order_id for p in planned if p.crossing]
            others = [p.order_id for p in planned if not p.crossing]
            assert stack.web is not None
            meter = servers.meter(None, {"web": stack.web.pid, "worker 1": worker.pid})
            profilers = (
                _spy({"worker": worker.pid}, servers.profile, "limits-move")
                if servers.profile
                else []
            )
            made_bps, spread = await move_size(session, planned, moved, move_bps)
            meter.start()
            moved_at = time.time()
            async with session.post(
                "/api/sim/moves",
                json={"pair": moved.pair.symbol, "moveBps": made_bps, "holdSeconds": 120},
            ) as response:
                answered = time.time()
                if response.status != 201:
                    raise RuntimeError(f"the move: {response.status} {await response.text()}")
                made = await response.json()
            settled = await _until(
                lambda: _settled(conn, near),
                timeout,
                "the crossed orders settle",
                fail=False,
                every=0.25,
            )
            processes = meter.stop()
            machine = meter.machine
            for profiler in profilers:
                profiler.send_signal(signal.SIGINT)
                await asyncio.to_thread(profiler.wait, 30)
            rss_after = rss_mb(worker.pid)
        events = await conn.fetch(
            "SELECT order_id, seq, status, at, details FROM order_events"
            " WHERE order_id = ANY($1::uuid[]) ORDER BY order_id, seq",
            near,
        )
        fills = await conn.fetch(
            "SELECT id, status, min_out, amount_out FROM orders WHERE id = ANY($1::uuid[])",
            near,
        )
        others_now = await statuses(conn, others)
        others_now.update(await statuses(conn, [uuid.UUID(i) for i in pattern]))
        index_after = await index_size(redis, namespace)
    finally:
        await conn.close()
        await redis.aclose()
        stack.stop()
    crossed = _crossed(events, fills, moved_at)
    return {
        "scenario": "limits",
        "web_processes": 1,
        "worker_processes": 1,
        "worker_concurrency": concurrency,
        "latency_scale": latency_scale,
        "failure_rate": failure_rate,
        "orders": orders,
        "crossing": crossing,
        "pattern_orders": len(pattern),
        "pattern_shape": pattern_shape,
        "markets": [name(m) for m in markets()],
        "moved": {
            "market": name(moved),
            "bps": made_bps,
            "asked_bps": move_bps,
            "before": spread,
            "answered": made.get("at"),
        },
        "write_seconds": round(written, 2),
        "rebuild": {
            "worker_start_to_lead_seconds": round(led - started, 2) if led else None,
            "seconds": round(indexed - led, 2) if led else None,
            "worker_start_to_indexed_seconds": round(indexed - started, 2),
            "indexed": full,
            "redis_used_memory_mb": round((redis_after - redis_before) / 2**20, 1),
        },
        "idle_baseline": {"waiting": len(pattern), **baseline},
        "idle_tick": {"waiting": orders, **ticks},
        "idle_worker": worker_cpu,
        "worker_rss_mb": {
            "after_rebuild": rss_rebuilt,
            "idle": rss_idle,
            "after_move": rss_after,
            "peak": processes["worker 1"]["peak_rss_mb"],
        },
        "before_move": dict(before_move),
        "move_post_ms": round((answered - moved_at) * 1000, 1),
        **crossed,
        "settled": settled,
        "others": {
            "orders": len(others) + len(pattern),
            "still_waiting": others_now.get("waiting", 0),
            "moved": {k: v for k, v in others_now.items() if k != "waiting"},
        },
        "index_after": index_after,
        "logs": checks.scan_logs(servers.log_dir("limits")),
        "processes": processes,
        "machine": machine,
    }


def _crossed(
    events: Sequence[asyncpg.Record], fills: Sequence[asyncpg.Record], moved_at: float
) -> dict[str, Any]:
    """From the crossed orders' events: move → routing and move → confirmed, and checks."""
    by_order: dict[uuid.UUID, list[asyncpg.Record]] = {}
    for event in events:
        by_order.setdefault(event["order_id"], []).append(event)
    to_routing: list[float] = []
    to_confirmed: list[float] = []
    problems: Counter[str] = Counter()
    waited_again = 0
    for order_events in by_order.values():
        seqs = [e["seq"] for e in order_events]
        if seqs != list(range(1, len(seqs) + 1)):
            problems["seq gap"] += 1
        routing = [e for e in order_events if e["status"] == "routing"]
        if routing:
            first = routing[0]
            to_routing.append((first["at"].timestamp() - moved_at) * 1000)
            details = json.loads(first["details"]) if first["details"] else {}
            observed, required = details.get("observedOut"), details.get("requiredOut")
            if observed is None or required is None or Decimal(observed) < Decimal(required):
                problems["routing without observedOut ≥ requiredOut"] += 1
        waited_again += sum(1 for e in order_events[2:] if e["status"] == "waiting")
        confirmed = [e for e in order_events if e["status"] == "confirmed"]
        if confirmed:
            to_confirmed.append((confirmed[0]["at"].timestamp() - moved_at) * 1000)
        terminal = [e for e in order_events if e["status"] in ("confirmed", "failed")]
        if len(terminal) > 1 or (terminal and order_events[-1] is not terminal[0]):
            problems["terminal events"] += 1
    for row in fills:
        if row["status"] == "confirmed" and (
            row["amount_out"] is None or row["amount_out"] < row["min_out"]
        ):
            problems["filled below its limit"] += 1
    outcome = Counter(str(row["status"]) for row in fills)
    return {
        "crossed_orders": len(fills),
        "outcomes": dict(outcome),
        "confirmed": outcome.get("confirmed", 0),
        "routed": len(to_routing),
        "waited_again": waited_again,
        "move_to_routing_ms": _spread(to_routing),
        "move_to_confirmed_ms": _spread(to_confirmed),
        "problems": dict(problems),
        "samples": {
            "move_to_routing_ms": sorted(round(v, 1) for v in to_routing),
            "move_to_confirmed_ms": sorted(round(v, 1) for v in to_confirmed),
        },
    }


def _spread(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"p50": None, "p90": None, "p99": None, "max": None, "min": None}
    return {
        "min": round(min(values), 1),
        "p50": round(percentile(values, 50), 1),
        "p90": round(percentile(values, 90), 1),
        "p99": round(percentile(values, 99), 1),
        "max": round(max(values), 1),
    }


async def _waiting(conn: asyncpg.Connection, ids: Sequence[str], wanted: int) -> bool:
    found = await statuses(conn, [uuid.UUID(i) for i in ids])
    return found.get("waiting", 0) >= wanted


async def _index_has(redis: Redis, namespace: str, wanted: int) -> bool:
    return await index_size(redis, namespace) >= wanted


async def _settled(conn: asyncpg.Connection, ids: Sequence[uuid.UUID]) -> bool:
    """Every crossed order ended (one that waits again is fired again while its price
    holds: the move is held for two minutes)."""
    found = await statuses(conn, ids)
    return sum(found.get(s, 0) for s in ("confirmed", "failed", "expired", "cancelled")) == len(ids)


async def _until(
    condition: Any, timeout: float, what: str, *, fail: bool = True, every: float = 0.02
) -> bool:
    """Poll `condition()` (a coroutine function) until true; False (or raise) on timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await condition():
            return True
        await asyncio.sleep(every)  # wait-ok: polling interval of a condition wait
    if fail:
        raise TimeoutError(f"{what}: not within {timeout:g} s")
    return False
