"""The benchmark scenarios, each against freshly started web and worker processes."""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
from redis.asyncio import Redis

from app.infra.embedded import free_port
from app.infra.stack import Stack
from bench import checks
from bench.census import Census
from bench.load import (
    MIX,
    TERMINAL,
    Mix,
    Observed,
    bearer,
    firehose,
    place_orders,
    watch_order,
)
from bench.measure import ProcessMeter, percentile, quiet_machine, redis_commands


@dataclass
class Servers:
    """PostgreSQL and Redis for the whole run (embedded unless URLs are given)."""

    datadir: Path
    env: dict[str, str]
    admin_key: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    """ADMIN_API_KEY of every engine process started (one per run): every request and
    WebSocket upgrade the load generator makes carries it (`Authorization: Bearer`)."""
    profile: Path | None = None
    """Where to write py-spy profiles of the web and worker processes, if anywhere."""
    logs: Path | None = None
    """Where each scenario's process logs go (a folder per scenario); default: the datadir."""

    def __post_init__(self) -> None:
        self.stack = Stack(datadir=self.datadir, env=self.env)

    def start(self) -> None:
        self.stack.start_servers()

    def stop(self) -> None:
        self.stack.stop()

    @property
    def database_url(self) -> str:
        return self.stack.env["DATABASE_URL"]

    @property
    def redis_url(self) -> str:
        return self.stack.env["REDIS_URL"]

    def log_dir(self, name: str) -> Path:
        return (self.logs or self.datadir / "logs") / name

    def processes(self, name: str, web: int, workers: int, **env: str) -> Stack:
        """Start web and worker processes on these servers, with their own queue.

        Every process writes its output (JSON log lines) to a file of its own under
        `log_dir(name)`, scanned after the run.
        """
        stack = Stack(
            datadir=self.datadir,
            port=free_port(),
            web_processes=web,
            worker_processes=workers,
            env={
                **self.stack.env,
                "QUEUE_NAME": f"bench-{name}",
                "ORDER_RATE_LIMIT": "0",
                "LOG_FORMAT": "json",
                "ADMIN_API_KEY": self.admin_key,
                **env,
            },
            log_dir=self.log_dir(name),
        )
        stack.start_processes()
        return stack

    def meter(
        self, stack: Stack | None = None, extra: dict[str, int] | None = None
    ) -> ProcessMeter:
        roots: dict[str, int] = {}
        if stack is not None:
            if stack.web:
                roots["web"] = stack.web.pid
            for i, worker in enumerate(stack.workers, 1):
                roots[f"worker {i}"] = worker.pid
        roots.update(extra or {})
        if self.stack.postgres_pid:
            roots["postgres"] = self.stack.postgres_pid
        if self.stack.redis_pid:
            roots["redis"] = self.stack.redis_pid
        return ProcessMeter(roots)


