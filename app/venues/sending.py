"""Sending transactions to the simulated ledger and following them until they land.

What a simulated venue and the simulated router share: a blockhash per attempt, one
ledger entry per order (a live or landed transaction is returned, never sent twice),
the scripted and random faults of each step, and landing once the transaction is due.
How a due transaction settles — on one pool, or on every pool of a split route at once —
is the subclass's part (`_land`), as is what its ledger entry records (`_entry`).
"""

from __future__ import annotations

from decimal import Decimal
from hashlib import blake2b

from app.domain.failures import ExecutionError, FailureKind
from app.venues.base import BuiltTx, SwapIntent, TxReceipt, TxState
from app.venues.chaos import Fault, FaultScript, Step
from app.venues.simulator import Simulator

_BASE58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"


class SimulatedSender:
    """Implements `app.venues.base.Sender` over the simulator's ledger."""

    name: str
    simulator: Simulator

    # -- Sender -------------------------------------------------------------------------

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
        blockhash = base58(self._digest("blockhash", intent.order_id, intent.attempt, 32))
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
        return receipt(entry)

    async def status(self, tx_hash: str, *, wait: float = 0) -> TxReceipt | None:
        await self.simulator.fresh()
        while True:
            found = await self.simulator.book.read_tx(self.name, tx_hash)
            if found is None:
                return None
            order_id, entry = found
            if entry.get("tx") != tx_hash:
                return superseded(tx_hash)
            if entry["state"] != TxState.PENDING:
                return receipt(entry)
            remaining = float(entry["land_at"]) - self.simulator.clock.now()
            if remaining <= 0:
                settled = await self._land(order_id, tx_hash, entry)
                return receipt(settled) if settled.get("tx") == tx_hash else superseded(tx_hash)
            if wait <= 0:
                return receipt(entry)
            # Wait as long as allowed; a caller that gets `pending` back has waited.
            pause = min(wait, remaining)
            await self.simulator.clock.sleep(pause)
            wait -= pause

    async def find(self, order_id: str) -> TxReceipt | None:
        entry = await self.simulator.book.entry(self.name, order_id)
        return receipt(entry) if entry else None

    async def fills(self, order_id: str) -> int:
        """How many times this sender executed a swap for our order (never more than one)."""
        return int((await self.simulator.book.entry(self.name, order_id)).get("fills", 0))

    # -- what a subclass adds -----------------------------------------------------------

    def _entry(self, intent: SwapIntent) -> dict[str, str]:
        """What the ledger keeps of this transaction for landing it."""
        raise NotImplementedError

    async def _land(self, order_id: str, tx_hash: str, entry: dict[str, str]) -> dict[str, str]:
        """Settle a due transaction exactly once: drop it, reject it, or fill it; the ledger
        entry afterwards."""
        raise NotImplementedError

    # -- internals ----------------------------------------------------------------------

    def _fault_fields(self, step: Step, attempt: int) -> tuple[str, str]:
        return FaultScript.fields(self.name, step, attempt)

    async def _record(self, tx: BuiltTx) -> tuple[str, str | None, dict[str, str]]:
        """Put the transaction in the ledger, unless one for this order is live or landed."""
        intent = tx.intent
        chaos = self.simulator.chaos
        tx_hash = base58(self._digest("tx", intent.order_id, intent.attempt, 64, intent.nonce))
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
                "nonce": str(intent.nonce),
                "land_at": repr(self.simulator.clock.now() + land),
                "drop": str(int(dropped)),
                "pair": intent.market.pair.symbol,
                "side": intent.market.side.value,
                "amount_in": str(intent.amount_in),
                "min_out": str(intent.min_out),
                **self._entry(intent),
            },
        )

    def _digest(self, kind: str, order_id: str, attempt: int, size: int, nonce: int = 0) -> bytes:
        send = f"{attempt}.{nonce}" if nonce else str(attempt)
        material = f"{kind}|{self.name}|{order_id}|{send}|{self.simulator.seed}".encode()
        return blake2b(material, digest_size=size).digest()


def dropped(name: str) -> dict[str, str]:
    """The ledger fields of a transaction that never lands."""
    return {
        "state": TxState.DROPPED.value,
        "failure": FailureKind.BLOCKHASH_EXPIRED.value,
        "reason": f"{name}: transaction not landed before its blockhash expired",
    }


def receipt(entry: dict[str, str]) -> TxReceipt:
    legs_out = entry.get("legs_out")
    return TxReceipt(
        tx_hash=entry["tx"],
        state=TxState(entry["state"]),
        attempt=int(entry["attempt"]),
        amount_out=Decimal(entry["amount_out"]) if entry.get("amount_out") else None,
        executed_price=Decimal(entry["price"]) if entry.get("price") else None,
        failure=FailureKind(entry["failure"]) if entry.get("failure") else None,
        reason=entry.get("reason"),
        legs_out=tuple(Decimal(part) for part in legs_out.split(",")) if legs_out else (),
        nonce=int(entry.get("nonce") or 0),
    )


def superseded(tx_hash: str) -> TxReceipt:
    """Only a dropped transaction is ever replaced in the ledger by a newer one."""
    return TxReceipt(tx_hash, TxState.DROPPED, 0, failure=FailureKind.BLOCKHASH_EXPIRED)


def base58(data: bytes) -> str:
    number = int.from_bytes(data, "big")
    out = ""
    while number:
        number, rem = divmod(number, 58)
        out = _BASE58[rem] + out
    return out or "1"
