"""Circuit breaker: closed -> open -> half_open (one probe) -> closed."""

from __future__ import annotations

import threading

import pytest

from metarr.jobs.breaker import Breakers, BreakerState, CircuitBreaker


class Ticker:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


@pytest.fixture
def clock() -> Ticker:
    return Ticker()


def _breaker(clock: Ticker) -> CircuitBreaker:
    return CircuitBreaker("tmdb", failure_threshold=3, cooldown=30.0, clock=clock)


def test_opens_after_n_consecutive_failures(clock: Ticker) -> None:
    breaker = _breaker(clock)
    for _ in range(2):
        breaker.record_failure()
        assert breaker.state() is BreakerState.CLOSED
        assert breaker.allow()
    breaker.record_failure()
    assert breaker.state() is BreakerState.OPEN
    assert not breaker.allow()
    assert breaker.seconds_until_probe() == pytest.approx(30.0)


def test_a_success_resets_the_failure_count(clock: Ticker) -> None:
    breaker = _breaker(clock)
    breaker.record_failure()
    breaker.record_failure()
    breaker.record_success()
    breaker.record_failure()
    breaker.record_failure()
    assert breaker.state() is BreakerState.CLOSED


def test_half_open_after_cooldown_allows_exactly_one_probe(clock: Ticker) -> None:
    breaker = _breaker(clock)
    for _ in range(3):
        breaker.record_failure()
    clock.t += 29.9
    assert not breaker.allow()
    clock.t += 0.1
    assert breaker.state() is BreakerState.HALF_OPEN
    assert breaker.seconds_until_probe() == 0.0
    assert breaker.allow()  # the probe
    assert not breaker.allow()
    assert not breaker.allow()
    assert breaker.seconds_until_probe() == pytest.approx(30.0)


def test_probe_success_closes(clock: Ticker) -> None:
    breaker = _breaker(clock)
    for _ in range(3):
        breaker.record_failure()
    clock.t += 30
    assert breaker.allow()
    breaker.record_success()
    assert breaker.state() is BreakerState.CLOSED
    assert all(breaker.allow() for _ in range(5))


def test_probe_failure_reopens_for_a_new_cooldown(clock: Ticker) -> None:
    breaker = _breaker(clock)
    for _ in range(3):
        breaker.record_failure()
    clock.t += 30
    assert breaker.allow()
    breaker.record_failure()
    assert breaker.state() is BreakerState.OPEN
    clock.t += 29
    assert not breaker.allow()
    clock.t += 1
    assert breaker.allow()


def test_a_probe_that_never_reports_is_replaced_after_a_cooldown(clock: Ticker) -> None:
    breaker = _breaker(clock)
    for _ in range(3):
        breaker.record_failure()
    clock.t += 30
    assert breaker.allow()
    clock.t += 29
    assert not breaker.allow()
    clock.t += 1
    assert breaker.allow()


def test_release_lets_the_next_caller_probe(clock: Ticker) -> None:
    breaker = _breaker(clock)
    for _ in range(3):
        breaker.record_failure()
    clock.t += 30
    assert breaker.allow()
    breaker.release()
    assert breaker.allow()


def test_only_one_probe_under_concurrency(clock: Ticker) -> None:
    breaker = _breaker(clock)
    for _ in range(3):
        breaker.record_failure()
    clock.t += 30
    granted: list[bool] = []
    barrier = threading.Barrier(16)

    def ask() -> None:
        barrier.wait()
        granted.append(breaker.allow())

    threads = [threading.Thread(target=ask) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert granted.count(True) == 1


def test_state_changes_are_reported(clock: Ticker) -> None:
    changes: list[tuple[str, BreakerState, BreakerState]] = []
    breakers = Breakers(failure_threshold=1, cooldown=10.0, clock=clock)
    breakers.subscribe(lambda *change: changes.append(change))
    breaker = breakers.get("fanart")
    assert breakers.get("fanart") is breaker
    breaker.record_failure()
    clock.t += 10
    assert breaker.allow()
    breaker.record_success()
    assert changes == [
        ("fanart", BreakerState.CLOSED, BreakerState.OPEN),
        ("fanart", BreakerState.HALF_OPEN, BreakerState.CLOSED),
    ]
    assert breakers.states() == {"fanart": BreakerState.CLOSED}


def test_breakers_are_independent_per_dependency(clock: Ticker) -> None:
    breakers = Breakers(failure_threshold=1, cooldown=10.0, clock=clock)
    breakers.get("tmdb").record_failure()
    assert not breakers.get("tmdb").allow()
    assert breakers.get("fanart").allow()


def test_rejects_a_zero_threshold() -> None:
    with pytest.raises(ValueError, match="failure_threshold"):
        CircuitBreaker("x", failure_threshold=0)
