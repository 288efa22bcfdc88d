"""Quotes and the route choice: the venue whose output after fees is largest."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from app.domain.amm import BPS
from app.domain.failures import ExecutionError, FailureKind
from app.domain.tokens import Token


@dataclass(frozen=True, slots=True)
class Quote:
    """What a venue would pay for an order now. `amount_out` is net of its fee."""

    dex: str
    amount_in: Decimal
    amount_out: Decimal
    fee: Decimal
    fee_bps: Decimal
    price_impact_bps: Decimal


@dataclass(frozen=True, slots=True)
class QuoteFailure:
    """A venue that could not quote, and why."""

    dex: str
    kind: FailureKind
    message: str


QuoteResult = Quote | QuoteFailure


def choose_best(results: Sequence[QuoteResult]) -> Quote:
    """The quote with the largest output after fees; ties go to lower price impact.

    Raises `ExecutionError`: retryable when a venue only failed transiently (fresh
    quotes may succeed), final when no venue can fill the order at all.
    """
    quotes = [r for r in results if isinstance(r, Quote) and r.amount_out > 0]
    if quotes:
        return max(quotes, key=lambda q: (q.amount_out, -q.price_impact_bps, q.dex))
    failures = [r for r in results if isinstance(r, QuoteFailure)]
    transient = [f for f in failures if f.kind is FailureKind.RPC_TIMEOUT]
    if transient:
        raise ExecutionError(FailureKind.RPC_TIMEOUT, _join(transient))
    shallow = [f for f in failures if f.kind is FailureKind.INSUFFICIENT_LIQUIDITY]
    if shallow:
        raise ExecutionError(FailureKind.INSUFFICIENT_LIQUIDITY, _join(shallow))
    if failures:
        raise ExecutionError(FailureKind.NO_ROUTE, _join(failures))
    raise ExecutionError(FailureKind.NO_ROUTE, "no venue trades this pair for this amount")


def min_received(amount_out: Decimal, slippage_bps: int, token_out: Token) -> Decimal:
    """The least a fill may pay before it fails as slippage exceeded."""
    return token_out.floor(amount_out * (BPS - slippage_bps) / BPS)


def shortfall_bps(quoted: Decimal, executed: Decimal) -> Decimal:
    """How much less than quoted a fill paid, in bps (negative: it paid more)."""
    return ((quoted - executed) / quoted * BPS).quantize(Decimal("0.01"))


def _join(failures: Sequence[QuoteFailure]) -> str:
    return "; ".join(f"{f.dex}: {f.message}" for f in failures)
