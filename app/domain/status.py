"""The order state machine: one status vocabulary and one table of allowed moves."""

from __future__ import annotations

import enum
from collections.abc import Mapping


class OrderStatus(enum.StrEnum):
    PENDING = "pending"
    ROUTING = "routing"
    BUILDING = "building"
    SUBMITTED = "submitted"
    CONFIRMED = "confirmed"
    FAILED = "failed"


TERMINAL: frozenset[OrderStatus] = frozenset({OrderStatus.CONFIRMED, OrderStatus.FAILED})
ACTIVE: frozenset[OrderStatus] = frozenset(OrderStatus) - TERMINAL

TRANSITIONS: Mapping[OrderStatus, frozenset[OrderStatus]] = {
    OrderStatus.PENDING: frozenset({OrderStatus.ROUTING, OrderStatus.FAILED}),
    # Re-entering ROUTING from a later stage is a retry: a new attempt with fresh quotes.
    OrderStatus.ROUTING: frozenset({OrderStatus.ROUTING, OrderStatus.BUILDING, OrderStatus.FAILED}),
    OrderStatus.BUILDING: frozenset(
        {OrderStatus.SUBMITTED, OrderStatus.ROUTING, OrderStatus.FAILED}
    ),
    OrderStatus.SUBMITTED: frozenset(
        {OrderStatus.CONFIRMED, OrderStatus.ROUTING, OrderStatus.FAILED}
    ),
    OrderStatus.CONFIRMED: frozenset(),
    OrderStatus.FAILED: frozenset(),
}


class IllegalTransition(ValueError):
    def __init__(self, current: OrderStatus, target: OrderStatus) -> None:
        super().__init__(f"an order cannot move from {current} to {target}")
        self.current = current
        self.target = target


def check_transition(current: OrderStatus, target: OrderStatus) -> None:
    """Raise `IllegalTransition` unless the table allows `current → target`."""
    if target not in TRANSITIONS[current]:
        raise IllegalTransition(current, target)


def is_retry(current: OrderStatus, target: OrderStatus) -> bool:
    """A move back to routing starts a new attempt."""
    return target is OrderStatus.ROUTING and current is not OrderStatus.PENDING
