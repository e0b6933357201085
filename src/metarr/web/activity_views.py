"""What the activity page shows: its filters, jobs as rows, and the queries behind them."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import urlencode

from metarr.jobs import Job
from metarr.web.deps import Services

HISTORY_PAGE = 25
LOG_PAGE = 25
RUNNING_LIMIT = 100  # per status; the queue counts above the table show the rest
FINISHED = ("succeeded", "failed", "cancelled")
ACTIVE = ("running", "retry_scheduled", "queued")  # the order of the running table
STAT_STATUSES = ("queued", "running", "retry_scheduled", "succeeded", "failed", "cancelled")
LEVELS = ("info", "warning", "error")

_TARGET = re.compile(r"^library:(\d+)/(.*)$", re.DOTALL)
_WORD = re.compile(r"^[A-Za-z0-9_.:-]{1,60}$")


def _page(value: str) -> int:
    return max(1, min(int(value), 1_000_000)) if value.isdigit() else 1


@dataclass(frozen=True, slots=True)
class ActivityFilters:
    """The page's query string, parsed leniently (a bad value is dropped, not an error)."""

    status: str = ""  # history: one finished status, or every finished one
    type: str = ""
    library: int | None = None
    page: int = 1
    kind: str = ""  # the log
    level: str = ""
    log_page: int = 1

    @classmethod
    def parse(cls, params: Mapping[str, str]) -> ActivityFilters:
        """Read the filters from query parameters."""
        status = params.get("status", "")
        job_type = params.get("type", "").strip()
        library = params.get("library", "")
        kind = params.get("kind", "").strip()
        level = params.get("level", "")
        return cls(
            status=status if status in FINISHED else "",
            type=job_type if _WORD.match(job_type) else "",
            library=int(library) if library.isdigit() and len(library) < 19 else None,
            page=_page(params.get("page", "1")),
            kind=kind if _WORD.match(kind) else "",
            level=level if level in LEVELS else "",
            log_page=_page(params.get("log_page", "1")),
        )

    def url(self, path: str = "/activity", **changes: Any) -> str:
        """The activity page URL (or a fragment's, by `path`) with these filters, some changed."""
        f = replace(self, **changes)
        params: dict[str, str | int] = {}
        for key in ("status", "type", "library", "kind", "level"):
            value = getattr(f, key)
            if value not in ("", None):
                params[key] = value
        if f.page > 1:
            params["page"] = f.page
        if f.log_page > 1:
            params["log_page"] = f.log_page
        return path + ("?" + urlencode(params) if params else "")

    @property
    def history_filtered(self) -> bool:
        """True when any history filter is set."""
        return bool(self.status or self.type or self.library is not None)


@dataclass(frozen=True, slots=True)
class JobView:
    """A job as a row of the running or history table."""

    job: Job
    library_id: int | None
    library_name: str | None
    folder: str

    @property
    def status(self) -> str:
        """The job's status word."""
        return self.job.status.value

    @property
    def label(self) -> str:
        """What the job works on, for people: `Films`, `Films / Heat (1995)`."""
        if self.library_id is None:
            return self.job.target
        name = self.library_name or f"library {self.library_id}"
        return f"{name} / {self.folder}" if self.folder else name

    @property
    def scan_id(self) -> int | None:
        """The scan run a `scan` job executes (its progress comes as scan events too)."""
        value = self.job.payload.get("scan_id")
        return value if isinstance(value, int) else None

    @property
    def can_cancel(self) -> bool:
        """Queued or waiting jobs cancel at once; running ones are asked to stop."""
        return self.status in ACTIVE and not self.job.cancel_requested

    @property
    def can_retry(self) -> bool:
        """Failed and cancelled jobs can be queued again."""
        return self.status in ("failed", "cancelled")

    @property
    def duration(self) -> float | None:
        """Seconds from start to finish of the last attempt."""
        started, finished = self.job.started_at, self.job.finished_at
        if started is None or finished is None:
            return None
        return max(0.0, (finished - started).total_seconds())

    @property
    def error_head(self) -> str:
        """The first line of the error (the whole error sits behind a disclosure)."""
        return (self.job.last_error or "").strip().splitlines()[0][:300] if self.error_long else ""

    @property
    def error_long(self) -> bool:
        """True when the error needs more than one short line."""
        error = (self.job.last_error or "").strip()
        return "\n" in error or len(error) > 300


def library_names(svc: Services) -> dict[int, str]:
    """Library id -> name, for labelling job targets."""
    return {lib.id: lib.name for lib in svc.libraries.list()}


def job_view(job: Job, names: Mapping[int, str]) -> JobView:
    """A job with its target resolved to a library name."""
    match = _TARGET.match(job.target)
    if match is None:
        return JobView(job, None, None, "")
    library_id = int(match.group(1))
    return JobView(job, library_id, names.get(library_id), match.group(2).strip("/"))


def running(svc: Services) -> list[Job]:
    """Running jobs, then jobs waiting to retry, then queued ones in the order they run."""
    jobs: list[Job] = []
    for status in ACTIVE:
        page, _ = svc.jobs.list(status=status, limit=RUNNING_LIMIT)
        jobs.extend(page if status == "running" else reversed(page))
    return jobs


def history(svc: Services, filters: ActivityFilters) -> tuple[list[Job], int]:
    """A page of finished jobs, newest first, with the total matching the filters."""
    statuses = [filters.status] if filters.status else list(FINISHED)
    prefix = f"library:{filters.library}/" if filters.library is not None else None
    jobs, total = svc.jobs.queue.list_jobs(
        status=statuses,
        type=filters.type or None,
        target_prefix=prefix,
        limit=HISTORY_PAGE,
        offset=(filters.page - 1) * HISTORY_PAGE,
    )
    return list(jobs), total


def pages(total: int, size: int) -> int:
    """How many pages `total` rows fill (at least one)."""
    return max(1, -(-total // size))
