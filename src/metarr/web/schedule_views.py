"""What the schedule panel shows: one row per task, with the form values of a refused save."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from fastapi import Request

from metarr.services.schedules import (
    MAX_INTERVAL_HOURS,
    MIN_INTERVAL_HOURS,
    TASKS,
    LibrarySchedule,
    TaskSchedule,
)
from metarr.web.deps import row_id, services

LABELS: Mapping[str, str] = {
    "file_scan": "File scan",
    "provider_update": "Provider update",
    "verification": "Verification",
    "cleanup": "Cleanup",
}
HELP: Mapping[str, str] = {
    "file_scan": "Reads the library folder for new, changed and removed movies.",
    "provider_update": "Refreshes metadata and artwork from the providers.",
    "verification": "Checks that written files still match what Metarr expects.",
    "cleanup": "Purges movies deleted longer ago than the grace period, old job history and "
    "cache files nothing refers to any more.",
}
# Why a task cannot run yet (shown as the tooltip of its disabled "Run now").
UNAVAILABLE: Mapping[str, str] = {}
_FALLBACK_UNAVAILABLE = "Not available yet: this task has no handler in this version."


@dataclass(frozen=True, slots=True)
class TaskRow:
    """One task as a row of the schedule panel (form values kept after a refused save)."""

    task: str
    label: str
    help: str
    schedule: TaskSchedule
    enabled: bool
    interval: str
    unavailable_reason: str

    @property
    def result_status(self) -> str | None:
        """The status word of the last run (queued, running, succeeded, failed...)."""
        result = self.schedule.last_result
        status = result.get("status") if isinstance(result, dict) else None
        return status if isinstance(status, str) else None

    @property
    def result_message(self) -> str:
        """The last run's message, if any."""
        result = self.schedule.last_result
        message = result.get("message") if isinstance(result, dict) else None
        return message if isinstance(message, str) else ""

    @property
    def job_id(self) -> int | None:
        """The job of the last run."""
        result = self.schedule.last_result
        job = result.get("job_id") if isinstance(result, dict) else None
        if isinstance(job, int) and not isinstance(job, bool):
            return job
        return self.schedule.last_job_id


def task_rows(schedule: LibrarySchedule, form: Mapping[str, Any] | None = None) -> list[TaskRow]:
    """The panel's rows; `form` (a refused save) overrides the stored values."""
    rows = []
    for task, sched in schedule.tasks.items():
        enabled, interval = sched.enabled, str(sched.interval_hours)
        if form is not None:
            enabled = bool(form.get(f"{task}.enabled"))
            interval = str(form.get(f"{task}.interval_hours", interval))
        rows.append(
            TaskRow(
                task=task,
                label=LABELS.get(task, task.replace("_", " ").capitalize()),
                help=HELP.get(task, ""),
                schedule=sched,
                enabled=enabled,
                interval=interval,
                unavailable_reason=UNAVAILABLE.get(task, _FALLBACK_UNAVAILABLE),
            )
        )
    return rows


def schedule_context(
    request: Request,
    library_id: int,
    *,
    form: Mapping[str, Any] | None = None,
    errors: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """What partials/schedule_panel.html needs (NotFound for a missing library)."""
    schedule = services(request).schedules.get(row_id(library_id, "library"))
    job_types = sorted({TASKS[t].job_type for t in schedule.tasks if t in TASKS})
    return {
        "library_id": library_id,
        "schedule": schedule,
        "tasks": task_rows(schedule, form),
        "errors": dict(errors or {}),
        "job_types": " ".join(job_types),
        "min_hours": MIN_INTERVAL_HOURS,
        "max_hours": MAX_INTERVAL_HOURS,
    }
