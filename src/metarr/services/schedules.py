"""Library schedules: recurring scan, provider update, verification and cleanup per library.

Timing rules (one place, kept simple):

* A task's row is created with its defaults the first time anyone looks (GET, PUT,
  run now, or a scheduler tick); an enabled task then first runs one interval later.
* After a run (scheduled or manual), `next_run_at = last_run_at + interval`.
* Enabling a task, or changing its interval, re-plans it from its last run, or from
  now when it never ran; a plan already in the past fires at the next tick.
  Disabling clears `next_run_at`.
* Tasks of a disabled library are not fired; they catch up once it is enabled again.
* A task is *available* when its job type has a runner (later phases register
  theirs); an unavailable task is shown but never enqueued, and "run now" is refused.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import CursorResult, Select, select, update
from sqlalchemy.exc import IntegrityError

from metarr.db.engine import Database
from metarr.db.tables import LibraryRow
from metarr.db.tables_schedules import LibraryScheduleRow
from metarr.domain.errors import Conflict, InvalidInput, NotFound
from metarr.jobs.models import Clock, SystemClock, utc
from metarr.jobs.queue import Queue
from metarr.jobs.scheduler import RunResult, ScheduleEntry, Scheduler, SchedulerStatus

log = logging.getLogger(__name__)

# (library_id, trigger) -> id of the enqueued job; trigger is "schedule" or "manual".
TaskRunner = Callable[[int, str], int]

MIN_INTERVAL_HOURS = 1
MAX_INTERVAL_HOURS = 8760  # one year
WRITABLE = ("enabled", "interval_hours")
# Sent back unchanged by clients that PUT what they got from GET; ignored.
READ_ONLY = frozenset(
    {"last_run_at", "next_run_at", "last_result", "last_job_id", "available", "job_type"}
)


@dataclass(frozen=True, slots=True)
class TaskSpec:
    """A schedulable task: the job type it enqueues and its defaults."""

    job_type: str
    enabled: bool
    interval_hours: int


TASKS: Mapping[str, TaskSpec] = {
    "file_scan": TaskSpec("scan", enabled=False, interval_hours=6),
    "provider_update": TaskSpec("provider_update", enabled=True, interval_hours=168),
    "verification": TaskSpec("verify", enabled=True, interval_hours=24),
    "cleanup": TaskSpec("cleanup", enabled=True, interval_hours=24),
}


@dataclass(frozen=True, slots=True)
class TaskSchedule:
    """One task of one library as the API shows it."""

    task: str
    job_type: str
    enabled: bool
    interval_hours: int
    last_run_at: datetime | None
    next_run_at: datetime | None
    last_result: dict[str, Any] | None
    last_job_id: int | None
    available: bool


@dataclass(frozen=True, slots=True)
class LibrarySchedule:
    """Every task of one library."""

    library_id: int
    library_enabled: bool
    tasks: dict[str, TaskSchedule]


@dataclass(frozen=True, slots=True)
class SchedulerOverview:
    """The scheduler's own state and every library's schedule."""

    scheduler: SchedulerStatus
    libraries: list[LibrarySchedule]


@dataclass(frozen=True, slots=True)
class ManualRun:
    """A task run on request."""

    library_id: int
    task: str
    job_id: int


class ScheduleService:
    """Schedule use cases; also the scheduler's `ScheduleSource`."""

    def __init__(
        self,
        db: Database,
        queue: Queue,
        *,
        task_runners: Mapping[str, TaskRunner] | None = None,
        clock: Clock | None = None,
    ) -> None:
        self.db = db
        self.queue = queue
        self.clock: Clock = clock or SystemClock()
        self._runners: dict[str, TaskRunner] = {}
        self._scheduler: Scheduler | None = None
        for task, runner in (task_runners or {}).items():
            self.register_runner(task, runner)

    def register_runner(self, task: str, runner: TaskRunner) -> None:
        """Make `task` available: `runner(library_id, trigger)` enqueues it, returns the job id."""
        if task not in TASKS:
            raise ValueError(f"unknown task {task!r}")
        self._runners[task] = runner
        self._poke()

    def attach(self, scheduler: Scheduler) -> None:
        """The scheduler to poke after changes and to report on."""
        self._scheduler = scheduler

    def _poke(self) -> None:
        if self._scheduler is not None:
            self._scheduler.poke()

    def _now(self) -> datetime:
        return utc(self.clock.now())

    # -- queries ----------------------------------------------------------------------

    def get(self, library_id: int) -> LibrarySchedule:
        """A library's schedule (created with the defaults on first look); NotFound."""
        now = self._now()
        self._require_library(library_id)
        self._ensure_rows([library_id], now)
        return self._load([library_id])[0]

    def overview(self) -> SchedulerOverview:
        """Every library's schedule and the scheduler's state."""
        now = self._now()
        with self.db.session() as s:
            ids = list(s.scalars(select(LibraryRow.id).order_by(LibraryRow.id)))
        self._ensure_rows(ids, now)
        status = (
            self._scheduler.status()
            if self._scheduler is not None
            else SchedulerStatus(False, None, None, 0, None)
        )
        return SchedulerOverview(scheduler=status, libraries=self._load(ids))

    # -- commands ---------------------------------------------------------------------

    def update(self, library_id: int, tasks: Mapping[str, object]) -> LibrarySchedule:
        """Change `enabled` / `interval_hours` of some tasks; all-or-nothing validation."""
        changes = _parse_changes(tasks)
        now = self._now()
        self._require_library(library_id)
        self._ensure_rows([library_id], now)
        with self.db.session() as s:
            rows = _rows_by_task(s.scalars(_rows_of(library_id)))
            for task, change in changes.items():
                row = rows[task]
                enabled = bool(change.get("enabled", row.enabled))
                interval = int(change.get("interval_hours", row.interval_hours))
                replan = (enabled and not row.enabled) or interval != row.interval_hours
                row.enabled, row.interval_hours = enabled, interval
                if not enabled:
                    row.next_run_at = None
                elif replan or row.next_run_at is None:
                    anchor = utc(row.last_run_at) if row.last_run_at is not None else now
                    row.next_run_at = anchor + timedelta(hours=interval)
                row.updated_at = now
        self._poke()
        return self._load([library_id])[0]

    def run_now(self, library_id: int, task: str) -> ManualRun:
        """Enqueue `task` at once; the next scheduled run is one interval from now."""
        if task not in TASKS:
            raise NotFound(f"no schedulable task named {task!r}; known: {', '.join(TASKS)}")
        self._require_library(library_id)
        runner = self._runners.get(task)
        if runner is None:
            raise Conflict(f"{task} cannot run yet: no handler for {TASKS[task].job_type!r} jobs")
        now = self._now()
        self._ensure_rows([library_id], now)
        job_id = runner(library_id, "manual")
        with self.db.session() as s:
            row = _rows_by_task(s.scalars(_rows_of(library_id)))[task]
            row.last_run_at, row.last_job_id, row.updated_at = now, job_id, now
            row.next_run_at = now + timedelta(hours=row.interval_hours) if row.enabled else None
        self._poke()
        return ManualRun(library_id=library_id, task=task, job_id=job_id)

    # -- ScheduleSource (called by the scheduler thread) ---------------------------

    def entries(self, now: datetime) -> Sequence[ScheduleEntry]:
        """Every task of every library, as scheduler entries."""
        with self.db.session() as s:
            ids = list(s.scalars(select(LibraryRow.id)))
        self._ensure_rows(ids, now)
        with self.db.session() as s:
            pairs = s.execute(
                select(LibraryScheduleRow, LibraryRow.enabled)
                .join(LibraryRow, LibraryRow.id == LibraryScheduleRow.library_id)
                .order_by(LibraryScheduleRow.id)
            ).all()
            return [
                ScheduleEntry(
                    id=row.id,
                    name=f"library {row.library_id} {row.task}",
                    enabled=row.enabled and library_enabled,
                    available=row.task in self._runners,
                    interval=timedelta(hours=row.interval_hours),
                    last_run_at=_utc_or_none(row.last_run_at),
                    next_run_at=_utc_or_none(row.next_run_at),
                    last_job_id=row.last_job_id,
                    result_job_id=_result_job_id(row.last_result),
                )
                for row, library_enabled in pairs
                if row.task in TASKS
            ]

    def fire(self, entry: ScheduleEntry, now: datetime) -> int | None:
        """Claim the due slot (compare-and-set on next_run_at), then enqueue through the runner."""
        assert entry.next_run_at is not None
        with self.db.session() as s:
            result = s.execute(
                update(LibraryScheduleRow)
                .where(
                    LibraryScheduleRow.id == entry.id,
                    LibraryScheduleRow.next_run_at == entry.next_run_at,
                )
                .values(
                    last_run_at=now,
                    next_run_at=now + entry.interval,
                    last_job_id=None,
                    updated_at=now,
                )
            )
            claimed = isinstance(result, CursorResult) and result.rowcount == 1
            row = s.get(LibraryScheduleRow, entry.id) if claimed else None
            target = (row.library_id, row.task) if row is not None else None
        if target is None:
            return None  # another process fired it, or it was changed meanwhile
        library_id, task = target
        job_id = self._runners[task](library_id, "schedule")
        with self.db.session() as s:
            s.execute(
                update(LibraryScheduleRow)
                .where(LibraryScheduleRow.id == entry.id)
                .values(last_job_id=job_id)
            )
        return job_id

    def record_result(self, entry: ScheduleEntry, result: RunResult) -> None:
        """Store how the entry's last run ended (unless a newer run replaced it)."""
        statement = (
            update(LibraryScheduleRow)
            .where(LibraryScheduleRow.id == entry.id)
            .values(last_result=result.to_dict())
        )
        if result.job_id is not None:
            statement = statement.where(LibraryScheduleRow.last_job_id == result.job_id)
        with self.db.session() as s:
            s.execute(statement)

    # -- plumbing ---------------------------------------------------------------------

    def _require_library(self, library_id: int) -> None:
        with self.db.session() as s:
            if s.get(LibraryRow, library_id) is None:
                raise NotFound(f"library {library_id} does not exist")

    def _ensure_rows(self, library_ids: Sequence[int], now: datetime) -> None:
        """Create the missing task rows with their defaults (racing creators are fine)."""
        if not library_ids:
            return
        with self.db.session() as s:
            existing = {
                (lib, task)
                for lib, task in s.execute(
                    select(LibraryScheduleRow.library_id, LibraryScheduleRow.task).where(
                        LibraryScheduleRow.library_id.in_(library_ids)
                    )
                )
            }
        missing = [
            (lib, task) for lib in library_ids for task in TASKS if (lib, task) not in existing
        ]
        if not missing:
            return
        try:
            with self.db.session() as s:
                for lib, task in missing:
                    spec = TASKS[task]
                    interval = timedelta(hours=spec.interval_hours)
                    s.add(
                        LibraryScheduleRow(
                            library_id=lib,
                            task=task,
                            enabled=spec.enabled,
                            interval_hours=spec.interval_hours,
                            next_run_at=now + interval if spec.enabled else None,
                            created_at=now,
                            updated_at=now,
                        )
                    )
        except IntegrityError:
            # Another request or process created them first (or a library vanished).
            log.debug("schedule rows created concurrently for libraries %s", library_ids)

    def _load(self, library_ids: Sequence[int]) -> list[LibrarySchedule]:
        with self.db.session() as s:
            libraries = {
                lib: enabled
                for lib, enabled in s.execute(
                    select(LibraryRow.id, LibraryRow.enabled).where(LibraryRow.id.in_(library_ids))
                )
            }
            rows = s.scalars(
                select(LibraryScheduleRow).where(LibraryScheduleRow.library_id.in_(library_ids))
            ).all()
        by_library: dict[int, dict[str, TaskSchedule]] = {lib: {} for lib in library_ids}
        for row in rows:
            if row.task in TASKS and row.library_id in by_library:
                by_library[row.library_id][row.task] = self._to_domain(row)
        return [
            LibrarySchedule(
                library_id=lib,
                library_enabled=libraries.get(lib, False),
                tasks={t: tasks[t] for t in TASKS if t in tasks},
            )
            for lib, tasks in by_library.items()
            if lib in libraries
        ]

    def _to_domain(self, row: LibraryScheduleRow) -> TaskSchedule:
        return TaskSchedule(
            task=row.task,
            job_type=TASKS[row.task].job_type,
            enabled=row.enabled,
            interval_hours=row.interval_hours,
            last_run_at=_utc_or_none(row.last_run_at),
            next_run_at=_utc_or_none(row.next_run_at),
            last_result=self._live_result(row),
            last_job_id=row.last_job_id,
            available=row.task in self._runners,
        )

    def _live_result(self, row: LibraryScheduleRow) -> dict[str, Any] | None:
        """The stored result, or the state of the last job while it is not recorded yet."""
        if row.last_job_id is None or row.last_job_id == _result_job_id(row.last_result):
            return row.last_result
        try:
            job = self.queue.get(row.last_job_id)
        except NotFound:
            return row.last_result
        if job.status.is_finished:
            return RunResult.of_job(job, self._now()).to_dict()
        return {
            "status": job.status.value,
            "message": job.progress_message or job.last_error,
            "job_id": job.id,
            "finished_at": None,
        }


