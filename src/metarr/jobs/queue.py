"""The persistent job queue: every SQL statement that reads or changes `jobs` lives here.

The hot path is plain SQL through SQLAlchemy Core, no ORM: a worker records the
outcomes of finished attempts (plain successes in one statement) and claims its
next jobs in a single transaction (`settle_and_claim`). Claiming:

* PostgreSQL: `WITH picked AS MATERIALIZED (SELECT id ... ORDER BY priority, id
  LIMIT n FOR UPDATE SKIP LOCKED) UPDATE jobs ... FROM picked RETURNING ...` -
  any number of processes and machines can claim concurrently and no job is
  handed out twice.
* SQLite: `UPDATE jobs ... WHERE id IN (SELECT id ... ORDER BY priority, id
  LIMIT n) RETURNING ...` - SQLite serialises writers, so this is atomic; workers
  are in-process only.

A running job is owned by (worker_id, attempts): every write a worker makes on
its job checks both, so a worker whose lease expired cannot overwrite the
outcome of the attempt that replaced it.
"""

# ruff: noqa: S608 - statements are composed from this module's constants only; every value
# is a bound parameter.
from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Connection,
    DateTime,
    Float,
    Integer,
    String,
    TypeDecorator,
    text,
)
from sqlalchemy.engine import Row
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.sql.elements import TextClause
from sqlalchemy.sql.expression import bindparam, column
from sqlalchemy.sql.selectable import TextualSelect

from metarr.db.engine import Database, is_disconnect
from metarr.domain.errors import Conflict, InvalidInput, NotFound, ServiceUnavailable
from metarr.jobs.models import (
    DEFAULT_MAX_ATTEMPTS,
    PENDING,
    Clock,
    EventListener,
    Job,
    JobEvent,
    JobRequest,
    JobStats,
    JobStatus,
    Outcome,
    Priority,
    Registry,
    SystemClock,
    check_priority,
    check_type,
    dedupe_key,
    utc,
)
from metarr.jobs.wakeup import CHANNEL, EventEmitter, Wakeup

log = logging.getLogger(__name__)


