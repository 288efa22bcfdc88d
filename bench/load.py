"""The load generator: the public API only, as clients would use it (aiohttp, one process)."""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import aiohttp

TERMINAL = {"confirmed", "failed"}

Mix = list[tuple[str, str, str, int]]
"""Orders placed in turn: (tokenIn, tokenOut, amount, slippageBps)."""

# A mix that keeps pools near balance: both directions, several pairs, small sizes.
MIX: Mix = [
    ("SOL", "USDC", "0.5", 300),
    ("USDC", "SOL", "75", 300),
    ("USDC", "JUP", "60", 300),
    ("JUP", "USDC", "60", 300),
    ("SOL", "USDT", "0.4", 300),
    ("USDT", "SOL", "60", 300),
    ("BONK", "SOL", "2000000", 300),
    ("USDC", "USDT", "100", 300),
]

# The hot pool: every order on SOL/USDC, one direction. Small, with room for the price to
# move under the flow (3,000 orders of 0.1 SOL is ~0.5 % of the Raydium pool's SOL side).
HOT: Mix = [("SOL", "USDC", "0.1", 500)]


def bearer(key: str) -> dict[str, str]:
    """The header every request and WebSocket upgrade carries: every endpoint but /healthz
    needs an API key (/metrics and the simulator's moves an admin one)."""
    return {"Authorization": f"Bearer {key}"}


def body(i: int, mix: Mix = MIX) -> dict[str, Any]:
    token_in, token_out, amount, slippage = mix[i % len(mix)]
    return {
        "type": "market",
        "tokenIn": token_in,
        "tokenOut": token_out,
        "amount": amount,
        "slippageBps": slippage,
    }


@dataclass
class Observed:
    post_ms: list[float] = field(default_factory=list)
    push_ms: list[float] = field(default_factory=list)
    placed: dict[str, float] = field(default_factory=dict)
    finished: dict[str, float] = field(default_factory=dict)
    outcomes: dict[str, str] = field(default_factory=dict)
    first_post: float = 0.0
    errors: int = 0
    seqs: dict[str, list[int]] = field(default_factory=dict)
    """Per order, the seqs the firehose delivered, in arrival order."""
    last_event_id: int | None = None
    reconnects: int = 0
    closes: list[str] = field(default_factory=list)
    """Why each firehose connection ended (close code and reason, or the error)."""
    replayed: int = 0
    """Events delivered on a resumed connection that were committed before it opened:
    their push latency measures the reconnect, so they are left out of `push_ms`."""
    stale: int = 0
    """Events at or before the last eventId already seen (never expected)."""


async def firehose(base: str, key: str, observed: Observed, ready: asyncio.Event) -> None:
    """Every event of every order: push latency, and when each order finished.

    Resumable: should the server close the socket (1013 when this client falls behind,
    or anything else), it reconnects with `since=<last eventId>` and the server replays
    what came after, so no event is missed. Runs until cancelled.
    """
    ws_url = base.replace("http", "ws", 1) + "/api/orders/ws"
    async with aiohttp.ClientSession(headers=bearer(key)) as session:
        while True:
            since = observed.last_event_id
            url = ws_url if since is None else f"{ws_url}?since={since}"
            opened = time.time()
            try:
                async with session.ws_connect(url, max_msg_size=0) as ws:
                    ready.set()
                    while True:
                        message = await ws.receive()
                        if message.type is aiohttp.WSMsgType.TEXT:
                            resumed = None if since is None else opened
                            _take(observed, json.loads(message.data), resumed)
                            continue
                        reason = message.extra if message.type is aiohttp.WSMsgType.CLOSE else ""
                        observed.closes.append(f"{ws.close_code} {reason or message.type.name}")
                        break
            except (aiohttp.ClientError, OSError) as error:
                observed.closes.append(f"{type(error).__name__}: {error}")
            observed.reconnects += 1
            await asyncio.sleep(0.05)  # wait-ok: a pause before reconnecting


def _take(observed: Observed, event: dict[str, Any], resumed_at: float | None) -> None:
    now = time.time()
    event_id = int(event["eventId"])
    if observed.last_event_id is not None and event_id <= observed.last_event_id:
        observed.stale += 1
        return
    observed.last_event_id = event_id
    at = datetime.fromisoformat(event["at"].replace("Z", "+00:00")).timestamp()
    if resumed_at is not None and at < resumed_at:
        observed.replayed += 1
    else:
        observed.push_ms.append((now - at) * 1000)
    order_id = event["orderId"]
    observed.seqs.setdefault(order_id, []).append(int(event["seq"]))
    if event["status"] in TERMINAL:
        observed.finished[order_id] = now
        observed.outcomes[order_id] = event["status"]


async def place_orders(
    base: str, key: str, count: int, in_flight: int, observed: Observed, mix: Mix = MIX
) -> list[str]:
    """POST `count` orders, `in_flight` at a time; record each one's latency."""
    ids: list[str] = []
    numbers = itertools.count()
    connector = aiohttp.TCPConnector(limit=in_flight)
    async with aiohttp.ClientSession(
        base_url=base, connector=connector, headers=bearer(key)
    ) as session:

        async def one_client() -> None:
            while (i := next(numbers)) < count:
                started = time.perf_counter()
                async with session.post("/api/orders/execute", json=body(i, mix)) as response:
                    payload = await response.json()
                elapsed = (time.perf_counter() - started) * 1000
                if response.status != 201:
                    observed.errors += 1
                    continue
                observed.post_ms.append(elapsed)
                observed.placed[payload["orderId"]] = time.time()
                ids.append(payload["orderId"])

        observed.first_post = time.time()
        await asyncio.gather(*(one_client() for _ in range(in_flight)))
    return ids


async def watch_order(session: aiohttp.ClientSession, ws_url: str) -> str | None:
    """One per-order socket held open until the server closes it; the last status seen.
    `session` carries the key (`bearer`) on the upgrade."""
    last = None
    async with session.ws_connect(ws_url) as ws:
        async for message in ws:
            last = json.loads(message.data)["status"]
    return last
