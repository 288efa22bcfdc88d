"""What a benchmark run costs: CPU and peak memory per process, database and Redis work."""

from __future__ import annotations

import asyncio
import os
import resource
import statistics
import time
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


def rss_mb(pid: int) -> float:
    """A process's resident memory now (VmRSS), in MB; 0 if it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return 0.0


def _machine_seconds() -> tuple[float, float]:
    """(busy, stolen) CPU seconds of the whole machine since boot, all cores (/proc/stat)."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = fields
    return (user + nice + system + irq + softirq) / TICKS, steal / TICKS


@dataclass
class ProcessMeter:
    """CPU seconds and peak RSS of named process trees between `start()` and `stop()`.

    Also the whole machine's busy CPU over the same window, so that CPU taken by anything
    else on the machine (another test run, say) shows up next to ours (`machine`).
    """

    roots: dict[str, int]
    machine: dict[str, float] = field(default_factory=dict)
    """After `stop()`: busy core-seconds of the machine, those not ours, stolen ones."""
    _cpu_before: dict[int, float] = field(default_factory=dict)
    _self_before: float = 0.0
    _machine_before: tuple[float, float] = (0.0, 0.0)
    _started: float = 0.0

    def start(self) -> None:
        self._cpu_before = {p: _cpu_seconds(p) for root in self.roots.values() for p in _tree(root)}
        usage = resource.getrusage(resource.RUSAGE_SELF)
        self._self_before = usage.ru_utime + usage.ru_stime
        self._machine_before = _machine_seconds()
        self._started = time.monotonic()

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
        busy, steal = _machine_seconds()
        busy -= self._machine_before[0]
        ours = sum(entry["cpu_seconds"] for entry in report.values())
        wall = time.monotonic() - self._started
        self.machine = {
            "wall_seconds": round(wall, 2),
            "busy_seconds": round(busy, 2),
            "other_seconds": round(max(0.0, busy - ours), 2),
            "steal_seconds": round(steal - self._machine_before[1], 2),
            "busy_fraction": round(busy / (wall * (os.cpu_count() or 1)), 2) if wall else 0.0,
        }
        return report


async def quiet_machine(
    idle_cores: float = 0.25, patience: float = 90.0, sample: float = 1.0
) -> float:
    """Wait until the machine has been nearly idle for `sample` seconds (at most
    `patience` seconds); returns the seconds waited. Called between runs, when none of
    our processes is working: what keeps the machine busy then is someone else's."""
    waited = 0.0
    while waited < patience:
        before = _machine_seconds()[0]
        await asyncio.sleep(sample)  # wait-ok: the window the machine's idleness is sampled over
        waited += sample
        if _machine_seconds()[0] - before < idle_cores * sample:
            break
    return round(waited, 1)


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
