"""Jobs as the API and UI see them: list, inspect, cancel, retry, stats."""

from __future__ import annotations

from metarr.domain.errors import InvalidInput
from metarr.jobs import Job, JobStats, Queue

STATUSES = ("queued", "running", "retry_scheduled", "succeeded", "failed", "cancelled")


class JobService:
    """Thin use cases over the queue (targets are `library:<id>[/<folder>]`)."""

    def __init__(self, queue: Queue) -> None:
        self.queue = queue

    def list(
        self,
        *,
        status: str | None = None,
        job_type: str | None = None,
        library_id: int | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> tuple[list[Job], int]:
        """A page of jobs, newest first, with the total."""
        if status is not None and status not in STATUSES:
            raise InvalidInput(f"status must be one of {', '.join(STATUSES)}", field="status")
        prefix = f"library:{library_id}/" if library_id is not None else None
        items, total = self.queue.list_jobs(
            status=status, type=job_type, target_prefix=prefix, limit=limit, offset=offset
        )
        return list(items), total

    def get(self, job_id: int) -> Job:
        """One job with its children."""
        return self.queue.get(job_id)

    def cancel(self, job_id: int) -> Job:
        """Cancel a queued job, or ask a running one to stop."""
        return self.queue.cancel(job_id)

    def retry(self, job_id: int) -> Job:
        """Queue a failed or cancelled job again."""
        return self.queue.retry(job_id)

    def stats(self) -> JobStats:
        """Counts per status and type."""
        return self.queue.stats()
