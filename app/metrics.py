"""Cluster-wide metrics in Prometheus' text format, without a metrics server per process.

Each process counts in memory and adds its increments to one Redis hash about once a
second (one pipelined round trip, however many orders). Any web process serves the
totals at `/metrics`, together with gauges read at scrape time.
"""

from __future__ import annotations

import functools
import logging
import math
from collections import defaultdict
from collections.abc import Iterable

from redis.asyncio import Redis
from redis.exceptions import RedisError

log = logging.getLogger(__name__)

BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, math.inf)

HELP = {
    "oee_orders_placed_total": ("counter", "Orders accepted by the API or the form."),
    "oee_orders_rejected_total": ("counter", "Order submissions refused, by reason."),
    "oee_orders_finished_total": ("counter", "Orders that reached a terminal status."),
    "oee_retries_total": ("counter", "Attempts that failed transiently and were retried."),
    "oee_stage_seconds": ("histogram", "Time an order spent in each lifecycle stage."),
    "oee_order_seconds": ("histogram", "Time from placing an order to its terminal status."),
    "oee_venue_quote_seconds": ("histogram", "Latency of venue quotes, by venue."),
    "oee_db_statements_total": ("counter", "SQL statements sent (one round trip each)."),
    "oee_orders_active": ("gauge", "Orders not yet terminal, by status."),
    "oee_queue_depth": ("gauge", "Execution jobs waiting in the queue."),
    "oee_websocket_connections": ("gauge", "Open WebSocket subscriptions, all web processes."),
}


def _labels(labels: dict[str, str]) -> str:
    return _label_text(tuple(sorted(labels.items()))) if labels else ""


@functools.lru_cache(maxsize=1024)
def _label_text(items: tuple[tuple[str, str], ...]) -> str:
    return "{" + ",".join(f'{k}="{_escape(v)}"' for k, v in items) + "}"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


class Metrics:
    def __init__(self) -> None:
        self._pending: dict[str, float] = defaultdict(float)

    def count(self, name: str, value: float = 1.0, **labels: str) -> None:
        self._pending[name + _labels(labels)] += value

    def observe(self, name: str, seconds: float, **labels: str) -> None:
        for bound in BUCKETS:
            if seconds <= bound:
                le = "+Inf" if bound == math.inf else repr(bound)
                self._pending[f"{name}_bucket{_labels({**labels, 'le': le})}"] += 1
        self._pending[f"{name}_sum{_labels(labels)}"] += seconds
        self._pending[f"{name}_count{_labels(labels)}"] += 1

    async def flush(self, redis: Redis, key: str) -> None:
        if not self._pending:
            return
        pending, self._pending = self._pending, defaultdict(float)
        try:
            async with redis.pipeline(transaction=False) as pipe:
                for field, value in pending.items():
                    pipe.hincrbyfloat(key, field, value)
                await pipe.execute()
        except (RedisError, OSError):
            # Keep the increments for the next flush rather than lose them.
            for field, value in pending.items():
                self._pending[field] += value
            raise


METRICS = Metrics()
"""This process's counters: one registry per process, like prometheus_client's default."""


def render(stored: dict[str, str], gauges: Iterable[tuple[str, dict[str, str], float]]) -> str:
    """Prometheus text exposition of the stored counters plus gauges read just now."""
    samples: dict[str, list[str]] = defaultdict(list)
    for field, raw in sorted(stored.items()):
        samples[_family(field)].append(f"{field} {_number(float(raw))}")
    for name, labels, reading in gauges:
        samples[name].append(f"{name}{_labels(labels)} {_number(reading)}")
    lines: list[str] = []
    for name in sorted(samples):
        kind, text = HELP.get(name, ("untyped", name))
        lines += [f"# HELP {name} {text}", f"# TYPE {name} {kind}", *samples[name]]
    return "\n".join(lines) + "\n"


def _family(field: str) -> str:
    name = field.split("{", 1)[0]
    for suffix in ("_bucket", "_sum", "_count"):
        if name.endswith(suffix) and HELP.get(name[: -len(suffix)], ("",))[0] == "histogram":
            return name[: -len(suffix)]
    return name


def _number(value: float) -> str:
    return str(int(value)) if value.is_integer() else repr(value)