async def throughput(
    servers: Servers,
    name: str,
    *,
    web: int,
    workers: int,
    orders: int,
    in_flight: int,
    env: dict[str, str],
    mix: Mix = MIX,
    warmup: int = 100,
    timeout: float = 300,
    round_: int = 1,
    watch: bool = True,
) -> dict[str, Any]:
    """Orders through the public API while a WebSocket client watches every event.

    With `watch=False` no firehose client is connected (a diagnostic: what watching
    costs); each order's end is then its terminal event's commit time in PostgreSQL.
    """
    key = name if round_ == 1 else f"{name}-r{round_}"
    stack = servers.processes(key, web, workers, **env)
    try:
        base, api_key = stack.url, servers.admin_key
        warm = Observed()
        await place_orders(base, api_key, warmup, in_flight, warm, mix)  # connections, caches
        observed = Observed()
        ready = asyncio.Event()
        hose = asyncio.create_task(
            firehose(base, api_key, observed, ready) if watch else ready.wait()
        )
        if not watch:
            ready.set()
        await ready.wait()
        await asyncio.sleep(1)  # wait-ok: the warm-up's last orders finish outside the window
        waited = await quiet_machine()  # the machine is shared: start when others are idle
        meter = servers.meter(stack)
        profilers = _profile(stack, servers.profile, name)
        meter.start()
        db_before = await _metric(base, api_key, "oee_db_statements_total")
        redis_before = redis_commands(stack.env["REDIS_URL"])
        ids = await place_orders(base, api_key, orders, in_flight, observed, mix)
        ended = await wait_ended(
            servers.database_url, observed.finished, ids, timeout, grace=3.0 if watch else 0.0
        )
        complete = len(ended) == len(ids)
        elapsed = (max(ended.values()) if ended else time.time()) - observed.first_post
        unseen = sum(1 for i in ids if i not in observed.finished)
        await asyncio.sleep(1.5)  # wait-ok: every process adds its counts to /metrics each second
        db_after = await _metric(base, api_key, "oee_db_statements_total")
        redis_after = redis_commands(stack.env["REDIS_URL"])
        processes = meter.stop()
        for profiler in profilers:
            profiler.send_signal(signal.SIGINT)
            profiler.wait(30)
        hose.cancel()
        machine = meter.machine
    finally:
        stack.stop()
    stored = await checks.load_orders(servers.database_url, ids)
    return {
        "scenario": name,
        "round": round_,
        "web_processes": web,
        "worker_processes": workers,
        "worker_concurrency": int(env.get("WORKER_CONCURRENCY", "10")),
        "latency_scale": float(env.get("MOCK_LATENCY_SCALE", "1")),
        "failure_rate": float(env.get("MOCK_FAILURE_RATE", "0.05")),
        "mix": "hot" if len({(m[0], m[1]) for m in mix}) == 1 else "mixed",
        "orders": len(ids),
        "post_errors": observed.errors,
        "complete": complete,
        "confirmed": sum(1 for o in stored if o.status == "confirmed"),
        "failed": sum(1 for o in stored if o.status == "failed"),
        "seconds": round(elapsed, 2),
        "orders_per_second": round(len(ids) / elapsed, 1) if elapsed > 0 else None,
        "end_from_database": unseen,
        "in_flight": in_flight,
        "post_ms": _spread(observed.post_ms),
        "push_ms": _spread(observed.push_ms),
        "db_statements_per_order": round((db_after - db_before) / max(1, len(ids)), 2),
        "redis_commands_per_order": round((redis_after - redis_before) / max(1, len(ids)), 1),
        "processes": processes,
        "machine": {**machine, "waited_for_quiet_seconds": waited},
        "watched": watch,
        "firehose": {
            **checks.firehose_completeness(stored, observed.seqs, observed.finished),
            "reconnects": observed.reconnects,
            "closes": observed.closes[:10],
            "replayed": observed.replayed,
            "stale": observed.stale,
        },
        "bounds": checks.check_orders(stored, len(ids)),
        "cpu_ms_per_order": _cpu_per_order(processes, len(ids)),
        "logs": checks.scan_logs(servers.log_dir(key)),
        "samples": {
            "post_ms": sorted(observed.post_ms),
            "push_ms": sorted(observed.push_ms),
        },
    }


async def wait_ended(
    database_url: str,
    seen: dict[str, float],
    ids: list[str],
    timeout: float,
    grace: float = 3.0,
) -> dict[str, float]:
    """When each order ended: the moment the firehose delivered its terminal event, or,
    for an order the firehose never delivered, the terminal event's commit time in
    PostgreSQL (the run's end then does not hang on a lost event; the firehose check
    reports it). Waits until every order is terminal, giving the firehose `grace` seconds
    after PostgreSQL says so; at most `timeout` seconds."""
    import asyncpg

    deadline = time.monotonic() + timeout
    stored: dict[str, tuple[float, float]] = {}  # id → (commit time, when we noticed)
    last_poll = 0.0
    conn = await asyncpg.connect(database_url)
    try:
        while time.monotonic() < deadline:
            unseen = [i for i in ids if i not in seen]
            now = time.monotonic()
            if not unseen:
                break
            if all(i in stored and now - stored[i][1] >= grace for i in unseen):
                break
            if now - last_poll >= 0.5:
                last_poll = now
                rows = await conn.fetch(
                    "SELECT id, updated_at FROM orders WHERE id = ANY($1::uuid[])"
                    " AND status = ANY($2::varchar[])",
                    [uuid.UUID(i) for i in unseen if i not in stored],
                    list(TERMINAL),
                )
                for row in rows:
                    stored[str(row["id"])] = (row["updated_at"].timestamp(), now)
            await asyncio.sleep(0.05)  # wait-ok: polling interval of a condition wait
    finally:
        await conn.close()
    return {i: seen[i] if i in seen else stored[i][0] for i in ids if i in seen or i in stored}


