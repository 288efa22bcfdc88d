"""The results table (markdown) and the full record (JSON) of a chaos run."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from chaos.config import ChaosConfig
from chaos.result import ScenarioResult

RESULTS = Path(__file__).parent / "results"

SHORT = {
    "503+Retry-After": "503+RA",
    "504+Retry-After+orderId": "504+RA+id",
    "connection error": "conn err",
}
"""Shorter words for the table."""


def _seconds(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f}"


def _short(outcome: str) -> str:
    for long, short in SHORT.items():
        outcome = outcome.replace(long, short)
    return outcome


def _outcomes(counts: dict[str, int]) -> str:
    return ", ".join(f"{_short(o)} {n}" for o, n in counts.items())


def _recovery(result: ScenarioResult) -> str:
    if len(result.recovery_seconds) > 1:
        return f"{_seconds(result.recovery_max)} (median {_seconds(result.recovery_median)})"
    return _seconds(result.recovery_max)


def _accepted(result: ScenarioResult) -> str:
    unanswered = f" (+{result.unacknowledged} stored, unanswered)" if result.unacknowledged else ""
    return f"{result.accepted}{unanswered}"


def _faults(result: ScenarioResult) -> str:
    kinds = [f["kind"] for f in result.faults]
    if not kinds:
        return "—"
    outage = [f["outage_seconds"] for f in result.faults if f["outage_seconds"] is not None]
    count = f"{len(kinds)} x " if len(kinds) > 1 else ""
    return f"{count}{kinds[0]} (out {max(outage):.1f}s)" if outage else f"{count}{kinds[0]}"


def markdown(results: Sequence[ScenarioResult], config: ChaosConfig) -> str:
    head = (
        f"Seed {config.seed}; per scenario {config.orders} orders at {config.rate:g}/s "
        f"(≤ {config.in_flight} in flight), latency x{config.latency_scale:g}, venue "
        f"failure rate {config.failure_rate:g}, 1 web + {config.workers} workers "
        f"(concurrency {config.worker_concurrency}), heartbeat {config.heartbeat_seconds}s, "
        f"reconciler every {config.reconcile_seconds:g}s."
    )
    rows = [
        "| scenario | faults | load POSTs: answers | accepted (201) "
        "| terminal (confirmed / failed) | lost | >1 terminal | seq gaps "
        "| fills 0 / 1 / >1 (wrong) | `201` w/o row "
        "| 503 yet stored | 504: stored / not | firehose missed / repeated | recover s "
        "| verdict |",
        "| --- " * 15 + "|",
    ]
    for r in results:
        fills = f"{r.fills['0']} / {r.fills['1']} / {r.fills['>1']} ({r.bad_fills})"
        rows.append(
            f"| {r.scenario} | {_faults(r)} | {_outcomes(r.load_outcomes)} | {_accepted(r)} "
            f"| {r.terminal} ({r.confirmed} / {r.failed}) | {r.lost} | {r.doubled} | {r.gaps} "
            f"| {fills} | {r.no_row} | {r.refused_stored} "
            f"| {r.in_doubt_stored} / {r.in_doubt_absent} "
            f"| {r.feed_missing} / {r.feed_repeated} | {_recovery(r)} "
            f"| {'**pass**' if r.passed else '**FAIL**'} |"
        )
    parts = [head, "", *rows]
    outage_rows = [
        f"| {r.scenario} | {endpoint} | {_outcomes(counts)} |"
        for r in results
        for per_endpoint in r.outage.values()
        for endpoint, counts in per_endpoint.items()
    ]
    if outage_rows:
        parts += [
            "",
            "Requests sent while the server was surely out (`(after)`: answered once it was back):",
            "",
            "| scenario | endpoint | answers |",
            "| --- | --- | --- |",
            *outage_rows,
        ]
    failures = [(r.scenario, v) for r in results for v in r.violations]
    if failures:
        parts += ["", "Failures:", ""] + [f"* {scenario}: {v}" for scenario, v in failures]
    return "\n".join(parts) + "\n"


def write(results: Sequence[ScenarioResult], config: ChaosConfig, out: Path = RESULTS) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    record: dict[str, Any] = {
        "config": config.public(),
        "passed": all(r.passed for r in results),
        "scenarios": [r.as_dict() for r in results],
    }
    (out / "latest.json").write_text(json.dumps(record, indent=2, default=str) + "\n")
    (out / "latest.md").write_text(markdown(results, config))
    # Every POST (n, source, sent, seconds, outcome, orderId): large, kept beside the logs.
    logs = out / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    for r in results:
        (logs / f"{r.scenario}.posts.json").write_text(json.dumps(r.posts) + "\n")
    return out / "latest.md"
