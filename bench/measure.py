"""What a benchmark run costs: CPU and peak memory per process, database and Redis work."""

from __future__ import annotations

import os
import resource
import statistics
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import redis

TICKS = os.sysconf("SC_CLK_TCK")


def _tree(pid: int) -> list[int]:
    """A process and all its descendants (uvicorn's workers, postgres' backends)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo += children.get(current, [])
    return found


def _cpu_seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime + stime


def _peak_rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


@dataclass
class ProcessMeter:
    """CPU seconds and peak RSS of named process trees between `start()` and `stop()`."""

    roots: dict[str, int]
    _cpu_before: dict[int, float] = field(default_factory=dict)
    _self_before: float = 0.0

    def start(self) -> None:
        self._cpu_before = {p: _cpu_seconds(p) for root in self.roots.values() for p in _tree(root)}
        usage = resource.getrusage(resource.RUSAGE_SELF)
        self._self_before = usage.ru_utime + usage.ru_stime

    def stop(self) -> dict[str, dict[str, float]]:
        report: dict[str, dict[str, float]] = {}
        for name, root in self.roots.items():
            pids = _tree(root)
            cpu = sum(_cpu_seconds(p) - self._cpu_before.get(p, 0.0) for p in pids)
            # Per process: peak of the largest one (postgres backends share memory).
            rss = max((_peak_rss_mb(p) for p in pids), default=0.0)
            report[name] = {"cpu_seconds": round(cpu, 2), "peak_rss_mb": round(rss, 1)}
        usage = resource.getrusage(resource.RUSAGE_SELF)
        report["load generator"] = {
            "cpu_seconds": round(usage.ru_utime + usage.ru_stime - self._self_before, 2),
            "peak_rss_mb": round(usage.ru_maxrss / 1024, 1),
        }
        return report


def redis_commands(url: str) -> int:
    client = redis.Redis.from_url(url, protocol=2)
    try:
        stats: dict[str, Any] = client.info("commandstats")
        return sum(int(entry["calls"]) for entry in stats.values())
    finally:
        client.close()


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[round(q) - 1]
