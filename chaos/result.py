"""One scenario's numbers and verdict."""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from chaos.checks import (
    Findings,
    check_access,
    check_faults,
    check_feed,
    check_orders,
    judge_outages,
    recovery,
)
from chaos.faults import Fault
from chaos.load import Firehose, Post
from chaos.probes import Probe
from chaos.store import Stored


@dataclass
class ScenarioResult:
    scenario: str
    seed: int
    faults: list[dict[str, Any]]
    posted: int
    """POSTs of the load generator."""
    load_outcomes: dict[str, int]
    """How those POSTs were answered: `201`, `503+Retry-After`, `timeout` …"""
    accepted: int
    """POSTs answered 201, probes' included."""
    stored: int
    unacknowledged: int
    """Stored orders whose POST got no answer (timeout, connection dropped): legitimate."""
    confirmed: int
    failed: int
    lost: int
    doubled: int
    gaps: int
    fills: dict[str, int]
    """Orders by total fills in the ledger: `0`, `1`, `>1`."""
    bad_fills: int
    no_row: int
    refused_stored: int
    in_doubt_stored: int
    """POSTs answered 504 (`extra.orderId`) whose order was stored after all."""
    in_doubt_absent: int
    """POSTs answered 504 whose order was not stored."""
    feed_missing: int
    feed_repeated: int
    recovery_seconds: list[float]
    outage: dict[str, dict[str, dict[str, int]]]
    settle_seconds: float
    slowest_order_seconds: float
    seconds: float
    violations: list[str] = field(default_factory=list)
    evidence: dict[str, Any] = field(default_factory=dict)
    posts: list[tuple[int, str, float, float, str, str | None]] = field(default_factory=list)
    """Every POST: (n, source, sent, seconds to answer, outcome, orderId: the one a 201
    placed or a 504 named)."""

    @property
    def passed(self) -> bool:
        return not self.violations

    @property
    def terminal(self) -> int:
        return self.confirmed + self.failed

    @property
    def recovery_max(self) -> float | None:
        return max(self.recovery_seconds) if self.recovery_seconds else None

    @property
    def recovery_median(self) -> float | None:
        return statistics.median(self.recovery_seconds) if self.recovery_seconds else None

    def as_dict(self) -> dict[str, Any]:
        """Everything but the POSTs one by one (see `report.write`)."""
        record = {**asdict(self), "passed": self.passed, "terminal": self.terminal}
        del record["posts"]
        return record


def build(
    scenario: str,
    seed: int,
    *,
    faults: Sequence[Fault],
    posts: Sequence[Post],
    probes: Sequence[Probe],
    firehose: Firehose,
    stored: Stored,
    still_moving: int,
    settle_seconds: float,
    seconds: float,
    problems: Sequence[str],
    db_timeout: float,
) -> tuple[ScenarioResult, Findings]:
    findings = Findings(messages=list(problems))
    if still_moving:
        findings.messages.append(
            f"{still_moving} orders still moving after {settle_seconds:.0f}s of settling"
        )
    check_orders(stored, posts, findings)
    outage = judge_outages(faults, posts, probes, findings, db_timeout)
    missing, repeated = check_feed(stored, firehose, findings)
    check_access(posts, probes, firehose, findings)
    recovery(faults, posts, stored)
    check_faults(faults, findings)
    load = [p for p in posts if p.source == "load"]
    accepted = {p.order_id for p in posts if p.order_id}
    statuses = Counter(order.status for order in stored.orders.values())
    fills = Counter(min(n, 2) for n in stored.fills.values())
    slowest = max(
        (
            (events[-1].at - stored.orders[order_id].created_at).total_seconds()
            for order_id, events in stored.events.items()
            if events and stored.orders[order_id].terminal
        ),
        default=0.0,
    )
    result = ScenarioResult(
        scenario=scenario,
        seed=seed,
        faults=[f.as_dict() for f in faults],
        posted=len(load),
        load_outcomes=dict(Counter(p.outcome for p in load).most_common()),
        accepted=len(accepted),
        stored=len(stored.orders),
        unacknowledged=len(findings.unacknowledged),
        confirmed=statuses["confirmed"],
        failed=statuses["failed"],
        lost=len(findings.lost),
        doubled=len(findings.doubled),
        gaps=len(findings.gaps),
        fills={"0": fills[0], "1": fills[1], ">1": fills[2]},
        bad_fills=len(findings.bad_fills),
        no_row=len(findings.no_row),
        refused_stored=len(findings.refused_stored),
        in_doubt_stored=len(findings.in_doubt_stored),
        in_doubt_absent=len(findings.in_doubt_absent),
        feed_missing=missing,
        feed_repeated=repeated,
        recovery_seconds=[round(f.recovery, 2) for f in faults if f.recovery is not None],
        outage=outage,
        settle_seconds=round(settle_seconds, 1),
        slowest_order_seconds=round(slowest, 2),
        seconds=round(seconds, 1),
        violations=findings.violations(),
        posts=[
            (
                p.n,
                p.source,
                round(p.sent, 3),
                round(p.answered - p.sent, 3),
                p.outcome,
                p.order_id or p.in_doubt,
            )
            for p in posts
        ],
    )
    return result, findings
