"""Jobs are data: the job record, its status machine, priorities and job-type specs."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import IntEnum, StrEnum
from typing import TYPE_CHECKING, Any, Protocol, TypedDict

from metarr.domain.errors import InvalidInput

if TYPE_CHECKING:
    from metarr.jobs.worker import JobContext


class JobStatus(StrEnum):
    """Where a job is in its life; see `TRANSITIONS` for the allowed moves."""

    QUEUED = "queued"
    RUNNING = "running"
    RETRY_SCHEDULED = "retry_scheduled"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def is_finished(self) -> bool:
        """True for the terminal states kept as history."""
        return self in FINISHED


PENDING: frozenset[JobStatus] = frozenset({JobStatus.QUEUED, JobStatus.RETRY_SCHEDULED})
FINISHED: frozenset[JobStatus] = frozenset(
    {JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED}
)

# Every status change the queue makes is one of these (the queue's SQL guards on them).
TRANSITIONS: Mapping[JobStatus, frozenset[JobStatus]] = {
    # claimed by a worker, or cancelled before it ran
    JobStatus.QUEUED: frozenset({JobStatus.RUNNING, JobStatus.CANCELLED}),
    # eligible again at run_at, or cancelled while waiting
    JobStatus.RETRY_SCHEDULED: frozenset({JobStatus.RUNNING, JobStatus.CANCELLED}),
    JobStatus.RUNNING: frozenset(
        {
            JobStatus.SUCCEEDED,
            JobStatus.FAILED,
            JobStatus.CANCELLED,
            JobStatus.RETRY_SCHEDULED,  # retryable error, or deferred by an open breaker
            JobStatus.QUEUED,  # lease expired: the worker died, the job is reclaimed
        }
    ),
    JobStatus.SUCCEEDED: frozenset(),
    # a person asked to run it again
    JobStatus.FAILED: frozenset({JobStatus.QUEUED}),
    JobStatus.CANCELLED: frozenset({JobStatus.QUEUED}),
}


def can_transition(source: JobStatus, target: JobStatus) -> bool:
    """True when a job may move from `source` to `target`."""
    return target in TRANSITIONS[source]


def sources_of(target: JobStatus) -> frozenset[JobStatus]:
    """The statuses a job may be in to move to `target`."""
    return frozenset(s for s, targets in TRANSITIONS.items() if target in targets)


class Priority(IntEnum):
    """Named priorities; 1 runs first, 10 last (any int in 1..10 is accepted)."""

    HIGHEST = 1
    HIGH = 3
    NORMAL = 5
    LOW = 7
    LOWEST = 10


DEFAULT_MAX_ATTEMPTS = 5
MAX_ERROR_CHARS = 4000
_TYPE_RE = re.compile(r"^[a-z][a-z0-9_.-]{0,99}$")


def check_priority(priority: int) -> int:
    """Return `priority` or raise InvalidInput when it is outside 1..10."""
    if not 1 <= int(priority) <= 10:
        raise InvalidInput(f"priority must be between 1 and 10, not {priority}", field="priority")
    return int(priority)


def check_type(job_type: str) -> str:
    """Return `job_type` or raise InvalidInput unless it is a short lowercase identifier."""
    if not _TYPE_RE.match(job_type):
        raise InvalidInput(f"invalid job type {job_type!r}", field="type")
    return job_type


def dedupe_key(job_type: str, target: str) -> str:
    """The key two identical jobs share: same type and same target."""
    return f"{job_type}:{target}"


def utc(value: datetime) -> datetime:
    """`value` as an aware UTC datetime (naive values are taken to be UTC already)."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


class Clock(Protocol):
    """Where the queue and the worker read the time (tests pass a controllable one)."""

    def now(self) -> datetime:
        """The current time, timezone-aware."""
        ...


class SystemClock:
    """The real wall clock, in UTC."""

    def now(self) -> datetime:
        """The current time in UTC."""
        return datetime.now(UTC)


