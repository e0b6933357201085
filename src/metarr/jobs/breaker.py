"""Circuit breakers, one per external dependency (tmdb, fanart, a Kodi player...).

closed --N consecutive failures--> open --cool-down--> half_open --probe ok--> closed
                                     ^                     |
                                     +----probe failed-----+

In half_open exactly one caller is let through (the probe); if it never reports
back, another probe is allowed after a further cool-down. State lives in memory,
per process: every worker process learns on its own that a dependency is down,
which costs each at most `failure_threshold` failed attempts.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from enum import StrEnum


class BreakerState(StrEnum):
    """The three states of a circuit breaker."""

    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


StateListener = Callable[[str, BreakerState, BreakerState], None]


class CircuitBreaker:
    """Counts consecutive failures of one dependency and stops calls while it is down."""

    def __init__(
        self,
        name: str,
        *,
        failure_threshold: int = 5,
        cooldown: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
        on_change: StateListener | None = None,
    ) -> None:
        if failure_threshold < 1:
            raise ValueError("failure_threshold must be at least 1")
        self.name = name
        self.failure_threshold = failure_threshold
        self.cooldown = cooldown
        self._clock = clock
        self._on_change = on_change
        self._lock = threading.Lock()
        self._state = BreakerState.CLOSED
        self._failures = 0
        self._opened_at = 0.0
        self._probe_started: float | None = None

    def state(self) -> BreakerState:
        """The current state (open turns half_open once the cool-down has passed)."""
        with self._lock:
            self._advance()
            return self._state

    def allow(self) -> bool:
        """May a call go to the dependency now? In half_open, True for one probe only."""
        with self._lock:
            self._advance()
            if self._state is BreakerState.CLOSED:
                return True
            if self._state is BreakerState.OPEN:
                return False
            now = self._clock()
            if self._probe_started is None or now - self._probe_started >= self.cooldown:
                self._probe_started = now
                return True
            return False

    def record_success(self) -> None:
        """The dependency answered: close the circuit."""
        self._set(BreakerState.CLOSED, failures=0)

    def record_failure(self) -> None:
        """The dependency failed: open after N consecutive failures, or when a probe fails."""
        with self._lock:
            self._advance()
            self._failures += 1
            trip = self._state is BreakerState.HALF_OPEN or (
                self._state is BreakerState.CLOSED and self._failures >= self.failure_threshold
            )
        if trip:
            self._set(BreakerState.OPEN, failures=self._failures)

    def release(self) -> None:
        """An allowed call ended without telling whether the dependency is healthy."""
        with self._lock:
            self._probe_started = None

    def seconds_until_probe(self) -> float:
        """How long until a call may be tried again (0 when closed)."""
        with self._lock:
            self._advance()
            now = self._clock()
            if self._state is BreakerState.OPEN:
                return max(0.0, self._opened_at + self.cooldown - now)
            if self._state is BreakerState.HALF_OPEN and self._probe_started is not None:
                return max(0.0, self._probe_started + self.cooldown - now)
            return 0.0

    def _advance(self) -> None:
        # caller holds the lock
        if self._state is BreakerState.OPEN and self._clock() - self._opened_at >= self.cooldown:
            self._state = BreakerState.HALF_OPEN
            self._probe_started = None

    def _set(self, state: BreakerState, *, failures: int) -> None:
        with self._lock:
            self._advance()
            old = self._state
            self._failures = failures
            if state is BreakerState.OPEN:
                self._opened_at = self._clock()
            self._probe_started = None
            self._state = state
        if old is not state and self._on_change is not None:
            self._on_change(self.name, old, state)


class Breakers:
    """One CircuitBreaker per dependency name, created on first use with shared settings."""

    def __init__(
        self,
        *,
        failure_threshold: int = 5,
        cooldown: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.failure_threshold = failure_threshold
        self.cooldown = cooldown
        self._clock = clock
        self._lock = threading.Lock()
        self._breakers: dict[str, CircuitBreaker] = {}
        self._listeners: list[StateListener] = []

    def get(self, name: str) -> CircuitBreaker:
        """The breaker of dependency `name`."""
        with self._lock:
            breaker = self._breakers.get(name)
            if breaker is None:
                breaker = CircuitBreaker(
                    name,
                    failure_threshold=self.failure_threshold,
                    cooldown=self.cooldown,
                    clock=self._clock,
                    on_change=self._changed,
                )
                self._breakers[name] = breaker
            return breaker

    def subscribe(self, listener: StateListener) -> None:
        """Call `listener(name, old, new)` on every state change (from the caller's thread)."""
        if listener not in self._listeners:
            self._listeners.append(listener)

    def unsubscribe(self, listener: StateListener) -> None:
        """Stop calling `listener`."""
        if listener in self._listeners:
            self._listeners.remove(listener)

    def states(self) -> dict[str, BreakerState]:
        """Every known dependency and its state (for health pages)."""
        with self._lock:
            breakers = list(self._breakers.values())
        return {b.name: b.state() for b in breakers}

    def _changed(self, name: str, old: BreakerState, new: BreakerState) -> None:
        for listener in list(self._listeners):
            listener(name, old, new)
