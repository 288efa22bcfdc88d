"""What clients see while a server is out, and how soon service comes back.

Outage probes: while PostgreSQL or Redis is down or frozen, each of POST
/api/orders/execute, GET /api/quote, GET /api/orders/{id}, GET /healthz and the two
sockets (the firehose and one order's), again half a second after each answer. Recovery
probe: after a fault ended, wait for /healthz 200, then place orders until one confirms
(so that some order is placed after every fault, even once the load is over).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import aiohttp

from chaos.load import Poster

HTTP_TIMEOUT = aiohttp.ClientTimeout(total=12)
"""Longer than the engine's own 5 s database and Redis timeouts, so they answer first."""
WS_LISTEN_SECONDS = 1.5
ROUND_PAUSE_SECONDS = 0.5


@dataclass(frozen=True)
class Probe:
    endpoint: str
    sent: float
    answered: float
    outcome: str
    """`200`, `503+Retry-After`, `timeout`, `served`, `close 1011`, `refused 503` …"""

    def inside(self, start: float, end: float) -> bool:
        return start <= self.sent and self.answered <= end


async def http_outcome(
    session: aiohttp.ClientSession, method: str, url: str
) -> tuple[str, int | None]:
    """(outcome, status) of one request."""
    try:
        async with session.request(method, url, timeout=HTTP_TIMEOUT) as response:
            await response.read()
            if response.status == 503 and "Retry-After" in response.headers:
                return "503+Retry-After", response.status
            return str(response.status), response.status
    except TimeoutError:
        return "timeout", None
    except aiohttp.ClientError:
        return "connection error", None


async def ws_outcome(session: aiohttp.ClientSession, url: str) -> str:
    """How a socket goes: `served` (an event came), `open` (nothing yet, still open),
    `close <code>`, `refused <status>`, `timeout` or `connection error`."""
    try:
        async with session.ws_connect(url, timeout=aiohttp.ClientWSTimeout(ws_close=2)) as ws:
            try:
                message = await ws.receive(timeout=WS_LISTEN_SECONDS)
            except TimeoutError:
                return "open"
            if message.type is aiohttp.WSMsgType.TEXT:
                return "served"
            return f"close {ws.close_code}"
    except aiohttp.WSServerHandshakeError as refused:
        return f"refused {refused.status}"
    except TimeoutError:
        return "timeout"
    except aiohttp.ClientError:
        return "connection error"


class OutageProber:
    """Each endpoint probed in a loop of its own (one held request holds up no other)
    until `stop()`; requests under way finish first."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        poster: Poster,
        base_url: str,
        known_order: Callable[[], str | None],
    ) -> None:
        self.session = session
        self.poster = poster
        self.base = base_url
        self.ws_base = base_url.replace("http", "ws", 1)
        self.known_order = known_order
        self.probes: list[Probe] = []
        self._stopping = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    def start(self) -> None:
        order = self.known_order() or "00000000-0000-0000-0000-000000000000"
        checks: dict[str, Callable[[], Awaitable[str]]] = {
            "POST /api/orders/execute": self._post,
            "GET /api/quote": lambda: self._http("/api/quote?tokenIn=SOL&tokenOut=USDC&amount=1"),
            "GET /api/orders/{id}": lambda: self._http(f"/api/orders/{order}"),
            "GET /healthz": lambda: self._http("/healthz"),
            "WS /api/orders/ws": lambda: ws_outcome(self.session, f"{self.ws_base}/api/orders/ws"),
            "WS /api/orders/{id}/ws": lambda: ws_outcome(
                self.session, f"{self.ws_base}/api/orders/{order}/ws"
            ),
        }
        self._tasks = [asyncio.create_task(self._loop(e, check)) for e, check in checks.items()]

    async def stop(self) -> None:
        self._stopping.set()
        await asyncio.gather(*self._tasks)

    async def _loop(self, endpoint: str, check: Callable[[], Awaitable[str]]) -> None:
        while not self._stopping.is_set():
            sent = time.time()
            outcome = await check()
            self.probes.append(Probe(endpoint, sent, time.time(), outcome))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), ROUND_PAUSE_SECONDS)

    async def _post(self) -> str:
        return (await self.poster.post("outage probe")).outcome

    async def _http(self, path: str) -> str:
        outcome, _ = await http_outcome(self.session, "GET", self.base + path)
        return outcome


async def order_status(session: aiohttp.ClientSession, base_url: str, order_id: str) -> str | None:
    try:
        async with session.get(f"{base_url}/api/orders/{order_id}", timeout=HTTP_TIMEOUT) as r:
            if r.status != 200:
                return None
            return str(json.loads(await r.text())["order"]["status"])
    except (TimeoutError, aiohttp.ClientError):
        return None


async def recovery_seconds(
    session: aiohttp.ClientSession,
    poster: Poster,
    base_url: str,
    since: float,
    within: float,
) -> float | None:
    """Seconds from `since` (the fault's end) until /healthz answered 200 and then an
    order placed after it confirmed; None if that did not happen `within` seconds."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        outcome, _ = await http_outcome(session, "GET", f"{base_url}/healthz")
        if outcome != "200":
            await asyncio.sleep(0.1)  # wait-ok: polling interval of a condition wait
            continue
        post = await poster.post("recovery probe")
        if post.order_id is None:
            await asyncio.sleep(0.1)  # wait-ok: polling interval of a condition wait
            continue
        while time.monotonic() < deadline:
            status = await order_status(session, base_url, post.order_id)
            if status == "confirmed":
                return time.time() - since
            if status == "failed":  # a simulated venue failure: try another order
                break
            await asyncio.sleep(0.05)  # wait-ok: polling interval of a condition wait
    return None
