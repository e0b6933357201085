"""`/libraries/{id}/schedule` and `/scheduler`: recurring tasks per library, run now, status."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from typing import Any

from fastapi import APIRouter, status
from pydantic import BaseModel, ConfigDict

from metarr.api.deps import ContainerDep
from metarr.bootstrap import Container
from metarr.domain.errors import InvalidInput
from metarr.services.schedules import LibrarySchedule, ScheduleService

router = APIRouter(tags=["schedules"])


class TaskScheduleOut(BaseModel):
    """One task of a library's schedule."""

    job_type: str
    enabled: bool
    interval_hours: int
    last_run_at: datetime | None
    next_run_at: datetime | None
    last_result: dict[str, Any] | None  # {status, message, job_id, finished_at}
    last_job_id: int | None
    available: bool  # False: its job type has no handler yet; never enqueued


class ScheduleOut(BaseModel):
    """Every task of one library."""

    library_id: int
    library_enabled: bool
    tasks: dict[str, TaskScheduleOut]


class ScheduleIn(BaseModel):
    """A PUT body: the GET shape; only `enabled` and `interval_hours` per task are written."""

    model_config = ConfigDict(extra="ignore")

    library_id: int | None = None
    # Values are validated by the service, so errors name the field ("file_scan.enabled").
    tasks: dict[str, Any]


class RunOut(BaseModel):
    """A task enqueued on request."""

    job_id: int
    task: str


class SchedulerOut(BaseModel):
    """The scheduler's own state and every library's schedule."""

    running: bool
    last_tick_at: datetime | None
    next_wake_at: datetime | None
    ticks: int
    last_error: str | None
    libraries: list[ScheduleOut]


def schedule_service(container: Container) -> ScheduleService:
    """The container's schedule service."""
    return container.schedules


def _out(schedule: LibrarySchedule) -> ScheduleOut:
    tasks = {}
    for name, task in schedule.tasks.items():
        data = asdict(task)
        del data["task"]
        tasks[name] = TaskScheduleOut(**data)
    return ScheduleOut(
        library_id=schedule.library_id, library_enabled=schedule.library_enabled, tasks=tasks
    )


@router.get("/libraries/{library_id}/schedule")
def get_schedule(library_id: int, container: ContainerDep) -> ScheduleOut:
    """A library's recurring tasks: setting, last run, next run, last result."""
    return _out(schedule_service(container).get(library_id))


@router.put("/libraries/{library_id}/schedule")
def put_schedule(library_id: int, body: ScheduleIn, container: ContainerDep) -> ScheduleOut:
    """Change `enabled` and `interval_hours` of some tasks (nothing is written if any is bad)."""
    if body.library_id is not None and body.library_id != library_id:
        raise InvalidInput("library_id does not match the URL", field="library_id")
    return _out(schedule_service(container).update(library_id, body.tasks))


@router.post("/libraries/{library_id}/schedule/{task}/run", status_code=status.HTTP_202_ACCEPTED)
def run_task(library_id: int, task: str, container: ContainerDep) -> RunOut:
    """Enqueue a task now; its next scheduled run moves to one interval from now."""
    run = schedule_service(container).run_now(library_id, task)
    return RunOut(job_id=run.job_id, task=run.task)


@router.get("/scheduler")
def scheduler_status(container: ContainerDep) -> SchedulerOut:
    """Whether the scheduler runs, when it ticked and wakes next, and every schedule."""
    overview = schedule_service(container).overview()
    return SchedulerOut(
        **asdict(overview.scheduler), libraries=[_out(lib) for lib in overview.libraries]
    )
