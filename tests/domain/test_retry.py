"""The retry policy's wording and arithmetic."""

from app.domain.failures import FailureKind
from app.domain.retry import RETRY, RetryPolicy


def test_transient_failures_earn_another_attempt_until_the_last() -> None:
    assert RETRY.may_retry(FailureKind.RPC_TIMEOUT, 1)
    assert RETRY.may_retry(FailureKind.BLOCKHASH_EXPIRED, RETRY.max_attempts - 1)
    assert not RETRY.may_retry(FailureKind.RPC_TIMEOUT, RETRY.max_attempts)
    assert not RETRY.may_retry(FailureKind.SLIPPAGE_EXCEEDED, 1)
    assert not RETRY.may_retry(FailureKind.NO_ROUTE, 1)


def test_giving_up_is_worded_for_one_attempt_or_many() -> None:
    assert RETRY.gave_up("rpc timed out", 1) == "rpc timed out (gave up after 1 attempt)"
    assert RETRY.gave_up("rpc timed out", 3) == "rpc timed out (gave up after 3 attempts)"
    assert RetryPolicy(max_attempts=5).attempt_of(2) == "2 of 5"


def test_the_queue_gets_more_runs_than_the_order_gets_attempts() -> None:
    assert RETRY.queue_runs > RETRY.max_attempts
    assert RETRY.quote_timeout(0.0) == RETRY.quote_timeout_seconds
    assert RETRY.quote_timeout(3.0) == 3 * RETRY.quote_timeout_seconds
