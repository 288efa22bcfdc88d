"""Load through the public API (aiohttp), and a firehose client that misses nothing.

Every order's amount is unique (the mix's amount plus `n` of tokenIn's smallest units),
so a stored row can be matched to the POST that made it even when that POST was never
answered `201` (a killed web process, a timed-out statement).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import AsyncIterator, Coroutine
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import aiohttp

from app.domain.tokens import TOKENS

log = logging.getLogger("chaos")

# Both directions of several pairs, small sizes: pools stay near balance.
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
SLIPPAGE_BPS = 300

OrderKey = tuple[str, str, Decimal]
"""(tokenIn, tokenOut, amount): unique per order in a scenario."""


def order_body(n: int) -> dict[str, Any]:
    """The `n`th order of a scenario (load and probes share one numbering)."""
    token_in, token_out, base = MIX[n % len(MIX)]
    amount = Decimal(base) + n * TOKENS[token_in].unit
    return {
        "type": "market",
        "tokenIn": token_in,
        "tokenOut": token_out,
        "amount": format(amount, "f"),
        "slippageBps": SLIPPAGE_BPS,
    }


def key_of(body: dict[str, Any]) -> OrderKey:
    return (body["tokenIn"], body["tokenOut"], Decimal(body["amount"]).normalize())


@dataclass
class Post:
    """One POST /api/orders/execute and how it ended."""

    n: int
    body: dict[str, Any]
    source: str
    """"load", "outage probe" or "recovery probe"."""
    sent: float = 0.0
    answered: float = 0.0
    status: int | None = None
    """The HTTP status; None when no answer came (`error` says why)."""
    retry_after: str | None = None
    order_id: str | None = None
    """The order placed: a `201`'s orderId."""
    in_doubt: str | None = None
    """The order a `504` names (`extra.orderId`): the COMMIT went unanswered, so it may
    or may not exist."""
    error: str | None = None

    @property
    def outcome(self) -> str:
        """`201`, `503+Retry-After`, `503`, `504+Retry-After+orderId`, `timeout`,
        `connection error` …"""
        if self.status is None:
            return self.error or "no answer"
        if self.status == 503 and self.retry_after is not None:
            return "503+Retry-After"
        if self.status == 504:
            return (
                "504"
                + ("+Retry-After" if self.retry_after is not None else "")
                + ("+orderId" if self.in_doubt is not None else "")
            )
        return str(self.status)

    def as_dict(self) -> dict[str, Any]:
        return {
            "n": self.n,
            "source": self.source,
            "amount": self.body["amount"],
            "sent": self.sent,
            "answered": self.answered,
            "outcome": self.outcome,
            "orderId": self.order_id or self.in_doubt,
        }


class Poster:
    """Numbers and sends POSTs; keeps every one of them."""

    def __init__(self, session: aiohttp.ClientSession, timeout: float) -> None:
        self.session = session
        self.timeout = aiohttp.ClientTimeout(total=timeout)
        self.posts: list[Post] = []
        self._next = 0

    def number(self) -> int:
        n, self._next = self._next, self._next + 1
        return n

    async def post(self, source: str, n: int | None = None) -> Post:
        n = self.number() if n is None else n
        post = Post(n, order_body(n), source)
        self.posts.append(post)
        post.sent = time.time()
        try:
            async with self.session.post(
                "/api/orders/execute", json=post.body, timeout=self.timeout
            ) as response:
                post.status = response.status
                post.retry_after = response.headers.get("Retry-After")
                text = await response.text()
            if response.status == 201:
                post.order_id = str(json.loads(text)["orderId"])
            elif response.status == 504:
                post.in_doubt = doubtful_order(text)
        except TimeoutError:
            post.error = "timeout"
        except aiohttp.ClientError as error:
            post.error = "connection error"
            log.debug("POST %s: %s", n, error)
        post.answered = time.time()
        return post


def doubtful_order(text: str) -> str | None:
    """The orderId a 504 names in `extra.orderId`, if its body is the engine's error body."""
    try:
        extra = json.loads(text).get("extra")
    except (ValueError, AttributeError):
        return None
    order_id = extra.get("orderId") if isinstance(extra, dict) else None
    return str(order_id) if isinstance(order_id, str) and order_id else None


async def steady_load(poster: Poster, orders: int, rate: float, in_flight: int) -> None:
    """`orders` POSTs at `rate` per second, at most `in_flight` outstanding; a POST that
    could not go out on time (all slots busy) goes as soon as one frees."""
    slots = asyncio.Semaphore(in_flight)
    started = time.monotonic()
    numbers = [poster.number() for _ in range(orders)]  # the load's numbers come first
    tasks: list[asyncio.Task[None]] = []

    async def one(n: int) -> None:
        try:
            await poster.post("load", n)
        finally:
            slots.release()

    for i, n in enumerate(numbers):
        delay = started + i / rate - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)  # wait-ok: the load's steady rate
        await slots.acquire()
        tasks.append(asyncio.create_task(one(n)))
    await asyncio.gather(*tasks)


@dataclass
class Firehose:
    """`WS /api/orders/ws`, reconnecting with `since` = the last eventId received, so
    every stored event should arrive exactly once whatever happens to the web process."""

    ws_url: str
    received: list[int] = field(default_factory=list)
    """Every eventId received, in arrival order (repeats kept)."""
    closes: dict[str, int] = field(default_factory=dict)
    """How connections ended: `close 1011`, `refused 503`, `connection error` …: count."""
    connected: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def last(self) -> int | None:
        return max(self.received) if self.received else None

    async def run(self, session: aiohttp.ClientSession) -> None:
        while True:
            # `since` even the first time: without it the feed starts wherever the server's
            # pump stands when it subscribes, a moment after the handshake.
            url = f"{self.ws_url}/api/orders/ws?since={self.last or 0}"
            how = await self._one_connection(session, url)
            self.closes[how] = self.closes.get(how, 0) + 1
            await asyncio.sleep(0.2)  # wait-ok: reconnect pacing

    async def _one_connection(self, session: aiohttp.ClientSession, url: str) -> str:
        try:
            async with session.ws_connect(url, max_msg_size=0, heartbeat=None) as ws:
                self.connected.set()
                async for message in ws:
                    if message.type is aiohttp.WSMsgType.TEXT:
                        self.received.append(int(json.loads(message.data)["eventId"]))
                return f"close {ws.close_code}"
        except aiohttp.WSServerHandshakeError as refused:
            return f"refused {refused.status}"
        except (aiohttp.ClientError, OSError):
            return "connection error"

    async def caught_up(self, event_ids: set[int], within: float) -> bool:
        """Wait until every id in `event_ids` has arrived (at most `within` seconds)."""
        deadline = time.monotonic() + within
        while not event_ids <= set(self.received):
            if time.monotonic() > deadline:
                return False
            await asyncio.sleep(0.1)  # wait-ok: polling interval of a condition wait
        return True


@contextlib.asynccontextmanager
async def running(coroutine: Coroutine[Any, Any, None]) -> AsyncIterator[asyncio.Task[None]]:
    """Run a background task for the block's duration, then cancel it."""
    task = asyncio.create_task(coroutine)
    try:
        yield task
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
