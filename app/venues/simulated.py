"""Simulated Solana DEXs: constant-product pools and a transaction ledger, kept in Redis.

Every worker process sees the same pools and the same ledger. Fills land in batches per
pool (app/venues/landing.py): the pool and the ledger entries change in one atomic
script call, so a transaction lands at most once however many workers ask about it at
the same moment.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from hashlib import blake2b

from app.domain.amm import BPS
from app.domain.failures import ExecutionError, FailureKind
from app.domain.pool import MAX_IMPACT_BPS, PoolState
from app.domain.routing import Quote, QuoteFailure, QuoteResult
from app.domain.tokens import PAIRS_BY_SYMBOL, Market, Pair, Side, executed_price
from app.venues.base import BuiltTx, Pricing, SwapIntent, TxReceipt, TxState
from app.venues.catalog import PAIR_DRIFT, VENUES, VenueSpec
from app.venues.chaos import ADVERSE_MOVE_BPS, Fault, FaultScript, Step
from app.venues.landing import PoolLanding
from app.venues.simulator import Simulator, pool_fields, pool_state

_BASE58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_CENT = Decimal("0.01")


class SimulatedVenue:
    """One simulated DEX. Implements `app.venues.base.Venue`."""

    def __init__(self, spec: VenueSpec, simulator: Simulator) -> None:
        self.name = spec.name
        self.spec = spec
        self.simulator = simulator
        self._landings: dict[str, PoolLanding] = {}

    # -- prices -------------------------------------------------------------------------

    def target_price(self, pair: Pair, t: Decimal) -> Decimal:
        """Where arbitrage pulls this venue's pool: the market price, off by a little."""
        market = self.simulator.drift(pair.symbol, PAIR_DRIFT[pair.symbol])
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
        return frozenset(self.spec.tvl_usd)

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

    async def build(self, intent: SwapIntent) -> BuiltTx:
        await self.simulator.chaos.delay(Step.BUILD, intent.order_id, intent.attempt, self.name)
        scripted = await self.simulator.faults.take(
            intent.order_id, Step.BUILD, intent.attempt, self.name
        )
        if scripted is Fault.TIMEOUT or self.simulator.chaos.fails(
            intent.order_id, intent.attempt, Step.BUILD, self.name
        ):
            raise ExecutionError(
                FailureKind.RPC_TIMEOUT, f"{self.name}: RPC timed out fetching a blockhash"
            )
        blockhash = _base58(self._digest("blockhash", intent.order_id, intent.attempt, 32))
        return BuiltTx(dex=self.name, intent=intent, blockhash=blockhash)

    async def submit(self, tx: BuiltTx) -> TxReceipt:
        intent = tx.intent
        await self.simulator.chaos.delay(Step.SUBMIT, intent.order_id, intent.attempt, self.name)
        chaos = self.simulator.chaos
        random_fault = chaos.fails(intent.order_id, intent.attempt, Step.SUBMIT)
        if random_fault and chaos.roll("lost", intent.order_id, intent.attempt) < 0.5:
            raise ExecutionError(FailureKind.RPC_TIMEOUT, f"{self.name}: sendTransaction timed out")
        outcome, fault, entry = await self._record(tx)
        if outcome == "refused":
            raise ExecutionError(FailureKind.RPC_TIMEOUT, f"{self.name}: sendTransaction timed out")
        if fault == Fault.TIMEOUT_AFTER_SEND or random_fault:
            # The venue has the transaction; only its answer was lost.
            raise ExecutionError(
                FailureKind.RPC_TIMEOUT, f"{self.name}: sendTransaction answer timed out"
            )
        return _receipt(entry)

    async def status(self, tx_hash: str, *, wait: float = 0) -> TxReceipt | None:
        await self.simulator.fresh()
        while True:
            found = await self.simulator.book.read_tx(self.name, tx_hash)
            if found is None:
                return None
            order_id, entry = found
            if entry.get("tx") != tx_hash:
                return _superseded(tx_hash)
            if entry["state"] != TxState.PENDING:
                return _receipt(entry)
            remaining = float(entry["land_at"]) - self.simulator.clock.now()
            if remaining <= 0:
                return await self._land(order_id, tx_hash, entry["pair"])
            if wait <= 0:
                return _receipt(entry)
            # Wait as long as allowed; a caller that gets `pending` back has waited.
            pause = min(wait, remaining)
            await self.simulator.clock.sleep(pause)
            wait -= pause

    async def find(self, order_id: str) -> TxReceipt | None:
        entry = await self.simulator.book.entry(self.name, order_id)
        return _receipt(entry) if entry else None

    async def fills(self, order_id: str) -> int:
        """How many times this venue executed a swap for our order (never more than one)."""
        return int((await self.simulator.book.entry(self.name, order_id)).get("fills", 0))

    # -- internals ----------------------------------------------------------------------

    def _price(
        self, market: Market, amount_in: Decimal, state: PoolState, t: Decimal
    ) -> QuoteResult:
        pair = market.pair
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

    def _fault_fields(self, step: Step, attempt: int) -> tuple[str, str]:
        return FaultScript.fields(self.name, step, attempt)

    async def _record(self, tx: BuiltTx) -> tuple[str, str | None, dict[str, str]]:
        """Put the transaction in the ledger, unless one for this order is live or landed."""
        intent = tx.intent
        chaos = self.simulator.chaos
        tx_hash = _base58(self._digest("tx", intent.order_id, intent.attempt, 64))
        land = chaos.latency(Step.LAND, intent.order_id, intent.attempt, self.name)
        dropped = chaos.fails(intent.order_id, intent.attempt, Step.LAND, self.name)
        return await self.simulator.book.record(
            self.name,
            intent.order_id,
            tx_hash,
            self._fault_fields(Step.SUBMIT, intent.attempt),
            self._fault_fields(Step.LAND, intent.attempt),
            {
                "tx": tx_hash,
                "attempt": str(intent.attempt),
                "land_at": repr(self.simulator.clock.now() + land),
                "drop": str(int(dropped)),
                "pair": intent.market.pair.symbol,
                "pool": self.simulator.pool_key(self.name, intent.market.pair),
                "side": intent.market.side.value,
                "amount_in": str(intent.amount_in),
                "min_out": str(intent.min_out),
            },
        )

    async def _land(self, order_id: str, tx_hash: str, pair_symbol: str) -> TxReceipt:
        """Settle a due transaction exactly once: drop it, reject it, or fill it."""
        pair = PAIRS_BY_SYMBOL[pair_symbol]
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
        settled = await landing.land(self.simulator.book.ledger_key(self.name, order_id), tx_hash)
        if settled.get("tx") != tx_hash:
            return _superseded(tx_hash)
        return _receipt(settled)

    def _settle(
        self, entry: dict[str, str], pair: Pair, pool: PoolState
    ) -> tuple[dict[str, str], PoolState | None]:
        if entry["drop"] == "1":
            return {
                "state": TxState.DROPPED.value,
                "failure": FailureKind.BLOCKHASH_EXPIRED.value,
                "reason": f"{self.name}: transaction not landed before its blockhash expired",
            }, None
        t = self.simulator.now()
        market = Market(pair, Side(entry["side"]))
        if entry["adverse"] == "1":
            # A trade ahead of ours pushed the price the wrong way for us.
            move = Decimal(ADVERSE_MOVE_BPS) / BPS
            pool = pool.with_shock(t, -move if entry["side"] == "sell_base" else move)
        amount_in, min_out = Decimal(entry["amount_in"]), Decimal(entry["min_out"])
        result = self._price(market, amount_in, pool, t)
        if isinstance(result, QuoteFailure):
            return {
                "state": TxState.FAILED.value,
                "failure": result.kind.value,
                "reason": result.message,
            }, pool
        if result.amount_out < min_out:
            token = market.token_out.symbol
            return {
                "state": TxState.FAILED.value,
                "failure": FailureKind.SLIPPAGE_EXCEEDED.value,
                "reason": (
                    f"slippage exceeded on {self.name}: the fill would pay {result.amount_out} "
                    f"{token}, below the minimum {min_out} {token}"
                ),
            }, pool
        filled = pool.after_swap(
            self.target_price(pair, t), t, market.side, amount_in, result.amount_out
        )
        return {
            "state": TxState.CONFIRMED.value,
            "amount_out": str(result.amount_out),
            "price": str(executed_price(market, amount_in, result.amount_out)),
        }, filled

    def _digest(self, kind: str, order_id: str, attempt: int, size: int) -> bytes:
        material = f"{kind}|{self.name}|{order_id}|{attempt}|{self.simulator.seed}".encode()
        return blake2b(material, digest_size=size).digest()


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


def _receipt(entry: dict[str, str]) -> TxReceipt:
    return TxReceipt(
        tx_hash=entry["tx"],
        state=TxState(entry["state"]),
        attempt=int(entry["attempt"]),
        amount_out=Decimal(entry["amount_out"]) if entry.get("amount_out") else None,
        executed_price=Decimal(entry["price"]) if entry.get("price") else None,
        failure=FailureKind(entry["failure"]) if entry.get("failure") else None,
        reason=entry.get("reason"),
    )


def _superseded(tx_hash: str) -> TxReceipt:
    """Only a dropped transaction is ever replaced in the ledger by a newer one."""
    return TxReceipt(tx_hash, TxState.DROPPED, 0, failure=FailureKind.BLOCKHASH_EXPIRED)


def _base58(data: bytes) -> str:
    number = int.from_bytes(data, "big")
    out = ""
    while number:
        number, rem = divmod(number, 58)
        out = _BASE58[rem] + out
    return out or "1"
