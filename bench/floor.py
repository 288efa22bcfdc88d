"""The floor: what one order costs PostgreSQL and Redis, with nothing of the engine around it.

A bare asyncio client (asyncpg, redis-py with hiredis, uvloop: the engine's drivers and
loop) performs exactly the round trips the engine needs per order, against the same
servers, at the same concurrency, on its own tables (a schema of its own in the same
database) and its own Redis keys:

    place (1 process, `in_flight` at once)
      SQL    BEGIN; INSERT the order with its first event (the engine's `_CREATE`);
             COMMIT once it answered (as the engine's `Database.decisive`)           3
      Redis  PUBLISH the pending event                                              1
      Redis  RPUSH the job (the order as placed) onto the queue                     1
    execute (1 process, `concurrency` at once)
      Redis  BLMOVE queued → active (a reliable dequeue)                            1
      Redis  quote: one pool read per venue, both at once (the venues' read script)  2
      SQL    routing, building, submitted, confirmed: one guarded UPDATE that also
             INSERTs the event (the engine's `_TRANSITION`)                          4
      Redis  PUBLISH each of those four events                                       4
      Redis  build: the step's fault check (the venues' take script)                 1
      Redis  submit: record the transaction (the venues' record script)              1
      Redis  status: read the transaction (the venues' read-tx script)               1
      Redis  land: one settle script (check pending, write the fill, move the pool)  1
      Redis  LREM the job from the active list (the ack)                             1

= 5 SQL statements (7 round trips with BEGIN and COMMIT; the engine counts statements,
not those two) and 14 Redis round trips per order. The SQL and Lua texts are read
from app/db/orders.py and app/venues/book.py (parsed, not imported), so the floor runs
the engine's own statements and scripts; nothing else of the engine runs here. The
queue is the least a crash-safe queue needs (push; atomic move to an active list; ack);
the engine's own spends the same three, each a script that also keeps its one-job-per-
order hash (see the census). Amounts are plain multiplications: the floor
measures I/O, not the engine's AMM math.

Run by the benchmark (`bench.scenarios.floor`) as child processes:
    python -m bench.floor --role execute|place|both --prefix … --database-url … --redis-url …
A `place` (or `both`) process reads commands on stdin, `place <count> <file> <mix>`,
writes what it placed (ids, start time, latencies) to the file as JSON and answers with
one JSON line; every role prints `{"ready": true}` once connected, and exits when stdin
closes.
"""

from __future__ import annotations

import argparse
import ast
import asyncio
import contextlib
import hashlib
import itertools
import json
import os
import sys
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal
from pathlib import Path
from typing import Any

import asyncpg
import msgspec
from redis.asyncio import BlockingConnectionPool, Redis

ROOT = Path(__file__).resolve().parent.parent
VENUES = ("raydium", "meteora")
FEE_BPS = {"raydium": Decimal(25), "meteora": Decimal(10)}
BPS = Decimal(10_000)

# token → (decimals, USD price); a quote is amount * price_in / price_out, less a fee.
TOKENS: dict[str, tuple[int, Decimal]] = {
    "SOL": (9, Decimal(150)),
    "USDC": (6, Decimal(1)),
    "USDT": (6, Decimal(1)),
    "JUP": (6, Decimal("0.9")),
    "BONK": (5, Decimal("0.00002")),
}

# One settle, one round trip: the transaction must still be our pending one; the fill is
# written and the pool moves, atomically (the engine settles a batch per pool in two).
SETTLE = """
-- KEYS: pool, ledger entry; ARGV: tx, amount out, price
if redis.call('HGET', KEYS[2], 'tx') ~= ARGV[1]
   or redis.call('HGET', KEYS[2], 'state') ~= 'pending' then
  return 0
end
redis.call('HSET', KEYS[2], 'state', 'confirmed', 'amount_out', ARGV[2], 'price', ARGV[3])
redis.call('HINCRBY', KEYS[2], 'fills', 1)
redis.call('HINCRBY', KEYS[1], 'version', 1)
return 1
"""


