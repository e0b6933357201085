"""Retry policy: exponential backoff with jitter, and our error tree mapped to decisions.

This is the one place that decides what a handler's exception means for its job:

* `ServiceUnavailable` (a dependency is down) -> retry with backoff;
* `AuthenticationFailed`, `InvalidInput`, `NotFound`, `FieldLocked` -> fail now;
  retrying cannot help;
* `Conflict` (busy) and any exception we do not know -> retry, up to max_attempts.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

from metarr.domain.errors import (
    AuthenticationFailed,
    FieldLocked,
    InvalidInput,
    NotFound,
    ServiceUnavailable,
)

NON_RETRYABLE: tuple[type[BaseException], ...] = (
    AuthenticationFailed,
    InvalidInput,
    NotFound,
    FieldLocked,
)


class JobCancelled(Exception):
    """Raised inside a handler by `check_cancelled()` when the job must stop."""


class JobInterrupted(JobCancelled):
    """Raised by `check_cancelled()` when the worker shuts down; the job is queued again."""


class JobDeferred(Exception):
    """Raised by a handler: the job cannot run now (its dependency is busy or down).

    The job goes back to the queue, eligible again after `delay` seconds, without
    consuming an attempt; nothing counts against the dependency's circuit breaker.
    """

    def __init__(self, message: str, *, delay: float) -> None:
        super().__init__(message)
        self.delay = max(0.0, float(delay))


class JobTimeout(Exception):
    """Raised inside a handler by `check_cancelled()` once the job type's timeout passed."""


def is_retryable(exc: BaseException) -> bool:
    """Whether running the job again later may succeed."""
    return not isinstance(exc, NON_RETRYABLE)


def is_dependency_failure(exc: BaseException) -> bool:
    """Whether `exc` says the external dependency itself is down (counts for its breaker)."""
    return isinstance(exc, ServiceUnavailable | TimeoutError | JobTimeout)


@dataclass(frozen=True, slots=True)
class Backoff:
    """Delay before attempt n+1: base * factor^(n-1), capped, times a jitter in [1-j, 1+j]."""

    base: float = 5.0
    factor: float = 2.0
    max_delay: float = 3600.0
    jitter: float = 0.2

    def delay(self, attempt: int, rand: Callable[[], float] = random.random) -> float:
        """Seconds to wait after failed attempt number `attempt` (1-based)."""
        raw = min(self.max_delay, self.base * self.factor ** max(0, attempt - 1))
        return raw * (1 - self.jitter + 2 * self.jitter * rand())


@dataclass(frozen=True, slots=True)
class RetryDecision:
    """What to do with a failed attempt: retry after `delay` seconds, or fail for good."""

    retry: bool
    delay: float = 0.0
    reason: str = ""


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Turns (exception, attempts made, max attempts) into a RetryDecision."""

    backoff: Backoff = Backoff()
    rand: Callable[[], float] = random.random

    def decide(self, exc: BaseException, attempts: int, max_attempts: int) -> RetryDecision:
        """Retry a retryable error while attempts remain; otherwise fail."""
        if not is_retryable(exc):
            return RetryDecision(False, reason=f"{type(exc).__name__} is not retryable")
        if attempts >= max_attempts:
            return RetryDecision(False, reason=f"gave up after {attempts} attempt(s)")
        delay = self.backoff.delay(attempts, self.rand)
        # A dependency that says when to come back (HTTP Retry-After) is believed.
        retry_after = getattr(exc, "retry_after", None)
        if isinstance(retry_after, int | float) and retry_after > delay:
            delay = float(retry_after)
        return RetryDecision(True, delay=delay, reason=f"attempt {attempts} of {max_attempts}")
