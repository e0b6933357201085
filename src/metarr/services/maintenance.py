"""Cleanup: job history past retention, movies soft-deleted past their grace period, and
cache files nothing refers to any more."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from metarr.db import cache_refs, scan_store
from metarr.db.engine import Database
from metarr.jobs import Queue
from metarr.settings import Settings
from metarr.storage.cache import ContentCache

# A cached file younger than this is kept even when nothing refers to it yet: the
# enrichment that put it may not have committed its reference.
CACHE_GC_GRACE = timedelta(hours=24)


class MaintenanceService:
    """The daily `cleanup` task of a library."""

    def __init__(
        self,
        db: Database,
        settings: Settings,
        cache: ContentCache | None = None,
        *,
        cache_grace: timedelta = CACHE_GC_GRACE,
    ) -> None:
        self.db = db
        self.settings = settings
        self.cache = cache or ContentCache(Path(settings.data_dir) / "cache")
        self.cache_grace = cache_grace

    def cleanup(self, library_id: int, queue: Queue) -> dict[str, int]:
        """Purge old job history, expired soft-deleted movies and unreferenced cache files.

        The movies go first, so the cache files only they referred to are collected in
        the same run (once past the grace period). The cache is shared by all
        libraries: every library's cleanup collects it as a whole.
        """
        now = datetime.now(UTC)
        jobs = queue.purge_finished(timedelta(days=self.settings.job_retention_days))
        with self.db.engine.begin() as conn:
            movies = scan_store.purge_deleted(
                conn, library_id, now - timedelta(days=self.settings.deleted_grace_days)
            )
        gc = self.collect_cache(now)
        return {"jobs_purged": jobs, "movies_purged": movies, **gc}

    def collect_cache(self, now: datetime | None = None) -> dict[str, int]:
        """Remove cache files no row refers to, older than the grace period; the counts."""
        # The references are read before the files are listed: a file put (and
        # referenced) after this read is younger than the grace period, so it stays.
        with self.db.engine.connect() as conn:
            referenced = cache_refs.referenced_hashes(conn)
        result = self.cache.gc(referenced, self.cache_grace, now)
        return {
            "cache_referenced": len(referenced),
            "cache_files_removed": result.files,
            "cache_bytes_freed": result.bytes,
            "cache_temp_removed": result.temp_files,
        }
