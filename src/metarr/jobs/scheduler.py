"""The scheduler: a thread that enqueues recurring work when it falls due (it never executes).

Generic: it knows schedule *entries* (enabled, interval, last and next run, last
job) through a `ScheduleSource`, not what they mean. Each tick it

1. records the outcome of finished jobs an entry started (`Queue.get`),
2. fires every due entry through the source (which enqueues and returns the job id),
3. sleeps until the earliest `next_run_at`, at most `max_sleep` seconds, or until
   `poke()` (a schedule changed).

Firing is claimed with a compare-and-set on `next_run_at` by the source, so several
processes sharing one database each fire a due slot at most once between them, and
the queue's dedupe keeps a job that is still queued from piling up.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Protocol

from metarr.domain.errors import NotFound
from metarr.jobs.models import Clock, Job, SystemClock, error_text, utc

log = logging.getLogger(__name__)

DEFAULT_MAX_SLEEP = 60.0  # seconds; also how often finished jobs' results are picked up
RETRY_SLEEP = 1.0  # seconds, when something is still due after a tick (its enqueue failed)


@dataclass(frozen=True, slots=True)
class ScheduleEntry:
    """One recurring piece of work as the scheduler sees it."""

    id: int  # the source's own key
    name: str  # for logs
    enabled: bool  # False also when the source says "not now" (its owner is disabled)
    available: bool  # a runner exists for its job type
    interval: timedelta
    last_run_at: datetime | None
    next_run_at: datetime | None
    last_job_id: int | None
    result_job_id: int | None  # the job whose outcome is recorded in the last result

    @property
    def awaiting_result(self) -> bool:
        """True while the last job's outcome has not been recorded yet."""
        return self.last_job_id is not None and self.last_job_id != self.result_job_id

    def is_due(self, now: datetime) -> bool:
        """True when the entry should be fired at `now`."""
        return (
            self.enabled
            and self.available
            and self.next_run_at is not None
            and utc(self.next_run_at) <= utc(now)
        )


@dataclass(frozen=True, slots=True)
class RunResult:
    """How a fired entry ended: a finished job's status, or an error at enqueue time."""

    status: str  # succeeded | failed | cancelled | error (could not enqueue) | unknown (purged)
    message: str | None
    job_id: int | None
    finished_at: datetime

    @classmethod
    def of_job(cls, job: Job, now: datetime) -> RunResult:
        """The outcome of a finished job."""
        return cls(job.status.value, job.last_error, job.id, job.finished_at or now)

    def to_dict(self) -> dict[str, str | int | None]:
        """As stored and shown: JSON-ready."""
        return {
            "status": self.status,
            "message": self.message,
            "job_id": self.job_id,
            "finished_at": self.finished_at.isoformat(),
        }


class JobLookup(Protocol):
    """Reads a job by id (the `Queue` is one); NotFound once it was purged."""

    def get(self, job_id: int) -> Job:
        """The job `job_id`."""
        ...


class ScheduleSource(Protocol):
    """Where schedule entries live and how one is fired (implemented by a service)."""

    def entries(self, now: datetime) -> Sequence[ScheduleEntry]:
        """Every entry (a source may create missing ones with their defaults here)."""
        ...

    def fire(self, entry: ScheduleEntry, now: datetime) -> int | None:
        """Claim the due slot and enqueue; the job id, or None when another process won."""
        ...

    def record_result(self, entry: ScheduleEntry, result: RunResult) -> None:
        """Store how the entry's last run ended."""
        ...


@dataclass(frozen=True, slots=True)
class SchedulerStatus:
    """The scheduler's own state, for the status endpoint."""

    running: bool
    last_tick_at: datetime | None
    next_wake_at: datetime | None
    ticks: int
    last_error: str | None


def next_wake(entries: Sequence[ScheduleEntry]) -> datetime | None:
    """The earliest `next_run_at` of an entry that can fire (None when nothing can)."""
    times = [
        utc(e.next_run_at)
        for e in entries
        if e.enabled and e.available and e.next_run_at is not None
    ]
    return min(times, default=None)


