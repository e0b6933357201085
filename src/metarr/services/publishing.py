"""Publishing use cases: `publish` and `verify` jobs, plans, settings, the recycle bin."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from metarr.db import publish_store as store
from metarr.db import recycle_store, verify_store
from metarr.db.engine import Database
from metarr.domain.errors import Conflict, InvalidInput, NotFound
from metarr.domain.publish import Profile
from metarr.jobs import JobContext, Priority, Queue, Registry
from metarr.pipeline import chain
from metarr.pipeline.publish import MoviePlan, Publisher, PublishFailed
from metarr.pipeline.verify import Verifier
from metarr.services.libraries import Library, LibraryService
from metarr.services.scans import library_target
from metarr.storage import atomic
from metarr.storage.recycle import RecycleBin

log = logging.getLogger(__name__)

PUBLISH_JOB = "publish"
VERIFY_JOB = "verify"
DEFAULT_RETENTION_DAYS = 30

# (library_id, ids of the movies whose files changed) -> called after a publish
Published = Callable[[int, list[int]], None]


def movie_target(movie_id: int) -> str:
    """Job target of one movie: `movie:<id>`."""
    return f"movie:{movie_id}"


@dataclass(frozen=True, slots=True)
class SettingsView:
    """A library's publish settings as the API shows them."""

    library_id: int
    profile: str
    hardlinks: bool
    verify_repair: bool
    hardlinks_possible: bool  # the cache and the library share a filesystem


@dataclass(frozen=True, slots=True)
class RestoreResult:
    """A restored file: where it went, and the current file it displaced (if any)."""

    path: str
    size: int
    displaced_entry_id: int | None


