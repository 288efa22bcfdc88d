"""What every benchmark run must also get right, checked after it: bounds, events, logs.

* Bounds: a confirmed order never fills below the minimum set by its first quote. From
  the order's stored events: the first routing event with a usable quote gives the best
  quote `q`; the bound is `q * (10000 - slippageBps) / 10000` floored to the output
  token's decimals. The order's stored `min_out` must equal it, its `quoted_out` must be
  `q`, and a confirmed order's `amount_out` (order and confirmed event) must be ≥ it.
  Computed here independently of app/domain/routing.py.
* Events: each order's seqs are 1, 2, 3 … with no gap, and exactly one terminal event,
  the last one.
* Firehose: the all-orders socket delivered every stored event of every measured order.
* Logs: every web and worker process's output, scanned for trouble.
"""

from __future__ import annotations

import json
import re
import uuid
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_DOWN, Decimal
from pathlib import Path
from typing import Any

import asyncpg

from app.domain.tokens import TOKENS

BPS = Decimal(10_000)
TERMINAL = ("confirmed", "failed")


def bound_of(best: Decimal, slippage_bps: int, decimals: int) -> Decimal:
    return (best * (BPS - slippage_bps) / BPS).quantize(
        Decimal(1).scaleb(-decimals), rounding=ROUND_DOWN
    )


def best_quote(quotes: Any) -> Decimal | None:
    """The largest positive `amountOut` among a routing event's quotes (None: no quote)."""
    amounts = [Decimal(q["amountOut"]) for q in quotes or () if q.get("amountOut")]
    positive = [a for a in amounts if a > 0]
    return max(positive) if positive else None


@dataclass
class OrderFacts:
    """One order as stored: its row and its events in seq order."""

    order_id: str
    status: str
    token_out: str
    slippage_bps: int
    quoted_out: Decimal | None
    min_out: Decimal | None
    amount_out: Decimal | None
    events: list[dict[str, Any]] = field(default_factory=list)


async def load_orders(
    database_url: str, ids: Sequence[str], schema: str = "public"
) -> list[OrderFacts]:
    """The orders and all their events, read straight from PostgreSQL."""
    wanted = [uuid.UUID(i) for i in ids]
    conn = await asyncpg.connect(database_url)
    try:
        rows = await conn.fetch(
            f"SELECT id, status, token_out, slippage_bps, quoted_out, min_out, amount_out"
            f" FROM {schema}.orders WHERE id = ANY($1::uuid[])",
            wanted,
        )
        events = await conn.fetch(
            f"SELECT order_id, id, seq, status, attempt, quotes, amount_out"
            f" FROM {schema}.order_events WHERE order_id = ANY($1::uuid[])"
            f" ORDER BY order_id, seq",
            wanted,
        )
    finally:
        await conn.close()
    facts = {
        str(r["id"]): OrderFacts(
            str(r["id"]),
            r["status"],
            r["token_out"],
            r["slippage_bps"],
            r["quoted_out"],
            r["min_out"],
            r["amount_out"],
        )
        for r in rows
    }
    for e in events:
        quotes = e["quotes"]
        facts[str(e["order_id"])].events.append(
            {
                "eventId": e["id"],
                "seq": e["seq"],
                "status": e["status"],
                "attempt": e["attempt"],
                "quotes": json.loads(quotes) if isinstance(quotes, str) else quotes,
                "amountOut": e["amount_out"],
            }
        )
    return [facts[i] for i in ids if i in facts]


def check_orders(orders: Sequence[OrderFacts], asked: int) -> dict[str, Any]:
    """Bound and event-sequence checks over every order; counts and the first examples."""
    problems: Counter[str] = Counter()
    examples: list[str] = []
    margins: list[Decimal] = []
    confirmed = 0
    later_bound = 0

    def problem(kind: str, order: OrderFacts, detail: str) -> None:
        problems[kind] += 1
        if len(examples) < 8:
            examples.append(f"{kind}: order {order.order_id}: {detail}")

    for order in orders:
        seqs = [e["seq"] for e in order.events]
        if seqs != list(range(1, len(seqs) + 1)):
            problem("seq gap", order, f"seqs {seqs}")
        terminals = [e for e in order.events if e["status"] in TERMINAL]
        if order.status in TERMINAL and (
            len(terminals) != 1 or order.events[-1]["status"] != order.status
        ):
            problem("terminal events", order, f"{[e['status'] for e in order.events]}")
        if order.status == "confirmed":
            confirmed += 1
        routings = [e for e in order.events if e["status"] == "routing"]
        quoted = [(e, best_quote(e["quotes"])) for e in routings]
        first = next(((e, q) for e, q in quoted if q is not None), None)
        if first is None:
            if order.status == "confirmed" or order.min_out is not None:
                problem("no quoted routing", order, "confirmed or bounded with no usable quote")
            continue
        event, best = first
        if event is not routings[0]:
            later_bound += 1  # the first routing had no usable quote: the bound came later
        decimals = TOKENS[order.token_out].decimals
        bound = bound_of(best, order.slippage_bps, decimals)
        if order.min_out is not None and order.min_out != bound:
            problem("min_out ≠ first-quote bound", order, f"min_out {order.min_out}, bound {bound}")
        if order.quoted_out is not None and order.quoted_out != best:
            problem("quoted_out ≠ first best quote", order, f"{order.quoted_out} vs {best}")
        if order.status != "confirmed":
            continue
        if order.min_out is None:
            problem("confirmed without min_out", order, "")
        fill = order.amount_out
        event_fill = next((e["amountOut"] for e in terminals if e["status"] == "confirmed"), None)
        if fill is None or event_fill is None or fill != event_fill:
            problem("fill not recorded", order, f"order {fill}, event {event_fill}")
            continue
        if fill < bound:
            problem("fill below bound", order, f"filled {fill} < bound {bound} (first {best})")
        elif bound > 0:
            margins.append((fill / bound - 1) * BPS)
    violations = sum(problems.values())
    return {
        "orders_asked": asked,
        "orders_found": len(orders),
        "confirmed_checked": confirmed,
        "violations": violations,
        "below_bound": problems["fill below bound"],
        "problems": dict(problems),
        "examples": examples,
        "bound_set_after_first_routing": later_bound,
        "min_margin_bps": round(float(min(margins)), 2) if margins else None,
    }