def _profile(stack: Stack, target: Path | None, name: str) -> list[subprocess.Popen[bytes]]:
    """py-spy on the web process and each worker, until sent SIGINT (flame graph SVGs)."""
    if target is None:
        return []
    pids = {"web": stack.web.pid if stack.web else None}
    pids.update({f"worker{i}": w.pid for i, w in enumerate(stack.workers, 1)})
    return _spy(pids, target, name)


def _spy(pids: dict[str, int | None], target: Path, name: str) -> list[subprocess.Popen[bytes]]:
    target.mkdir(parents=True, exist_ok=True)
    spy = Path(sys.executable).with_name("py-spy")
    return [
        subprocess.Popen(
            [str(spy), "record", "--pid", str(pid), "--rate", "200", "--subprocesses",
             "--format", os.environ.get("PYSPY_FORMAT", "flamegraph"),
             "--output", str(target / f"{name}-{role}.{os.environ.get('PYSPY_EXT', 'svg')}")],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for role, pid in pids.items()
        if pid
    ]  # fmt: skip


# -- the floor ----------------------------------------------------------------------------

FLOOR_SCHEMA = "bench_floor"


FLOOR_TABLES = ("orders", "order_events", "webhooks", "webhook_deliveries")
"""The engine's tables its `_CREATE` and `_TRANSITION` write or read (the outbox CTE joins
`webhooks` and inserts into `webhook_deliveries`)."""


async def prepare_floor(database_url: str, schema: str = FLOOR_SCHEMA) -> None:
    """The engine's tables, again, in a schema of their own: same columns, defaults,
    indexes and foreign keys, and sequences of their own."""
    import asyncpg

    conn = await asyncpg.connect(database_url)
    try:
        async with conn.transaction():
            await conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema}")
            for table in FLOOR_TABLES:
                await conn.execute(
                    f"CREATE TABLE {schema}.{table} (LIKE public.{table} INCLUDING ALL)"
                )
            serials = await conn.fetch(
                "SELECT table_name, column_name FROM information_schema.columns"
                " WHERE table_schema = $1 AND column_default LIKE 'nextval(%'",
                schema,
            )
            for row in serials:
                table, column = row["table_name"], row["column_name"]
                sequence = f"{schema}.{table}_{column}_seq"
                await conn.execute(
                    f"CREATE SEQUENCE {sequence} OWNED BY {schema}.{table}.{column};"
                    f" ALTER TABLE {schema}.{table} ALTER COLUMN {column}"
                    f" SET DEFAULT nextval('{sequence}')"
                )
            foreign = await conn.fetch(
                "SELECT conrelid::regclass::text AS tab, conname, pg_get_constraintdef(oid) AS def"
                " FROM pg_constraint WHERE contype = 'f'"
                " AND conrelid = ANY($1::regclass[])",
                [f"public.{table}" for table in FLOOR_TABLES],
            )
            # Unqualified in the definition, the referenced table resolves in our schema.
            await conn.execute(f"SET LOCAL search_path = {schema}")
            for row in foreign:
                table = row["tab"].rsplit(".", 1)[-1]
                await conn.execute(
                    f"ALTER TABLE {schema}.{table} ADD CONSTRAINT {row['conname']} {row['def']}"
                )
    finally:
        await conn.close()


async def _seed_floor_pools(redis_url: str, prefix: str, mix: Mix) -> None:
    from bench.floor import VENUES, Keys

    keys = Keys(prefix)
    redis = Redis.from_url(redis_url)
    try:
        for token_in, token_out, _, _ in mix:
            for venue in VENUES:
                await redis.hset(
                    keys.pool(venue, token_in, token_out),
                    mapping={
                        "liquidity": "1000000",
                        "skew": "0",
                        "updated_at": "0",
                        "version": "0",
                    },
                )
    finally:
        await redis.aclose()


