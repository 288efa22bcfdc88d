"""The snipers scenario: how fast a launch reaches the snipers waiting for it.

With one web process and one worker (zero simulated latency, no faults):

1. `waiting` sniper orders are placed through the API for tokens that never launch: the
   haystack every launch event's lookup must not be slowed by;
2. `launches` times in turn: one sniper is placed for a fresh token, the token is launched
   (`POST /api/sim/launches`, opening `open_in` seconds later), and the time from the pool's
   `open` event (its `at`, as received on `WS /api/pools/ws`) to the sniper's `routing`
   event (its `at`, the database's clock on the same machine) is taken — and, for what a
   trader sees, from the pool's open time (`opensAt`) itself.

Every target sniper must be started and confirm; every haystack sniper must still wait.
"""

from __future__ import annotations

import asyncio
import functools
import json
import secrets
import uuid
from collections import Counter
from datetime import datetime
from typing import Any

import aiohttp
import asyncpg

from bench import checks
from bench.limits import _spread, _until
from bench.load import bearer
from bench.scenarios import Servers

TARGET_MS = 50.0


async def snipers(
    servers: Servers,
    *,
    waiting: int = 1000,
    launches: int = 40,
    open_in: int = 1,
    in_flight: int = 32,
) -> dict[str, Any]:
    env = {"MOCK_LATENCY_SCALE": "0", "MOCK_FAILURE_RATE": "0", "MOCK_LAUNCH_EVERY": "0"}
    stack = servers.processes("snipers", 1, 1, **env)
    conn = await asyncpg.connect(servers.database_url)
    run = secrets.token_hex(2).upper()
    try:
        async with aiohttp.ClientSession(
            base_url=stack.url, headers=bearer(servers.admin_key)
        ) as session:
            haystack = await _place_many(
                session, [f"H{run}{i:05d}"[:10] for i in range(waiting)], in_flight
            )
            await _until(
                lambda: _all_waiting(conn, haystack), 120, "the haystack snipers wait", every=0.2
            )
            opened: dict[str, float] = {}
            opens_at: dict[str, float] = {}
            async with session.ws_connect("/api/pools/ws") as pools:
                listener = asyncio.create_task(_listen(pools, opened))
                targets: dict[str, str] = {}
                for number in range(launches):
                    symbol = f"L{run}{number:04d}"
                    order_id = (await _place_many(session, [symbol], 1))[0]
                    targets[symbol] = order_id
                    waits = functools.partial(_all_waiting, conn, [order_id])
                    await _until(waits, 30, "the sniper waits")
                    opens_at[symbol] = await _launch(session, symbol, open_in)
                    starts = functools.partial(_started, conn, order_id)
                    await _until(starts, 30, f"{symbol}'s sniper starts")
                listener.cancel()
            await _until(
                lambda: _ended(conn, list(targets.values())), 60, "the snipers confirm", every=0.2
            )
        routed = await _routing_times(conn, list(targets.values()))
        latencies = [
            (routed[order_id] - opened[symbol]) * 1000
            for symbol, order_id in targets.items()
            if symbol in opened and order_id in routed
        ]
        from_open = [
            (routed[order_id] - opens_at[symbol]) * 1000
            for symbol, order_id in targets.items()
            if order_id in routed
        ]
        outcomes = Counter(
            str(r["status"])
            for r in await conn.fetch(
                "SELECT status FROM orders WHERE id = ANY($1::uuid[])",
                [uuid.UUID(i) for i in targets.values()],
            )
        )
        still = Counter(
            str(r["status"])
            for r in await conn.fetch(
                "SELECT status FROM orders WHERE id = ANY($1::uuid[])",
                [uuid.UUID(i) for i in haystack],
            )
        )
    finally:
        await conn.close()
        stack.stop()
    spread = _spread(latencies)
    return {
        "scenario": "snipers",
        "web_processes": 1,
        "worker_processes": 1,
        "waiting_elsewhere": waiting,
        "launches": launches,
        "open_in_seconds": open_in,
        "open_event_to_routing_ms": spread,
        "open_time_to_routing_ms": _spread(from_open),
        "target_p99_ms": TARGET_MS,
        "met": spread["p99"] is not None and spread["p99"] <= TARGET_MS,
        "measured": len(latencies),
        "outcomes": dict(outcomes),
        "haystack_statuses": dict(still),
        "samples_ms": sorted(round(v, 1) for v in latencies),
        "from_open_samples_ms": sorted(round(v, 1) for v in from_open),
        "logs": checks.scan_logs(servers.log_dir("snipers")),
    }


async def _place_many(
    session: aiohttp.ClientSession, symbols: list[str], in_flight: int
) -> list[str]:
    gate = asyncio.Semaphore(in_flight)

    async def one(symbol: str) -> str:
        body = {
            "type": "sniper",
            "tokenIn": "SOL",
            "tokenOut": symbol,
            "amount": "0.5",
            "maxPrice": "0.01",
            "expiresIn": 3600,
        }
        async with gate, session.post("/api/orders/execute", json=body) as response:
            if response.status != 201:
                raise RuntimeError(f"placing a sniper: {response.status} {await response.text()}")
            return str((await response.json())["orderId"])

    return list(await asyncio.gather(*(one(s) for s in symbols)))


async def _launch(session: aiohttp.ClientSession, symbol: str, open_in: int) -> float:
    """Launch `symbol`; when its pool opens (a timestamp)."""
    body = {"symbol": symbol, "baseReserve": "1000000", "quoteReserve": "200", "openIn": open_in}
    async with session.post("/api/sim/launches", json=body) as response:
        if response.status != 201:
            raise RuntimeError(f"launching {symbol}: {response.status} {await response.text()}")
        return datetime.fromisoformat((await response.json())["opensAt"]).timestamp()


async def _listen(pools: aiohttp.ClientWebSocketResponse, opened: dict[str, float]) -> None:
    async for message in pools:
        event = json.loads(message.data)
        if event["event"] == "open":
            opened[event["pool"]["symbol"]] = datetime.fromisoformat(event["at"]).timestamp()


async def _all_waiting(conn: asyncpg.Connection, ids: list[str]) -> bool:
    count = await conn.fetchval(
        "SELECT count(*) FROM orders WHERE id = ANY($1::uuid[]) AND status = 'waiting'",
        [uuid.UUID(i) for i in ids],
    )
    return int(count) == len(ids)


async def _started(conn: asyncpg.Connection, order_id: str) -> bool:
    found = await conn.fetchval(
        "SELECT 1 FROM order_events WHERE order_id = $1 AND status = 'routing'",
        uuid.UUID(order_id),
    )
    return found is not None


async def _ended(conn: asyncpg.Connection, ids: list[str]) -> bool:
    count = await conn.fetchval(
        "SELECT count(*) FROM orders WHERE id = ANY($1::uuid[])"
        " AND status IN ('confirmed', 'failed', 'expired', 'cancelled')",
        [uuid.UUID(i) for i in ids],
    )
    return int(count) == len(ids)


async def _routing_times(conn: asyncpg.Connection, ids: list[str]) -> dict[str, float]:
    rows = await conn.fetch(
        "SELECT order_id, min(at) AS at FROM order_events"
        " WHERE order_id = ANY($1::uuid[]) AND status = 'routing' GROUP BY order_id",
        [uuid.UUID(i) for i in ids],
    )
    return {str(r["order_id"]): r["at"].timestamp() for r in rows}
