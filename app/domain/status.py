"""The order state machine: one status vocabulary and one table of allowed moves."""

from __future__ import annotations

import enum
from collections.abc import Mapping


class OrderStatus(enum.StrEnum):
    PENDING = "pending"
    WAITING = "waiting"
    """A limit (or sniper) order until its price is there."""
    ROUTING = "routing"
    BUILDING = "building"
    SUBMITTED = "submitted"
    CONFIRMED = "confirmed"
    FAILED = "failed"
    CANCELLED = "cancelled"
    EXPIRED = "expired"


S = OrderStatus
TERMINAL: frozenset[OrderStatus] = frozenset({S.CONFIRMED, S.FAILED, S.CANCELLED, S.EXPIRED})
ACTIVE: frozenset[OrderStatus] = frozenset(OrderStatus) - TERMINAL
MOVING: frozenset[OrderStatus] = ACTIVE - {S.WAITING}
"""Statuses a worker drives the order through (a waiting order waits for its trigger)."""
CANCELLABLE: frozenset[OrderStatus] = frozenset({S.PENDING, S.WAITING})
"""Nothing was sent yet: a cancel wins, or the order is already executing (409)."""

TRANSITIONS: Mapping[OrderStatus, frozenset[OrderStatus]] = {
    S.PENDING: frozenset({S.ROUTING, S.WAITING, S.FAILED, S.CANCELLED}),
    # Trigger, cancel and expiry are each a compare-and-set on WAITING: exactly one wins.
    # WAITING again: a sniper notes what it saw of its launch (not open yet, too shallow).
    S.WAITING: frozenset({S.WAITING, S.ROUTING, S.CANCELLED, S.EXPIRED, S.FAILED}),
    # Re-entering ROUTING from a later stage is a retry: a new attempt with fresh quotes.
    # Back to WAITING: the price a limit needs is no longer there at the fill (re-armed).
    S.ROUTING: frozenset({S.ROUTING, S.BUILDING, S.WAITING, S.FAILED}),
    S.BUILDING: frozenset({S.SUBMITTED, S.ROUTING, S.FAILED}),
    S.SUBMITTED: frozenset({S.CONFIRMED, S.ROUTING, S.WAITING, S.FAILED}),
    S.CONFIRMED: frozenset(),
    S.FAILED: frozenset(),
    S.CANCELLED: frozenset(),
    S.EXPIRED: frozenset(),
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