@dataclass
class _FloorProcess:
    role: str
    process: asyncio.subprocess.Process
    log: Path | None = None
    """Where its stderr goes: what it said before exiting."""

    async def answer(self, timeout: float = 600) -> dict[str, Any]:
        assert self.process.stdout is not None
        line = await asyncio.wait_for(self.process.stdout.readline(), timeout)
        if not line:  # it closed its stdout: it is exiting
            await asyncio.wait_for(self.process.wait(), 10)
            raise self._exited()
        answer: dict[str, Any] = json.loads(line)
        return answer

    def check_alive(self) -> None:
        if self.process.returncode is not None:
            raise self._exited()

    def _exited(self) -> RuntimeError:
        said = self.log.read_text()[-2000:] if self.log and self.log.exists() else ""
        return RuntimeError(
            f"floor {self.role} process exited ({self.process.returncode}): {said.strip()}"
        )

    async def place(self, count: int, mix: Mix, out: Path) -> dict[str, Any]:
        """Have it place `count` orders; what it placed (ids, start, latencies)."""
        await self.send(f"place {count} {out} {json.dumps(mix)}")
        await self.answer()
        placed: dict[str, Any] = json.loads(await asyncio.to_thread(out.read_text))
        return placed

    async def send(self, line: str) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(line.encode() + b"\n")
        await self.process.stdin.drain()


