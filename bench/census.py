"""Redis round trips per order, counted from the server's MONITOR stream.

`INFO commandstats` counts every command, those our Lua scripts run included; it cannot
say how many times a client waited on the network. MONITOR shows each command with its
client (`lua` for a script's own calls), so here a round trip is a top-level command, a
MULTI…EXEC block counts once, a command the same client's previous one ran within 30 µs
of is taken as pipelined with it (no round trip fits in that), and script calls are
labelled by the script they run.
MONITOR slows Redis down: a census is its own short run, never a throughput window.
Commands seen while idle (timers, sweeps, metrics flushes) are measured first and their
rate is subtracted.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
from collections import Counter
from pathlib import Path
from typing import Any

from redis.asyncio import Redis

from bench.floor import LUA, SETTLE, constants

ROOT = Path(__file__).resolve().parent.parent
PIPELINE_GAP_SECONDS = 30e-6


def _script_names() -> dict[bytes, str]:
    names = {
        "_READ_POOL": "venue read_pool",
        "_TAKE_FAULT": "venue take_fault (build)",
        "_RECORD": "venue record (submit)",
        "_READ_TX": "venue read_tx (status)",
        "_READ_KEYS": "venue read_keys (land)",
        "_SETTLE_BATCH": "venue settle_batch (land)",
    }
    texts = {**LUA, **constants(ROOT / "app/venues/book.py", "_READ_KEYS", "_SETTLE_BATCH")}
    found = {
        hashlib.sha1(texts[k].encode()).hexdigest().encode(): v
        for k, v in names.items()
        if k in texts
    }
    found[hashlib.sha1(SETTLE.encode()).hexdigest().encode()] = "floor settle (land)"
    return found


class Census:
    def __init__(self, redis_url: str) -> None:
        self.redis_url = redis_url
        self.names = _script_names()
        self.background: Counter[str] = Counter()
        self.background_seconds = 0.0
        self._counts: Counter[str] = Counter()
        self._in_scripts = 0
        self._pipelined = 0
        self._task: asyncio.Task[None] | None = None
        self._client: Redis | None = None

    async def idle(self, seconds: float) -> None:
        """Measure what Redis sees with no orders moving, to subtract it later."""
        await self.start()
        await asyncio.sleep(seconds)  # wait-ok: a window of idle traffic, measured
        self.background = Counter(self._counts)
        self.background_seconds = seconds
        await self._halt()

    async def start(self) -> None:
        self._counts = Counter()
        self._in_scripts = 0
        self._pipelined = 0
        self._client = Redis.from_url(self.redis_url)
        monitor = self._client.monitor()
        await monitor.__aenter__()  # type: ignore[no-untyped-call]
        self._task = asyncio.create_task(self._read(monitor))

    async def _halt(self) -> None:
        await asyncio.sleep(0.3)  # wait-ok: what was sent before stopping is read
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        if self._client is not None:
            await self._client.aclose()

    async def stop(self, orders: int, seconds: float) -> dict[str, Any]:
        """Per order: round trips by label, commands run inside scripts, background."""
        await self._halt()
        scale = seconds / self.background_seconds if self.background_seconds else 0.0
        per_order: dict[str, float] = {}
        for label, count in self._counts.items():
            net = count - self.background.get(label, 0) * scale
            if net / orders >= 0.005:
                per_order[label] = round(net / orders, 2)
        background = {
            label: round(count / self.background_seconds, 1)
            for label, count in self.background.items()
            if self.background_seconds
        }
        return {
            "orders": orders,
            "seconds": round(seconds, 2),
            "round_trips_per_order": round(sum(per_order.values()), 2),
            "by_command": dict(sorted(per_order.items(), key=lambda kv: -kv[1])),
            "script_commands_per_order": round(self._in_scripts / orders, 1),
            "pipelined_commands_per_order": round(self._pipelined / orders, 2),
            "background_per_second": background,
        }

    async def _read(self, monitor: Any) -> None:
        in_multi: dict[bytes, list[str]] = {}
        previous: tuple[bytes, float] = (b"", 0.0)
        while True:
            line = await monitor.connection.read_response()
            if isinstance(line, str):
                line = line.encode()
            try:
                stamp, rest = line.split(b" [", 1)
                client, command = rest.split(b"] ", 1)
                name = command.split(b'"', 2)[1].lower()
                at = float(stamp)
            except (ValueError, IndexError):
                continue
            if client.endswith(b" lua"):
                self._in_scripts += 1
                continue
            # A pipeline: the same client's next command, run straight after the last one
            # (no reply could have travelled to the client and a new command back).
            pipelined = previous[0] == client and at - previous[1] < PIPELINE_GAP_SECONDS
            previous = (client, at)
            if pipelined and client not in in_multi:
                self._pipelined += 1
                continue
            if name == b"multi":
                in_multi[client] = []
                continue
            if client in in_multi:
                if name in (b"exec", b"discard"):
                    inside = in_multi.pop(client)
                    self._counts["MULTI " + " ".join(sorted(set(inside))) + " EXEC"] += 1
                else:
                    in_multi[client].append(name.decode().upper())
                continue
            self._counts[self._label(name, command)] += 1

    def _label(self, name: bytes, command: bytes) -> str:
        if name in (b"evalsha", b"eval"):
            parts = command.split(b'"')
            sha = parts[3] if len(parts) > 3 else b""
            known = self.names.get(sha)
            if known:
                return known
            first_key = parts[7] if len(parts) > 7 else b""
            return f"script on …:{first_key.rsplit(b':', 1)[-1].decode(errors='replace')}"
        return name.decode().upper()
