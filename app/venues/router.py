"""The simulated router: a split route's legs as one transaction over their venues' pools.

As Jupiter packs a route's swaps into one Solana transaction, the router lands a split
order as a whole: every leg fills, on its own venue's pool, in one atomic script call, or
none does (a leg its venue refuses, or a total below the order's minimum, fails them
all). Its ledger has one entry per order, like a venue's, so a retry never trades twice.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from decimal import Decimal

from app.domain.failures import ExecutionError, FailureKind
from app.domain.pool import PoolState
from app.domain.routing import QuoteFailure
from app.domain.tokens import Market, Pair, Side, executed_price, pair_named
from app.venues.base import SwapIntent, TxState
from app.venues.sending import SimulatedSender, dropped
from app.venues.simulated import SimulatedVenue, ahead, refused, short
from app.venues.simulator import Simulator, pool_fields, pool_state

ROUTER = "router"
"""The simulated router's name: its ledger, its tx hashes, its scripted faults."""


class SimulatedRouter(SimulatedSender):
    """Implements `app.venues.base.Router` over the simulated venues."""

    def __init__(self, simulator: Simulator, venues: Mapping[str, SimulatedVenue]) -> None:
        self.name = ROUTER
        self.simulator = simulator
        self.venues = venues

    def _entry(self, intent: SwapIntent) -> dict[str, str]:
        if len(intent.legs) < 2:
            raise ExecutionError(FailureKind.NO_ROUTE, "the router sends split routes only")
        unknown = sorted({leg.dex for leg in intent.legs} - set(self.venues))
        if unknown:
            raise ExecutionError(FailureKind.NO_ROUTE, f"no such venue: {', '.join(unknown)}")
        legs = [[leg.dex, str(leg.amount_in)] for leg in intent.legs]
        return {"legs": json.dumps(legs)}

    async def _land(self, order_id: str, tx_hash: str, entry: dict[str, str]) -> dict[str, str]:
        book = self.simulator.book
        pair = pair_named(entry["pair"])
        ledger_key = book.ledger_key(self.name, order_id)
        legs = [(dex, Decimal(amount_in)) for dex, amount_in in json.loads(entry["legs"])]
        pool_keys = [self.simulator.pool_key(dex, pair) for dex, _ in legs]
        while True:
            found, *pools = await book.read_all([ledger_key, *pool_keys])
            if found.get("tx") != tx_hash or found.get("state") != TxState.PENDING:
                return found  # settled already, or superseded: nothing to do
            states = [pool_state(fields) for fields in pools]
            outcome, after = self._settle(found, pair, legs, states)
            writes = [
                (key, fields["version"], pool_fields(new) if new is not old else {})
                for key, fields, old, new in zip(pool_keys, pools, states, after, strict=True)
            ]
            if await book.settle_route(ledger_key, tx_hash, writes, outcome):
                settled = {**found, **outcome}
                if outcome["state"] == TxState.CONFIRMED:
                    settled["fills"] = str(int(found.get("fills", "0")) + 1)
                return settled
            # A pool of the route moved meanwhile: read again and recompute.

    def _settle(
        self,
        entry: dict[str, str],
        pair: Pair,
        legs: list[tuple[str, Decimal]],
        pools: list[PoolState],
    ) -> tuple[dict[str, str], list[PoolState]]:
        """The route's outcome and each pool after it. Only someone else's trade (a scripted
        `adverse` fault) changes a pool when the route does not fill."""
        if entry["drop"] == "1":
            return dropped(self.name), pools
        t = self.simulator.now()
        market = Market(pair, Side(entry["side"]))
        found = [ahead(entry, pool, t) for pool in pools]
        paid: list[Decimal] = []
        after: list[PoolState] = []
        for (dex, amount_in), pool in zip(legs, found, strict=True):
            result, filled = self.venues[dex].swap_on(market, amount_in, pool, t)
            if isinstance(result, QuoteFailure):
                return refused(result), found
            paid.append(result.amount_out)
            after.append(filled)
        total = sum(paid, Decimal(0))
        amount_in, min_out = Decimal(entry["amount_in"]), Decimal(entry["min_out"])
        if total < min_out:
            where = "+".join(dex for dex, _ in sorted(legs, key=lambda leg: -leg[1]))
            return short(where, market, total, min_out), found
        return {
            "state": TxState.CONFIRMED.value,
            "amount_out": str(total),
            "price": str(executed_price(market, amount_in, total)),
            "legs_out": ",".join(str(out) for out in paid),
        }, after