def constants(path: Path, *names: str) -> dict[str, str]:
    """String constants of a module, read from its source without importing it.

    Handles `NAME = "..."`, `NAME = A + "..."` (the book's scripts share a prefix) and
    f-strings whose fields are such constants or `A.format(key="...")` of one (the
    statements share their outbox CTE).
    """
    tree = ast.parse(path.read_text())
    found: dict[str, str] = {}

    def value(node: ast.expr) -> str:
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            return node.value
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
            return value(node.left) + value(node.right)
        if isinstance(node, ast.Name) and node.id in found:
            return found[node.id]
        if isinstance(node, ast.JoinedStr):
            return "".join(value(part) for part in node.values)
        if (
            isinstance(node, ast.FormattedValue)
            and node.conversion == -1
            and node.format_spec is None
        ):
            return value(node.value)
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "format"
            and not node.args
            and all(k.arg is not None for k in node.keywords)
        ):
            fields = {str(k.arg): value(k.value) for k in node.keywords}
            return value(node.func.value).format(**fields)
        raise ValueError(f"{path}: cannot read {ast.dump(node)[:80]} as a string")

    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target = node.targets[0]
            if isinstance(target, ast.Name):
                with contextlib.suppress(ValueError):
                    found[target.id] = value(node.value)
    missing = [n for n in names if n not in found]
    if missing:
        raise ValueError(f"{path} has no string constant {', '.join(missing)}")
    return {n: found[n] for n in names}


SQL = constants(ROOT / "app/db/orders.py", "_CREATE", "_TRANSITION")
LUA = constants(ROOT / "app/venues/book.py", "_READ_POOL", "_TAKE_FAULT", "_RECORD", "_READ_TX")
SCRIPTS = {
    "read_pool": LUA["_READ_POOL"],
    "take_fault": LUA["_TAKE_FAULT"],
    "record": LUA["_RECORD"],
    "read_tx": LUA["_READ_TX"],
    "settle": SETTLE,
}


def script_sha(text: str) -> str:
    return hashlib.sha1(text.encode()).hexdigest()


