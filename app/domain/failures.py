"""Why an order step failed, and whether trying again can help."""

from __future__ import annotations

import enum


class FailureKind(enum.StrEnum):
    RPC_TIMEOUT = "rpc_timeout"
    BLOCKHASH_EXPIRED = "blockhash_expired"
    """The transaction did not land before its blockhash expired: it never will."""
    WORKER_LOST = "worker_lost"
    SLIPPAGE_EXCEEDED = "slippage_exceeded"
    NO_ROUTE = "no_route"
    INSUFFICIENT_LIQUIDITY = "insufficient_liquidity"
    NOT_OPEN = "not_open"
    """A launched token's pool does not trade before its open time."""


class ExecutionError(Exception):
    """A step of an order failed; `message` is written for the trader."""

    def __init__(self, kind: FailureKind, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
