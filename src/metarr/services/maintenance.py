"""Cleanup: job history past retention, movies soft-deleted past their grace period."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from metarr.db import scan_store
from metarr.db.engine import Database
from metarr.jobs import Queue
from metarr.settings import Settings


class MaintenanceService:
    """The daily `cleanup` task of a library."""

    def __init__(self, db: Database, settings: Settings) -> None:
        self.db = db
        self.settings = settings

    def cleanup(self, library_id: int, queue: Queue) -> dict[str, int]:
        """Purge old job history and expired soft-deleted movies; returns the counts."""
        now = datetime.now(UTC)
        jobs = queue.purge_finished(timedelta(days=self.settings.job_retention_days))
        with self.db.engine.begin() as conn:
            movies = scan_store.purge_deleted(
                conn, library_id, now - timedelta(days=self.settings.deleted_grace_days)
            )
        return {"jobs_purged": jobs, "movies_purged": movies}