class _UtcDateTime(TypeDecorator[datetime]):
    """Binds aware datetimes as UTC and reads them back aware (SQLite stores them naive)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        return None if value is None else utc(value)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        return None if value is None else utc(value)


_TS = _UtcDateTime()
_COLUMNS: dict[str, Any] = {
    "id": Integer(),
    "type": String(),
    "target": String(),
    "payload": JSON(),
    "priority": Integer(),
    "status": String(),
    "attempts": Integer(),
    "max_attempts": Integer(),
    "run_at": _TS,
    "created_at": _TS,
    "started_at": _TS,
    "finished_at": _TS,
    "heartbeat_at": _TS,
    "lease_expires_at": _TS,
    "worker_id": String(),
    "progress": Float(),
    "progress_message": String(),
    "result": JSON(),
    "last_error": String(),
    "parent_id": Integer(),
    "dedupe_key": String(),
    "needs": String(),
    "cancel_requested": Boolean(),
}
_PARAM_TYPES: dict[str, Any] = {
    "now": _TS,
    "run_at": _TS,
    "lease": _TS,
    "cutoff": _TS,
    "payload": JSON(),
    "result": JSON(),
    "keep_key": Boolean(),
}
_EXPANDING = {"types", "ids", "done_ids", "statuses"}
_COLS = ", ".join(_COLUMNS)
_PENDING_SQL = "('queued', 'retry_scheduled')"
_FINISHED_SQL = "('succeeded', 'failed', 'cancelled')"
# Keep the dedupe key when moving back to pending unless another pending job holds it
# (then this one runs as an undeduplicated extra; handlers are idempotent).
_KEEP_KEY = f"""CASE WHEN :keep_key AND NOT EXISTS (
    SELECT 1 FROM jobs AS other WHERE other.dedupe_key = jobs.dedupe_key
    AND other.status IN {_PENDING_SQL} AND other.id <> jobs.id) THEN dedupe_key ELSE NULL END"""
# Plain successes (no result) of one worker, recorded in one statement.
_SUCCEED_MANY_SQL = """UPDATE jobs SET status = 'succeeded', finished_at = :now, progress = 1,
        lease_expires_at = NULL
    WHERE id IN :ids AND status = 'running' AND worker_id = :worker_id RETURNING id"""
# The attempt a worker owns.
_OWNED = "id = :id AND status = 'running' AND worker_id = :worker_id AND attempts = :attempts"


def _text(statement: str) -> TextClause:
    """A text statement with typed bind parameters."""
    names = set(re.findall(r"(?<!:):([a-z_]+)", statement))
    params = [
        bindparam(name, type_=_PARAM_TYPES.get(name), expanding=name in _EXPANDING)
        for name in sorted(names)
    ]
    return text(statement).bindparams(*params)


def _sql(statement: str, *, returns_job: bool = False) -> TextClause | TextualSelect:
    """A text statement with typed bind parameters (and typed job columns when returned)."""
    clause = _text(statement)
    if returns_job:
        return clause.columns(*(column(name, type_) for name, type_ in _COLUMNS.items()))
    return clause


def _claim_sql(backend: str, *, by_type: bool) -> TextClause | TextualSelect:
    """The claim; on PostgreSQL it also records plain successes (`:done_ids`), all in one
    statement, so a busy worker pays one round trip per batch."""
    type_filter = "AND type IN :types" if by_type else ""
    # SQLite's planner has no statistics: pin the small partial index of pending jobs.
    hint = "INDEXED BY ix_jobs_claim" if backend == "sqlite" else ""
    pick = f"""SELECT id FROM jobs {hint}
        WHERE status IN {_PENDING_SQL} AND run_at <= :now {type_filter}
        ORDER BY priority, id LIMIT :limit"""
    assignments = """status = 'running', attempts = attempts + 1, started_at = :now,
        heartbeat_at = :now, lease_expires_at = :lease, worker_id = :worker_id,
        progress = 0, progress_message = NULL"""
    if backend == "postgresql":
        returning = ", ".join(f"jobs.{name}" for name in _COLUMNS)
        nulls = ", ".join(["NULL"] * (len(_COLUMNS) - 1))
        # Rows of `done` come back with status NULL: the ids whose success was recorded.
        return _sql(
            f"""WITH done AS ({_SUCCEED_MANY_SQL.replace(":ids", ":done_ids")}),
            picked AS MATERIALIZED ({pick} FOR UPDATE SKIP LOCKED),
            claimed AS (UPDATE jobs SET {assignments} FROM picked WHERE jobs.id = picked.id
                RETURNING {returning})
            SELECT {_COLS} FROM claimed
            UNION ALL SELECT id, {nulls} FROM done""",
            returns_job=True,
        )
    return _sql(
        f"UPDATE jobs SET {assignments} WHERE id IN ({pick}) RETURNING {_COLS}",
        returns_job=True,
    )


_CLAIM = {
    (backend, by_type): _claim_sql(backend, by_type=by_type)
    for backend in ("sqlite", "postgresql")
    for by_type in (False, True)
}
_INSERT = _sql(
    f"""INSERT INTO jobs (type, target, payload, priority, status, attempts, max_attempts,
        run_at, created_at, progress, parent_id, dedupe_key, needs, cancel_requested)
    VALUES (:type, :target, :payload, :priority, 'queued', 0, :max_attempts,
        :run_at, :now, 0, :parent_id, :dedupe_key, :needs, FALSE)
    ON CONFLICT DO NOTHING RETURNING {_COLS}""",
    returns_job=True,
)
# A duplicate enqueue returns the pending job, raising its priority / bringing run_at forward.
_DEDUPE_HIT = _sql(
    f"""UPDATE jobs SET
        priority = CASE WHEN priority > :priority THEN :priority ELSE priority END,
        run_at = CASE WHEN run_at > :run_at THEN :run_at ELSE run_at END
    WHERE dedupe_key = :dedupe_key AND status IN {_PENDING_SQL} RETURNING {_COLS}""",
    returns_job=True,
)
_NOTIFY = _sql(f"SELECT pg_notify('{CHANNEL}', '')")
_SUCCEED_MANY = _sql(_SUCCEED_MANY_SQL)
_SUCCEED = _sql(
    f"""UPDATE jobs SET status = 'succeeded', finished_at = :now, result = :result,
        progress = 1, lease_expires_at = NULL
    WHERE {_OWNED} RETURNING {_COLS}""",
    returns_job=True,
)
_FAIL = _sql(
    f"""UPDATE jobs SET status = 'failed', finished_at = :now, last_error = :error,
        lease_expires_at = NULL
    WHERE {_OWNED} RETURNING {_COLS}""",
    returns_job=True,
)
_CANCELLED = _sql(
    f"""UPDATE jobs SET status = 'cancelled', finished_at = :now, lease_expires_at = NULL,
        last_error = COALESCE(:error, last_error)
    WHERE {_OWNED} RETURNING {_COLS}""",
    returns_job=True,
)
_SCHEDULE_RETRY = _sql(
    f"""UPDATE jobs SET status = 'retry_scheduled', run_at = :run_at, last_error = :error,
        lease_expires_at = NULL, dedupe_key = {_KEEP_KEY}
    WHERE {_OWNED} RETURNING {_COLS}""",
    returns_job=True,
)
# Deferral gives the attempt back: the job never really started.
_DEFER = _sql(
    f"""UPDATE jobs SET status = 'retry_scheduled', run_at = :run_at, attempts = attempts - 1,
        progress_message = :message, lease_expires_at = NULL, dedupe_key = {_KEEP_KEY}
    WHERE {_OWNED} RETURNING {_COLS}""",
    returns_job=True,
)
_RESUME_DEFERRED = _sql(
    """UPDATE jobs SET run_at = :now
    WHERE status = 'retry_scheduled' AND needs = :needs AND run_at > :now"""
)
_HEARTBEAT = _sql(
    """UPDATE jobs SET heartbeat_at = :now, lease_expires_at = :lease
    WHERE id IN :ids AND status = 'running' AND worker_id = :worker_id
    RETURNING id, cancel_requested"""
)
_PROGRESS = _sql(
    f"""UPDATE jobs SET progress = :progress, progress_message = :message
    WHERE {_OWNED} RETURNING {_COLS}""",
    returns_job=True,
)
_CANCEL_FLAG = _sql(f"SELECT cancel_requested FROM jobs WHERE {_OWNED}")
_CANCEL = _sql(
    f"""UPDATE jobs SET
        status = CASE WHEN status = 'running' THEN status ELSE 'cancelled' END,
        finished_at = CASE WHEN status = 'running' THEN finished_at ELSE :now END,
        cancel_requested = CASE WHEN status = 'running' THEN TRUE ELSE cancel_requested END
    WHERE id = :id AND status IN ('queued', 'retry_scheduled', 'running')
    RETURNING {_COLS}""",
    returns_job=True,
)
# A manual retry gives a fresh budget: attempts restart at 0 (last_error is kept).
_RETRY = _sql(
    f"""UPDATE jobs SET status = 'queued', attempts = 0, run_at = :now, started_at = NULL,
        finished_at = NULL, heartbeat_at = NULL, lease_expires_at = NULL,
        cancel_requested = FALSE, progress = 0, progress_message = NULL, result = NULL,
        dedupe_key = {_KEEP_KEY}
    WHERE id = :id AND status IN ('failed', 'cancelled') RETURNING {_COLS}""",
    returns_job=True,
)
_RECLAIM = _sql(
    f"""UPDATE jobs SET
        status = CASE WHEN cancel_requested THEN 'cancelled'
            WHEN attempts >= max_attempts THEN 'failed' ELSE 'queued' END,
        finished_at = CASE WHEN cancel_requested OR attempts >= max_attempts
            THEN :now ELSE NULL END,
        run_at = :now, lease_expires_at = NULL,
        last_error = 'lease expired: worker ' || COALESCE(worker_id, '?') || ' went silent',
        dedupe_key = {_KEEP_KEY}
    WHERE status = 'running' AND lease_expires_at < :now RETURNING {_COLS}""",
    returns_job=True,
)
_GET = _sql(f"SELECT {_COLS} FROM jobs WHERE id = :id", returns_job=True)
_CHILDREN = _sql("SELECT id FROM jobs WHERE parent_id = :id ORDER BY id")
_NEXT_RUN_AT = {
    by_type: _text(
        f"SELECT MIN(run_at) AS run_at FROM jobs WHERE status IN {_PENDING_SQL}"
        + (" AND type IN :types" if by_type else "")
    ).columns(column("run_at", _TS))
    for by_type in (False, True)
}
_COUNTS = _sql("SELECT type, status, COUNT(*) AS n FROM jobs GROUP BY type, status")
_OLDEST_ELIGIBLE = _text(
    f"SELECT MIN(run_at) AS run_at FROM jobs WHERE status IN {_PENDING_SQL} AND run_at <= :now"
).columns(column("run_at", _TS))
_PURGE = _sql(f"DELETE FROM jobs WHERE status IN {_FINISHED_SQL} AND finished_at < :cutoff")


def _to_job(row: Row[Any]) -> Job:
    m = row._mapping
    return Job(
        id=m["id"],
        type=m["type"],
        target=m["target"],
        payload=m["payload"] or {},
        priority=m["priority"],
        status=JobStatus(m["status"]),
        attempts=m["attempts"],
        max_attempts=m["max_attempts"],
        run_at=m["run_at"],
        created_at=m["created_at"],
        started_at=m["started_at"],
        finished_at=m["finished_at"],
        heartbeat_at=m["heartbeat_at"],
        lease_expires_at=m["lease_expires_at"],
        worker_id=m["worker_id"],
        progress=float(m["progress"] or 0.0),
        progress_message=m["progress_message"],
        result=m["result"],
        last_error=m["last_error"],
        parent_id=m["parent_id"],
        dedupe_key=m["dedupe_key"],
        needs=m["needs"],
        cancel_requested=bool(m["cancel_requested"]),
    )


def _escape_like(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


class Queue:
    """Enqueue, claim, finish, inspect and purge jobs in the database."""

    def __init__(
        self,
        db: Database,
        *,
        registry: Registry | None = None,
        wakeup: Wakeup | None = None,
        on_event: EventListener | None = None,
        clock: Clock | None = None,
    ) -> None:
        self.db = db
        self.registry = registry
        self.wakeup = wakeup
        self.clock: Clock = clock or SystemClock()
        self._events = EventEmitter(on_event) if on_event is not None else None
        self._backend = db.backend
        self._lock = threading.Lock()
        self.claim_queries = 0  # how many claim statements ran (tests check idle workers)

    # -- plumbing ---------------------------------------------------------------------

    @contextmanager
    def _tx(self, connection: Connection | None = None) -> Iterator[Connection]:
        """A transaction on `connection` (a worker's own) or on a pooled connection."""
        try:
            if connection is not None:
                with connection.begin():
                    yield connection
                return
            with self.db.engine.begin() as conn:
                yield conn
        except DBAPIError as exc:
            if not isinstance(exc, IntegrityError) and is_disconnect(exc):
                raise ServiceUnavailable("the job queue's database is unavailable") from exc
            raise

    def _signal(self, conn: Connection) -> None:
        """Tell other processes new work is ready (delivered at commit)."""
        if self._backend == "postgresql":
            conn.execute(_NOTIFY)

    def _wake_local(self) -> None:
        if self.wakeup is not None:
            self.wakeup.notify()

    def emit(self, event_type: str, job: Job) -> None:
        """Send `job.<event_type>` to the event listener, if any (never blocks)."""
        self._emit(f"job.{event_type}", job)

    def _emit(self, event_type: str, job: Job) -> None:
        if self._events is not None:
            event = JobEvent(type=event_type, ts=self.clock.now().isoformat(), job=job.to_dict())
            self._events.emit(event)

    def _emit_status(self, job: Job) -> None:
        self._emit(f"job.{job.status.value}", job)

    def _now(self) -> datetime:
        return utc(self.clock.now())

    def close(self) -> None:
        """Flush pending events and stop the event thread."""
        if self._events is not None:
            self._events.close()

    # -- enqueue ----------------------------------------------------------------------

    def enqueue(
        self,
        job_type: str,
        target: str,
        payload: Mapping[str, Any] | None = None,
        *,
        priority: int | None = None,
        dedupe: bool = True,
        max_attempts: int | None = None,
        needs: str | None = None,
        run_at: datetime | None = None,
        parent_id: int | None = None,
    ) -> Job:
        """Add a job; with `dedupe`, an identical pending job (type + target) is returned."""
        request = JobRequest(
            job_type, target, payload, priority, dedupe, max_attempts, needs, run_at, parent_id
        )
        return self.enqueue_many([request])[0]

    def enqueue_many(self, requests: Iterable[JobRequest]) -> list[Job]:
        """Add several jobs in one transaction (one NOTIFY); returns them in order."""
        now = self._now()
        jobs: list[Job] = []
        created: list[Job] = []
        try:
            with self._tx() as conn:
                for request in requests:
                    job, is_new = self._insert(conn, request, now)
                    jobs.append(job)
                    if is_new:
                        created.append(job)
        except IntegrityError as exc:  # the only constraint left to trip is the parent FK
            raise InvalidInput("the parent job does not exist", field="parent_id") from exc
        # Emit before waking any worker (here or, via NOTIFY, elsewhere), so that
        # `job.created` always precedes `job.started`; hence the NOTIFY after commit.
        for job in created:
            self._emit("job.created", job)
        if jobs:
            if self._backend == "postgresql":
                with self._tx() as conn:
                    self._signal(conn)
            self._wake_local()
        return jobs

    def _insert(self, conn: Connection, request: JobRequest, now: datetime) -> tuple[Job, bool]:
        spec = self.registry.get(request.type) if self.registry is not None else None
        priority = check_priority(
            request.priority
            if request.priority is not None
            else (spec.priority if spec else Priority.NORMAL)
        )
        params = {
            "type": check_type(request.type),
            "target": request.target,
            "payload": dict(request.payload or {}),
            "priority": priority,
            "max_attempts": request.max_attempts
            or (spec.max_attempts if spec else DEFAULT_MAX_ATTEMPTS),
            "run_at": utc(request.run_at) if request.run_at is not None else now,
            "now": now,
            "parent_id": request.parent_id,
            "dedupe_key": dedupe_key(request.type, request.target) if request.dedupe else None,
            "needs": request.needs if request.needs is not None else (spec.needs if spec else None),
        }
        for _ in range(5):
            row = conn.execute(_INSERT, params).first()
            if row is not None:
                return _to_job(row), True
            # A pending twin exists; it may get claimed in between, then insert again.
            row = conn.execute(_DEDUPE_HIT, params).first()
            if row is not None:
                return _to_job(row), False
        raise Conflict(f"could not enqueue {request.type} {request.target}: dedupe kept racing")

    # -- claim and settle -------------------------------------------------------------

    def claim(
        self,
        worker_id: str,
        *,
        limit: int = 1,
        types: Sequence[str] | None = None,
        lease_seconds: float = 30.0,
        connection: Connection | None = None,
    ) -> list[Job]:
        """Atomically take up to `limit` eligible jobs (priority, then FIFO) for `worker_id`.

        The worker announces `job.started` itself once it really starts a job.
        """
        return self.settle_and_claim(
            [],
            worker_id,
            limit=limit,
            types=types,
            lease_seconds=lease_seconds,
            connection=connection,
        )

    def settle_and_claim(
        self,
        outcomes: Sequence[Outcome],
        worker_id: str,
        *,
        limit: int,
        types: Sequence[str] | None = None,
        lease_seconds: float = 30.0,
        connection: Connection | None = None,
    ) -> list[Job]:
        """Record finished attempts and claim up to `limit` next jobs for `worker_id`.

        This is the worker's hot path: plain successes are recorded with one
        statement, and the claim rides along (in the same statement on
        PostgreSQL, in the same transaction on SQLite).
        """
        if types is not None and not types:
            limit = 0
        jobs, settled = self._settle_and_claim(
            outcomes, worker_id, limit, types, lease_seconds, connection
        )
        self._after_settle(settled)
        return jobs

    def settle(self, outcomes: Sequence[Outcome]) -> list[Job | None]:
        """Record finished attempts; per outcome the job as stored, None if its lease was lost."""
        _, settled = self._settle_and_claim(outcomes, None, 0, None, 0.0, None)
        self._after_settle(settled)
        return settled

    def _settle_and_claim(
        self,
        outcomes: Sequence[Outcome],
        worker_id: str | None,
        limit: int,
        types: Sequence[str] | None,
        lease_seconds: float,
        connection: Connection | None,
    ) -> tuple[list[Job], list[Job | None]]:
        now = self._now()
        settled: list[Job | None] = [None] * len(outcomes)
        plain: dict[str, list[int]] = {}  # worker_id -> positions of result-less successes
        rows: Sequence[Row[Any]] = []
        with self._tx(connection) as conn:
            for i, outcome in enumerate(outcomes):
                if outcome.status is JobStatus.SUCCEEDED and outcome.result is None:
                    plain.setdefault(outcome.job.worker_id or "", []).append(i)
                else:
                    settled[i] = self._settle_one(conn, outcome, now)
            ours = plain.pop(worker_id, []) if worker_id is not None else []
            for owner, positions in plain.items():
                ids = [outcomes[i].job.id for i in positions]
                params = {"now": now, "ids": ids, "worker_id": owner}
                done = {int(r[0]) for r in conn.execute(_SUCCEED_MANY, params)}
                self._mark_succeeded(outcomes, positions, done, settled, now)
            if worker_id is not None and (limit > 0 or ours):
                rows = self._claim(
                    conn, outcomes, ours, settled, worker_id, limit, types, now, lease_seconds
                )
            if any(job is not None and job.status in PENDING for job in settled):
                self._signal(conn)
        for outcome, stored in zip(outcomes, settled, strict=True):
            if stored is None:
                log.warning("job %s: lease lost before its outcome was recorded", outcome.job.id)
        jobs = sorted((_to_job(r) for r in rows), key=lambda j: (j.priority, j.id))
        return jobs, settled

    def _claim(
        self,
        conn: Connection,
        outcomes: Sequence[Outcome],
        done_positions: list[int],
        settled: list[Job | None],
        worker_id: str,
        limit: int,
        types: Sequence[str] | None,
        now: datetime,
        lease_seconds: float,
    ) -> list[Row[Any]]:
        done_ids = [outcomes[i].job.id for i in done_positions]
        params: dict[str, Any] = {
            "now": now,
            "lease": now + timedelta(seconds=lease_seconds),
            "worker_id": worker_id,
            "limit": limit,
        }
        if types is not None:
            params["types"] = list(types)
        if limit > 0:
            with self._lock:
                self.claim_queries += 1
        statement = _CLAIM[self._backend, types is not None]
        if self._backend == "postgresql":
            rows = conn.execute(statement, {**params, "done_ids": done_ids}).all()
            done = {int(r.id) for r in rows if r.status is None}
            claimed = [r for r in rows if r.status is not None]
        else:
            done_params = {"now": now, "ids": done_ids, "worker_id": worker_id}
            done = (
                {int(r[0]) for r in conn.execute(_SUCCEED_MANY, done_params)} if done_ids else set()
            )
            claimed = list(conn.execute(statement, params).all()) if limit > 0 else []
        self._mark_succeeded(outcomes, done_positions, done, settled, now)
        return claimed

    @staticmethod
    def _mark_succeeded(
        outcomes: Sequence[Outcome],
        positions: list[int],
        done: set[int],
        settled: list[Job | None],
        now: datetime,
    ) -> None:
        for i in positions:
            job = outcomes[i].job
            if job.id in done:
                settled[i] = replace(
                    job,
                    status=JobStatus.SUCCEEDED,
                    finished_at=now,
                    progress=1.0,
                    lease_expires_at=None,
                )

    def _after_settle(self, settled: Sequence[Job | None]) -> None:
        for job in settled:
            if job is not None:
                self._emit_status(job)
        if any(job is not None and job.status in PENDING for job in settled):
            self._wake_local()

    def _settle_one(self, conn: Connection, outcome: Outcome, now: datetime) -> Job | None:
        job = outcome.job
        params: dict[str, Any] = {
            "id": job.id,
            "worker_id": job.worker_id,
            "attempts": job.attempts,
            "now": now,
        }
        status = outcome.status
        if status is JobStatus.SUCCEEDED:
            statement = _SUCCEED
            params["result"] = dict(outcome.result) if outcome.result is not None else None
        elif status is JobStatus.FAILED:
            statement, params["error"] = _FAIL, outcome.error
        elif status is JobStatus.CANCELLED:
            statement, params["error"] = _CANCELLED, outcome.error
        elif status is JobStatus.RETRY_SCHEDULED:
            params["run_at"] = outcome.run_at or now
            if outcome.attempt_consumed:
                statement, params["error"] = _SCHEDULE_RETRY, outcome.error
            else:
                statement, params["message"] = _DEFER, outcome.error
            return self._to_pending(conn, statement, params)
        else:
            raise ValueError(f"not an outcome status: {status}")
        row = conn.execute(statement, params).first()
        return None if row is None else _to_job(row)

    def _to_pending(self, conn: Connection, statement: Any, params: dict[str, Any]) -> Job | None:
        """Move an owned job back to pending, keeping its dedupe key when it can.

        On SQLite writers are serialised, so the NOT EXISTS test is exact. On
        PostgreSQL a twin may be inserted concurrently: the unique violation is
        caught (inside a savepoint, unless the connection autocommits) and the
        job goes back without its key.
        """
        if self._backend != "postgresql":
            row = conn.execute(statement, {**params, "keep_key": True}).first()
            return None if row is None else _to_job(row)
        autocommit = conn.get_execution_options().get("isolation_level") == "AUTOCOMMIT"
        try:
            with nullcontext() if autocommit else conn.begin_nested():
                row = conn.execute(statement, {**params, "keep_key": True}).first()
        except IntegrityError:
            row = conn.execute(statement, {**params, "keep_key": False}).first()
        return None if row is None else _to_job(row)

    def succeed(self, job: Job, result: Mapping[str, Any] | None = None) -> Job | None:
        """Record success of the attempt `job` (None when the lease was lost)."""
        return self.settle([Outcome.succeeded(job, result)])[0]

    def fail(self, job: Job, error: BaseException | str) -> Job | None:
        """Record a final failure of the attempt `job`."""
        return self.settle([Outcome.failed(job, error)])[0]

    def mark_cancelled(self, job: Job, reason: str | None = None) -> Job | None:
        """Record that the running attempt `job` stopped on a cancel request."""
        return self.settle([Outcome.cancelled(job, reason)])[0]

    def schedule_retry(self, job: Job, error: BaseException | str, run_at: datetime) -> Job | None:
        """Put the attempt `job` back as retry_scheduled, eligible at `run_at`."""
        return self.settle([Outcome.retry(job, error, run_at)])[0]

    def defer(self, job: Job, run_at: datetime, message: str) -> Job | None:
        """Give back a claimed job unrun (its dependency is down); attempts not consumed."""
        return self.settle([Outcome.deferred(job, run_at, message)])[0]

    def resume_deferred(self, needs: str) -> int:
        """Make jobs waiting on the dependency `needs` eligible now (it recovered)."""
        with self._tx() as conn:
            count = conn.execute(_RESUME_DEFERRED, {"now": self._now(), "needs": needs}).rowcount
            if count:
                self._signal(conn)
        if count:
            self._wake_local()
        return int(count)

    def heartbeat(
        self, worker_id: str, job_ids: Sequence[int], lease_seconds: float
    ) -> dict[int, bool]:
        """Renew the leases of `worker_id`'s running jobs; returns {id: cancel_requested}.

        Ids missing from the answer are no longer this worker's (lease lost).
        """
        if not job_ids:
            return {}
        now = self._now()
        params = {
            "now": now,
            "lease": now + timedelta(seconds=lease_seconds),
            "ids": list(job_ids),
            "worker_id": worker_id,
        }
        with self._tx() as conn:
            rows = conn.execute(_HEARTBEAT, params).all()
        return {int(r[0]): bool(r[1]) for r in rows}

    def set_progress(self, job: Job, fraction: float, message: str | None) -> Job | None:
        """Store progress of the running attempt `job`; None when the lease was lost."""
        params = {
            "id": job.id,
            "worker_id": job.worker_id,
            "attempts": job.attempts,
            "progress": min(1.0, max(0.0, float(fraction))),
            "message": message,
        }
        with self._tx() as conn:
            row = conn.execute(_PROGRESS, params).first()
        if row is None:
            return None
        done = _to_job(row)
        self._emit("job.progress", done)
        return done

    def cancel_requested(self, job: Job) -> bool | None:
        """Whether someone asked the running attempt `job` to stop; None if the lease was lost."""
        params = {"id": job.id, "worker_id": job.worker_id, "attempts": job.attempts}
        with self._tx() as conn:
            row = conn.execute(_CANCEL_FLAG, params).first()
        return None if row is None else bool(row[0])

    def reclaim_expired(self, *, connection: Connection | None = None) -> list[Job]:
        """Requeue running jobs whose lease expired (their worker died).

        A job out of attempts becomes failed, one with a pending cancel request
        becomes cancelled; the others go back to queued and run again.
        """
        try:
            jobs = self._reclaim(connection, keep_key=True)
        except IntegrityError:
            jobs = self._reclaim(connection, keep_key=False)
        for job in jobs:
            if job.status is JobStatus.QUEUED:
                self._emit("job.requeued", job)
            else:
                self._emit_status(job)
        return jobs

    def _reclaim(self, connection: Connection | None, *, keep_key: bool) -> list[Job]:
        with self._tx(connection) as conn:
            rows = conn.execute(_RECLAIM, {"now": self._now(), "keep_key": keep_key}).all()
            jobs = [_to_job(r) for r in rows]
            if any(j.status is JobStatus.QUEUED for j in jobs):
                self._signal(conn)
        if jobs:
            log.warning("reclaimed %d job(s) with expired leases", len(jobs))
            self._wake_local()
        return jobs

    def next_run_at(
        self, types: Sequence[str] | None = None, *, connection: Connection | None = None
    ) -> datetime | None:
        """When the earliest pending job becomes eligible (None when nothing is pending)."""
        if types is not None and not types:
            return None
        params: dict[str, Any] = {} if types is None else {"types": list(types)}
        with self._tx(connection) as conn:
            value: datetime | None = conn.execute(_NEXT_RUN_AT[types is not None], params).scalar()
        return value

    # -- commands from people ---------------------------------------------------------

    def cancel(self, job_id: int) -> Job:
        """Cancel a pending job at once, or ask a running one to stop.

        Cancelling a cancelled job is a no-op; a succeeded or failed one raises Conflict.
        """
        with self._tx() as conn:
            row = conn.execute(_CANCEL, {"id": job_id, "now": self._now()}).first()
        if row is None:
            job = self.get(job_id)
            if job.status is JobStatus.CANCELLED:
                return job
            raise Conflict(f"job {job_id} is already {job.status.value}")
        job = _to_job(row)
        if job.status is JobStatus.CANCELLED:
            self._emit_status(job)
        return job

    def retry(self, job_id: int) -> Job:
        """Queue a failed or cancelled job again, with a fresh attempt budget (attempts = 0).

        `last_error` is kept until the next attempt replaces it.
        """
        try:
            row = self._retry(job_id, keep_key=True)
        except IntegrityError:
            row = self._retry(job_id, keep_key=False)
        if row is None:
            job = self.get(job_id)
            raise Conflict(f"job {job_id} is {job.status.value}; only failed or cancelled retry")
        job = _to_job(row)
        self._wake_local()
        self._emit("job.requeued", job)
        return job

    def _retry(self, job_id: int, *, keep_key: bool) -> Row[Any] | None:
        with self._tx() as conn:
            row = conn.execute(
                _RETRY, {"id": job_id, "now": self._now(), "keep_key": keep_key}
            ).first()
            if row is not None:
                self._signal(conn)
        return row

    # -- queries ----------------------------------------------------------------------

    def get(self, job_id: int) -> Job:
        """One job with the ids of its children; NotFound when it does not exist."""
        with self._tx() as conn:
            row = conn.execute(_GET, {"id": job_id}).first()
            if row is None:
                raise NotFound(f"job {job_id} not found")
            children = tuple(int(r[0]) for r in conn.execute(_CHILDREN, {"id": job_id}))
        return replace(_to_job(row), children=children)

    def list_jobs(
        self,
        *,
        status: JobStatus | str | Sequence[JobStatus | str] | None = None,
        type: str | None = None,
        target: str | None = None,
        target_prefix: str | None = None,
        parent_id: int | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> tuple[list[Job], int]:
        """Jobs newest first, filtered; returns (page, total matching)."""
        where = ["1 = 1"]
        params: dict[str, Any] = {}
        if status is not None:
            statuses = [status] if isinstance(status, str) else list(status)
            try:
                params["statuses"] = [JobStatus(s).value for s in statuses]
            except ValueError as exc:
                raise InvalidInput(f"unknown job status in {statuses}", field="status") from exc
            where.append("status IN :statuses")
        if type is not None:
            where.append("type = :type")
            params["type"] = type
        if target is not None:
            where.append("target = :target")
            params["target"] = target
        if target_prefix is not None:
            where.append("target LIKE :prefix ESCAPE '\\'")
            params["prefix"] = _escape_like(target_prefix) + "%"
        if parent_id is not None:
            where.append("parent_id = :parent_id")
            params["parent_id"] = parent_id
        condition = " AND ".join(where)  # fixed fragments only; values are bound
        page = _sql(
            f"SELECT {_COLS} FROM jobs WHERE {condition} "
            "ORDER BY id DESC LIMIT :limit OFFSET :offset",
            returns_job=True,
        )
        count = _sql(f"SELECT COUNT(*) FROM jobs WHERE {condition}")
        with self._tx() as conn:
            total = int(conn.execute(count, params).scalar() or 0)
            rows = conn.execute(
                page, {**params, "limit": max(0, limit), "offset": max(0, offset)}
            ).all()
        return [_to_job(r) for r in rows], total

    def stats(self) -> JobStats:
        """Counts per status and per type, running count, age of the oldest eligible job."""
        now = self._now()
        with self._tx() as conn:
            counts = conn.execute(_COUNTS).all()
            oldest: datetime | None = conn.execute(_OLDEST_ELIGIBLE, {"now": now}).scalar()
        by_status = {s.value: 0 for s in JobStatus}
        by_type: dict[str, dict[str, int]] = {}
        for job_type, status, n in counts:
            by_status[status] = by_status.get(status, 0) + int(n)
            by_type.setdefault(job_type, {})[status] = int(n)
        return JobStats(
            by_status=by_status,
            by_type=by_type,
            running=by_status[JobStatus.RUNNING.value],
            oldest_queued_age=None if oldest is None else (now - oldest).total_seconds(),
        )

    def purge_finished(self, older_than: timedelta | datetime) -> int:
        """Delete finished jobs whose `finished_at` is before the cut-off; returns how many."""
        cutoff = self._now() - older_than if isinstance(older_than, timedelta) else older_than
        with self._tx() as conn:
            return int(conn.execute(_PURGE, {"cutoff": cutoff}).rowcount)
