"""How a request breaks the rules: each problem named by the field as the client sent it."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Problem:
    field: str
    message: str


class InvalidOrder(ValueError):
    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("; ".join(p.message for p in problems))
        self.problems = tuple(problems)


def shown(raw: object, limit: int = 40) -> str:
    """A client's value, quoted and cut short, for a message."""
    text = repr(raw)
    return text if len(text) <= limit else text[:limit] + "…"


class Conflict(Exception):
    """A valid request that cannot be carried out as things stand (an HTTP 409 or 422)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class KeyInFlight(Conflict):
    """A request with the same Idempotency-Key is still being handled: try again shortly."""


class KeyReused(Conflict):
    """The Idempotency-Key was already used with a different request."""


class ClientOrderIdTaken(Conflict):
    """The owner already has an order with this clientOrderId."""


class NotCancellable(Conflict):
    """The order is already executing (or has ended): a cancel can no longer win."""

    def __init__(self, message: str, status: str) -> None:
        super().__init__(message)
        self.status = status


class OutcomeUnknown(Exception):
    """A write was sent in full but its answer never came: it may or may not have happened.

    Only the final commit of a new order can end this way (see `Database.decisive`); the
    caller says so, with the order's id to look up, instead of guessing either way.
    """

    def __init__(self, message: str, order_id: str) -> None:
        super().__init__(message)
        self.message = message
        self.order_id = order_id
