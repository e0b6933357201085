"""Live events: typed messages fanned out to subscribers without ever blocking a publisher."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

log = logging.getLogger(__name__)

Event = dict[str, Any]
Subscriber = Callable[[Event], None]

EVENT_TYPES = (
    "job.created",
    "job.started",
    "job.progress",
    "job.succeeded",
    "job.failed",
    "job.cancelled",
    "job.retry_scheduled",
    "job.requeued",
    "queue.stats",
    "scan.progress",
    "item.changed",
    "library.changed",
    "player.status",
    "player.activity",
    "heartbeat",
    "resync",
)

# set on events relayed from another process (services/event_relay.py)
RELAY_MARKS = ("origin", "truncated")


def make_event(event_type: str, **fields: Any) -> Event:
    """An event: `type`, `ts` (ISO UTC) and its fields."""
    return {"type": event_type, "ts": datetime.now(UTC).isoformat(), **fields}


class EventBus:
    """In-process pub/sub. Subscribers must be fast and non-blocking (they only enqueue)."""

    def __init__(self, *, stats: Callable[[], Mapping[str, Any]] | None = None) -> None:
        self._subs: dict[int, Subscriber] = {}
        self._lock = threading.Lock()
        self._next = 0
        self._stats = stats
        self._stats_lock = threading.Lock()
        self._stats_due = 0.0
        self.stats_interval = 1.0

    def subscribe(self, fn: Subscriber) -> int:
        """Add a subscriber; returns a token for `unsubscribe`."""
        with self._lock:
            self._next += 1
            self._subs[self._next] = fn
            return self._next

    def unsubscribe(self, token: int) -> None:
        """Remove a subscriber."""
        with self._lock:
            self._subs.pop(token, None)

    @property
    def subscribers(self) -> int:
        """How many subscribers are connected."""
        return len(self._subs)

    def publish(self, event: Event) -> None:
        """Deliver `event` to every subscriber; a failing subscriber is logged and skipped."""
        with self._lock:
            subs = list(self._subs.values())
        for fn in subs:
            try:
                fn(event)
            except Exception:
                log.exception("event subscriber failed")

    def publish_job(self, job_event: Mapping[str, Any]) -> None:
        """Forward a queue event (`{"type", "ts", "job"}`) and a throttled `queue.stats`.

        A job event relayed from another process keeps its `origin` and `truncated` marks.
        """
        job = dict(job_event.get("job") or {})
        self.publish(
            {
                "type": job_event["type"],
                "ts": job_event.get("ts") or make_event("x")["ts"],
                "job": job,
                **{k: job_event[k] for k in RELAY_MARKS if k in job_event},
            }
        )
        if job_event["type"] != "job.progress":
            self.maybe_publish_stats()

    def maybe_publish_stats(self, *, force: bool = False) -> None:
        """Publish `queue.stats` at most once per `stats_interval` (skipped with no listener)."""
        if self._stats is None or (not self._subs and not force):
            return
        now = time.monotonic()
        with self._stats_lock:
            if not force and now < self._stats_due:
                return
            self._stats_due = now + self.stats_interval
        try:
            stats = dict(self._stats())
        except Exception:  # stats are best effort: the database may be briefly away
            log.debug("queue stats unavailable", exc_info=True)
            return
        self.publish(make_event("queue.stats", stats=stats))
