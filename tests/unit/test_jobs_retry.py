"""Retry policy: backoff schedule and the error tree mapped to retry decisions."""

from __future__ import annotations

import random

import pytest

from metarr.domain.errors import (
    AuthenticationFailed,
    Conflict,
    FieldLocked,
    InvalidInput,
    NotFound,
    ServiceUnavailable,
)
from metarr.jobs.models import (
    TRANSITIONS,
    JobStatus,
    Priority,
    can_transition,
    check_priority,
    sources_of,
)
from metarr.jobs.retry import (
    Backoff,
    JobTimeout,
    RetryPolicy,
    is_dependency_failure,
    is_retryable,
)


@pytest.mark.parametrize("attempt", [1, 2, 3, 4, 5, 6])
def test_backoff_delay_stays_within_jitter_bounds(attempt: int) -> None:
    backoff = Backoff(base=2.0, factor=2.0, max_delay=10_000, jitter=0.25)
    nominal = 2.0 * 2 ** (attempt - 1)
    rng = random.Random(attempt)
    delays = [backoff.delay(attempt, rng.random) for _ in range(200)]
    assert all(nominal * 0.75 <= d <= nominal * 1.25 for d in delays)
    assert backoff.delay(attempt, lambda: 0.0) == pytest.approx(nominal * 0.75)
    assert backoff.delay(attempt, lambda: 1.0) == pytest.approx(nominal * 1.25)
    assert backoff.delay(attempt, lambda: 0.5) == pytest.approx(nominal)


def test_backoff_grows_exponentially_then_caps() -> None:
    backoff = Backoff(base=5.0, factor=2.0, max_delay=60.0, jitter=0.0)
    assert [backoff.delay(n) for n in range(1, 7)] == [5.0, 10.0, 20.0, 40.0, 60.0, 60.0]


@pytest.mark.parametrize(
    "error",
    [ServiceUnavailable("down"), Conflict("busy"), ValueError("bug?"), TimeoutError(), OSError()],
)
def test_transient_and_unknown_errors_are_retried(error: Exception) -> None:
    assert is_retryable(error)
    decision = RetryPolicy(Backoff(base=1.0, jitter=0.0)).decide(error, 1, 3)
    assert decision.retry
    assert decision.delay == 1.0


@pytest.mark.parametrize(
    "error",
    [AuthenticationFailed("key"), InvalidInput("bad"), NotFound("gone"), FieldLocked("locked")],
)
def test_errors_that_retrying_cannot_fix_fail_at_once(error: Exception) -> None:
    assert not is_retryable(error)
    decision = RetryPolicy().decide(error, 1, 10)
    assert not decision.retry
    assert "not retryable" in decision.reason


def test_retryable_error_fails_when_attempts_are_exhausted() -> None:
    policy = RetryPolicy(Backoff(jitter=0.0))
    assert policy.decide(ServiceUnavailable("down"), 2, 3).retry
    last = policy.decide(ServiceUnavailable("down"), 3, 3)
    assert not last.retry
    assert "3 attempt" in last.reason


def test_retry_after_hint_from_a_dependency_is_honoured() -> None:
    error = ServiceUnavailable("rate limited")
    error.retry_after = 120  # type: ignore[attr-defined]
    assert RetryPolicy(Backoff(base=1.0, jitter=0.0)).decide(error, 1, 5).delay == 120


def test_dependency_failures_are_what_trips_a_breaker() -> None:
    assert is_dependency_failure(ServiceUnavailable("x"))
    assert is_dependency_failure(TimeoutError())
    assert is_dependency_failure(JobTimeout())
    assert not is_dependency_failure(NotFound("x"))
    assert not is_dependency_failure(ValueError())


def test_status_machine() -> None:
    assert can_transition(JobStatus.QUEUED, JobStatus.RUNNING)
    assert can_transition(JobStatus.RUNNING, JobStatus.RETRY_SCHEDULED)
    assert can_transition(JobStatus.RETRY_SCHEDULED, JobStatus.RUNNING)
    assert can_transition(JobStatus.FAILED, JobStatus.QUEUED)
    assert not can_transition(JobStatus.SUCCEEDED, JobStatus.QUEUED)
    assert not can_transition(JobStatus.QUEUED, JobStatus.SUCCEEDED)
    assert sources_of(JobStatus.RUNNING) == {JobStatus.QUEUED, JobStatus.RETRY_SCHEDULED}
    assert set(TRANSITIONS) == set(JobStatus)
    assert all(s.is_finished for s in (JobStatus.SUCCEEDED, JobStatus.FAILED))
    assert not JobStatus.RETRY_SCHEDULED.is_finished


def test_priorities_are_one_to_ten() -> None:
    assert check_priority(Priority.HIGHEST) == 1
    assert check_priority(Priority.LOWEST) == 10
    for bad in (0, 11, -1):
        with pytest.raises(InvalidInput):
            check_priority(bad)