def _uuid7() -> uuid.UUID:
    """Time-ordered ids, as the engine's: inserts land at the right edge of the index."""
    value = ((time.time_ns() // 1_000_000) & (2**48 - 1)) << 80
    value |= 0x7 << 76
    value |= (int.from_bytes(os.urandom(2), "big") & 0xFFF) << 64
    value |= 0b10 << 62
    value |= int.from_bytes(os.urandom(8), "big") & (2**62 - 1)
    return uuid.UUID(int=value)


def floor_amount(amount: Decimal, token: str) -> Decimal:
    return amount.quantize(Decimal(1).scaleb(-TOKENS[token][0]), rounding=ROUND_DOWN)


@dataclass(frozen=True)
class Keys:
    prefix: str

    @property
    def channel(self) -> str:
        return f"{self.prefix}:events"

    @property
    def queued(self) -> str:
        return f"{self.prefix}:queued"

    @property
    def active(self) -> str:
        return f"{self.prefix}:active"

    def pool(self, venue: str, token_in: str, token_out: str) -> str:
        pair = "-".join(sorted((token_in, token_out)))
        return f"{self.prefix}:{venue}:pool:{pair}"

    def ledger_prefix(self, venue: str) -> str:
        return f"{self.prefix}:{venue}:ledger:"

    def tx(self, venue: str, tx_hash: str) -> str:
        return f"{self.prefix}:{venue}:tx:{tx_hash}"

    def faults(self, order_id: str) -> str:
        return f"{self.prefix}:faults:{order_id}"


class Arguments:
    """Positional arguments for the engine's statements, as their parameters stand today.

    The floor fills the parameters it knows by position; a parameter added since (say the
    route of a split order) gets NULL, what the engine sends when it has nothing to say,
    so the floor keeps running the engine's current text. Fewer parameters than known is
    an error.
    """

    KNOWN = {"_CREATE": 9, "_TRANSITION": 16}

    def __init__(self, name: str, types: Sequence[str]) -> None:
        if len(types) < self.KNOWN[name]:
            raise RuntimeError(
                f"app/db/orders.py {name} now takes {len(types)} parameters, fewer than the "
                f"{self.KNOWN[name]} bench/floor.py fills: update the floor"
            )
        self.extra = [None for _ in types[self.KNOWN[name] :]]

    def __call__(self, *known: Any) -> list[Any]:
        return [*known, *self.extra]


class Floor:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.keys = Keys(args.prefix)
        self.pool: asyncpg.Pool | None = None
        self.redis: Redis | None = None
        self.queue: Redis | None = None
        self.sha: dict[str, str] = {}
        self.create_args: Arguments | None = None
        self.transition_args: Arguments | None = None
        self.stopping = asyncio.Event()
        self.broken = asyncio.Event()
        """Set when an order failed to execute (the floor's statements drifted from the
        engine's, say): the process exits at once rather than leave its orders unended."""
        self.executed = 0
        self.errors: list[str] = []
        self.statements = 0

    # -- connections ----------------------------------------------------------------

    async def connect(self, concurrency: int) -> None:
        async def keep_session(_: asyncpg.Connection) -> None:
            return None  # as the engine: no reset query on release

        self.pool = await asyncpg.create_pool(
            self.args.database_url,
            min_size=2,
            max_size=min(concurrency + 2, self.args.db_pool_size),
            server_settings={"search_path": self.args.schema},
            reset=keep_session,
            command_timeout=5.0,
        )
        self.redis = _redis(self.args.redis_url, 2 * concurrency + 16, decode=True)
        self.queue = _redis(self.args.redis_url, concurrency + 4, decode=True, timeout=None)
        for name, text in SCRIPTS.items():
            self.sha[name] = await self.redis.script_load(text)
        async with self.pool.acquire() as conn:
            create = await conn.prepare(SQL["_CREATE"])
            move = await conn.prepare(SQL["_TRANSITION"])
            self.create_args = Arguments("_CREATE", [t.name for t in create.get_parameters()])
            self.transition_args = Arguments("_TRANSITION", [t.name for t in move.get_parameters()])

    async def close(self) -> None:
        if self.pool is not None:
            await self.pool.close()
        for client in (self.redis, self.queue):
            if client is not None:
                await client.aclose()

    # -- placing ----------------------------------------------------------------------

    async def place(self, count: int, mix: list[tuple[str, str, str, int]], in_flight: int) -> Any:
        numbers = itertools.count()
        ids: list[str] = []
        latencies: list[float] = []

        async def one_client() -> None:
            while (i := next(numbers)) < count:
                token_in, token_out, amount, slippage = mix[i % len(mix)]
                started = time.perf_counter()
                ids.append(await self.place_one(token_in, token_out, Decimal(amount), slippage))
                latencies.append((time.perf_counter() - started) * 1000)

        started = time.time()
        await asyncio.gather(*(one_client() for _ in range(in_flight)))
        return {"started": started, "ended": time.time(), "ids": ids, "place_ms": latencies}

    async def place_one(self, token_in: str, token_out: str, amount: Decimal, slippage: int) -> str:
        assert self.pool is not None
        assert self.redis is not None
        assert self.queue is not None
        assert self.create_args is not None
        order_id = _uuid7()
        # type, tokens, amount, slippage, client, terms, owner (a market order: no limit,
        # no bound, no expiry)
        args = self.create_args(
            order_id, "market", token_in, token_out, amount, slippage, "bench-floor", "{}",
            "bench-floor",
        )  # fmt: skip
        self.statements += 1
        async with self.pool.acquire() as conn, conn.transaction():
            row = await conn.fetchrow(SQL["_CREATE"], *args)
        assert row is not None
        await self.redis.publish(self.keys.channel, _notice(row, "pending", 1, {}))
        job = json.dumps(
            {"id": str(order_id), "in": token_in, "out": token_out, "amount": str(amount),
             "slippage": slippage}
        )  # fmt: skip
        await self.queue.rpush(self.keys.queued, job)
        return str(order_id)

    # -- executing --------------------------------------------------------------------

    async def consume(self) -> None:
        assert self.queue is not None
        while not self.stopping.is_set():
            raw = await self.queue.blmove(self.keys.queued, self.keys.active, 1, "LEFT", "RIGHT")
            if raw is None:
                continue
            job = raw if isinstance(raw, str) else raw.decode()
            try:
                await self.execute(json.loads(job))
                self.executed += 1
            except Exception as error:
                # An order the floor cannot execute never ends: the run is void, say so.
                self.errors.append(f"{type(error).__name__}: {error}")
                self.broken.set()
                return
            await self.queue.lrem(self.keys.active, 1, job)

    async def execute(self, job: dict[str, Any]) -> None:
        redis = self.redis
        assert redis is not None
        order_id, token_in, token_out = job["id"], job["in"], job["out"]
        amount, slippage = Decimal(job["amount"]), int(job["slippage"])
        faults = self.keys.faults(order_id)

        # Routing: every venue quoted at once, one pool read each.
        pools = await asyncio.gather(
            *(
                redis.evalsha(
                    self.sha["read_pool"],
                    2,
                    self.keys.pool(venue, token_in, token_out),
                    faults,
                    f"{venue}:quote:1",
                    "*:quote:1",
                )
                for venue in VENUES
            )
        )
        fair = amount * TOKENS[token_in][1] / TOKENS[token_out][1]
        quotes: list[dict[str, str]] = []
        for venue, (_, fields) in zip(VENUES, pools, strict=True):
            if not fields:
                quotes.append({"dex": venue, "error": f"no pool on {venue}"})
                continue
            fee_bps = FEE_BPS[venue]
            out = floor_amount(fair * (BPS - fee_bps) / BPS, token_out)
            quotes.append(
                {"dex": venue, "amountOut": str(out), "fee": str(amount * fee_bps / BPS),
                 "feeBps": str(fee_bps), "priceImpactBps": "0.01"}
            )  # fmt: skip
        best = max((q for q in quotes if "amountOut" in q), key=lambda q: Decimal(q["amountOut"]))
        dex, quoted = best["dex"], Decimal(best["amountOut"])
        bound = floor_amount(quoted * (BPS - slippage) / BPS, token_out)
        quotes_json = json.dumps(quotes)
        await self.move(order_id, "pending", "routing", quotes=quotes_json)
        await self.move(order_id, "routing", "building", dex=dex, quoted=quoted, bound=bound)

        # Build (the step's fault check), submit (record), status (read), land (settle).
        await redis.evalsha(self.sha["take_fault"], 1, faults, f"{dex}:build:1", "*:build:1")
        tx_hash = hashlib.blake2b(f"tx|{dex}|{order_id}".encode(), digest_size=32).hexdigest()
        ledger = self.keys.ledger_prefix(dex) + order_id
        pool = self.keys.pool(dex, token_in, token_out)
        entry = {
            "tx": tx_hash, "attempt": "1", "nonce": "0", "land_at": repr(time.time()),
            "drop": "0", "pair": f"{token_in}/{token_out}", "pool": pool, "side": "sell",
            "amount_in": str(amount), "min_out": str(bound),
        }  # fmt: skip
        await redis.evalsha(
            self.sha["record"],
            3,
            ledger,
            self.keys.tx(dex, tx_hash),
            faults,
            f"{dex}:submit:1",
            "*:submit:1",
            f"{dex}:land:1",
            "*:land:1",
            order_id,
            entry["nonce"],
            *(item for pair in entry.items() for item in pair),
        )
        await self.move(order_id, "building", "submitted", dex=dex, tx_hash=tx_hash)
        await redis.evalsha(
            self.sha["read_tx"], 1, self.keys.tx(dex, tx_hash), self.keys.ledger_prefix(dex)
        )
        price = (quoted / amount).quantize(Decimal("0.000000001"))
        settled = await redis.evalsha(
            self.sha["settle"], 2, pool, ledger, tx_hash, str(quoted), str(price)
        )
        if not settled:
            raise RuntimeError(f"order {order_id}: the transaction was not pending")
        await self.move(
            order_id, "submitted", "confirmed", dex=dex, tx_hash=tx_hash, out=quoted, price=price
        )

    async def move(
        self,
        order_id: str,
        from_status: str,
        to_status: str,
        *,
        dex: str | None = None,
        tx_hash: str | None = None,
        quotes: str | None = None,
        quoted: Decimal | None = None,
        bound: Decimal | None = None,
        out: Decimal | None = None,
        price: Decimal | None = None,
    ) -> None:
        """One guarded transition (UPDATE + event INSERT, one statement), then its PUBLISH."""
        assert self.pool is not None
        assert self.redis is not None
        assert self.transition_args is not None
        args = self.transition_args(
            uuid.UUID(order_id), from_status, to_status, 1, 1, dex, tx_hash, quotes,
            quoted, bound, out, price, None, None, None, False,
        )  # fmt: skip
        self.statements += 1
        row = await self.pool.fetchrow(SQL["_TRANSITION"], *args)
        if row is None:
            raise RuntimeError(f"order {order_id}: lost the race {from_status} → {to_status}")
        event = {"dex": dex, "txHash": tx_hash, "amountOut": out, "executedPrice": price}
        if quotes is not None:
            event["quotes"] = json.loads(quotes)
        await self.redis.publish(self.keys.channel, _notice(row, to_status, row["last_seq"], event))


def _notice(row: asyncpg.Record, status: str, seq: int, extra: dict[str, Any]) -> bytes:
    """The event and the order as they now stand: what the engine publishes, in size."""
    order = dict(row)
    event = {
        "eventId": order.pop("event_id"),
        "orderId": order["id"],
        "seq": seq,
        "status": status,
        "at": order["updated_at"],
        "attempt": order["attempt"],
        **extra,
    }
    return msgspec.json.encode({"event": event, "order": order})


def _redis(url: str, connections: int, *, decode: bool, timeout: float | None = 5.0) -> Redis:
    pool = BlockingConnectionPool.from_url(
        url,
        max_connections=connections,
        timeout=10,
        protocol=2,
        decode_responses=decode,
        socket_timeout=timeout,
    )
    return Redis.from_pool(pool)


async def serve(args: argparse.Namespace) -> None:
    floor = Floor(args)
    await floor.connect(max(args.concurrency, args.in_flight))
    consumers: list[asyncio.Task[None]] = []
    if args.role in ("execute", "both"):
        consumers = [asyncio.create_task(floor.consume()) for _ in range(args.concurrency)]
    print(json.dumps({"ready": True}), flush=True)
    commands = asyncio.create_task(_obey(floor, args))
    broken = asyncio.create_task(floor.broken.wait())
    await asyncio.wait({commands, broken}, return_when=asyncio.FIRST_COMPLETED)
    if floor.broken.is_set():
        print(f"the floor could not execute an order: {floor.errors[0]}", file=sys.stderr)
        raise SystemExit(3)
    broken.cancel()
    await commands
    floor.stopping.set()
    await asyncio.gather(*consumers)
    print(
        json.dumps(
            {"executed": floor.executed, "errors": floor.errors, "statements": floor.statements}
        ),
        flush=True,
    )
    await floor.close()


async def _obey(floor: Floor, args: argparse.Namespace) -> None:
    """Follow the commands on stdin until it closes."""
    reader = asyncio.StreamReader()
    loop = asyncio.get_running_loop()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while line := (await reader.readline()).decode().strip():
        command, count, out, mix = line.split(" ", 3)
        if command != "place" or args.role == "execute":
            raise SystemExit(f"unknown command {line!r}")
        answer = await floor.place(int(count), json.loads(mix), args.in_flight)
        # Thousands of ids go through a file: a pipe is no place for a line that long.
        await asyncio.to_thread(Path(out).write_text, json.dumps(answer))
        print(json.dumps({"placed": len(answer["ids"]), "file": out}), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.floor")
    parser.add_argument("--role", choices=["execute", "place", "both"], required=True)
    parser.add_argument("--prefix", required=True, help="Redis key prefix, queue and channel")
    parser.add_argument("--schema", default="bench_floor")
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--redis-url", required=True)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--in-flight", type=int, default=32)
    parser.add_argument("--db-pool-size", type=int, default=20)
    args = parser.parse_args()
    try:
        import uvloop
    except ImportError:
        asyncio.run(serve(args))
    else:
        uvloop.run(serve(args))


if __name__ == "__main__":
    main()
