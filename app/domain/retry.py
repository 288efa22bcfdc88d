"""The retry policy, in one place: how many attempts an order gets, which failures earn
another one, how the queue spaces them, and how giving up is worded.

An *attempt* is one try at the trade: fresh quotes, a venue, a transaction. It ends
when a venue answers. A *run* is one pass of the queue's job over the order; a run
that stops (a killed worker, a lost connection) does not end an attempt, so an order
gets more queue runs than attempts.
"""

from __future__ import annotations

from dataclasses import dataclass

from app.domain.failures import FailureKind


class RetryLater(Exception):
    """This attempt failed transiently; the queue should run the order again after a backoff."""


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    max_attempts: int = 3
    """Attempts in all for one order, the first included."""
    retryable: frozenset[FailureKind] = frozenset(
        {FailureKind.RPC_TIMEOUT, FailureKind.BLOCKHASH_EXPIRED, FailureKind.WORKER_LOST}
    )
    """Failures a fresh attempt can cure. Anything else (slippage, no route, liquidity) is final."""
    runs_per_attempt: int = 2
    """Queue runs per attempt: room for runs lost to crashes and sweeps."""
    first_delay_seconds: float = 1.0
    """The first backoff; the queue doubles it per run, with full jitter (≈1 s, ≈2 s, …)."""
    quote_timeout_seconds: float = 2.0
    """A venue's quote that takes longer (at latency scale 1) counts as a transient failure."""

    @property
    def queue_runs(self) -> int:
        return self.max_attempts * self.runs_per_attempt

    def quote_timeout(self, latency_scale: float) -> float:
        return self.quote_timeout_seconds * max(1.0, latency_scale)

    def is_retryable(self, kind: FailureKind) -> bool:
        return kind in self.retryable

    def may_retry(self, kind: FailureKind, attempt: int) -> bool:
        """Whether a failure of this kind in `attempt` earns another attempt."""
        return self.is_retryable(kind) and attempt < self.max_attempts

    def gave_up(self, reason: str, attempts: int) -> str:
        """The reason an order failed after its last transient failure."""
        plural = "" if attempts == 1 else "s"
        return f"{reason} (gave up after {attempts} attempt{plural})"

    def attempt_of(self, attempt: int) -> str:
        """`2 of 3`, for pages."""
        return f"{attempt} of {self.max_attempts}"


RETRY = RetryPolicy()
"""The engine's policy. Everything that retries, or says how, reads it from here."""
