"""Landing due transactions on one pool, in batches, so a busy pool costs no retries.

Every fill changes its pool, so fills computed side by side from the same pool state
conflict: all but one would have to read the pool again and recompute (under real flow,
which piles onto a few pools, that is most of them). Instead each process lands a pool's
due transactions one batch at a time: one read of the pool and the ledger entries, the
fills applied one after another in Python, one atomic write. Requests that arrive while
a batch is being written form the next batch. Only another process landing on the same
pool at the same moment makes a batch recompute.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass

from app.domain.pool import PoolState
from app.venues.book import Book

Outcome = dict[str, str]
Settle = Callable[[dict[str, str], PoolState], tuple[Outcome, PoolState | None]]
"""Decides one due transaction (its ledger entry) on a pool state: (ledger fields, new pool)."""


@dataclass(slots=True)
class _Request:
    ledger_key: str
    tx_hash: str
    answer: asyncio.Future[dict[str, str]]


class PoolLanding:
    def __init__(
        self,
        book: Book,
        pool_key: str,
        settle: Settle,
        pool_fields: Callable[[PoolState], dict[str, str]],
        pool_state: Callable[[dict[str, str]], PoolState],
    ) -> None:
        self._book = book
        self._pool_key = pool_key
        self._settle = settle
        self._pool_fields = pool_fields
        self._pool_state = pool_state
        self._waiting: list[_Request] = []
        self._worker: asyncio.Task[None] | None = None

    async def land(self, ledger_key: str, tx_hash: str) -> dict[str, str]:
        """Settle this due transaction (if still pending); its ledger entry afterwards."""
        answer: asyncio.Future[dict[str, str]] = asyncio.get_running_loop().create_future()
        self._waiting.append(_Request(ledger_key, tx_hash, answer))
        if self._worker is None or self._worker.done():
            self._worker = asyncio.create_task(self._drain(), name=f"landing {self._pool_key}")
        return await asyncio.shield(answer)

    async def _drain(self) -> None:
        while self._waiting:
            batch, self._waiting = self._waiting, []
            try:
                entries = await self._land(batch)
            except Exception as error:
                for request in batch:
                    if not request.answer.done():
                        request.answer.set_exception(error)
                continue
            for request in batch:
                if not request.answer.done():
                    request.answer.set_result(entries[request.ledger_key])

    async def _land(self, batch: list[_Request]) -> dict[str, dict[str, str]]:
        wanted = {r.ledger_key: r.tx_hash for r in batch}
        keys = list(wanted)
        while True:
            pool_fields, entries = await self._book.read_batch(self._pool_key, keys)
            state = self._pool_state(pool_fields)
            moved = False
            outcomes: list[tuple[str, str, Outcome]] = []
            after: dict[str, dict[str, str]] = {}
            for key, entry in zip(keys, entries, strict=True):
                if entry.get("tx") != wanted[key] or entry.get("state") != "pending":
                    after[key] = entry  # settled already, or superseded: nothing to do
                    continue
                outcome, new_state = self._settle(entry, state)
                if new_state is not None:
                    state, moved = new_state, True
                outcomes.append((key, wanted[key], outcome))
                after[key] = {**entry, **outcome}
            if not outcomes:
                return after
            pool = self._pool_fields(state) if moved else {}
            if await self._book.settle_batch(
                self._pool_key, pool_fields["version"], pool, outcomes
            ):
                for key, _, _ in outcomes:
                    if after[key].get("state") == "confirmed":
                        after[key]["fills"] = str(int(after[key].get("fills", "0")) + 1)
                return after
            # Another process landed on this pool meanwhile: read again and recompute.
