"""The venue boundary: what the pipeline needs from a DEX, and nothing more.

A real adapter (Raydium's SDK, Meteora's) implements `Venue` and replaces a simulated
one without touching the pipeline.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol

from app.domain.failures import FailureKind
from app.domain.routing import QuoteResult
from app.domain.split import Leg
from app.domain.tokens import Market, Pair, Side


class TxState(enum.StrEnum):
    PENDING = "pending"
    CONFIRMED = "confirmed"
    FAILED = "failed"
    """Landed, and the program rejected it (slippage, liquidity): final."""
    DROPPED = "dropped"
    """Never landed and never will (blockhash expired): safe to send a new one."""


@dataclass(frozen=True, slots=True)
class SwapIntent:
    """One attempt at an order, as the venue is asked to execute it."""

    order_id: str
    attempt: int
    market: Market
    amount_in: Decimal
    min_out: Decimal
    """Of the whole route: a split route lands or fails as one transaction."""
    legs: tuple[Leg, ...] = ()
    """A split route's legs (sent to a `Router`); empty for one venue."""
    nonce: int = 0
    """Which send of the attempt this is (the seq of its `building` step): an order that
    waited again after its transaction landed and failed sends a new one in the same
    attempt, and only a failed transaction of another send is ever replaced."""


@dataclass(frozen=True, slots=True)
class BuiltTx:
    dex: str
    intent: SwapIntent
    blockhash: str


@dataclass(frozen=True, slots=True)
class TxReceipt:
    """The venue's record of our transaction."""

    tx_hash: str
    state: TxState
    attempt: int
    amount_out: Decimal | None = None
    executed_price: Decimal | None = None
    failure: FailureKind | None = None
    reason: str | None = None
    legs_out: tuple[Decimal, ...] = ()
    """What each leg of a split route paid, in the route's order (once confirmed)."""
    nonce: int = 0
    """The send it belongs to (`SwapIntent.nonce`)."""

    @property
    def live(self) -> bool:
        """Pending or landed: sending another transaction could trade twice."""
        return self.state is not TxState.DROPPED


class Pricing(Protocol):
    """One venue's prices for one pair at one moment: many orders priced from one read."""

    @property
    def dex(self) -> str: ...

    def quote(self, market: Market, amount_in: Decimal) -> QuoteResult:
        """What swapping `amount_in` would pay now (as `Venue.quote`, without a round trip)."""
        ...

    def marginal(self, side: Side) -> Decimal:
        """The price (quote token per base token) of the smallest trade, after fees: the best
        any order on this side can get here."""
        ...


class Sender(Protocol):
    """What sends an order's transaction and follows it to the end."""

    name: str

    async def build(self, intent: SwapIntent) -> BuiltTx:
        """Prepare the transaction (fresh blockhash, min-out guard). Raises `ExecutionError`."""
        ...

    async def submit(self, tx: BuiltTx) -> TxReceipt:
        """Send it. Idempotent per order: a live or landed transaction is returned, not resent."""
        ...

    async def status(self, tx_hash: str, *, wait: float = 0) -> TxReceipt | None:
        """Where the transaction is, waiting up to `wait` seconds for it to settle.

        None when it has never been seen.
        """
        ...

    async def find(self, order_id: str) -> TxReceipt | None:
        """The transaction held for our order, if any (asked after a crash)."""
        ...


class Router(Sender, Protocol):
    """Sends a split route as one transaction over its legs' venues (as Jupiter packs a
    route's swaps into one Solana transaction): it lands whole or not at all, and is
    idempotent per order like a venue's."""


class Venue(Sender, Protocol):
    name: str

    async def pricing(self, pair: Pair) -> Pricing | None:
        """This venue's prices for `pair` now, or None if it has no pool for it."""
        ...

    def pairs(self) -> frozenset[str]:
        """Symbols of the pairs this venue has a pool for (e.g. `SOL/USDC`)."""
        ...

    async def quote(
        self, market: Market, amount_in: Decimal, *, order_id: str | None = None, attempt: int = 0
    ) -> QuoteResult:
        """Price `amount_in` now; a failure comes back as a `QuoteFailure`, never raised."""
        ...
