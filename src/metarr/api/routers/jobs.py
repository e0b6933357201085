"""`/jobs`: the persistent queue, its history, cancel and retry."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel

from metarr.api.deps import ContainerDep, PathId, QueryId
from metarr.jobs import Job

router = APIRouter(prefix="/jobs", tags=["jobs"])


class JobOut(BaseModel):
    """A job."""

    id: int
    type: str
    target: str
    payload: dict[str, Any]
    priority: int
    status: str
    attempts: int
    max_attempts: int
    progress: float
    progress_message: str | None
    result: dict[str, Any] | None
    error: str | None
    needs: str | None
    cancel_requested: bool
    parent_id: int | None
    children: list[int]
    run_at: str
    created_at: str
    started_at: str | None
    finished_at: str | None
    worker_id: str | None


class JobPageOut(BaseModel):
    """A page of jobs."""

    items: list[JobOut]
    total: int


class JobStatsOut(BaseModel):
    """Queue statistics."""

    by_status: dict[str, int]
    by_type: dict[str, dict[str, int]]
    running: int
    oldest_queued_age: float | None


def job_out(job: Job) -> JobOut:
    """A job as the API shows it."""

    def iso(value: Any) -> str | None:
        return value.isoformat() if value is not None else None

    return JobOut(
        id=job.id,
        type=job.type,
        target=job.target,
        payload=job.payload,
        priority=job.priority,
        status=job.status.value,
        attempts=job.attempts,
        max_attempts=job.max_attempts,
        progress=job.progress,
        progress_message=job.progress_message,
        result=job.result,
        error=job.last_error,
        needs=job.needs,
        cancel_requested=job.cancel_requested,
        parent_id=job.parent_id,
        children=list(job.children),
        run_at=job.run_at.isoformat(),
        created_at=job.created_at.isoformat(),
        started_at=iso(job.started_at),
        finished_at=iso(job.finished_at),
        worker_id=job.worker_id,
    )


@router.get("")
def list_jobs(
    container: ContainerDep,
    status: str | None = None,
    type: str | None = None,
    library_id: QueryId = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> JobPageOut:
    """Jobs, newest first, filtered by status, type and library."""
    items, total = container.jobs.list(
        status=status, job_type=type, library_id=library_id, limit=limit, offset=offset
    )
    return JobPageOut(items=[job_out(j) for j in items], total=total)


@router.get("/stats")
def job_stats(container: ContainerDep) -> JobStatsOut:
    """Counts per status and per type, running jobs, age of the oldest queued job."""
    s = container.jobs.stats()
    return JobStatsOut(
        by_status=dict(s.by_status),
        by_type={k: dict(v) for k, v in s.by_type.items()},
        running=s.running,
        oldest_queued_age=s.oldest_queued_age,
    )


@router.get("/{job_id}")
def get_job(job_id: PathId, container: ContainerDep) -> JobOut:
    """One job with its children."""
    return job_out(container.jobs.get(job_id))


@router.post("/{job_id}/cancel")
def cancel_job(job_id: PathId, container: ContainerDep) -> JobOut:
    """Cancel a queued job, or ask a running one to stop between steps."""
    return job_out(container.jobs.cancel(job_id))


@router.post("/{job_id}/retry")
def retry_job(job_id: PathId, container: ContainerDep) -> JobOut:
    """Queue a failed or cancelled job again."""
    return job_out(container.jobs.retry(job_id))
