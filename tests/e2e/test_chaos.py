"""`make chaos`, short: each fault scenario on real processes and servers, under load.

The same harness as `make chaos` (chaos/), with the `QUICK` numbers: 150 orders per
scenario, 3 worker kills, 1 web kill, Redis and PostgreSQL restarted, PostgreSQL frozen
for 8 s. Each scenario starts an engine of its own (embedded servers in a temporary
directory, whatever DATABASE_URL / REDIS_URL say, migrated by the same process one after
another) with a fresh ADMIN_API_KEY that every request of the harness carries, and must
lose nothing, double nothing, leave no seq gap, store a row for every 201, store nothing
for a 503, answer 503 + Retry-After (or a 504 naming the order, whose COMMIT went
unanswered) while PostgreSQL is out, and recover by itself.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from chaos.checks import POST, Findings, check_access, check_orders, judge_outages
from chaos.config import QUICK, ChaosConfig
from chaos.faults import Fault
from chaos.load import Firehose, Post, key_of, order_body
from chaos.probes import Probe
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
            "id-8": order(8, "confirmed"),  # answered 504 naming it: stored after all (fine)
        },
        events={
            "id-0": events(*life),
            "id-1": events(*life[:-1], "failed", "confirmed"),
            "id-2": events(*life, seqs=[1, 2, 4, 5, 6]),
            "id-3": events(*life),
            "id-4": events("pending", "routing"),
            "id-5": events(*life),
            "id-6": events("pending", "failed"),
            "id-8": events(*life),
        },
        fills=dict.fromkeys(["id-0", "id-1", "id-2", "id-5", "id-8"], 1)
        | {"id-3": 2, "id-4": 0, "id-6": 0},
    )
    posts = [Post(n, order_body(n), "load", status=201, order_id=f"id-{n}") for n in range(6)]
    posts.append(Post(6, order_body(6), "load", status=503, retry_after="5"))
    posts.append(Post(7, order_body(7), "load", status=201, order_id="id-7"))  # no row
    posts.append(Post(8, order_body(8), "load", status=504, retry_after="5", in_doubt="id-8"))
    posts.append(Post(9, order_body(9), "load", status=504, retry_after="5", in_doubt="id-9"))
    posts.append(Post(10, order_body(10), "load", status=504, retry_after="5"))  # names none

    findings = Findings()
    check_orders(stored, posts, findings)

    assert findings.doubled == ["id-1"]
    assert findings.gaps == ["id-2"]
    assert findings.bad_fills == ["id-3"]
    assert findings.lost == ["id-7", "id-4"]
    assert findings.no_row == ["id-7"]
    assert findings.bound == ["id-5"]
    assert findings.refused_stored == ["id-6"]
    assert findings.in_doubt_stored == ["id-8"]
    assert findings.in_doubt_absent == ["id-9"]
    assert findings.messages == ["POST 10 answered 504 without extra.orderId"]
    assert len(findings.violations()) == 8


def test_a_504_naming_its_order_is_allowed_only_while_postgresql_is_going() -> None:
    """Inside a PostgreSQL outage (or in flight as it began) a POST may answer 504 with the
    order's id; anywhere else, or without the id, it is a violation; so is a socket that
    closes 1011 during the outage, and a 401 to a request that carried the admin key."""
    fault = Fault("postgres-restart", at=0, started=100.0, ended=110.0)
    fault.down_from, fault.down_until = 101.0, 109.0

    def post(n: int, sent: float, answered: float, in_doubt: str | None) -> Post:
        return Post(n, order_body(n), "load", sent, answered, 504, "5", in_doubt=in_doubt)

    posts = [
        post(0, 99.5, 100.2, "id-0"),  # in flight as PostgreSQL went: fine
        post(1, 102.0, 107.0, "id-1"),  # inside the window: fine
        post(2, 102.0, 103.0, None),  # no orderId
        post(3, 120.0, 121.0, "id-3"),  # long after: wrong
        Post(4, order_body(4), "load", 130.0, 130.1, 401),
    ]
    probes = [Probe("WS /api/orders/{id}/ws", 102.0, 103.0, "close 1011")]
    findings = Findings()

    table = judge_outages([fault], posts, probes, findings, db_timeout=5)
    check_access(posts, probes, Firehose("ws://x", closes={"refused 401": 2}), findings)

    assert table["postgres-restart"][POST] == {"504+Retry-After+orderId": 1, "504+Retry-After": 1}
    assert findings.messages == [
        "during postgres-restart: POST /api/orders/execute answered 504+Retry-After (1 times)",
        "during postgres-restart: WS /api/orders/{id}/ws answered close 1011 (1 times)",
        "POST /api/orders/execute answered 504+Retry-After (1 times)",
        "POST /api/orders/execute answered 504+Retry-After+orderId (1 times)",
        "POST /api/orders/execute answered 401 (1 times) to a request with the admin key",
        "WS /api/orders/ws (firehose) answered refused 401 (2 times) to a request with the "
        "admin key",
    ]


def test_each_run_has_an_admin_key_of_its_own_that_the_results_never_show() -> None:
    one, other = ChaosConfig(), ChaosConfig()

    assert one.api_key != other.api_key
    assert len(one.api_key) >= 32
    assert one.engine_env()["ADMIN_API_KEY"] == one.api_key
    assert one.auth_headers == {"Authorization": f"Bearer {one.api_key}"}
    assert one.replace(orders=5).api_key == one.api_key
    assert one.api_key not in repr(one)
    assert "api_key" not in one.public()
