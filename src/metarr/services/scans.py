"""Scan runs: start a scan of a library, run it in the background, report progress."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, update

from metarr.db.engine import Database
from metarr.db.tables import LibraryRow, ScanRunRow
from metarr.domain.errors import InvalidInput, NotFound
from metarr.domain.media import ExternalIds
from metarr.domain.ports import Prober
from metarr.jobs import JobCancelled, JobContext, JobInterrupted, Priority, Queue, Registry
from metarr.pipeline.scan import LibraryScanner, ScanCancelled, ScanOptions
from metarr.services.libraries import LibraryService

log = logging.getLogger(__name__)

ACTIVE = ("queued", "running")
SCAN_JOB = "scan"


@dataclass(frozen=True, slots=True)
class ScanRun:
    """A scan as the API reports it."""

    id: int
    library_id: int
    job_id: int | None
    status: str
    trigger: str
    scope: str | None
    phase: str | None
    progress: float
    stats: dict[str, Any]
    error: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


ProgressListener = Callable[[ScanRun], None]


class ScanService:
    """Creates scan runs and runs them as `scan` jobs on the persistent queue."""

    def __init__(
        self,
        db: Database,
        libraries: LibraryService,
        prober: Prober,
        options: ScanOptions,
        queue: Queue,
        *,
        on_finished: Callable[[ScanRun], None] | None = None,
        on_progress: Callable[[ScanRun], None] | None = None,
        on_items_changed: Callable[[int, list[int]], None] | None = None,
    ) -> None:
        self.db = db
        self.libraries = libraries
        self.prober = prober
        self.options = options
        self.queue = queue
        self._on_finished = on_finished
        self._on_progress = on_progress
        self._on_items_changed = on_items_changed
        self._cancelled: set[int] = set()

    def register(self, registry: Registry) -> None:
        """Register the `scan` job handler (scans touch only disk and the database)."""
        registry.register(SCAN_JOB, self.handle_job, max_attempts=3, priority=Priority.NORMAL)

    # -- queries -------------------------------------------------------------

    def get(self, scan_id: int) -> ScanRun:
        """One scan run or NotFound."""
        with self.db.session() as s:
            row = s.get(ScanRunRow, scan_id)
            if row is None:
                raise NotFound(f"scan {scan_id} does not exist")
            return _to_domain(row)

    def latest(self, library_id: int) -> ScanRun | None:
        """The newest scan of a library."""
        with self.db.session() as s:
            row = s.scalars(
                select(ScanRunRow)
                .where(ScanRunRow.library_id == library_id)
                .order_by(ScanRunRow.id.desc())
                .limit(1)
            ).first()
            return _to_domain(row) if row else None

    # -- commands ------------------------------------------------------------

    def create(
        self, library_id: int, *, trigger: str = "manual", scope: str | None = None
    ) -> tuple[ScanRun, bool]:
        """Queue a scan; an identical queued or running scan is returned instead.

        Returns the run and whether it was created now.
        """
        library = self.libraries.get(library_id)
        if not library.enabled:
            raise InvalidInput(f"library {library.name!r} is disabled", field="library_id")
        scope = _check_scope(scope)
        now = datetime.now(UTC)
        with self.db.session() as s:
            existing = s.scalars(
                select(ScanRunRow).where(
                    ScanRunRow.library_id == library_id,
                    ScanRunRow.status.in_(ACTIVE),
                    ScanRunRow.scope.is_(None) if scope is None else ScanRunRow.scope == scope,
                )
            ).first()
            if existing is not None:
                return _to_domain(existing), False
            row = ScanRunRow(
                library_id=library_id,
                status="queued",
                trigger=trigger,
                scope=scope,
                progress=0.0,
                stats={},
                created_at=now,
            )
            s.add(row)
            s.flush()
            return _to_domain(row), True

    def submit(
        self,
        library_id: int,
        *,
        trigger: str = "manual",
        scope: str | None = None,
        hint_ids: ExternalIds | None = None,
        priority: int = Priority.NORMAL,
    ) -> ScanRun:
        """Queue a scan as a job (webhooks use a higher priority)."""
        run, created = self.create(library_id, trigger=trigger, scope=scope)
        if not created:
            return run
        payload: dict[str, Any] = {"scan_id": run.id, "library_id": library_id}
        if hint_ids is not None and not hint_ids.is_empty():
            payload["hint_ids"] = hint_ids.as_dict()
        target = library_target(library_id, scope)
        job = self.queue.enqueue(SCAN_JOB, target, payload, priority=priority)
        with self.db.session() as s:
            s.execute(update(ScanRunRow).where(ScanRunRow.id == run.id).values(job_id=job.id))
        return self.get(run.id)

    def handle_job(self, ctx: JobContext) -> Mapping[str, Any]:
        """The `scan` job: run the scan run named in the payload; idempotent."""
        scan_id = int(ctx.payload["scan_id"])
        hint = ctx.payload.get("hint_ids")
        stop: list[BaseException] = []

        def should_cancel() -> bool:
            try:
                ctx.check_cancelled()
            except (JobCancelled, JobInterrupted) as exc:
                stop.append(exc)
                return True
            return False

        def listener(run: ScanRun) -> None:
            done, total = run.stats.get("done", 0), run.stats.get("total", 0)
            ctx.progress(run.progress, f"{run.phase}: {done}/{total}" if total else run.phase)

        result = self.run(
            scan_id,
            hint_ids=ExternalIds(**hint) if hint else None,
            listener=listener,
            should_cancel=should_cancel,
            interrupted=lambda: bool(stop) and isinstance(stop[0], JobInterrupted),
        )
        if stop:
            raise stop[0]
        if result.status == "failed":
            raise RuntimeError(result.error or "scan failed")
        return {"scan_id": scan_id, "status": result.status, "stats": result.stats}

    def run(
        self,
        scan_id: int,
        *,
        hint_ids: ExternalIds | None = None,
        listener: ProgressListener | None = None,
        should_cancel: Callable[[], bool] | None = None,
        interrupted: Callable[[], bool] | None = None,
    ) -> ScanRun:
        """Execute a scan run now, in this thread (a job handler or the CLI)."""
        with self.db.session() as s:
            row = s.get(ScanRunRow, scan_id)
            if row is None:
                raise NotFound(f"scan {scan_id} does not exist")
            library = s.get(LibraryRow, row.library_id)
            assert library is not None
            root, library_id, scope = library.path, library.id, row.scope
            row.status, row.started_at, row.phase = "running", datetime.now(UTC), "walking"
        patterns = self.libraries.ignore_patterns(library_id)
        last = [0.0]
        last_phase = [""]

        def progress(phase: str, done: int, total: int) -> None:
            now = time.monotonic()
            # phase changes always go through; counters at most twice a second
            if phase == last_phase[0] and now - last[0] < 0.5:
                return
            last[0], last_phase[0] = now, phase
            fraction = (done / total) if total else 0.0
            self._update(
                scan_id,
                phase=phase,
                progress=round(fraction, 4),
                stats={"done": done, "total": total},
            )
            if listener is not None or self._on_progress is not None:
                current = self.get(scan_id)
                if listener is not None:
                    listener(current)
                if self._on_progress is not None:
                    self._on_progress(current)

        options = ScanOptions(
            probe_workers=self.options.probe_workers,
            batch_size=self.options.batch_size,
            sample_max_bytes=self.options.sample_max_bytes,
            grace_days=self.options.grace_days,
            scope=scope,
            hint_ids=hint_ids,
        )
        scanner = LibraryScanner(
            self.db,
            self.prober,
            options=options,
            progress=progress,
            should_cancel=should_cancel or (lambda: scan_id in self._cancelled),
            on_written=(
                (lambda ids: self._on_items_changed(library_id, ids))  # type: ignore[misc]
                if self._on_items_changed is not None
                else None
            ),
        )
        try:
            stats = scanner.scan(library_id, root, patterns)
        except ScanCancelled:
            if interrupted is not None and interrupted():
                # the worker is stopping: the job goes back to the queue, so does the run
                self._update(scan_id, status="queued", phase=None)
            else:
                self._finish(scan_id, "cancelled", None, None)
        except Exception as exc:
            log.exception("scan %s of library %s failed", scan_id, library_id)
            self._finish(scan_id, "failed", None, f"{type(exc).__name__}: {exc}"[:2000])
        else:
            self._finish(scan_id, "succeeded", stats.as_dict(), None)
            log.info(
                "scan %s of library %s finished: %s movies, %s added, %s updated, %s deleted "
                "in %.2fs",
                scan_id,
                library_id,
                stats.movies,
                stats.added,
                stats.updated,
                stats.deleted,
                stats.seconds,
            )
        finally:
            self._cancelled.discard(scan_id)
        result = self.get(scan_id)
        if listener is not None:
            listener(result)
        if self._on_finished is not None and result.status in ("succeeded", "failed"):
            self._on_finished(result)
        return result

    def cancel(self, scan_id: int) -> ScanRun:
        """Ask a queued or running scan to stop (its job is cancelled)."""
        run = self.get(scan_id)
        if run.status in ACTIVE:
            self._cancelled.add(scan_id)
            if run.job_id is not None:
                self.queue.cancel(run.job_id)
            if run.status == "queued":
                self._finish(scan_id, "cancelled", None, None)
        return self.get(scan_id)

    def wait_idle(self, timeout: float = 60.0) -> None:
        """Block until no scan is queued or running (tests and scripts)."""
        deadline = time.monotonic() + timeout
        while True:
            with self.db.session() as s:
                active = s.scalar(
                    select(ScanRunRow.id).where(ScanRunRow.status.in_(ACTIVE)).limit(1)
                )
            if active is None:
                return
            if time.monotonic() > deadline:
                raise TimeoutError(f"scans still active after {timeout}s")
            time.sleep(0.05)

    def _update(self, scan_id: int, **values: Any) -> None:
        with self.db.session() as s:
            s.execute(update(ScanRunRow).where(ScanRunRow.id == scan_id).values(**values))

    def _finish(
        self, scan_id: int, status: str, stats: dict[str, Any] | None, error: str | None
    ) -> None:
        values: dict[str, Any] = {
            "status": status,
            "finished_at": datetime.now(UTC),
            "error": error,
            "phase": "done" if status == "succeeded" else status,
        }
        if status == "succeeded":
            values["progress"] = 1.0
        if stats is not None:
            values["stats"] = stats
        self._update(scan_id, **values)


def library_target(library_id: int, folder: str | None = None) -> str:
    """Job target of a library or of one folder in it: `library:<id>/[<folder>]`.

    The slash after the id keeps `library:1/` from matching `library:12/` as a prefix.
    """
    return f"library:{library_id}/{folder or ''}"


def _check_scope(scope: str | None) -> str | None:
    if scope is None:
        return None
    scope = scope.strip().strip("/")
    if not scope:
        return None
    if "\x00" in scope or any(part in ("..", ".") for part in scope.split("/")):
        raise InvalidInput("scope must be a folder inside the library", field="scope")
    return scope


def _to_domain(row: ScanRunRow) -> ScanRun:
    return ScanRun(
        id=row.id,
        library_id=row.library_id,
        job_id=row.job_id,
        status=row.status,
        trigger=row.trigger,
        scope=row.scope,
        phase=row.phase,
        progress=row.progress,
        stats=dict(row.stats or {}),
        error=row.error,
        created_at=row.created_at,
        started_at=row.started_at,
        finished_at=row.finished_at,
    )
