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

# A mix that keeps pools near balance: both directions, several pairs, small sizes.
MIX = [
    ("SOL", "USDC", "0.5"),
    ("USDC", "SOL", "75"),
    ("USDC", "JUP", "60"),
    ("JUP", "USDC", "60"),
    ("SOL", "USDT", "0.4"),
    ("USDT", "SOL", "60"),
    ("BONK", "SOL", "2000000"),
    ("USDC", "USDT", "100"),
]


def body(i: int) -> dict[str, Any]:
    token_in, token_out, amount = MIX[i % len(MIX)]
    return {
        "type": "market",
        "tokenIn": token_in,
        "tokenOut": token_out,
        "amount": amount,
        "slippageBps": 300,
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


async def firehose(base: str, observed: Observed, ready: asyncio.Event) -> None:
    """Every event of every order: push latency, and when each order finished."""
    ws_url = base.replace("http", "ws", 1) + "/api/orders/ws"
    async with aiohttp.ClientSession() as session, session.ws_connect(ws_url, max_msg_size=0) as ws:
        ready.set()
        async for message in ws:
            now = time.time()
            event = json.loads(message.data)
            at = datetime.fromisoformat(event["at"].replace("Z", "+00:00")).timestamp()
            observed.push_ms.append((now - at) * 1000)
            if event["status"] in TERMINAL:
                observed.finished[event["orderId"]] = now
                observed.outcomes[event["orderId"]] = event["status"]


async def place_orders(base: str, count: int, in_flight: int, observed: Observed) -> list[str]:
    """POST `count` orders, `in_flight` at a time; record each one's latency."""
    ids: list[str] = []
    numbers = itertools.count()
    connector = aiohttp.TCPConnector(limit=in_flight)
    async with aiohttp.ClientSession(base_url=base, connector=connector) as session:

        async def one_client() -> None:
            while (i := next(numbers)) < count:
                started = time.perf_counter()
                async with session.post("/api/orders/execute", json=body(i)) as response:
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


async def wait_finished(observed: Observed, ids: list[str], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if all(i in observed.finished for i in ids):
            return True
        await asyncio.sleep(0.05)
    return False


async def watch_order(session: aiohttp.ClientSession, ws_url: str) -> str | None:
    """One per-order socket held open until the server closes it; the last status seen."""
    last = None
    async with session.ws_connect(ws_url) as ws:
        async for message in ws:
            last = json.loads(message.data)["status"]
    return last