class ManualClock:
    """A clock that only moves when told to (tests, simulations); also a monotonic source."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = utc(start) if start is not None else datetime(2024, 1, 1, tzinfo=UTC)
        self._lock = threading.Lock()
        self._offset = 0.0

    def now(self) -> datetime:
        """The current manual time."""
        with self._lock:
            return self._now

    def monotonic(self) -> float:
        """Seconds advanced so far (for CircuitBreaker clocks)."""
        with self._lock:
            return self._offset

    def advance(self, seconds: float) -> None:
        """Move time forward."""
        with self._lock:
            self._now += timedelta(seconds=seconds)
            self._offset += seconds


class JobDict(TypedDict):
    """A job as JSON (events and the API)."""

    id: int
    type: str
    target: str
    payload: dict[str, Any]
    priority: int
    status: str
    attempts: int
    max_attempts: int
    run_at: str
    created_at: str
    started_at: str | None
    finished_at: str | None
    heartbeat_at: str | None
    lease_expires_at: str | None
    worker_id: str | None
    progress: float
    progress_message: str | None
    result: dict[str, Any] | None
    last_error: str | None
    parent_id: int | None
    dedupe_key: str | None
    needs: str | None
    cancel_requested: bool
    children: list[int]


class JobEvent(TypedDict):
    """A job lifecycle event: `type` is job.created|started|progress|succeeded|failed|..."""

    type: str
    ts: str
    job: JobDict


EventListener = Callable[[JobEvent], None]


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


@dataclass(frozen=True, slots=True)
class Job:
    """One row of the queue, as read at a moment; never mutated in place."""

    id: int
    type: str
    target: str
    payload: dict[str, Any]
    priority: int
    status: JobStatus
    attempts: int
    max_attempts: int
    run_at: datetime
    created_at: datetime
    started_at: datetime | None = None
    finished_at: datetime | None = None
    heartbeat_at: datetime | None = None
    lease_expires_at: datetime | None = None
    worker_id: str | None = None
    progress: float = 0.0
    progress_message: str | None = None
    result: dict[str, Any] | None = None
    last_error: str | None = None
    parent_id: int | None = None
    dedupe_key: str | None = None
    needs: str | None = None
    cancel_requested: bool = False
    children: tuple[int, ...] = field(default=())

    def to_dict(self) -> JobDict:
        """The job as JSON-ready data."""
        return JobDict(
            id=self.id,
            type=self.type,
            target=self.target,
            payload=self.payload,
            priority=self.priority,
            status=self.status.value,
            attempts=self.attempts,
            max_attempts=self.max_attempts,
            run_at=self.run_at.isoformat(),
            created_at=self.created_at.isoformat(),
            started_at=_iso(self.started_at),
            finished_at=_iso(self.finished_at),
            heartbeat_at=_iso(self.heartbeat_at),
            lease_expires_at=_iso(self.lease_expires_at),
            worker_id=self.worker_id,
            progress=self.progress,
            progress_message=self.progress_message,
            result=self.result,
            last_error=self.last_error,
            parent_id=self.parent_id,
            dedupe_key=self.dedupe_key,
            needs=self.needs,
            cancel_requested=self.cancel_requested,
            children=list(self.children),
        )


@dataclass(frozen=True, slots=True)
class JobStats:
    """Queue health at a glance (the API's /jobs/stats)."""

    by_status: dict[str, int]
    by_type: dict[str, dict[str, int]]
    running: int
    oldest_queued_age: float | None  # seconds the longest-waiting eligible job has waited


@dataclass(frozen=True, slots=True)
class JobRequest:
    """What to enqueue; unset fields come from the job type's registered spec."""

    type: str
    target: str
    payload: Mapping[str, Any] | None = None
    priority: int | None = None
    dedupe: bool = True
    max_attempts: int | None = None
    needs: str | None = None
    run_at: datetime | None = None
    parent_id: int | None = None


@dataclass(frozen=True, slots=True)
class Outcome:
    """How one claimed attempt ended; the worker hands these to `settle_and_claim`."""

    job: Job
    status: JobStatus  # succeeded, failed, cancelled or retry_scheduled
    result: Mapping[str, Any] | None = None
    error: str | None = None  # last_error (for a deferral: the progress message)
    run_at: datetime | None = None  # retry_scheduled: eligible again at
    attempt_consumed: bool = True  # False: deferred or interrupted, attempts given back

    @classmethod
    def succeeded(cls, job: Job, result: Mapping[str, Any] | None = None) -> Outcome:
        """The handler returned."""
        return cls(job, JobStatus.SUCCEEDED, result=result)

    @classmethod
    def failed(cls, job: Job, error: BaseException | str) -> Outcome:
        """Failed for good."""
        return cls(job, JobStatus.FAILED, error=error_text(error))

    @classmethod
    def cancelled(cls, job: Job, reason: str | None = None) -> Outcome:
        """Stopped on a cancel request."""
        return cls(job, JobStatus.CANCELLED, error=reason)

    @classmethod
    def retry(cls, job: Job, error: BaseException | str, run_at: datetime) -> Outcome:
        """Failed, will run again at `run_at`."""
        return cls(job, JobStatus.RETRY_SCHEDULED, error=error_text(error), run_at=run_at)

    @classmethod
    def deferred(cls, job: Job, run_at: datetime, message: str) -> Outcome:
        """Not run (dependency down, worker stopping): back at `run_at`, attempt not counted."""
        return cls(
            job, JobStatus.RETRY_SCHEDULED, error=message, run_at=run_at, attempt_consumed=False
        )


def error_text(error: BaseException | str) -> str:
    """How an error is stored in `last_error`: "Type: message", truncated."""
    message = error if isinstance(error, str) else f"{type(error).__name__}: {error}"
    return message[:MAX_ERROR_CHARS]


Handler = Callable[["JobContext"], Mapping[str, Any] | None]


@dataclass(frozen=True, slots=True)
class JobSpec:
    """How jobs of one type run: the handler and its per-type settings."""

    type: str
    handler: Handler
    needs: str | None = None  # external dependency guarded by a circuit breaker
    max_attempts: int = DEFAULT_MAX_ATTEMPTS
    timeout: float | None = None  # seconds; cooperative, enforced at check_cancelled()
    priority: int = Priority.NORMAL  # default priority when enqueued


class Registry:
    """Job type -> JobSpec; shared by the queue (defaults at enqueue) and the worker."""

    def __init__(self) -> None:
        self._specs: dict[str, JobSpec] = {}

    def register(
        self,
        job_type: str,
        handler: Handler,
        *,
        needs: str | None = None,
        max_attempts: int = DEFAULT_MAX_ATTEMPTS,
        timeout: float | None = None,
        priority: int = Priority.NORMAL,
    ) -> JobSpec:
        """Declare the handler of `job_type` (once per type)."""
        check_type(job_type)
        if job_type in self._specs:
            raise ValueError(f"job type {job_type!r} is already registered")
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        spec = JobSpec(
            type=job_type,
            handler=handler,
            needs=needs,
            max_attempts=max_attempts,
            timeout=timeout,
            priority=check_priority(priority),
        )
        self._specs[job_type] = spec
        return spec

    def get(self, job_type: str) -> JobSpec | None:
        """The spec of `job_type`, or None when no handler is registered."""
        return self._specs.get(job_type)

    @property
    def types(self) -> list[str]:
        """Registered job types, sorted."""
        return sorted(self._specs)

    def __contains__(self, job_type: object) -> bool:
        return job_type in self._specs

    def __iter__(self) -> Iterator[JobSpec]:
        return iter(self._specs.values())
