"""Identify, enrich, artwork and provider-update jobs; a person's identification and artwork
choices.

An `enrich` job does the metadata (provider API calls, merge, candidates scored) and
queues the movie's `artwork` job (downloads, checks, selection, cache) one priority
step lower, deduplicated per movie: workers spend their time on the rate-limited API
work first and artwork drains behind it. The next phase of the chain (publishing,
`after_enrich`) is queued when the artwork job is done, since it needs the selected
art; an enrichment that skipped the movie goes straight on to it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from metarr.db import candidate_store
from metarr.db import enrich_store as store
from metarr.db.engine import Database
from metarr.domain import assets, matching
from metarr.domain.errors import InvalidInput, NotFound
from metarr.domain.media import ArtworkType, MovieStatus
from metarr.jobs import (
    JobCancelled,
    JobContext,
    JobDeferred,
    JobInterrupted,
    Priority,
    Queue,
    Registry,
)
from metarr.jobs.retry import is_retryable
from metarr.media.images import inspect_image
from metarr.pipeline.artwork import SET_TYPES, base_type
from metarr.pipeline.enrich import Enricher, EnrichOptions
from metarr.pipeline.identify import Identifier, query_of, score_results
from metarr.pipeline.refresh import DEFAULT_FORCE_REFRESH_AGE, ProviderUpdate
from metarr.providers import ProviderNotFound, ProviderRuntime, Providers
from metarr.services.scans import library_target
from metarr.storage.cache import AssetTooLarge, ContentCache

log = logging.getLogger(__name__)

IDENTIFY_JOB = "identify"
ENRICH_JOB = "enrich"
ARTWORK_JOB = "artwork"
PROVIDER_UPDATE_JOB = "provider_update"
USER = "user"
# A movie's own artwork types, and its collection's (`set.poster`, `set.fanart`).
ARTWORK_TYPES = frozenset(t.value for t in ArtworkType) | frozenset(SET_TYPES)
MAX_ATTEMPTS = 5


def movie_target(movie_id: int) -> str:
    """Job target of one movie: `movie:<id>`."""
    return f"movie:{movie_id}"


@dataclass(frozen=True, slots=True)
class IdentifyCandidate:
    """A movie a person may pick as the identity of an item."""

    tmdb: int
    title: str
    year: int | None
    score: float
    original_title: str | None = None
    poster_url: str | None = None
    overview: str | None = None


@dataclass(frozen=True, slots=True)
class AssetView:
    """One artwork candidate as the API shows it."""

    url: str
    provider: str
    width: int | None
    height: int | None
    language: str | None
    votes: int
    score: float
    blocked: bool
    selected: bool
    selected_by: str | None
    rejected: str | None
    sha256: str | None


@dataclass(frozen=True, slots=True)
class AssetType:
    """The candidates of one artwork type, best first, and what is selected."""

    type: str
    locked: bool
    limit: int
    candidates: tuple[AssetView, ...]
    selected: tuple[AssetView, ...]


class EnrichmentService:
    """Runs identify and enrich as `identify`/`enrich` jobs (they need TMDB)."""

    def __init__(
        self,
        db: Database,
        queue: Queue,
        providers: Providers,
        runtime: ProviderRuntime,
        cache: ContentCache,
        options: EnrichOptions | None = None,
        *,
        force_refresh_age: timedelta = DEFAULT_FORCE_REFRESH_AGE,
    ) -> None:
        self.db = db
        self.queue = queue
        self.providers = providers
        self.runtime = runtime
        self.cache = cache
        self.identifier = Identifier(db, providers, runtime)
        self.enricher = Enricher(db, providers, runtime, cache, options)
        self.refresher = ProviderUpdate(db, providers, runtime, force_refresh_age=force_refresh_age)
        # set by the composition root: enqueues the next phase after a movie's enrichment
        self.after_enrich: Callable[[JobContext, int], int | None] | None = None

    def register(self, registry: Registry) -> None:
        """Register the `identify`, `enrich`, `artwork` and `provider_update` job handlers."""
        registry.register(
            IDENTIFY_JOB,
            self.handle_identify,
            needs="tmdb",
            max_attempts=MAX_ATTEMPTS,
            priority=Priority.NORMAL,
        )
        registry.register(
            ENRICH_JOB,
            self.handle_enrich,
            needs="tmdb",
            max_attempts=MAX_ATTEMPTS,
            priority=Priority.NORMAL,
        )
        registry.register(
            ARTWORK_JOB,
            self.handle_artwork,
            max_attempts=MAX_ATTEMPTS,
            priority=Priority.LOW,
        )
        registry.register(
            PROVIDER_UPDATE_JOB,
            self.handle_provider_update,
            needs="tmdb",
            max_attempts=MAX_ATTEMPTS,
            priority=Priority.LOW,
        )

    def close(self) -> None:
        """Close the artwork download pool and image threads (the runtime's owner closes
        the providers)."""
        self.enricher.close()

    # -- enqueueing -------------------------------------------------------------------

    def enqueue_movie(self, movie_id: int) -> list[int]:
        """Identify (if it has no TMDB id, even when waiting for review) or enrich one movie."""
        target = self._target(movie_id)
        if target.tmdb is not None:
            job = self.queue.enqueue(ENRICH_JOB, movie_target(movie_id), {"movie_id": movie_id})
        else:
            job = self.queue.enqueue(
                IDENTIFY_JOB, movie_target(movie_id), {"movie_id": movie_id, "force": True}
            )
        return [job.id]

    def enqueue_library(self, library_id: int) -> list[int]:
        """One identify or enrich job per movie of the library that needs one."""
        return [
            self.queue.enqueue(job_type, movie_target(movie_id), payload).id
            for job_type, movie_id, payload in self._plan(library_id)
        ]

    def _plan(self, library_id: int) -> list[tuple[str, int, dict[str, Any]]]:
        with self.db.session() as s:
            conn = s.connection()
            if not store.library_exists(conn, library_id):
                raise NotFound(f"library {library_id} does not exist")
            movies = store.library_movies(conn, library_id)
        plan: list[tuple[str, int, dict[str, Any]]] = []
        for movie_id, has_tmdb, status, has_imdb, monitored in movies:
            if not monitored:
                continue  # unmonitored items get no provider updates
            if has_tmdb:
                plan.append((ENRICH_JOB, movie_id, {"movie_id": movie_id}))
            elif has_imdb or status == MovieStatus.UNIDENTIFIED:
                plan.append((IDENTIFY_JOB, movie_id, {"movie_id": movie_id}))
        return plan

    # -- job handlers -----------------------------------------------------------------

    def handle_identify(self, ctx: JobContext) -> Mapping[str, Any]:
        """The `identify` job: identify one movie, then enqueue its enrichment."""
        movie_id = int(ctx.payload["movie_id"])
        ctx.check_cancelled()
        result = self.identifier.identify(movie_id, force=bool(ctx.payload.get("force")))
        out = result.as_dict()
        if result.action == "identified":
            child = ctx.enqueue_child(ENRICH_JOB, movie_target(movie_id), {"movie_id": movie_id})
            out["enrich_job_id"] = child.id
        return out

    def handle_enrich(self, ctx: JobContext) -> Mapping[str, Any]:
        """The `enrich` job: one movie (`movie_id`), or a library fanned out (`library_id`)."""
        if "movie_id" in ctx.payload:
            ctx.check_cancelled()
            movie_id = int(ctx.payload["movie_id"])
            result = self.enricher.enrich(
                movie_id, check=ctx.check_cancelled, fresh=bool(ctx.payload.get("fresh", False))
            )
            out = result.as_dict()
            if result.action == "enriched":
                # Below the enrich jobs: publishing follows once the artwork is in (below).
                priority = min(Priority.LOWEST, max(Priority.LOW, ctx.job.priority + 1))
                child = ctx.enqueue_child(
                    ARTWORK_JOB, movie_target(movie_id), {"movie_id": movie_id}, priority=priority
                )
                out["artwork_job_id"] = child.id
            elif self.after_enrich is not None:  # chain.py: publishing, when switched on
                out["next_job_id"] = self.after_enrich(ctx, movie_id)
            return out
        library_id = int(ctx.payload["library_id"])
        job_ids = [
            ctx.enqueue_child(job_type, movie_target(movie_id), payload).id
            for job_type, movie_id, payload in self._plan(library_id)
        ]
        return {"library_id": library_id, "job_ids": job_ids}

    def handle_artwork(self, ctx: JobContext) -> Mapping[str, Any]:
        """The `artwork` job: one movie's artwork step, then the next phase of the chain."""
        ctx.check_cancelled()
        movie_id = int(ctx.payload["movie_id"])
        try:
            out = self.enricher.artwork.run(movie_id, check=ctx.check_cancelled).as_dict()
        except (JobCancelled, JobInterrupted, JobDeferred):
            raise
        except Exception as exc:
            last = not is_retryable(exc) or ctx.job.attempts >= ctx.job.max_attempts
            if last and self.after_enrich is not None:
                # failed for good: the metadata is still worth publishing, with the art
                # already selected (the next run of the artwork job publishes again)
                self.after_enrich(ctx, movie_id)
            raise
        if self.after_enrich is not None:  # chain.py: publishing, when switched on
            out["next_job_id"] = self.after_enrich(ctx, movie_id)
        return out

    # -- change-driven provider update ------------------------------------------------

    def schedule_runner(self, library_id: int, trigger: str) -> int:
        """The schedule's `provider_update` runner: enqueue the library's update, its job id."""
        with self.db.session() as s:
            if not store.library_exists(s.connection(), library_id):
                raise NotFound(f"library {library_id} does not exist")
        return self.provider_update(library_id, trigger=trigger)

    def provider_update(self, library_id: int, *, trigger: str = "manual") -> int:
        """Queue a change-driven provider update of one library; returns the job id."""
        job = self.queue.enqueue(
            PROVIDER_UPDATE_JOB,
            library_target(library_id),
            {"library_id": library_id, "trigger": trigger},
        )
        return job.id

    def handle_provider_update(self, ctx: JobContext) -> Mapping[str, Any]:
        """The `provider_update` job: re-enrich what TMDB changed and what is too old."""
        library_id = int(ctx.payload["library_id"])
        with self.db.session() as s:
            if not store.library_exists(s.connection(), library_id):
                raise NotFound(f"library {library_id} does not exist")
        ctx.check_cancelled()
        plan = self.refresher.plan(
            library_id,
            self._last_provider_update(library_id),
            recently_enriched=self._recently_enriched,
        )
        job_ids = [
            # fresh: TMDB changed it (or it is too old), so the cached answer is stale
            ctx.enqueue_child(
                ENRICH_JOB, movie_target(movie_id), {"movie_id": movie_id, "fresh": True}
            ).id
            for movie_id in plan.movie_ids
        ]
        return {**plan.as_dict(), "job_ids": job_ids}

    def _last_provider_update(self, library_id: int) -> datetime | None:
        """Where the previous successful update of the library stopped looking."""
        jobs, _ = self.queue.list_jobs(
            type=PROVIDER_UPDATE_JOB,
            target=library_target(library_id),
            status="succeeded",
            limit=1,
        )
        until = (jobs[0].result or {}).get("checked_until") if jobs else None
        try:
            return datetime.fromisoformat(until) if isinstance(until, str) else None
        except ValueError:
            return None

    def _recently_enriched(self, movie_id: int, cutoff: datetime) -> bool:
        """True when an enrichment of the movie succeeded after `cutoff` (changed or not)."""
        jobs, _ = self.queue.list_jobs(
            type=ENRICH_JOB, target=movie_target(movie_id), status="succeeded", limit=1
        )
        finished = jobs[0].finished_at if jobs else None
        return finished is not None and store.utc(finished) >= cutoff

    # -- a person's choices -----------------------------------------------------------

    def candidates(
        self, movie_id: int, q: str | None = None, year: int | None = None
    ) -> list[IdentifyCandidate]:
        """Kept candidates of a movie, or a live TMDB search (`q`, `year`) scored for it."""
        target = self._target(movie_id)
        if q is None and year is None:
            with self.db.session() as s:
                kept = store.load_identify_candidates(s.connection(), movie_id)
            if kept:
                return [
                    IdentifyCandidate(
                        tmdb=int(c["ref"]),
                        title=c["title"],
                        year=c["year"],
                        score=c["score"],
                        original_title=c["data"].get("original_title"),
                        poster_url=c["data"].get("poster_url"),
                        overview=c["data"].get("overview"),
                    )
                    for c in kept
                    if str(c["ref"]).isdigit()
                ]
        query = query_of(target)
        if q is not None and q.strip():
            query = matching.Query(q.strip(), year)
        elif query is not None and year is not None:
            query = matching.Query(query.title, year)
        if query is None:
            raise InvalidInput("the movie has no title: search with q", field="q")
        _, ranked = score_results(query, self.identifier.search(query))
        return [
            IdentifyCandidate(
                tmdb=c.result.tmdb,
                title=c.result.title,
                year=c.result.year,
                score=c.score,
                original_title=c.result.original_title,
                poster_url=c.result.poster_url,
                overview=c.result.overview,
            )
            for c in ranked
        ]

    def identify(self, movie_id: int, tmdb_id: int) -> list[int]:
        """A person's identification: set the TMDB id and re-enrich (locked fields stay)."""
        if tmdb_id < 1:
            raise InvalidInput("tmdb must be a positive id", field="tmdb")
        now = datetime.now(UTC)
        with self.db.session() as s:
            conn = s.connection()
            target = store.load_target(conn, movie_id)
            if target is None:
                raise NotFound(f"movie {movie_id} does not exist")
            if target.tmdb != tmdb_id:
                if target.tmdb is not None:
                    # Provider data of the old identity goes; a person's edits stay.
                    _, locks = store.load_fields_and_locks(conn, [movie_id])
                    store.clear_provider_fields(
                        conn, movie_id, set(locks.get(movie_id, set())), "user", now
                    )
                    candidate_store.delete_provider_candidates(conn, movie_id)
                    store.refresh_title(conn, movie_id, now)
                if target.ids.get("imdb", ("", ""))[1] == "provider":
                    store.delete_external_id(conn, movie_id, "imdb")
            store.set_external_id(conn, movie_id, "tmdb", str(tmdb_id), "user", now)
            store.set_status(conn, movie_id, MovieStatus.IDENTIFIED.value, None, now)
            store.replace_identify_candidates(conn, movie_id, [])
        job = self.queue.enqueue(ENRICH_JOB, movie_target(movie_id), {"movie_id": movie_id})
        return [job.id]

    def assets(self, movie_id: int) -> list[AssetType]:
        """Per artwork type: its candidates with scores (best first) and the selected ones."""
        self._target(movie_id)
        with self.db.session() as s:
            conn = s.connection()
            stored = candidate_store.load_candidates(conn, movie_id)
            _, locks = store.load_fields_and_locks(conn, [movie_id])
        locked = locks.get(movie_id, set())
        out: list[AssetType] = []
        for kind in sorted({c.type for c in stored}):
            views = sorted(
                (_view(c) for c in stored if c.type == kind),
                key=lambda v: (-v.score, -v.votes, v.url),
            )
            out.append(
                AssetType(
                    type=kind,
                    locked=f"asset:{kind}" in locked,
                    limit=self.enricher.options.limits.get(
                        kind, assets.DEFAULT_LIMITS.get(kind, 1)
                    ),
                    candidates=tuple(views),
                    selected=tuple(v for v in views if v.selected),
                )
            )
        return out

    def asset_type(self, movie_id: int, kind: str) -> AssetType:
        """One artwork type of a movie (empty when it has no candidates of that type)."""
        _check_type(kind)
        found = [t for t in self.assets(movie_id) if t.type == kind]
        if found:
            return found[0]
        with self.db.session() as s:
            _, locks = store.load_fields_and_locks(s.connection(), [movie_id])
        return AssetType(
            type=kind,
            locked=f"asset:{kind}" in locks.get(movie_id, set()),
            limit=self._limit(kind),
            candidates=(),
            selected=(),
        )

    def select_asset(self, movie_id: int, kind: str, url: str) -> AssetType:
        """A person picks a candidate: cached, validated, selected by the user, type locked."""
        _check_type(kind)
        self._target(movie_id)
        with self.db.session() as s:
            cand = candidate_store.candidate_by_url(s.connection(), movie_id, kind, url)
        if cand is None:
            raise NotFound(f"movie {movie_id} has no {kind} candidate {url}")
        if cand.sha256 and self.cache.exists(cand.sha256):
            sha = cand.sha256
        else:
            try:
                data = self.enricher.fetch_image(cand.url, cand.provider)
            except ProviderNotFound as exc:
                raise NotFound(f"the image is gone: {cand.url}") from exc
            info = inspect_image(data, claimed_type=base_type(kind))
            cap = self.enricher.options.max_bytes
            sha = self.cache.put_bytes(data, info.ext, max_bytes=cap).sha256
        self._choose(movie_id, kind, cand.id, sha)
        return self.asset_type(movie_id, kind)

    def upload_asset(self, movie_id: int, kind: str, data: bytes) -> AssetType:
        """A person's own image: validated, cached, added as a `user` candidate and selected."""
        _check_type(kind)
        self._target(movie_id)
        cap = self.enricher.options.max_bytes
        if len(data) > cap:
            raise AssetTooLarge(f"the upload is {len(data)} bytes, the cap is {cap}")
        info = inspect_image(data, claimed_type=base_type(kind))
        cached = self.cache.put_bytes(data, info.ext, max_bytes=cap)
        url = f"{USER}:{cached.sha256}"
        row = {
            "type": kind,
            "url": url,
            "provider": USER,
            "width": info.width,
            "height": info.height,
            "language": None,
            "votes": 0,
            "vote_average": None,
            "score": assets.score(
                assets.Candidate(base_type(kind), url, USER, info.width, info.height),
                preferred_language=self.enricher.preferred_language,
                provider_order=self.enricher.options.provider_order,
            ),
            "sha256": cached.sha256,
        }
        with self.db.session() as s:
            conn = s.connection()
            candidate_store.upsert_candidates(conn, movie_id, [row])
            cand = candidate_store.candidate_by_url(conn, movie_id, kind, url)
        assert cand is not None
        self._choose(movie_id, kind, cand.id, cached.sha256)
        return self.asset_type(movie_id, kind)

    def block_asset(self, movie_id: int, kind: str, url: str) -> AssetType:
        """Never select this candidate automatically; a selected one is dropped now."""
        _check_type(kind)
        self._target(movie_id)
        now = datetime.now(UTC)
        with self.db.session() as s:
            conn = s.connection()
            cand = candidate_store.candidate_by_url(conn, movie_id, kind, url)
            if cand is None:
                raise NotFound(f"movie {movie_id} has no {kind} candidate {url}")
            if not cand.blocked:
                before = _selected_hashes(candidate_store.load_candidates(conn, movie_id), kind)
                candidate_store.mark_candidate(
                    conn, cand.id, blocked=True, selected=False, selected_by=None
                )
                store.record(
                    conn, movie_id, now, USER, "asset", kind, {"blocked": None}, {"blocked": url}
                )
                after = _selected_hashes(candidate_store.load_candidates(conn, movie_id), kind)
                if before != after:
                    store.record(conn, movie_id, now, USER, "asset", kind, before, after)
        return self.asset_type(movie_id, kind)

    def lock_asset(self, movie_id: int, kind: str, *, locked: bool = True) -> AssetType:
        """Lock (or unlock) an artwork type: automation leaves a locked type alone."""
        _check_type(kind)
        self._target(movie_id)
        with self.db.session() as s:
            store.set_lock(s.connection(), movie_id, f"asset:{kind}", locked, datetime.now(UTC))
        return self.asset_type(movie_id, kind)

    def _choose(self, movie_id: int, kind: str, candidate_id: int, sha256: str) -> None:
        """Mark a person's pick (single-slot types: replacing the selection), lock the type."""
        limit = self._limit(kind)
        now = datetime.now(UTC)
        with self.db.session() as s:
            conn = s.connection()
            stored = candidate_store.load_candidates(conn, movie_id)
            before = _selected_hashes(stored, kind)
            others = sorted(
                (c for c in stored if c.type == kind and c.selected and c.id != candidate_id),
                key=lambda c: (c.selected_by == USER, c.score),
                reverse=True,
            )
            # Keep earlier picks only while they fit next to this one (a person's first).
            for n, other in enumerate(others):
                if n + 1 >= limit:
                    candidate_store.mark_candidate(conn, other.id, selected=False, selected_by=None)
            candidate_store.mark_candidate(
                conn,
                candidate_id,
                selected=True,
                selected_by=USER,
                blocked=False,
                rejected=None,
                sha256=sha256,
                fetched_at=now,
            )
            after = _selected_hashes(candidate_store.load_candidates(conn, movie_id), kind)
            if before != after:
                store.record(conn, movie_id, now, USER, "asset", kind, before, after)
            store.set_lock(conn, movie_id, f"asset:{kind}", True, now)

    def _limit(self, kind: str) -> int:
        return self.enricher.options.limits.get(kind, assets.DEFAULT_LIMITS.get(kind, 1))

    def _target(self, movie_id: int) -> store.MovieTarget:
        with self.db.session() as s:
            target = store.load_target(s.connection(), movie_id)
        if target is None:
            raise NotFound(f"movie {movie_id} does not exist")
        return target


def _check_type(kind: str) -> None:
    if kind not in ARTWORK_TYPES:
        raise InvalidInput(f"unknown artwork type {kind!r}", field="type")


def _selected_hashes(stored: list[candidate_store.StoredCandidate], kind: str) -> list[str]:
    return sorted(c.sha256 or c.url for c in stored if c.type == kind and c.selected)


def _view(c: candidate_store.StoredCandidate) -> AssetView:
    return AssetView(
        url=c.url,
        provider=c.provider,
        width=c.width,
        height=c.height,
        language=c.language,
        votes=c.votes,
        score=c.score,
        blocked=c.blocked,
        selected=c.selected,
        selected_by=c.selected_by,
        rejected=c.rejected,
        sha256=c.sha256,
    )
