"""Benchmark results as JSON, a markdown table and a PNG chart, in bench/results/."""

from __future__ import annotations

import json
import os
import platform
import statistics
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


DISTURBED_CORES = 0.25
"""Other processes keeping more cores than this busy, on average, disturb a run."""

RATIO_RUNS = ("floor", "floor-1p", "zero-latency-1k", "zero-latency-2k", "hot-1k")


def ratios(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Throughput ratios between runs of the same benchmark (None when one is missing).

    The floor, the mix and the hot pool run in rounds, back to back: each round's ratios
    compare runs a minute apart, and the ratios reported are the rounds' medians (this
    host's speed drifts more than the engine's own differences between minutes, so the
    best run of each scenario, compared across rounds, would compare drift). Within a
    round, a scenario's best attempt counts (the least disturbed one). The `by_cpu`
    ratios compare the servers' CPU per order (web, workers or floor client, PostgreSQL,
    Redis) of the same runs: how much work an order costs, whatever else ran meanwhile.
    """
    sets = sorted({run.get("set", 1) for run in runs if run.get("orders_per_second")})
    per_round = [_round_ratios([r for r in runs if r.get("set", 1) == s]) for s in sets]
    first = per_round[0] if per_round else _round_ratios([])

    def median(key: str) -> float | None:
        values = [float(r[key]) for r in per_round if r[key] is not None]
        return round(statistics.median(values), 2) if values else None

    return {
        "engine_over_floor": median("engine_over_floor"),
        "hot_over_mixed": median("hot_over_mixed"),
        "engine_over_floor_by_cpu": median("engine_over_floor_by_cpu"),
        "hot_over_mixed_by_cpu": median("hot_over_mixed_by_cpu"),
        # Run in the first round only.
        "engine_2k_over_floor": first["engine_2k_over_floor"],
        "floor_1p_over_floor": first["floor_1p_over_floor"],
        "per_round": per_round,
    }


def _round_ratios(runs: list[dict[str, Any]]) -> dict[str, Any]:
    best: dict[str, dict[str, Any]] = {}
    for run in runs:
        rate = run.get("orders_per_second")
        if rate is None:
            continue
        if run["scenario"] not in best or rate > best[run["scenario"]]["orders_per_second"]:
            best[run["scenario"]] = run

    def ratio(top: str, bottom: str) -> float | None:
        if top not in best or bottom not in best:
            return None
        top_rate: float = best[top]["orders_per_second"]
        return round(top_rate / float(best[bottom]["orders_per_second"]), 2)

    def cpu(name: str) -> float | None:
        run = best.get(name)
        if run is None or "cpu_ms_per_order" not in run:
            return None
        return float(run["cpu_ms_per_order"]["servers"])

    def by_cpu(top: str, bottom: str) -> float | None:
        a, b = cpu(top), cpu(bottom)
        return round(b / a, 2) if a and b else None

    return {
        "engine_over_floor": ratio("zero-latency-1k", "floor"),
        "engine_2k_over_floor": ratio("zero-latency-2k", "floor"),
        "hot_over_mixed": ratio("hot-1k", "zero-latency-1k"),
        "floor_1p_over_floor": ratio("floor-1p", "floor"),
        "engine_over_floor_by_cpu": by_cpu("zero-latency-1k", "floor"),
        "hot_over_mixed_by_cpu": by_cpu("hot-1k", "zero-latency-1k"),
        "orders_per_second": {
            k: best[k]["orders_per_second"] if k in best else None for k in RATIO_RUNS
        },
        "server_cpu_ms_per_order": {k: cpu(k) for k in RATIO_RUNS},
    }


def _topology(run: dict[str, Any]) -> str:
    if "floor_processes" in run:
        shape = "placer + executor" if run["floor_processes"] == 2 else "one process"
        return f"bare client: {shape} ({run['worker_concurrency']})"
    return f"{run['web_processes']} × {run['worker_processes']} ({run['worker_concurrency']})"


def _name(run: dict[str, Any]) -> str:
    """The scenario, its round when there were several, and which attempt when it ran
    more than once in its round."""
    name: str = run["scenario"]
    if run.get("set", 1) > 1:
        name += f" (round {run['set']})"
    return name + (f" #{run['round']}" if run.get("round", 1) > 1 else "")


def _throughput_runs(results: dict[str, Any]) -> list[dict[str, Any]]:
    return [r for r in results["runs"] if "orders_per_second" in r]


def markdown(results: dict[str, Any]) -> str:
    m = results["machine"]
    lines = [
        f"Run {results['started']} on {m['cores']} cores ({m['cpu']}), {m['memory_gb']} GiB, "
        f"Python {m['python']}; servers: {results['servers']}.",
        "",
    ]
    r = results.get("ratios") or ratios(results["runs"])
    rounds = r["per_round"]

    def each(key: str, scenario: str | None = None) -> str:
        """Every round's value, in order: `a, b, c`."""
        if scenario is None:
            return ", ".join(str(x[key]) for x in rounds)
        return ", ".join(str(x[key][scenario]) for x in rounds)

    of = f"median of {len(rounds)} rounds" if len(rounds) > 1 else "one round"
    if r["engine_over_floor"] is not None:
        lines.append(
            f"* **engine ÷ floor = {r['engine_over_floor']}** ({of}: "
            f"{each('engine_over_floor')}): the mix at zero latency, 1 web + 1 worker, "
            f"{each('orders_per_second', 'zero-latency-1k')} orders/s ÷ the floor (the same "
            f"SQL statements and Redis round trips from a bare asyncio client) "
            f"{each('orders_per_second', 'floor')} orders/s"
            + (
                f"; with 2 workers {r['engine_2k_over_floor']} (round 1)"
                if r["engine_2k_over_floor"] is not None
                else ""
            )
        )
        lines.append(
            f"* by CPU: **{r['engine_over_floor_by_cpu']}** ({each('engine_over_floor_by_cpu')})"
            f": the servers spend {each('server_cpu_ms_per_order', 'zero-latency-1k')} ms of "
            f"CPU per order for the engine, {each('server_cpu_ms_per_order', 'floor')} ms for "
            "the floor"
        )
    if r["hot_over_mixed"] is not None:
        lines.append(
            f"* **hot ÷ mixed = {r['hot_over_mixed']}** ({of}: {each('hot_over_mixed')}): "
            f"every order SOL→USDC, {each('orders_per_second', 'hot-1k')} orders/s ÷ the mix; "
            f"by CPU per order {r['hot_over_mixed_by_cpu']} ({each('hot_over_mixed_by_cpu')})"
        )
    if r["floor_1p_over_floor"] is not None:
        lines.append(
            f"* the floor from one process instead of two: "
            f"{rounds[0]['orders_per_second']['floor-1p']} orders/s "
            f"({r['floor_1p_over_floor']}×, round 1)"
        )
    if _throughput_runs(results):
        lines += [
            "",
            "| scenario | web × workers (concurrency) | orders | confirmed / failed | orders/s "
            "| POST p50 / p99 ms (in flight) | push p50 / p99 ms | SQL statements / order "
            "| Redis commands / order |",
            "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
        ]
    for run in _throughput_runs(results):
        post = run.get("post_ms") or run.get("place_ms") or {}
        push = run.get("push_ms")
        push_text = f"{push['p50']} / {push['p99']}" if push else "—"
        label = _name(run)
        if not run.get("watched", True):
            label += ", no firehose"
        machine = run.get("machine") or {}
        if machine.get("wall_seconds"):
            others = machine["other_seconds"] / machine["wall_seconds"]
            if others > DISTURBED_CORES:
                label += f", disturbed: others used {others:.2f} cores"
        lines.append(
            f"| {label} (latency ×{run['latency_scale']:g}) "
            f"| {_topology(run)} "
            f"| {run['orders']} | {run['confirmed']} / {run['failed']} "
            f"| **{run['orders_per_second']}** ({run['seconds']} s) "
            f"| {post.get('p50')} / {post.get('p99')} ({run['in_flight']}) "
            f"| {push_text} "
            f"| {run['db_statements_per_order']} | {run['redis_commands_per_order']} |"
        )
    if any(run.get("bounds") for run in results["runs"]):
        lines += [
            "",
            "Checks after each run: fills against the first-quote bound (every order's events, "
            "from PostgreSQL), the firehose against the stored events, and every process's log.",
            "",
            "| scenario | bound violations (confirmed checked) | min fill margin over bound bps "
            "| firehose: orders with every event / terminal seen / reconnects | log: pool errors "
            "· job errors · lost publishes · upkeep · re-queued · swept · ERROR lines |",
            "| --- | --- | --- | --- | --- |",
        ]
    for run in results["runs"]:
        bounds = run.get("bounds")
        if not bounds:
            continue
        hose = run.get("firehose") if run.get("watched", True) else None
        hose_text = (
            f"{hose['orders_complete']}/{hose['orders']} · {hose['terminal_seen']}/"
            f"{hose['terminal_stored']} · {hose['reconnects']}"
            if hose
            else "—"
        )
        log_text = _log_counts(run)
        lines.append(
            f"| {_name(run)} | {bounds['violations']} ({bounds['confirmed_checked']}) "
            f"| {bounds['min_margin_bps']} | {hose_text} | {log_text} |"
        )
    for run in results["runs"]:
        trouble = {k: v for k, v in (run.get("bounds") or {}).get("problems", {}).items() if v}
        excerpts = (run.get("logs") or {}).get("excerpts", {})
        if trouble or excerpts:
            lines += ["", f"{_name(run)}:"]
            examples = (run.get("bounds") or {}).get("examples", [])
            lines += [f"* bound/event problem: {e}" for e in examples]
            lines += [
                f"* log ({kind}): `{line[:300]}`"
                for kind, shown in excerpts.items()
                for line in shown[:2]
            ]
    censuses = [r for r in results["runs"] if r["scenario"].startswith("census")]
    if censuses:
        lines += [
            "",
            "Redis round trips per order (MONITOR; a MULTI…EXEC block or a pipeline counts "
            "once; idle background subtracted):",
            "",
            "| census | round trips / order | commands inside scripts / order | by command |",
            "| --- | --- | --- | --- |",
        ]
        for run in censuses:
            parts = ", ".join(f"{k} {v:g}" for k, v in run["by_command"].items())
            lines.append(
                f"| {run['scenario']} | **{run['round_trips_per_order']}** "
                f"| {run['script_commands_per_order']} | {parts} |"
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
    for run in results["runs"]:
        if run["scenario"] == "limits":
            lines += ["", *limits_section(run)] if lines[-1] else limits_section(run)
        if run["scenario"] == "snipers":
            lines += ["", *snipers_section(run)] if lines[-1] else snipers_section(run)
    metered = [run for run in results["runs"] if "processes" in run]
    if not metered:
        return "\n".join(lines) + "\n"
    lines += ["", "CPU seconds (peak RSS MB) per process during each measured window:", ""]
    names = sorted({p for run in metered for p in run["processes"]})
    lines.append("| scenario | " + " | ".join(names) + " | not ours | machine busy |")
    lines.append("| --- |" + " --- |" * (len(names) + 2))
    for run in metered:
        cells = []
        for name in names:
            proc = run["processes"].get(name)
            cells.append(f"{proc['cpu_seconds']} ({proc['peak_rss_mb']})" if proc else "—")
        machine = run.get("machine") or {}
        cells.append(str(machine.get("other_seconds", "—")))
        busy = machine.get("busy_fraction")
        cells.append(f"{busy:.0%} of {machine.get('wall_seconds')} s" if busy is not None else "—")
        label = _name(run)
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def snipers_section(run: dict[str, Any]) -> list[str]:
    spread = run["open_event_to_routing_ms"]
    verdict = "met" if run["met"] else "missed"
    return [
        f"Snipers: {run['waiting_elsewhere']} snipers waiting on tokens that never launch; "
        f"{run['launches']} launches, each with one sniper waiting for it. From the pool's "
        f"`open` event to the sniper's `routing` event: p50 {spread['p50']} ms, p99 "
        f"{spread['p99']} ms, max {spread['max']} ms over {run['measured']} launches "
        f"(target p99 ≤ {run['target_p99_ms']:g} ms: {verdict}); from the open time itself "
        f"(`opensAt`): p50 {run['open_time_to_routing_ms']['p50']} ms, p99 "
        f"{run['open_time_to_routing_ms']['p99']} ms. Targets: "
        f"{_counts(run['outcomes'])}; the others: {_counts(run['haystack_statuses'])}.",
    ]


def _counts(counts: dict[str, int]) -> str:
    return ", ".join(f"{n} {status}" for status, n in sorted(counts.items())) or "none"


LOG_KINDS = (
    "pool exhausted",
    "error processing job",
    "could not publish",
    "upkeep failed",
    "re-queued",
    "swept",
    "error level",
)


def _log_counts(run: dict[str, Any]) -> str:
    counts = run.get("logs", {}).get("counts", {})
    return " · ".join(str(counts.get(k, "—")) for k in LOG_KINDS)


def _ms(spread: dict[str, Any], *keys: str) -> str:
    return " / ".join("—" if spread.get(k) is None else f"{spread[k]:g}" for k in keys)


def _tick(ticks: dict[str, Any]) -> str:
    """CPU per tick from the histogram: the exact mean, and p50/p99 as far as buckets tell."""
    if not ticks.get("ticks"):
        return "no ticks recorded"
    p50, p99 = ticks.get("p50_bucket_ms"), ticks.get("p99_bucket_ms")
    where = f"; buckets {p50[0]:g}-{p50[1]:g} / {p99[0]:g}-{p99[1]:g} ms" if p50 and p99 else ""
    return (
        f"mean **{ticks['mean_ms']} ms**; p50 ≈ {ticks['p50_ms']} / p99 ≈ {ticks['p99_ms']} ms "
        f"(interpolated{where}; {ticks['ticks']} ticks)"
    )


def limits_section(run: dict[str, Any]) -> list[str]:
    """The limits scenario: the index rebuilt, the idle trigger, a move that crosses some."""
    rebuild, rss, others = run["rebuild"], run["worker_rss_mb"], run["others"]
    idle, baseline, worker = run["idle_tick"], run["idle_baseline"], run["idle_worker"]
    shape = run["pattern_shape"]
    shape_text = (
        f"identical to the {shape['orders']} placed through the API"
        if not shape["differences"]
        else f"DIFFER from those placed through the API: {'; '.join(shape['differences'][:3])}"
    )
    fired_early = run["orders"] - run["before_move"].get("waiting", 0)
    routing, confirmed = run["move_to_routing_ms"], run["move_to_confirmed_ms"]
    p99 = routing.get("p99")
    peak = rss.get("peak") or 0.0
    problems = ", ".join(f"{k} {v}" for k, v in run["problems"].items()) or "none"
    moved, lead = run["moved"], rebuild["worker_start_to_lead_seconds"]
    return [
        f"Limit orders: {run['orders']:,} waiting on {len(run['markets'])} markets (6 pairs, "
        f"both sides), {run['crossing']:,} of them 1-2 % from their limit on "
        f"{moved['market']}, the others 3-30 % (5-30 % on that side); written to PostgreSQL "
        f"in {run['write_seconds']} s, rows {shape_text}. 1 web + 1 worker "
        f"(WORKER_CONCURRENCY {run['worker_concurrency']}, latency ×{run['latency_scale']:g}, "
        f"failures {run['failure_rate']:g}); the move: {moved['bps']:+d} bps (asked"
        f" {moved.get('asked_bps', moved['bps']):+d}; just before it the crossing orders were"
        f" {moved.get('before', {}).get('crossing_nearest_bps')}-"
        f"{moved.get('before', {}).get('crossing_farthest_bps')} bps from their limits, the"
        f" nearest other on that side {moved.get('before', {}).get('others_nearest_bps')}).",
        "",
        "| limits | result | target |",
        "| --- | --- | --- |",
        f"| index rebuilt by the new leader (its log line → {run['orders']:,} in Redis) "
        f"| **{rebuild['seconds']} s** (worker start → lead {lead} s; Redis "
        f"+{rebuild['redis_used_memory_mb']} MB) | — |",
        f"| trigger CPU per tick, nothing crossing, {idle['waiting']:,} waiting "
        f"(`oee_trigger_tick_cpu_seconds`) | {_tick(idle)} | — |",
        f"| the same with {baseline['waiting']} waiting | {_tick(baseline)} | — |",
        f"| the idle worker's whole CPU (every loop, the queue's polling) ÷ ticks "
        f"| {worker['cpu_ms_per_tick']} ms, {worker['cpu_share_of_a_core']:.1%} of a core | — |",
        f"| worker RSS | after the rebuild {rss['after_rebuild']} MB, idle {rss['idle']}, "
        f"after the move {rss['after_move']}, **peak {peak}** "
        f"| ≤ 300 MB: {'met' if peak and peak <= 300 else 'missed'} |",
        f"| move → routing event, ms (p50 / p90 / p99 / max) | **{_ms(routing, 'p50', 'p90')} / "
        f"{_ms(routing, 'p99', 'max')}** ({run['routed']} routed) "
        f"| p99 ≤ 1 s: {'met' if p99 is not None and p99 <= 1000 else 'missed'} |",
        f"| move → confirmed, ms (p50 / p90 / p99 / max) "
        f"| {_ms(confirmed, 'p50', 'p90', 'p99', 'max')} | — |",
        f"| crossed orders confirmed | **{run['confirmed']:,} / {run['crossing']:,}** "
        f"(outcomes {run['outcomes']}; waited again {run['waited_again']}; "
        f"fired before the move {fired_early}; problems: {problems}) | all |",
        f"| others untouched | **{others['still_waiting']:,} / {others['orders']:,}** still "
        f"waiting{', moved: ' + str(others['moved']) if others['moved'] else ''}; index after: "
        f"{run['index_after']:,} | all |",
        f"| log: pool errors · job errors · lost publishes · upkeep · re-queued · swept · "
        f"ERROR lines | {_log_counts(run)} | 0 |",
    ]


def chart(results: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    best: dict[str, dict[str, Any]] = {}
    # One bar per scenario: its best run of every round and attempt. Bars of different
    # rounds ran minutes apart: the ratios in latest.md pair runs within a round instead.
    for run in _throughput_runs(results):
        kept = best.get(run["scenario"])
        if kept is None or (run["orders_per_second"] or 0) > (kept["orders_per_second"] or 0):
            best[run["scenario"]] = run
    runs = list(best.values())
    fig, (left, right) = plt.subplots(1, 2, figsize=(14, 5.4))
    labels = [
        f"{r['scenario']}\n"
        + (
            f"bare ×{r['floor_processes']}"
            if "floor_processes" in r
            else f"{r['web_processes']}×{r['worker_processes']}"
        )
        + f", c{r['worker_concurrency']}"
        for r in runs
    ]
    values = [r["orders_per_second"] or 0 for r in runs]
    colors = ["#9aa5b1" if "floor_processes" in r else "#5b8cff" for r in runs]
    bars = left.bar(labels, values, color=colors)
    left.bar_label(bars, fmt="%.0f")
    left.set_ylabel("orders / s, POST accepted → terminal event received")
    left.set_title("End-to-end throughput per topology (best run of each)")
    left.tick_params(axis="x", labelsize=7, labelrotation=30)
    for tick in left.get_xticklabels():
        tick.set_horizontalalignment("right")
    left.set_xlabel("scenario, web × worker processes, worker concurrency", fontsize=8)
    for run in runs:
        if run["latency_scale"] != 0 or "floor_processes" in run:
            continue
        for key, style in (("post_ms", "-"), ("push_ms", "--")):
            samples = run.get("samples", {}).get(key)
            if samples:
                ys = [i / len(samples) for i in range(1, len(samples) + 1)]
                right.plot(samples, ys, style, label=f"{key[:4]} {run['scenario']}")
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