def _rows_of(library_id: int) -> Select[LibraryScheduleRow]:
    return select(LibraryScheduleRow).where(LibraryScheduleRow.library_id == library_id)


def _rows_by_task(rows: Iterable[LibraryScheduleRow]) -> dict[str, LibraryScheduleRow]:
    return {row.task: row for row in rows}


def _utc_or_none(value: datetime | None) -> datetime | None:
    return None if value is None else utc(value)


def _result_job_id(result: dict[str, Any] | None) -> int | None:
    value = result.get("job_id") if isinstance(result, dict) else None
    return value if isinstance(value, int) else None


def _parse_changes(tasks: Mapping[str, object]) -> dict[str, dict[str, bool | int]]:
    """Validate a whole PUT before anything is written; InvalidInput names the field."""
    changes: dict[str, dict[str, bool | int]] = {}
    for task, settings in tasks.items():
        if task not in TASKS:
            raise InvalidInput(f"unknown task {task!r}; known: {', '.join(TASKS)}", field=task)
        if not isinstance(settings, Mapping):
            raise InvalidInput(f"{task} must be an object", field=task)
        change: dict[str, bool | int] = {}
        for key, value in settings.items():
            field = f"{task}.{key}"
            if key == "enabled":
                if not isinstance(value, bool):
                    raise InvalidInput(f"{field} must be true or false", field=field)
                change[key] = value
            elif key == "interval_hours":
                if isinstance(value, bool) or not isinstance(value, int):
                    raise InvalidInput(f"{field} must be a whole number of hours", field=field)
                if not MIN_INTERVAL_HOURS <= value <= MAX_INTERVAL_HOURS:
                    raise InvalidInput(
                        f"{field} must be between {MIN_INTERVAL_HOURS} and "
                        f"{MAX_INTERVAL_HOURS} hours, not {value}",
                        field=field,
                    )
                change[key] = value
            elif key not in READ_ONLY:
                raise InvalidInput(
                    f"{field} is not a schedule setting (writable: {', '.join(WRITABLE)})",
                    field=field,
                )
        changes[task] = change
    return changes