def firehose_completeness(
    orders: Sequence[OrderFacts], seen: dict[str, list[int]], terminal_seen: Iterable[str]
) -> dict[str, Any]:
    """Did the firehose deliver every stored event of these orders, once and in order?"""
    missing = duplicated = out_of_order = incomplete = 0
    terminal = set(terminal_seen)
    for order in orders:
        stored = [e["seq"] for e in order.events]
        got = seen.get(order.order_id, [])
        if got != sorted(got):
            out_of_order += 1
        duplicated += len(got) - len(set(got))
        lost = set(stored) - set(got)
        missing += len(lost)
        if lost:
            incomplete += 1
    final = [o for o in orders if o.status in TERMINAL]
    return {
        "orders": len(orders),
        "orders_complete": len(orders) - incomplete,
        "events_missing": missing,
        "events_duplicated": duplicated,
        "orders_out_of_order": out_of_order,
        "terminal_seen": sum(1 for o in final if o.order_id in terminal),
        "terminal_stored": len(final),
    }


# -- logs ---------------------------------------------------------------------------------

LOG_PATTERNS: dict[str, re.Pattern[str]] = {
    # Redis' pool running dry, or a wait for a PostgreSQL connection timing out.
    "pool exhausted": re.compile(
        r"MaxConnectionsError|Too many connections|asyncpg/pool\.py.{0,40}in _acquire", re.I
    ),
    "error processing job": re.compile(r"Error processing job"),
    "could not publish": re.compile(r"could not publish"),
    # A worker's queue upkeep (its liveness, due retries, sweeps) failing.
    "upkeep failed": re.compile(r"\b(liveness|due retries|sweep) failed"),
    "re-queued": re.compile(r"re-queued"),
    "swept": re.compile(r"swept order"),
    "error level": re.compile(r'"level": "(error|critical)"|^(ERROR|CRITICAL)\b|\bERROR - '),
    "traceback": re.compile(r"Traceback \(most recent call last\)"),
}


def scan_logs(log_dir: Path | None) -> dict[str, Any]:
    """Count troubling lines per kind in every process's log file; the first of each."""
    counts: Counter[str] = Counter()
    excerpts: dict[str, list[str]] = {}
    lines = 0
    if log_dir is None or not log_dir.exists():
        return {"files": 0, "lines": 0, "counts": {}, "excerpts": {}}
    files = sorted(log_dir.glob("*.log"))
    for path in files:
        with path.open(errors="replace") as log:
            for line in log:
                lines += 1
                for kind, pattern in LOG_PATTERNS.items():
                    if pattern.search(line):
                        counts[kind] += 1
                        shown = excerpts.setdefault(kind, [])
                        if len(shown) < 3:
                            shown.append(f"{path.stem}: {_excerpt(line)}")
    return {
        "files": len(files),
        "lines": lines,
        "counts": {kind: counts[kind] for kind in LOG_PATTERNS},
        "excerpts": {kind: excerpts[kind] for kind in LOG_PATTERNS if kind in excerpts},
    }


def _excerpt(line: str) -> str:
    """A JSON log line as `at level logger: message … the error's last line`."""
    try:
        entry = json.loads(line)
    except ValueError:
        return line.strip()[:400]
    if not isinstance(entry, dict):
        return line.strip()[:400]
    text = f"{entry.get('at', '')} {entry.get('level', '')} {entry.get('logger', '')}: "
    text += str(entry.get("message", ""))[:200]
    error = str(entry.get("error", "")).strip().splitlines()
    if error:
        text += f" … {error[-1][:200]}"
    return text
