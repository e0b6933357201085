"""Per-provider usage counters (requests, 429s, errors, cache hits) in hourly buckets.

`ProviderHttp` counts into the process's `ProviderUsage` (shared through
`ProviderDeps`, so a provider rebuilt after a settings change keeps counting into
the same place). Counting is a dict update under a lock: nothing on the request
path touches the database. The settings service drains the pending counts into the
`provider_usage` table now and then (and when stats are read), adding them to the
hour's row, so every process (`metarr serve`, `metarr worker`) contributes.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Literal

UsageKind = Literal["requests", "rate_limited", "errors", "cache_hits"]
HOUR = 3600


@dataclass(slots=True)
class UsageCounts:
    """What one provider did in some period.

    `requests`: HTTP requests sent (every attempt, retries included); `rate_limited`:
    429 answers; `errors`: attempts that failed otherwise (timeouts, connection
    errors, 5xx, refused keys, rejected requests; "not found" is an answer, not an
    error); `cache_hits`: calls answered from the response cache without a request.
    """

    requests: int = 0
    rate_limited: int = 0
    errors: int = 0
    cache_hits: int = 0

    def add(self, other: UsageCounts) -> None:
        """Add `other`'s counts to these."""
        self.requests += other.requests
        self.rate_limited += other.rate_limited
        self.errors += other.errors
        self.cache_hits += other.cache_hits

    def as_dict(self) -> dict[str, int]:
        """The counts by name."""
        return {
            "requests": self.requests,
            "rate_limited": self.rate_limited,
            "errors": self.errors,
            "cache_hits": self.cache_hits,
        }


def hour_of(timestamp: float) -> int:
    """The start of the hour holding `timestamp` (epoch seconds)."""
    return int(timestamp // HOUR) * HOUR


class ProviderUsage:
    """Counts not yet saved, by (provider, hour start); thread-safe."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._pending: dict[tuple[str, int], UsageCounts] = {}

    def count(self, provider: str, kind: UsageKind, n: int = 1) -> None:
        """Add `n` to `kind` of `provider` in the current hour."""
        key = (provider, hour_of(self._clock()))
        with self._lock:
            counts = self._pending.get(key)
            if counts is None:
                counts = self._pending[key] = UsageCounts()
            setattr(counts, kind, getattr(counts, kind) + n)

    def drain(self) -> dict[tuple[str, int], UsageCounts]:
        """Take every pending count (the caller saves them, or `restore`s them on failure)."""
        with self._lock:
            pending, self._pending = self._pending, {}
        return pending

    def restore(self, pending: Mapping[tuple[str, int], UsageCounts]) -> None:
        """Put drained counts back (saving them failed; they go with the next save)."""
        with self._lock:
            for key, counts in pending.items():
                mine = self._pending.get(key)
                if mine is None:
                    self._pending[key] = UsageCounts(**counts.as_dict())
                else:
                    mine.add(counts)

    def pending(self, provider: str, since: int) -> UsageCounts:
        """Unsaved counts of `provider` from hour `since` on."""
        total = UsageCounts()
        with self._lock:
            for (name, hour), counts in self._pending.items():
                if name == provider and hour >= since:
                    total.add(counts)
        return total