class PublishingService:
    """Runs publish and verify as jobs; the recycle bin and per-library settings."""

    def __init__(
        self,
        db: Database,
        queue: Queue,
        libraries: LibraryService,
        publisher: Publisher,
        verifier: Verifier,
        recycle: RecycleBin,
        *,
        registered: Callable[[str], bool],
        on_published: Published | None = None,
        retention_days: int = DEFAULT_RETENTION_DAYS,
    ) -> None:
        self.db = db
        self.queue = queue
        self.libraries = libraries
        self.publisher = publisher
        self.verifier = verifier
        self.recycle = recycle
        self.registered = registered
        self.on_published = on_published
        self.retention_days = retention_days

    def register(self, registry: Registry) -> None:
        """Register the `publish` and `verify` job handlers."""
        registry.register(PUBLISH_JOB, self.handle_publish, max_attempts=3)
        registry.register(VERIFY_JOB, self.handle_verify, max_attempts=2, priority=Priority.LOW)

    # -- enqueueing -------------------------------------------------------------------

    def enqueue_movie(self, movie_id: int) -> list[int]:
        """Queue publishing one movie."""
        self._library_of(movie_id)
        job = self.queue.enqueue(PUBLISH_JOB, movie_target(movie_id), {"movie_id": movie_id})
        return [job.id]

    def enqueue_library(self, library_id: int, scope: str | None = None) -> list[int]:
        """Queue publishing a library (or one folder of it) as one job."""
        self.libraries.get(library_id)
        payload: dict[str, Any] = {"library_id": library_id}
        if scope:
            payload["scope"] = scope
        job = self.queue.enqueue(PUBLISH_JOB, library_target(library_id, scope), payload)
        return [job.id]

    def verify_movie(self, movie_id: int, *, repair: bool | None = None) -> list[int]:
        """Queue verification of one movie."""
        library_id = self._library_of(movie_id)
        payload: dict[str, Any] = {"library_id": library_id, "movie_id": movie_id}
        if repair is not None:
            payload["repair"] = repair
        return [self.queue.enqueue(VERIFY_JOB, movie_target(movie_id), payload).id]

    def verify_library(self, library_id: int, *, repair: bool | None = None) -> list[int]:
        """Queue verification of a whole library."""
        self.libraries.get(library_id)
        payload: dict[str, Any] = {"library_id": library_id}
        if repair is not None:
            payload["repair"] = repair
        return [self.queue.enqueue(VERIFY_JOB, library_target(library_id), payload).id]

    def schedule_runner(self, library_id: int, trigger: str) -> int:
        """The schedule's `verification` runner: queue the library's verification."""
        self.libraries.get(library_id)
        job = self.queue.enqueue(
            VERIFY_JOB, library_target(library_id), {"library_id": library_id, "trigger": trigger}
        )
        return job.id

    # -- queries ----------------------------------------------------------------------

    def plan(self, movie_id: int) -> MoviePlan:
        """The dry run of publishing one movie."""
        return self.publisher.plan(movie_id)

    def verification(
        self, *, library_id: int | None = None, movie_id: int | None = None, limit: int = 10
    ) -> list[dict[str, Any]]:
        """The newest verification runs with their findings and repairs."""
        with self.db.session() as s:
            return verify_store.verification_runs(
                s.connection(), library_id=library_id, movie_id=movie_id, limit=limit
            )

    # -- settings ---------------------------------------------------------------------

    def settings(self, library_id: int) -> SettingsView:
        """A library's publish settings."""
        library = self.libraries.get(library_id)
        with self.db.session() as s:
            current = store.load_settings(s.connection(), library_id)
        return self._view(current, library)

    def update_settings(
        self,
        library_id: int,
        *,
        profile: str | None = None,
        hardlinks: bool | None = None,
        verify_repair: bool | None = None,
    ) -> SettingsView:
        """Change a library's publish settings (None = unchanged)."""
        library = self.libraries.get(library_id)
        if profile is not None and profile not in {p.value for p in Profile}:
            known = ", ".join(p.value for p in Profile)
            raise InvalidInput(f"unknown profile {profile!r} (known: {known})", field="profile")
        with self.db.session() as s:
            conn = s.connection()
            current = store.load_settings(conn, library_id)
            changed = replace(
                current,
                profile=Profile(profile) if profile is not None else current.profile,
                hardlinks=current.hardlinks if hardlinks is None else hardlinks,
                verify_repair=current.verify_repair if verify_repair is None else verify_repair,
            )
            store.save_settings(conn, changed, datetime.now(UTC))
        return self._view(changed, library)

    def _view(self, current: store.PublishSettings, library: Library) -> SettingsView:
        return SettingsView(
            library_id=library.id,
            profile=current.profile.value,
            hardlinks=current.hardlinks,
            verify_repair=current.verify_repair,
            hardlinks_possible=atomic.same_filesystem(
                self.publisher.cache.root.parent, Path(library.path)
            ),
        )

    # -- job handlers -----------------------------------------------------------------

    def handle_publish(self, ctx: JobContext) -> Mapping[str, Any]:
        """The `publish` job: one movie (`movie_id`) or a library (`library_id`, `scope`)."""
        payload = ctx.payload
        ctx.check_cancelled()
        if "movie_id" in payload:
            movie_id = int(payload["movie_id"])
            library_id = self._library_of(movie_id)
            result = self.publisher.publish([movie_id], check=ctx.check_cancelled)
            if result.failed:
                self._after(ctx, library_id, result.changed_ids)
                raise PublishFailed("; ".join(result.errors) or f"movie {movie_id} failed")
        else:
            library_id = int(payload["library_id"])
            scope = payload.get("scope") or None
            ids = self.publisher.library_movies(library_id, scope)
            result = self.publisher.publish(ids, check=ctx.check_cancelled, progress=ctx.progress)
        out = result.as_dict()
        out["next_job_id"] = self._after(ctx, library_id, result.changed_ids)
        return out

    def _after(self, ctx: JobContext, library_id: int, changed: list[int]) -> int | None:
        """Tell listeners what changed and start the next phase (nothing changed: nothing)."""
        if not changed:
            return None
        if self.on_published is not None:
            self.on_published(library_id, changed)
        library = self.libraries.get(library_id)
        step = chain.next_phase(
            PUBLISH_JOB,
            library_id=library_id,
            switches=_switches(library),
            registered=self.registered,
        )
        if step is None:
            return None
        child = ctx.enqueue_child(
            step.job_type, step.target, {**step.payload, "movie_ids": changed}
        )
        return child.id

    def after_enrich(self, ctx: JobContext, movie_id: int) -> int | None:
        """Queue publishing a movie whose enrichment just finished, when its library says so."""
        library = self.libraries.get(self._library_of(movie_id))
        step = chain.next_phase(
            "enrich",
            library_id=library.id,
            switches=_switches(library),
            registered=self.registered,
        )
        if step is None or step.job_type != PUBLISH_JOB:
            return None
        return ctx.enqueue_child(PUBLISH_JOB, movie_target(movie_id), {"movie_id": movie_id}).id

    def handle_verify(self, ctx: JobContext) -> Mapping[str, Any]:
        """The `verify` job: a library, or one movie of it."""
        payload = ctx.payload
        movie_id = payload.get("movie_id")
        repair = payload.get("repair")
        result = self.verifier.verify(
            int(payload["library_id"]),
            int(movie_id) if movie_id is not None else None,
            repair=bool(repair) if repair is not None else None,
            job_id=ctx.job.id,
            check=ctx.check_cancelled,
            progress=ctx.progress,
        )
        return result.as_dict()

    # -- recycle bin ------------------------------------------------------------------

    def recycle_bin(
        self,
        *,
        library_id: int | None = None,
        movie_id: int | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> tuple[list[recycle_store.RecycleEntry], int]:
        """Entries of the recycle bin, newest first, and the total."""
        with self.db.session() as s:
            return recycle_store.recycle_entries(
                s.connection(), library_id=library_id, movie_id=movie_id, limit=limit, offset=offset
            )

    def restore(self, entry_id: int) -> RestoreResult:
        """Put a recycled file back where it was, byte for byte.

        A different file now at that path goes to the recycle bin first. The
        restored file is the user's from now on: Metarr forgets it published it.
        """
        entry = self._entry(entry_id)
        destination = Path(entry.original_path)
        self._check_destination(entry, destination)
        displaced: int | None = None
        try:
            if destination.exists():
                current = atomic.sha256_file(destination)
                if current != entry.sha256:
                    item = self.recycle.put(
                        destination,
                        reason="restore",
                        keep_original=True,
                        meta={"rel_path": entry.rel_path},
                    )
                    values = item.index_values(
                        entry.rel_path, library_id=entry.library_id, movie_id=entry.movie_id
                    )
                    with self.db.session() as s:
                        displaced = recycle_store.add_recycle_entry(s.connection(), values)
            size = self.recycle.restore(entry.stored_path, destination)
        except OSError as exc:  # the entry stays in the bin; nothing half-written is left
            raise Conflict(f"could not restore {destination}: {exc.strerror or exc}") from exc
        with self.db.session() as s:
            conn = s.connection()
            recycle_store.delete_recycle_entry(conn, entry.id)
            if entry.library_id is not None and entry.rel_path:
                store.forget_paths(conn, entry.library_id, [entry.rel_path])
        return RestoreResult(str(destination), size, displaced)

    def purge(self, entry_id: int) -> None:
        """Delete a recycled file for good."""
        entry = self._entry(entry_id)
        self.recycle.purge(entry.stored_path)
        with self.db.session() as s:
            recycle_store.delete_recycle_entry(s.connection(), entry.id)

    def purge_expired(self, now: datetime | None = None) -> int:
        """Purge entries past the retention period (and index any a crash left unindexed)."""
        now = now or datetime.now(UTC)
        self._adopt_orphans()
        with self.db.session() as s:
            expired = recycle_store.expired_recycle_entries(
                s.connection(), now - timedelta(days=self.retention_days)
            )
        for entry in expired:
            self.recycle.purge(entry.stored_path)
            with self.db.session() as s:
                recycle_store.delete_recycle_entry(s.connection(), entry.id)
        return len(expired)

    def _adopt_orphans(self) -> None:
        """Index bin entries whose database row was never written (a crash in between)."""
        with self.db.session() as s:
            known = recycle_store.known_stored_paths(s.connection())
        for item in self.recycle.entries():
            if item.stored in known:
                continue
            rel = item.meta.get("rel_path")
            values = item.index_values(rel if isinstance(rel, str) else None)
            with self.db.session() as s:
                recycle_store.add_recycle_entry(s.connection(), values)

    def _entry(self, entry_id: int) -> recycle_store.RecycleEntry:
        with self.db.session() as s:
            entry = recycle_store.recycle_entry(s.connection(), entry_id)
        if entry is None:
            raise NotFound(f"recycle bin entry {entry_id} does not exist")
        return entry

    def _check_destination(self, entry: recycle_store.RecycleEntry, destination: Path) -> None:
        """Restore only into the library the file came from."""
        if entry.library_id is None:
            raise InvalidInput(
                f"the library of {entry.original_path} no longer exists", field="entry_id"
            )
        library = self.libraries.get(entry.library_id)
        root = Path(library.path)
        if not destination.is_absolute() or root not in destination.parents:
            raise InvalidInput(
                f"{destination} is outside the library {root}", field="original_path"
            )

    def _library_of(self, movie_id: int) -> int:
        with self.db.session() as s:
            library_id = store.movie_library(s.connection(), movie_id)
        if library_id is None:
            raise NotFound(f"movie {movie_id} does not exist")
        return library_id


def _switches(library: Library) -> dict[str, bool]:
    """The library's phase switches, as `chain.next_phase` reads them."""
    return {
        "auto_enrich": library.auto_enrich,
        "auto_publish": library.auto_publish,
        "auto_sync": library.auto_sync,
    }