class Scheduler:
    """A background thread that fires due schedule entries; `tick()` runs one pass inline."""

    def __init__(
        self,
        source: ScheduleSource,
        queue: JobLookup,
        *,
        clock: Clock | None = None,
        max_sleep: float = DEFAULT_MAX_SLEEP,
        on_fired: Callable[[ScheduleEntry, int], None] | None = None,
    ) -> None:
        self.source = source
        self.queue: JobLookup = queue
        self.clock: Clock = clock or SystemClock()
        self.max_sleep = max_sleep
        self.on_fired = on_fired
        self._lock = threading.Lock()  # one tick at a time (thread and callers of tick())
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._last_tick_at: datetime | None = None
        self._next_wake_at: datetime | None = None
        self._ticks = 0
        self._last_error: str | None = None

    # -- lifecycle --------------------------------------------------------------------

    def start(self) -> None:
        """Start the thread (no-op when it is running)."""
        if self._thread is not None:
            return
        self._stopping.clear()
        self._thread = threading.Thread(target=self._loop, name="metarr-scheduler", daemon=True)
        self._thread.start()

    def stop(self, timeout: float | None = 10.0) -> None:
        """Stop the thread after its current tick (idempotent)."""
        self._stopping.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():
                log.warning("scheduler: thread still busy at stop")
            self._thread = None

    def poke(self) -> None:
        """Tick now instead of at the planned wake (a schedule changed)."""
        self._wake.set()

    @property
    def running(self) -> bool:
        """True while the thread runs."""
        return self._thread is not None and self._thread.is_alive()

    def status(self) -> SchedulerStatus:
        """Running, last tick, next planned wake."""
        return SchedulerStatus(
            running=self.running,
            last_tick_at=self._last_tick_at,
            next_wake_at=self._next_wake_at,
            ticks=self._ticks,
            last_error=self._last_error,
        )

    # -- work -------------------------------------------------------------------------

    def tick(self) -> list[int]:
        """Record finished results, fire every due entry; returns the ids of enqueued jobs."""
        with self._lock:
            now = utc(self.clock.now())
            entries = self.source.entries(now)
            self._collect(entries, now)
            fired: list[int] = []
            wakes: list[ScheduleEntry] = []
            for entry in entries:
                if not entry.is_due(now):
                    wakes.append(entry)
                    continue
                job_id = self._fire(entry, now)
                if job_id is not None:
                    fired.append(job_id)
                # Whatever happened, the slot moved on by one interval (see the source).
                wakes.append(replace(entry, last_run_at=now, next_run_at=now + entry.interval))
            self._last_tick_at = now
            self._next_wake_at = next_wake(wakes)
            self._ticks += 1
            return fired

    def _collect(self, entries: Sequence[ScheduleEntry], now: datetime) -> None:
        for entry in entries:
            if not entry.awaiting_result or entry.last_job_id is None:
                continue
            try:
                job = self.queue.get(entry.last_job_id)
            except NotFound:
                message = f"job {entry.last_job_id} no longer exists"
                result = RunResult("unknown", message, entry.last_job_id, now)
            else:
                if not job.status.is_finished:
                    continue
                result = RunResult.of_job(job, now)
            self.source.record_result(entry, result)

    def _fire(self, entry: ScheduleEntry, now: datetime) -> int | None:
        try:
            job_id = self.source.fire(entry, now)
        except Exception as exc:  # one broken entry must not stop the others
            log.warning("scheduler: could not enqueue %s: %s", entry.name, exc)
            self.source.record_result(entry, RunResult("error", error_text(exc), None, now))
            return None
        if job_id is not None:
            log.info("scheduler: %s enqueued as job %d", entry.name, job_id)
            if self.on_fired is not None:
                self.on_fired(entry, job_id)
        return job_id

    def _sleep_seconds(self) -> float:
        if self._next_wake_at is None:
            return self.max_sleep
        delta = (self._next_wake_at - utc(self.clock.now())).total_seconds()
        if delta <= 0:
            return min(RETRY_SLEEP, self.max_sleep)
        return min(delta, self.max_sleep)

    def _loop(self) -> None:
        while not self._stopping.is_set():
            self._wake.clear()
            try:
                self.tick()
                self._last_error = None
            except Exception as exc:  # database down, ...: try again at the next wake
                self._last_error = error_text(exc)
                self._next_wake_at = None
                log.warning("scheduler: tick failed: %s", exc)
            self._wake.wait(self._sleep_seconds())
