"""Simulated Solana DEXs: constant-product pools and a transaction ledger, kept in Redis.

Every worker process sees the same pools and the same ledger. Fills land in batches per
pool (app/venues/landing.py): the pool and the ledger entries change in one atomic
script call, so a transaction lands at most once however many workers ask about it at
the same moment.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from app.domain.amm import BPS
from app.domain.failures import FailureKind
from app.domain.pool import MAX_IMPACT_BPS, PoolState
from app.domain.routing import Quote, QuoteFailure, QuoteResult
from app.domain.tokens import Market, Pair, Side, executed_price, pair_named
from app.venues.base import Pricing, SwapIntent, TxState
from app.venues.catalog import LAUNCH_DRIFT, PAIR_DRIFT, VENUES, VenueSpec
from app.venues.chaos import ADVERSE_MOVE_BPS, Fault, Step
from app.venues.landing import PoolLanding
from app.venues.sending import SimulatedSender, dropped
from app.venues.simulator import Simulator, pool_fields, pool_state

_CENT = Decimal("0.01")


class SimulatedVenue(SimulatedSender):
    """One simulated DEX. Implements `app.venues.base.Venue`."""

    def __init__(self, spec: VenueSpec, simulator: Simulator) -> None:
        self.name = spec.name
        self.spec = spec
        self.simulator = simulator
        self._landings: dict[str, PoolLanding] = {}

    # -- prices -------------------------------------------------------------------------

    def target_price(self, pair: Pair, t: Decimal) -> Decimal:
        """Where arbitrage pulls this venue's pool: the market price, off by a little."""
        market = self.simulator.drift(pair.symbol, PAIR_DRIFT.get(pair.symbol, LAUNCH_DRIFT))
        local = self.simulator.drift(f"{self.name}:{pair.symbol}", self.spec.drift)
        moved = self.simulator.shift(pair, t)
        return pair.reference_price * (market.at(t) + local.at(t) + moved).exp()

    def fee_rate(self, pair: Pair, state: PoolState, t: Decimal) -> Decimal:
        """The venue's fee now; dynamic fees read the last minute's move and pool skew."""
        minute_ago = max(t - 60, Decimal(0))
        moved = (self.target_price(pair, t) / self.target_price(pair, minute_ago)).ln()
        volatility_bps = (abs(moved) + abs(state.skew_at(t))) * BPS
        return self.spec.fee.rate(volatility_bps)

    # -- Venue --------------------------------------------------------------------------

    def pairs(self) -> frozenset[str]:
        launches = self.simulator.launches.values()
        launched = (launch.pair.symbol for launch in launches if launch.venue == self.name)
        return frozenset(self.spec.tvl_usd).union(launched)

    async def pricing(self, pair: Pair) -> Pricing | None:
        await self.simulator.fresh()
        _, fields = await self.simulator.book.read_pool(self.name, pair.symbol, None, ())
        if not fields:
            return None
        return PoolPricing(self, pair, pool_state(fields), self.simulator.now())

    async def quote(
        self, market: Market, amount_in: Decimal, *, order_id: str | None = None, attempt: int = 0
    ) -> QuoteResult:
        await self.simulator.chaos.delay(Step.QUOTE, order_id, attempt, self.name)
        await self.simulator.fresh()
        fault, fields = await self.simulator.book.read_pool(
            self.name, market.pair.symbol, order_id, self._fault_fields(Step.QUOTE, attempt)
        )
        if order_id is not None and (
            fault == Fault.TIMEOUT
            or self.simulator.chaos.fails(order_id, attempt, Step.QUOTE, self.name)
        ):
            return QuoteFailure(self.name, FailureKind.RPC_TIMEOUT, "quote request timed out")
        state = pool_state(fields) if fields else None
        if state is None:
            return QuoteFailure(
                self.name, FailureKind.NO_ROUTE, f"no {market.pair.symbol} pool on {self.name}"
            )
        return self._price(market, amount_in, state, self.simulator.now())

    # -- internals ----------------------------------------------------------------------

    def _price(
        self, market: Market, amount_in: Decimal, state: PoolState, t: Decimal
    ) -> QuoteResult:
        pair = market.pair
        if t < state.opens_at:
            return QuoteFailure(
                self.name,
                FailureKind.NOT_OPEN,
                f"the {pair.symbol} pool on {self.name} is not open yet "
                f"(opens in {state.opens_at - t:.1f} s)",
            )
        fee_rate = self.fee_rate(pair, state, t)
        swap = state.quote(self.target_price(pair, t), t, market.side, amount_in, fee_rate)
        if swap.price_impact_bps > MAX_IMPACT_BPS:
            return QuoteFailure(
                self.name,
                FailureKind.INSUFFICIENT_LIQUIDITY,
                f"the {pair.symbol} pool on {self.name} is too shallow: the trade would move "
                f"its price {swap.price_impact_bps / 100:.1f}%",
            )
        return Quote(
            dex=self.name,
            amount_in=amount_in,
            amount_out=market.token_out.floor(swap.amount_out),
            fee=market.token_in.floor(swap.fee),
            fee_bps=(fee_rate * BPS).quantize(_CENT),
            price_impact_bps=swap.price_impact_bps.quantize(_CENT),
        )

    def _entry(self, intent: SwapIntent) -> dict[str, str]:
        return {"pool": self.simulator.pool_key(self.name, intent.market.pair)}

    async def _land(self, order_id: str, tx_hash: str, entry: dict[str, str]) -> dict[str, str]:
        pair = pair_named(entry["pair"])
        pool_key = self.simulator.pool_key(self.name, pair)
        landing = self._landings.get(pool_key)
        if landing is None:
            landing = self._landings[pool_key] = PoolLanding(
                self.simulator.book,
                pool_key,
                lambda entry, pool: self._settle(entry, pair, pool),
                pool_fields,
                pool_state,
            )
        return await landing.land(self.simulator.book.ledger_key(self.name, order_id), tx_hash)

    def _settle(
        self, entry: dict[str, str], pair: Pair, pool: PoolState
    ) -> tuple[dict[str, str], PoolState | None]:
        if entry["drop"] == "1":
            return dropped(self.name), None
        t = self.simulator.now()
        market = Market(pair, Side(entry["side"]))
        pool = ahead(entry, pool, t)
        amount_in, min_out = Decimal(entry["amount_in"]), Decimal(entry["min_out"])
        result, filled = self.swap_on(market, amount_in, pool, t)
        if isinstance(result, QuoteFailure):
            return refused(result), pool
        if result.amount_out < min_out:
            return short(self.name, market, result.amount_out, min_out), pool
        return {
            "state": TxState.CONFIRMED.value,
            "amount_out": str(result.amount_out),
            "price": str(executed_price(market, amount_in, result.amount_out)),
        }, filled

    def swap_on(
        self, market: Market, amount_in: Decimal, pool: PoolState, t: Decimal
    ) -> tuple[QuoteResult, PoolState]:
        """A swap on `pool` at `t`: what it pays (or why the venue refuses it), and the pool
        after it (unchanged when refused)."""
        result = self._price(market, amount_in, pool, t)
        if isinstance(result, QuoteFailure):
            return result, pool
        target = self.target_price(market.pair, t)
        return result, pool.after_swap(target, t, market.side, amount_in, result.amount_out)


