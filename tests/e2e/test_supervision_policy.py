"""When `make run`'s supervisor restarts a process that died, and when it gives up."""

from __future__ import annotations

import pytest

from app.infra.stack import GaveUp, RestartPolicy, Restarts

PATIENT = RestartPolicy(max_crashes=1000)


def test_each_crash_doubles_the_wait_up_to_ten_seconds() -> None:
    restarts = Restarts("worker 1", PATIENT, started_at=0)
    delays = [restarts.crashed(now, "died") for now in range(1, 9)]
    assert delays == [0.5, 1, 2, 4, 8, 10, 10, 10]
    assert restarts.due == 8 + 10


def test_a_restart_clears_the_due_time() -> None:
    restarts = Restarts("web", PATIENT, started_at=0)
    restarts.crashed(1, "died")
    restarts.restarted(1.5)
    assert restarts.due is None
    assert restarts.started_at == 1.5


def test_a_minute_up_makes_the_next_crash_wait_half_a_second_again() -> None:
    restarts = Restarts("web", PATIENT, started_at=0)
    for now in (1, 2, 3):
        restarts.crashed(now, "died")
    restarts.restarted(10)
    assert restarts.crashed(69, "died") == 4  # up 59s: still backing off
    restarts.restarted(80)
    assert restarts.crashed(140, "died") == 0.5


def test_the_fifth_crash_within_a_minute_gives_up() -> None:
    restarts = Restarts("worker 1", started_at=0)
    for now in (1, 2, 3, 4):
        restarts.crashed(now, "was killed by SIGKILL")
    with pytest.raises(GaveUp, match=r"worker 1 was killed by SIGKILL \(5 crashes within 60s\)"):
        restarts.crashed(5, "was killed by SIGKILL")


def test_crashes_further_apart_never_give_up() -> None:
    restarts = Restarts("worker 1", started_at=0)
    for now in range(0, 3600, 16):  # four a minute, for an hour
        restarts.crashed(now, "died")


def test_five_failed_restarts_in_a_row_give_up_however_slow() -> None:
    restarts = Restarts("PostgreSQL", started_at=0)
    restarts.crashed(1, "is gone")
    delays = [restarts.restart_failed(t, "could not be restarted") for t in (100, 200, 300, 400)]
    assert delays == [1, 2, 4, 8]
    with pytest.raises(GaveUp, match=r"PostgreSQL could not be restarted \(5 attempts in a row\)"):
        restarts.restart_failed(500, "could not be restarted")


def test_a_successful_restart_forgives_the_failed_ones() -> None:
    restarts = Restarts("Redis", started_at=0)
    restarts.crashed(1, "was killed by SIGKILL")
    for now in (2, 3, 4):
        restarts.restart_failed(now, "could not be restarted")
    restarts.restarted(5)
    restarts.crashed(100, "was killed by SIGKILL")
    for now in (101, 102, 103):
        restarts.restart_failed(now, "could not be restarted")
