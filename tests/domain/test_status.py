import itertools

import pytest

from app.domain.status import (
    ACTIVE,
    TERMINAL,
    TRANSITIONS,
    IllegalTransition,
    OrderStatus,
    check_transition,
    is_retry,
)

S = OrderStatus
HAPPY_PATH = [S.PENDING, S.ROUTING, S.BUILDING, S.SUBMITTED, S.CONFIRMED]


def test_the_happy_path_is_allowed() -> None:
    for current, target in itertools.pairwise(HAPPY_PATH):
        check_transition(current, target)


@pytest.mark.parametrize("current", sorted(ACTIVE))
def test_every_active_status_can_fail(current: OrderStatus) -> None:
    check_transition(current, S.FAILED)


@pytest.mark.parametrize(
    ("current", "target"),
    [
        (S.PENDING, S.BUILDING),
        (S.PENDING, S.CONFIRMED),
        (S.ROUTING, S.SUBMITTED),
        (S.BUILDING, S.CONFIRMED),
        (S.SUBMITTED, S.BUILDING),
        (S.CONFIRMED, S.FAILED),
        (S.FAILED, S.ROUTING),
        (S.CONFIRMED, S.ROUTING),
        (S.ROUTING, S.CANCELLED),
        (S.SUBMITTED, S.CANCELLED),
        (S.BUILDING, S.WAITING),
        (S.CANCELLED, S.ROUTING),
        (S.EXPIRED, S.WAITING),
        (S.PENDING, S.EXPIRED),
    ],
)
def test_illegal_moves_are_refused(current: OrderStatus, target: OrderStatus) -> None:
    with pytest.raises(IllegalTransition, match=f"from {current} to {target}"):
        check_transition(current, target)


def test_terminal_statuses_have_no_way_out() -> None:
    assert {S.CONFIRMED, S.FAILED, S.CANCELLED, S.EXPIRED} == TERMINAL
    for status in TERMINAL:
        assert not TRANSITIONS[status]


@pytest.mark.parametrize("current", [S.ROUTING, S.BUILDING, S.SUBMITTED])
def test_going_back_to_routing_is_a_retry(current: OrderStatus) -> None:
    check_transition(current, S.ROUTING)
    assert is_retry(current, S.ROUTING)


def test_first_routing_is_not_a_retry() -> None:
    assert not is_retry(S.PENDING, S.ROUTING)


@pytest.mark.parametrize("target", [S.ROUTING, S.CANCELLED, S.EXPIRED])
def test_trigger_cancel_and_expiry_all_leave_waiting(target: OrderStatus) -> None:
    check_transition(S.WAITING, target)


@pytest.mark.parametrize("current", [S.ROUTING, S.SUBMITTED])
def test_a_limit_whose_price_went_away_at_the_fill_waits_again(current: OrderStatus) -> None:
    check_transition(current, S.WAITING)