class _Terminals:
    """The floor's event channel, watched like the engine's firehose: when each order ended."""

    def __init__(self, redis_url: str, channel: str) -> None:
        self.redis = Redis.from_url(redis_url)
        self.channel = channel
        self.finished: dict[str, float] = {}
        self.outcomes: dict[str, str] = {}
        self.events = 0
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        pubsub = self.redis.pubsub(ignore_subscribe_messages=True)
        await pubsub.subscribe(self.channel)
        self._task = asyncio.create_task(self._listen(pubsub))

    async def _listen(self, pubsub: Any) -> None:
        while True:
            message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
            if message is None or message["type"] != "message":
                continue
            self.events += 1
            event = json.loads(message["data"])["event"]
            if event["status"] in TERMINAL:
                self.finished[event["orderId"]] = time.time()
                self.outcomes[event["orderId"]] = event["status"]

    async def wait(
        self, ids: list[str], timeout: float, children: Iterable[_FloorProcess] = ()
    ) -> bool:
        """Until every one of `ids` ended (True) or `timeout` passed (False); raises at once
        if a floor process exited meanwhile (its orders would never end)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if all(i in self.finished for i in ids):
                return True
            for child in children:
                child.check_alive()
            await asyncio.sleep(0.02)  # wait-ok: polling interval of a condition wait
        return False

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
        await self.redis.aclose()


async def floor(
    servers: Servers,
    name: str,
    *,
    processes: int,
    orders: int,
    in_flight: int,
    concurrency: int,
    mix: Mix = MIX,
    warmup: int = 100,
    timeout: float = 300,
    census: Census | None = None,
    round_: int = 1,
    patience: float = 90.0,
) -> dict[str, Any]:
    """The floor (bench/floor.py): the engine's round trips per order and nothing else.

    Two processes by default, as the engine runs (one places orders as the web process
    does, one executes them as a worker does); one process with `processes=1`. The
    window is timed like the engine's: first order placed → last terminal event seen
    on the floor's event channel by this process.
    """
    key = name if round_ == 1 else f"{name}-r{round_}"
    prefix = f"bench-{key}"
    await prepare_floor(servers.database_url)
    await _seed_floor_pools(servers.redis_url, prefix, mix)
    roles = ["execute", "place"] if processes == 2 else ["both"]
    log_dir = servers.log_dir(key)
    log_dir.mkdir(parents=True, exist_ok=True)
    children: dict[str, _FloorProcess] = {}
    for role in roles:
        with (log_dir / f"floor-{role}.log").open("ab") as log:
            process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "bench.floor", "--role", role, "--prefix", prefix,
                "--schema", FLOOR_SCHEMA, "--database-url", servers.database_url,
                "--redis-url", servers.redis_url, "--concurrency", str(concurrency),
                "--in-flight", str(in_flight),
                stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=log,
                limit=2**24,
            )  # fmt: skip
        children[role] = _FloorProcess(role, process, log_dir / f"floor-{role}.log")
    terminals = _Terminals(servers.redis_url, f"{prefix}:events")
    try:
        for child in children.values():
            await child.answer(60)  # ready
        placer = children.get("place") or children["both"]
        await terminals.start()
        warm = await placer.place(warmup, mix, log_dir / "warm-up.json")
        await terminals.wait(warm["ids"], timeout, children.values())
        await asyncio.sleep(1)  # wait-ok: as the engine's runs, a pause after the warm-up
        waited = await quiet_machine(patience=patience)
        meter = servers.meter(None, {f"floor {r}": c.process.pid for r, c in children.items()})
        profilers = (
            _spy({f"floor-{r}": c.process.pid for r, c in children.items()}, servers.profile, name)
            if servers.profile
            else []
        )
        meter.start()
        redis_before = redis_commands(servers.redis_url)
        if census is not None:
            await census.start()
        placed = await placer.place(orders, mix, log_dir / "placed.json")
        ids: list[str] = placed["ids"]
        complete = await terminals.wait(ids, timeout, children.values())
        census_window = (
            await census.stop(len(ids), time.time() - placed["started"]) if census else None
        )
        seen = [terminals.finished[i] for i in ids if i in terminals.finished]
        elapsed = (max(seen) if seen else time.time()) - placed["started"]
        redis_after = redis_commands(servers.redis_url)
        measured = meter.stop()
        machine = meter.machine
        for profiler in profilers:
            profiler.send_signal(signal.SIGINT)
            profiler.wait(30)
        finals = []
        for child in children.values():
            assert child.process.stdin is not None
            child.process.stdin.close()
            finals.append(await child.answer(60))
            await child.process.wait()
    finally:
        await terminals.stop()
        for child in children.values():
            if child.process.returncode is None:
                child.process.kill()
                await child.process.wait()
    outcomes = [terminals.outcomes.get(i, "unfinished") for i in ids]
    stored = await checks.load_orders(servers.database_url, ids, schema=FLOOR_SCHEMA)
    statements = sum(f.get("statements", 0) for f in finals)
    return {
        "scenario": name,
        "round": round_,
        "floor_processes": processes,
        "worker_concurrency": concurrency,
        "latency_scale": 0.0,
        "mix": "hot" if len({(m[0], m[1]) for m in mix}) == 1 else "mixed",
        "orders": len(ids),
        "complete": complete,
        "confirmed": outcomes.count("confirmed"),
        "failed": outcomes.count("failed"),
        "errors": [e for f in finals for e in f.get("errors", [])],
        "seconds": round(elapsed, 2),
        "orders_per_second": round(len(ids) / elapsed, 1) if elapsed > 0 else None,
        "in_flight": in_flight,
        "place_ms": _spread(placed["place_ms"]),
        "db_statements_per_order": round(statements / max(1, len(ids) + warmup), 2),
        "redis_commands_per_order": round((redis_after - redis_before) / max(1, len(ids)), 1),
        "processes": measured,
        "cpu_ms_per_order": _cpu_per_order(measured, len(ids)),
        "machine": {**machine, "waited_for_quiet_seconds": waited},
        "bounds": checks.check_orders(stored, len(ids)),
        "logs": checks.scan_logs(log_dir),
        **({"census": census_window} if census_window else {}),
        "samples": {"post_ms": sorted(placed["place_ms"]), "push_ms": []},
    }


# -- the census: Redis round trips per order, by command ----------------------------------


async def census_engine(servers: Servers, *, orders: int, in_flight: int) -> dict[str, Any]:
    """The engine's Redis round trips per order, read from MONITOR (1 web + 1 worker)."""
    env = {"MOCK_LATENCY_SCALE": "0", "MOCK_FAILURE_RATE": "0", "WORKER_CONCURRENCY": "32"}
    stack = servers.processes("census-engine", 1, 1, **env)
    census = Census(servers.redis_url)
    try:
        base, api_key = stack.url, servers.admin_key
        await place_orders(base, api_key, 100, in_flight, Observed())
        observed = Observed()
        ready = asyncio.Event()
        hose = asyncio.create_task(firehose(base, api_key, observed, ready))
        await ready.wait()
        await asyncio.sleep(1.5)  # wait-ok: the warm-up's jobs and metric flushes settle
        await census.idle(2.0)
        await census.start()
        ids = await place_orders(base, api_key, orders, in_flight, observed)
        await wait_ended(servers.database_url, observed.finished, ids, 120)
        result = await census.stop(len(ids), time.time() - observed.first_post)
        hose.cancel()
    finally:
        stack.stop()
    return {"scenario": "census-engine", **result}