def ahead(entry: dict[str, str], pool: PoolState, t: Decimal) -> PoolState:
    """The pool as our transaction finds it: with a scripted `adverse` fault, a trade ahead
    of ours has pushed its price the wrong way for us."""
    if entry.get("adverse") != "1":
        return pool
    move = Decimal(ADVERSE_MOVE_BPS) / BPS
    return pool.with_shock(t, -move if entry["side"] == Side.SELL_BASE.value else move)


def refused(result: QuoteFailure) -> dict[str, str]:
    return {"state": TxState.FAILED.value, "failure": result.kind.value, "reason": result.message}


def short(where: str, market: Market, paid: Decimal, min_out: Decimal) -> dict[str, str]:
    """The ledger fields of a fill that would pay less than its minimum."""
    token = market.token_out.symbol
    return {
        "state": TxState.FAILED.value,
        "failure": FailureKind.SLIPPAGE_EXCEEDED.value,
        "reason": (
            f"slippage exceeded on {where}: the fill would pay {paid} {token}, below the "
            f"minimum {min_out} {token}"
        ),
    }


@dataclass(frozen=True, slots=True)
class PoolPricing:
    """A simulated pool as it stands at `t`. Implements `app.venues.base.Pricing`."""

    venue: SimulatedVenue
    pair: Pair
    state: PoolState
    t: Decimal

    @property
    def dex(self) -> str:
        return self.venue.name

    def quote(self, market: Market, amount_in: Decimal) -> QuoteResult:
        return self.venue._price(market, amount_in, self.state, self.t)

    def marginal(self, side: Side) -> Decimal:
        base, quote = self.state.reserves(self.venue.target_price(self.pair, self.t), self.t)
        fee = self.venue.fee_rate(self.pair, self.state, self.t)
        spot = quote / base
        return spot * (1 - fee) if side is Side.SELL_BASE else spot / (1 - fee)


def build_venues(simulator: Simulator) -> dict[str, SimulatedVenue]:
    return {spec.name: SimulatedVenue(spec, simulator) for spec in VENUES}
