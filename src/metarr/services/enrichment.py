"""Identification and enrichment as jobs, and what the API asks of them (candidates, assets)."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from metarr.db import enrich_store as store
from metarr.db.engine import Database
from metarr.domain import assets, matching
from metarr.domain.errors import InvalidInput, NotFound
from metarr.domain.media import MovieStatus
from metarr.jobs import JobContext, Priority, Queue, Registry
from metarr.pipeline.enrich import Enricher, EnrichOptions
from metarr.pipeline.identify import Identifier, query_of, score_results
from metarr.providers import ProviderRuntime, Providers
from metarr.storage.cache import ContentCache

log = logging.getLogger(__name__)

IDENTIFY_JOB = "identify"
ENRICH_JOB = "enrich"
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
    ) -> None:
        self.db = db
        self.queue = queue
        self.providers = providers
        self.runtime = runtime
        self.cache = cache
        self.identifier = Identifier(db, providers, runtime)
        self.enricher = Enricher(db, providers, runtime, cache, options)

    def register(self, registry: Registry) -> None:
        """Register the `identify` and `enrich` job handlers."""
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

    def close(self) -> None:
        """Close the artwork download pool (the runtime's owner closes the providers)."""
        self.runtime.run(self.enricher.fetcher.aclose())

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
            return self.enricher.enrich(
                int(ctx.payload["movie_id"]), check=ctx.check_cancelled
            ).as_dict()
        library_id = int(ctx.payload["library_id"])
        job_ids = [
            ctx.enqueue_child(job_type, movie_target(movie_id), payload).id
            for job_type, movie_id, payload in self._plan(library_id)
        ]
        return {"library_id": library_id, "job_ids": job_ids}

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
                    store.delete_provider_candidates(conn, movie_id)
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
            stored = store.load_candidates(conn, movie_id)
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

    def _target(self, movie_id: int) -> store.MovieTarget:
        with self.db.session() as s:
            target = store.load_target(s.connection(), movie_id)
        if target is None:
            raise NotFound(f"movie {movie_id} does not exist")
        return target


def _view(c: store.StoredCandidate) -> AssetView:
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
