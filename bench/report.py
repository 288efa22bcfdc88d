"""Benchmark results as JSON, a markdown table and a PNG chart, in bench/results/."""

from __future__ import annotations

import json
import os
import platform
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"


def machine() -> dict[str, Any]:
    model = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory_gb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return {
        "cpu": model,
        "cores": os.cpu_count(),
        "memory_gb": round(memory_gb, 1),
        "python": platform.python_version(),
        "system": f"{platform.system()} {platform.release()}",
    }


def write(results: dict[str, Any]) -> Path:
    RESULTS.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    full = RESULTS / f"{stamp}.json"
    full.write_text(json.dumps(results, indent=2))
    slim = {
        **results,
        "runs": [{k: v for k, v in r.items() if k != "samples"} for r in results["runs"]],
    }
    (RESULTS / "latest.json").write_text(json.dumps(slim, indent=2))
    (RESULTS / "latest.md").write_text(markdown(results))
    chart(results, RESULTS / "latest.png")
    return full


def markdown(results: dict[str, Any]) -> str:
    m = results["machine"]
    lines = [
        f"Run {results['started']} on {m['cores']} cores ({m['cpu']}), {m['memory_gb']} GiB, "
        f"Python {m['python']}; servers: {results['servers']}.",
        "",
        "| scenario | web × workers (concurrency) | orders | confirmed / failed | orders/s "
        "| POST p50 / p99 ms (in flight) | push p50 / p99 ms | SQL statements / order "
        "| Redis commands / order |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for run in results["runs"]:
        if run["scenario"] == "sockets":
            continue
        lines.append(
            f"| {run['scenario']} (latency ×{run['latency_scale']:g}) "
            f"| {run['web_processes']} × {run['worker_processes']} ({run['worker_concurrency']}) "
            f"| {run['orders']} | {run['confirmed']} / {run['failed']} "
            f"| **{run['orders_per_second']}** ({run['seconds']} s) "
            f"| {run['post_ms']['p50']} / {run['post_ms']['p99']} ({run['in_flight']}) "
            f"| {run['push_ms']['p50']} / {run['push_ms']['p99']} "
            f"| {run['db_statements_per_order']} | {run['redis_commands_per_order']} |"
        )
    sockets = [r for r in results["runs"] if r["scenario"] == "sockets"]
    for run in sockets:
        web = run["processes"].get("web", {})
        lines += [
            "",
            f"WebSockets: {run['sockets']} per-order clients on one web process, "
            f"{run['open_at_once']} open at once; {run['received_terminal']} received their "
            f"terminal event ({run['errors']} errors) within {run['seconds_to_drain']} s; "
            f"web peak RSS {web.get('peak_rss_mb')} MB.",
        ]
    lines += ["", "CPU seconds (peak RSS MB) per process during each measured window:", ""]
    names = sorted({p for run in results["runs"] for p in run["processes"]})
    lines.append("| scenario | " + " | ".join(names) + " |")
    lines.append("| --- |" + " --- |" * len(names))
    for run in results["runs"]:
        cells = []
        for name in names:
            proc = run["processes"].get(name)
            cells.append(f"{proc['cpu_seconds']} ({proc['peak_rss_mb']})" if proc else "—")
        label = f"{run['scenario']}"
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def chart(results: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    runs = [r for r in results["runs"] if r["scenario"] != "sockets"]
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.5))
    labels = [
        f"{r['scenario']}\n{r['web_processes']}×{r['worker_processes']}, c{r['worker_concurrency']}"
        for r in runs
    ]
    values = [r["orders_per_second"] or 0 for r in runs]
    bars = left.bar(labels, values, color="#5b8cff")
    left.bar_label(bars, fmt="%.0f")
    left.set_ylabel("orders / s, POST accepted → terminal event received")
    left.set_title("End-to-end throughput per topology")
    left.tick_params(axis="x", labelsize=7)
    left.set_xlabel("scenario, web × worker processes, worker concurrency", fontsize=8)
    for run in runs:
        if run["latency_scale"] != 0:
            continue
        for key, style in (("post_ms", "-"), ("push_ms", "--")):
            samples = run["samples"][key]
            if samples:
                ys = [i / len(samples) for i in range(1, len(samples) + 1)]
                tag = f"{run['worker_processes']} worker(s)"
                right.plot(samples, ys, style, label=f"{key[:4]} {tag}")
    right.set_xscale("log")
    right.set_xlabel("milliseconds (log)")
    right.set_ylabel("fraction of requests / events")
    right.set_title("Latency at zero simulated delay: POST and push")
    right.grid(alpha=0.3)
    if right.lines:
        right.legend(fontsize=8)
    fig.suptitle(
        f"{results['machine']['cores']} cores · {results['started'][:16]} · servers: "
        f"{results['servers']}",
        fontsize=9,
    )
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    import sys

    # Re-draw the chart and table from a saved run: python -m bench.report <run.json>
    saved = json.loads(Path(sys.argv[1]).read_text())
    (RESULTS / "latest.md").write_text(markdown(saved))
    chart(saved, RESULTS / "latest.png")
