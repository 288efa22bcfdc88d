"""`make chaos`, short: each fault scenario on real processes and servers, under load.

The same harness as `make chaos` (chaos/), with the `QUICK` numbers: 150 orders per
scenario, 3 worker kills, 1 web kill, Redis and PostgreSQL restarted, PostgreSQL frozen
for 8 s. Each scenario starts an engine of its own (embedded servers in a temporary
directory, whatever DATABASE_URL / REDIS_URL say) and must lose nothing, double nothing,
leave no seq gap, store a row for every 201, answer 503 + Retry-After while PostgreSQL is
out, and recover by itself.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from chaos.checks import Findings, check_orders
from chaos.config import QUICK
from chaos.load import Post, key_of, order_body
from chaos.result import ScenarioResult
from chaos.scenarios import SCENARIOS, run_scenario
from chaos.store import Stored, StoredEvent, StoredOrder


def explain(result: ScenarioResult, logs: Path) -> str:
    summary = {
        "load answers": result.load_outcomes,
        "accepted": result.accepted,
        "confirmed / failed": [result.confirmed, result.failed],
        "faults": [f["detail"] for f in result.faults],
        "while out": result.outage,
        "evidence": {k: {**v, "log": v["log"][-8:]} for k, v in list(result.evidence.items())[:3]},
    }  # fmt: skip
    return (
        f"{result.scenario} (seed {result.seed}):\n  "
        + "\n  ".join(result.violations)
        + f"\n{json.dumps(summary, indent=1, default=str)[:8000]}\nlogs: {logs}"
    )


@pytest.mark.slow
@pytest.mark.parametrize("scenario", SCENARIOS)
def test_a_fault_under_load_loses_doubles_and_misreports_nothing(
    scenario: str, tmp_path: Path
) -> None:
    result = run_scenario(scenario, QUICK, tmp_path)

    assert result.posted == QUICK.orders
    assert result.accepted > 0
    assert result.passed, explain(result, tmp_path / f"{scenario}.log")


def test_the_checks_catch_each_broken_invariant() -> None:
    """The harness fails when the engine does: one order per broken rule, and one fine."""
    at = datetime(2026, 11, 23, tzinfo=UTC)

    def order(n: int, status: str, out: str = "151") -> StoredOrder:
        key = key_of(order_body(n))
        return StoredOrder(f"id-{n}", status, key, Decimal("150"), Decimal(out), at)

    def events(*statuses: str, seqs: list[int] | None = None) -> list[StoredEvent]:
        numbers = seqs or list(range(1, len(statuses) + 1))
        return [
            StoredEvent(i, seq, s, at)
            for i, (seq, s) in enumerate(zip(numbers, statuses, strict=True))
        ]

    life = ("pending", "routing", "building", "submitted", "confirmed")
    stored = Stored(
        orders={
            "id-0": order(0, "confirmed"),
            "id-1": order(1, "confirmed"),  # two terminal events
            "id-2": order(2, "confirmed"),  # a seq gap
            "id-3": order(3, "confirmed"),  # filled twice
            "id-4": order(4, "routing"),  # never finished
            "id-5": order(5, "confirmed", out="149"),  # below its minimum
            "id-6": order(6, "failed"),  # answered 503, yet stored
        },
        events={
            "id-0": events(*life),
            "id-1": events(*life[:-1], "failed", "confirmed"),
            "id-2": events(*life, seqs=[1, 2, 4, 5, 6]),
            "id-3": events(*life),
            "id-4": events("pending", "routing"),
            "id-5": events(*life),
            "id-6": events("pending", "failed"),
        },
        fills={"id-0": 1, "id-1": 1, "id-2": 1, "id-3": 2, "id-4": 0, "id-5": 1, "id-6": 0},
    )
    posts = [Post(n, order_body(n), "load", status=201, order_id=f"id-{n}") for n in range(6)]
    posts.append(Post(6, order_body(6), "load", status=503, retry_after="5"))
    posts.append(Post(7, order_body(7), "load", status=201, order_id="id-7"))  # no row

    findings = Findings()
    check_orders(stored, posts, findings)

    assert findings.doubled == ["id-1"]
    assert findings.gaps == ["id-2"]
    assert findings.bad_fills == ["id-3"]
    assert findings.lost == ["id-7", "id-4"]
    assert findings.no_row == ["id-7"]
    assert findings.bound == ["id-5"]
    assert findings.refused_stored == ["id-6"]
    assert len(findings.violations()) == 7
