"""Per-provider rate limiting: a GCRA (virtual scheduling) limiter shared in the process.

`reserve()` books the next free send slot under a thread lock and returns how long
the caller must wait; the wait itself happens outside the lock (`await` or
`time.sleep`), so the limiter is both thread-safe and async-safe and callers on
any thread or event loop share one schedule.

We stay `slack` (default 10%) under the configured rate: arrival times at the
provider jitter by a few milliseconds, and a client pacing at exactly the
provider's limit would now and then put N+1 requests into its window.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Awaitable, Callable

Sleep = Callable[[float], Awaitable[None]]


class RateLimiter:
    """At most `rate` requests per second (bursts of `burst`), shared by every caller."""

    def __init__(
        self,
        rate: float,
        *,
        burst: int = 1,
        slack: float = 0.1,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        if burst < 1:
            raise ValueError("burst must be at least 1")
        self.rate = rate
        self.burst = burst
        self.interval = (1.0 / rate) * (1.0 + slack)
        self._tolerance = (burst - 1) * self.interval
        self._clock = clock
        self._lock = threading.Lock()
        self._tat = 0.0  # theoretical arrival time of the next request
        self._blocked_until = 0.0

    def reserve(self) -> float:
        """Book the next slot; return the seconds to wait before sending (0 = now)."""
        with self._lock:
            now = self._clock()
            earliest = max(now, self._blocked_until)
            tat = max(self._tat, earliest)
            send_at = max(earliest, tat - self._tolerance)
            self._tat = tat + self.interval
            return send_at - now

    def pause(self, seconds: float) -> None:
        """Hold every caller back for `seconds` (the provider said Retry-After)."""
        with self._lock:
            self._blocked_until = max(self._blocked_until, self._clock() + max(0.0, seconds))

    async def acquire(self, sleep: Sleep = asyncio.sleep) -> float:
        """Wait for a slot (async); return the seconds waited."""
        wait = self.reserve()
        if wait > 0:
            await sleep(wait)
        return wait

    def acquire_sync(self) -> float:
        """Wait for a slot (blocking the calling thread); return the seconds waited."""
        wait = self.reserve()
        if wait > 0:
            time.sleep(wait)
        return wait


class RateLimiters:
    """One RateLimiter per provider name, so every client of a provider shares it."""

    def __init__(self, *, slack: float = 0.1, clock: Callable[[], float] = time.monotonic) -> None:
        self._slack = slack
        self._clock = clock
        self._lock = threading.Lock()
        self._limiters: dict[str, RateLimiter] = {}

    def get(self, name: str, rate: float, burst: int = 1) -> RateLimiter:
        """The limiter of `name`; a changed rate replaces it (settings were edited)."""
        with self._lock:
            limiter = self._limiters.get(name)
            if limiter is None or limiter.rate != rate or limiter.burst != burst:
                limiter = RateLimiter(rate, burst=burst, slack=self._slack, clock=self._clock)
                self._limiters[name] = limiter
            return limiter