async def census_floor(servers: Servers, *, orders: int, in_flight: int) -> dict[str, Any]:
    """The floor's Redis round trips per order, read the same way."""
    census = Census(servers.redis_url)
    await census.idle(2.0)
    run = await floor(
        servers,
        "census-floor",
        processes=2,
        orders=orders,
        in_flight=in_flight,
        concurrency=32,
        census=census,
    )
    return {"scenario": "census-floor", **run["census"]}


async def many_sockets(
    servers: Servers, *, sockets: int, in_flight: int, connect_batch: int = 250
) -> dict[str, Any]:
    """`sockets` per-order WebSocket clients on one web process, all open at once.

    Orders are placed with no worker running, every client connects and gets its order's
    `pending` event, then a worker starts: each client must receive its terminal event.
    """
    stack = servers.processes(
        "sockets", 1, 0, MOCK_LATENCY_SCALE="0", MOCK_FAILURE_RATE="0", WORKER_CONCURRENCY="50"
    )
    try:
        base, api_key = stack.url, servers.admin_key
        ids = await place_orders(base, api_key, sockets, in_flight, Observed())
        meter = servers.meter(stack)
        meter.start()
        ws_base = base.replace("http", "ws", 1)
        connector = aiohttp.TCPConnector(limit=0)
        async with aiohttp.ClientSession(connector=connector, headers=bearer(api_key)) as session:
            watchers = []
            for start in range(0, len(ids), connect_batch):
                for order_id in ids[start : start + connect_batch]:
                    url = f"{ws_base}/api/orders/{order_id}/ws"
                    watchers.append(asyncio.create_task(watch_order(session, url)))
                await asyncio.sleep(0.2)  # wait-ok: let a batch connect before the next
            open_at = await _socket_count(base, api_key, len(ids))
            started = time.time()
            stack.add_worker()
            results = await asyncio.wait_for(
                asyncio.gather(*watchers, return_exceptions=True), timeout=600
            )
            elapsed = time.time() - started
        processes = meter.stop()
    finally:
        stack.stop()
    machine = meter.machine
    finished = sum(1 for r in results if isinstance(r, str) and r in TERMINAL)
    stored = await checks.load_orders(servers.database_url, ids)
    return {
        "scenario": "sockets",
        "sockets": len(ids),
        "open_at_once": open_at,
        "received_terminal": finished,
        "errors": sum(1 for r in results if isinstance(r, BaseException)),
        "seconds_to_drain": round(elapsed, 1),
        "processes": processes,
        "machine": machine,
        "bounds": checks.check_orders(stored, len(ids)),
        "logs": checks.scan_logs(servers.log_dir("sockets")),
    }


async def metrics_text(base: str, key: str) -> str:
    """The engine's /metrics (admin)."""
    async with (
        aiohttp.ClientSession(headers=bearer(key)) as session,
        session.get(f"{base}/metrics") as response,
    ):
        response.raise_for_status()
        return await response.text()


async def _metric(base: str, key: str, name: str) -> float:
    """A counter's value, summed over every process, from the engine's own /metrics."""
    text = await metrics_text(base, key)
    return sum(float(line.split()[1]) for line in text.splitlines() if line.startswith(name + " "))


async def _socket_count(base: str, key: str, wanted: int, timeout: float = 120) -> int:
    """Wait until the web process reports `wanted` open subscriptions (via /metrics)."""
    deadline = time.monotonic() + timeout
    count = 0
    while time.monotonic() < deadline:
        for line in (await metrics_text(base, key)).splitlines():
            if line.startswith("oee_websocket_connections "):
                count = int(float(line.split()[1]))
        if count >= wanted:
            return count
        await asyncio.sleep(0.5)  # wait-ok: polling interval of a condition wait
    return count


def _cpu_per_order(processes: dict[str, dict[str, float]], orders: int) -> dict[str, float]:
    """CPU milliseconds per order by process, and `servers`: all but the load generator."""
    per = {
        name: round(p["cpu_seconds"] * 1000 / max(1, orders), 3) for name, p in processes.items()
    }
    per["servers"] = round(sum(v for k, v in per.items() if k != "load generator"), 3)
    return per


def _spread(values: list[float]) -> dict[str, float]:
    return {
        "p50": round(percentile(values, 50), 2),
        "p90": round(percentile(values, 90), 2),
        "p99": round(percentile(values, 99), 2),
        "max": round(max(values), 2) if values else float("nan"),
    }
