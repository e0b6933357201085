"""Generic persistent job queue: jobs are data, the queue owns the SQL, workers execute.

Knows nothing about media: the pipeline registers handlers by job type.
"""

from __future__ import annotations

from metarr.jobs.breaker import Breakers, BreakerState, CircuitBreaker
from metarr.jobs.models import (
    TRANSITIONS,
    Job,
    JobEvent,
    JobRequest,
    JobSpec,
    JobStats,
    JobStatus,
    ManualClock,
    Outcome,
    Priority,
    Registry,
    SystemClock,
    can_transition,
)
from metarr.jobs.queue import Queue
from metarr.jobs.retry import (
    Backoff,
    JobCancelled,
    JobDeferred,
    JobInterrupted,
    JobTimeout,
    RetryDecision,
    RetryPolicy,
)
from metarr.jobs.tables import JobRow
from metarr.jobs.wakeup import EventEmitter, PgListener, Wakeup
from metarr.jobs.worker import JobContext, Worker

__all__ = [
    "TRANSITIONS",
    "Backoff",
    "BreakerState",
    "Breakers",
    "CircuitBreaker",
    "EventEmitter",
    "Job",
    "JobCancelled",
    "JobContext",
    "JobDeferred",
    "JobEvent",
    "JobInterrupted",
    "JobRequest",
    "JobRow",
    "JobSpec",
    "JobStats",
    "JobStatus",
    "JobTimeout",
    "ManualClock",
    "Outcome",
    "PgListener",
    "Priority",
    "Queue",
    "Registry",
    "RetryDecision",
    "RetryPolicy",
    "SystemClock",
    "Wakeup",
    "Worker",
    "can_transition",
]
