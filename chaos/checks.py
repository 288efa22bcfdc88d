"""What must hold after a scenario, from what clients saw and what the engine stored.

Orders: every `201` has a stored row; every stored order ends in exactly one terminal
event with seqs 1..n; fills from the venues' ledger are 1 for a confirmed order and 0
for a failed one; a confirmed order got at least its minimum; a `503` stored nothing.
Outages: while PostgreSQL is out, POST answers 503 with Retry-After (never 201), or 504
with Retry-After and `extra.orderId` when the COMMIT itself went unanswered (that order
may or may not exist: both are counted), and /healthz 503; while Redis is out,
endpoints answer 503 with Retry-After or serve; sockets close with 1013 or serve; a 5xx
other than those is never right, nor is a 504 outside a PostgreSQL outage. Every
request carries the harness's admin key: a 401 or 403 is never right, outage or not (a
key that cannot be looked up is the engine's 503, not the caller's fault). Every fault
is followed by recovery.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from chaos.faults import Fault
from chaos.load import Firehose, OrderKey, Post, key_of
from chaos.probes import Probe
from chaos.store import Stored

POST = "POST /api/orders/execute"
HEALTH = "GET /healthz"
NEEDS_DATABASE = (POST, "GET /api/orders/{id}", HEALTH)
"""Endpoints that cannot answer but 503 while PostgreSQL is out, within its timeouts."""
HELD_SAMPLE = 5
IN_DOUBT = "504+Retry-After+orderId"
"""A new order whose COMMIT got no answer: it may or may not be stored; the body names it."""
WS_FINE = {"served", "open", "close 1000", "close 1013", "refused 503", "timeout"}
"""How a socket may go during an outage: served, or closed "try again later" (1013); the
engine no longer closes with 1011 (internal error) when a server is out."""
ALLOWED: dict[tuple[str, str], set[str]] = {
    ("postgres", POST): {"503+Retry-After", IN_DOUBT, "timeout"},
    ("redis", POST): {"201", "503+Retry-After", "timeout"},
}
"""Outcomes allowed inside an outage window, by (server, endpoint); see `allowed`."""


def allowed(server: str, endpoint: str) -> set[str]:
    if (server, endpoint) in ALLOWED:
        return ALLOWED[server, endpoint]
    if endpoint == HEALTH:
        return {"503", "503+Retry-After", "timeout"}
    if endpoint.startswith("WS "):
        return WS_FINE
    return {"200", "503+Retry-After", "timeout"}


@dataclass
class Findings:
    """Order ids per broken invariant, and messages for everything else."""

    no_row: list[str] = field(default_factory=list)
    """Answered 201, no stored row."""
    lost: list[str] = field(default_factory=list)
    """Accepted (or stored) and not terminal, or accepted and not stored."""
    doubled: list[str] = field(default_factory=list)
    """More than one terminal event."""
    gaps: list[str] = field(default_factory=list)
    """Event seqs not exactly 1..n, or the row's status not its last event's."""
    bad_fills: list[str] = field(default_factory=list)
    bound: list[str] = field(default_factory=list)
    refused_stored: list[str] = field(default_factory=list)
    """Answered 503 (with Retry-After, an invitation to retry: "nothing was done"), yet
    stored: a client that does retry trades twice."""
    unknown_rows: list[str] = field(default_factory=list)
    """Stored orders no POST of ours made."""
    unacknowledged: list[str] = field(default_factory=list)
    """Stored, though the POST got no answer (a timeout, a dropped connection): fine."""
    in_doubt_stored: list[str] = field(default_factory=list)
    """Answered 504 naming this order, and it was stored (the COMMIT did happen): fine."""
    in_doubt_absent: list[str] = field(default_factory=list)
    """Answered 504 naming this order, and nothing was stored: fine."""
    messages: list[str] = field(default_factory=list)

    def violations(self) -> list[str]:
        named = [
            ("`201` without a stored row", self.no_row),
            ("lost (never terminal, or not stored)", self.lost),
            ("more than one terminal event", self.doubled),
            ("seq gaps (or status ≠ last event)", self.gaps),
            ("fills ≠ 1 when confirmed / 0 when failed", self.bad_fills),
            ("amount out below min out", self.bound),
            ("answered 503, yet stored", self.refused_stored),
            ("stored without any POST", self.unknown_rows),
        ]
        found = [f"{what}: {len(ids)} ({', '.join(ids[:5])})" for what, ids in named if ids]
        return found + self.messages

    def suspects(self) -> list[str]:
        ids: list[str] = []
        for group in (self.no_row, self.lost, self.doubled, self.gaps, self.bad_fills,
                      self.bound, self.refused_stored):  # fmt: skip
            ids += group[:5]
        return list(dict.fromkeys(ids))


def check_orders(stored: Stored, posts: Sequence[Post], findings: Findings) -> None:
    accepted = {p.order_id for p in posts if p.order_id is not None}
    by_key: dict[OrderKey, Post] = {key_of(p.body): p for p in posts}
    findings.no_row += sorted(accepted - stored.orders.keys())
    findings.lost += sorted(accepted - stored.orders.keys())
    stored_keys = {order.key for order in stored.orders.values()}
    for answered in posts:
        if answered.status == 504 and answered.in_doubt is None:
            findings.messages.append(f"POST {answered.n} answered 504 without extra.orderId")
        elif answered.in_doubt is not None and key_of(answered.body) not in stored_keys:
            findings.in_doubt_absent.append(answered.in_doubt)
    for order_id, order in sorted(stored.orders.items()):
        post = by_key.get(order.key)
        if post is None:
            findings.unknown_rows.append(order_id)
        elif post.order_id not in (None, order_id):
            findings.messages.append(f"order {order_id} has the amount of {post.order_id}")
        elif post.order_id is None and post.status == 503:
            findings.refused_stored.append(order_id)
        elif post.in_doubt is not None:
            if post.in_doubt == order_id:
                findings.in_doubt_stored.append(order_id)
            else:
                findings.messages.append(
                    f"order {order_id} stored for a 504 that named order {post.in_doubt}"
                )
        elif post.order_id is None:
            findings.unacknowledged.append(order_id)
        if not order.terminal:
            findings.lost.append(order_id)
            continue
        events = stored.events.get(order_id, [])
        terminal = [e for e in events if e.status in ("confirmed", "failed")]
        if len(terminal) > 1:
            findings.doubled.append(order_id)
        if [e.seq for e in events] != list(range(1, len(events) + 1)) or (
            not events or events[-1].status != order.status
        ):
            findings.gaps.append(order_id)
        expected = 1 if order.status == "confirmed" else 0
        if stored.fills.get(order_id, 0) != expected:
            findings.bad_fills.append(order_id)
        if order.status == "confirmed" and (
            order.amount_out is None or order.min_out is None or order.amount_out < order.min_out
        ):
            findings.bound.append(order_id)


def judge_outages(
    faults: Sequence[Fault],
    posts: Sequence[Post],
    probes: Sequence[Probe],
    findings: Findings,
    db_timeout: float,
) -> dict[str, dict[str, dict[str, int]]]:
    """Outcomes of the requests sent during each server outage, per fault and endpoint
    (`… (after)`: answered once the server was back); breaks of the rules go to `findings`.

    Inside the window the answers must be those `allowed`. And the engine bounds every
    database statement, and every wait for a pooled connection, at `db_timeout`: of the
    requests that need PostgreSQL sent more than `db_timeout` + 1 s before it came back,
    those that had a pooled connection should have had their 503 by then. One request may
    have waited for a connection first; when `HELD_SAMPLE` or more were all held until
    the server returned, the timeouts did not work.
    """
    seen = [(p.endpoint, p.sent, p.answered, p.outcome) for p in probes if p.endpoint != POST]
    seen += [(POST, p.sent, p.answered, p.outcome) for p in posts]
    table: dict[str, dict[str, dict[str, int]]] = {}
    for fault in faults:
        if fault.server is None or fault.down_from is None:
            continue
        start, end = fault.down_from, fault.down_until or float("inf")
        sent = [r for r in seen if start <= r[1] <= end]
        counts: dict[str, Counter[str]] = {}
        wrong: Counter[tuple[str, str]] = Counter()
        for endpoint, _, answered, outcome in sent:
            inside = answered <= end
            counts.setdefault(endpoint, Counter())[outcome if inside else f"{outcome} (after)"] += 1
            if inside and outcome not in allowed(fault.server, endpoint):
                wrong[endpoint, outcome] += 1
        table[fault.kind] = {e: dict(c.most_common()) for e, c in sorted(counts.items())}
        for (endpoint, outcome), n in sorted(wrong.items()):
            findings.messages.append(
                f"during {fault.kind}: {endpoint} answered {outcome} ({n} times)"
            )
        for endpoint in NEEDS_DATABASE if fault.server == "postgres" else ():
            early = [r for r in sent if r[0] == endpoint and r[1] <= end - db_timeout - 1]
            if len(early) >= HELD_SAMPLE and all(r[2] > end for r in early):
                held = [r[2] - r[1] for r in early]
                after = dict(Counter(r[3] for r in early))
                findings.messages.append(
                    f"during {fault.kind}: {endpoint}: all {len(early)} requests sent more than "
                    f"{db_timeout:g}s + 1s before PostgreSQL was back were held until it was "
                    f"back ({min(held):.1f} to {max(held):.1f}s, then {after}), none answered "
                    f"within the {db_timeout:g}s statement / connection timeouts"
                )
    # Whenever: a 5xx other than 503 is a bug, and so is a 503 that gives no Retry-After;
    # a POST's 504 (naming its order) only while PostgreSQL was going, out or coming back.
    postgres = [
        (f.started, f.ended or float("inf")) for f in faults if f.server == "postgres" and f.started
    ]
    anywhere: Counter[tuple[str, str]] = Counter()
    for endpoint, sent_at, answered, outcome in seen:
        healthy_503 = outcome == "503" and endpoint == HEALTH
        in_doubt = (
            endpoint == POST
            and outcome == IN_DOUBT
            and any(sent_at <= end and answered >= start for start, end in postgres)
        )
        if outcome[:1] == "5" and outcome != "503+Retry-After" and not (healthy_503 or in_doubt):
            anywhere[endpoint, outcome] += 1
    for (endpoint, outcome), n in sorted(anywhere.items()):
        findings.messages.append(f"{endpoint} answered {outcome} ({n} times)")
    return table


UNAUTHORISED = ("401", "403", "refused 401", "refused 403")


def check_access(
    posts: Sequence[Post], probes: Sequence[Probe], firehose: Firehose, findings: Findings
) -> None:
    """Every request carries the admin key: the engine must never turn one away."""
    turned_away = Counter(
        [(POST, p.outcome) for p in posts if p.outcome in UNAUTHORISED]
        + [(p.endpoint, p.outcome) for p in probes if p.outcome in UNAUTHORISED]
    )
    for how, n in firehose.closes.items():
        if how in UNAUTHORISED:
            turned_away["WS /api/orders/ws (firehose)", how] += n
    for (endpoint, outcome), n in sorted(turned_away.items()):
        findings.messages.append(
            f"{endpoint} answered {outcome} ({n} times) to a request with the admin key"
        )


def check_feed(stored: Stored, firehose: Firehose, findings: Findings) -> tuple[int, int]:
    """(events stored but never received, events received more than once)."""
    stored_ids = {e.event_id for events in stored.events.values() for e in events}
    counts = Counter(firehose.received)
    missing = len(stored_ids - counts.keys())
    repeated = sum(1 for n in counts.values() if n > 1)
    if missing or repeated:
        gone = sorted(stored_ids - counts.keys())
        findings.messages.append(
            f"firehose: {missing} stored events never received (eventIds {gone[:10]}), "
            f"{repeated} received twice; connections ended: {firehose.closes}"
            + (f"; {_around(gone[0], stored, firehose.received)}" if gone else "")
        )
    return missing, repeated


def _around(first_gone: int, stored: Stored, received: Sequence[int]) -> str:
    """Evidence for a gap: the first missing event, and what arrived just before and after
    it (in arrival order), with each event's status and commit-side time."""
    about = {
        e.event_id: f"{e.event_id} ({order_id[:13]}… seq {e.seq} {e.status} at "
        f"{e.at.strftime('%H:%M:%S.%f')[:-3]})"
        for order_id, events in stored.events.items()
        for e in events
    }
    before = [i for i in received if i < first_gone]
    after = [i for i in received if i > first_gone]
    seen_before = about.get(max(before), str(max(before))) if before else "nothing"
    seen_after = about.get(after[0], str(after[0])) if after else "nothing"
    return (
        f"first missing {about.get(first_gone, first_gone)}; the highest received before "
        f"it {seen_before}; the first received after it {seen_after}"
    )


def recovery(faults: Iterable[Fault], posts: Sequence[Post], stored: Stored) -> None:
    """Each fault's recovery: seconds from its end until the first order placed after it
    (by the load or a probe) was confirmed, from the stored `confirmed` events."""
    confirmed = {
        order_id: events[-1].at.timestamp()
        for order_id, events in stored.events.items()
        if events and events[-1].status == "confirmed"
    }
    for fault in faults:
        if fault.ended is None:
            continue
        after = [
            confirmed[p.order_id]
            for p in posts
            if p.order_id in confirmed and p.sent >= fault.ended
        ]
        fault.recovery = min(after) - fault.ended if after else None


def check_faults(faults: Iterable[Fault], findings: Findings) -> None:
    for fault in faults:
        if fault.ended is None:
            findings.messages.append(f"{fault.kind} ({fault.detail}): never came back")
        elif fault.recovery is None:
            findings.messages.append(f"{fault.kind} ({fault.detail}): no order confirmed after")
