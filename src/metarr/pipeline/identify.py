"""The identify phase: give a movie without a TMDB id one, or leave the choice to a person.

IMDb id only -> TMDB `/find`; otherwise a TMDB search with the NFO or parsed
title and year, scored by `domain.matching.decide`. Accepted -> the id is
stored (source "provider") and the movie is identified; anything uncertain ->
`needs_review` with the candidates kept for the UI. Idempotent: a movie that
has a TMDB id, or already waits for review, is skipped unless forced.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from metarr.db import enrich_store as store
from metarr.db.engine import Database
from metarr.domain import matching
from metarr.domain.candidates import SearchResult
from metarr.domain.errors import NotFound
from metarr.domain.media import MovieStatus
from metarr.providers import ProviderRuntime, Providers

log = logging.getLogger(__name__)

KEEP_CANDIDATES = 10


@dataclass(frozen=True, slots=True)
class IdentifyResult:
    """What one identification did."""

    movie_id: int
    status: str
    action: str  # identified | needs_review | unidentified | skipped
    reason: str | None = None
    tmdb: int | None = None
    candidates: int = 0

    def as_dict(self) -> dict[str, Any]:
        """A job result."""
        return {
            "movie_id": self.movie_id,
            "status": self.status,
            "action": self.action,
            "reason": self.reason,
            "tmdb": self.tmdb,
            "candidates": self.candidates,
        }


@dataclass(frozen=True, slots=True)
class ScoredCandidate:
    """A search result with its identification score (0..1)."""

    result: SearchResult
    score: float

    def as_row(self) -> dict[str, Any]:
        """The `identify_candidates` row of this candidate."""
        r = self.result
        return {
            "provider": "tmdb",
            "ref": str(r.tmdb),
            "title": r.title,
            "year": r.year,
            "score": self.score,
            "data": {
                "original_title": r.original_title,
                "popularity": r.popularity,
                "poster_url": r.poster_url,
                "overview": r.overview,
                "original_language": r.original_language,
            },
        }


def query_of(target: store.MovieTarget) -> matching.Query | None:
    """Title and year to search with: the NFO's (movies.title/year), else the parsed ones."""
    title = (target.title or target.parsed_title or "").strip()
    if not title:
        return None
    return matching.Query(title, target.year or target.parsed_year)


def score_results(
    query: matching.Query, results: Sequence[SearchResult]
) -> tuple[matching.Decision, list[ScoredCandidate]]:
    """The decision over provider results, and the results ranked with their scores."""
    by_ref = {r.tmdb: r for r in results}
    decision = matching.decide(
        query,
        [
            matching.SearchResult(
                title=r.title,
                year=r.year,
                original_title=r.original_title,
                alternative_titles=r.alternative_titles,
                popularity=r.popularity or 0.0,
                ref=r.tmdb,
            )
            for r in results
        ],
    )
    ranked = [
        ScoredCandidate(by_ref[int(s.candidate.ref)], s.score)
        for s in decision.ranked
        if s.candidate.ref is not None
    ]
    return decision, ranked


class Identifier:
    """Runs identification for one movie at a time (a job handler calls it)."""

    def __init__(self, db: Database, providers: Providers, runtime: ProviderRuntime) -> None:
        self.db = db
        self.providers = providers
        self.runtime = runtime

    def search(self, query: matching.Query) -> list[SearchResult]:
        """TMDB search with the year; again without it when the year finds nothing."""
        tmdb = self.providers.tmdb
        results = self.runtime.run(tmdb.search(query.title, query.year))
        if not results and query.year is not None:
            results = self.runtime.run(tmdb.search(query.title, None))
        return results

    def identify(self, movie_id: int, *, force: bool = False) -> IdentifyResult:
        """Identify one movie; see the module docstring."""
        with self.db.session() as s:
            target = store.load_target(s.connection(), movie_id)
        if target is None:
            raise NotFound(f"movie {movie_id} does not exist")
        if target.deleted:
            return IdentifyResult(movie_id, target.status, "skipped", "deleted")
        if target.tmdb is not None:
            return IdentifyResult(
                movie_id, target.status, "skipped", "already identified", target.tmdb
            )
        if target.imdb is not None:
            return self._by_imdb(target, target.imdb)
        if target.status == MovieStatus.NEEDS_REVIEW and not force:
            return IdentifyResult(movie_id, target.status, "skipped", "waiting for review")
        query = query_of(target)
        if query is None:
            return self._unresolved(target, "no title to search with", [])
        decision, ranked = score_results(query, self.search(query))
        if decision.accepted is not None and decision.accepted.ref is not None:
            return self._accept(target, int(decision.accepted.ref), reason=decision.reason.value)
        return self._unresolved(target, f"search: {decision.reason.value}", ranked)

    def _by_imdb(self, target: store.MovieTarget, imdb: str) -> IdentifyResult:
        hits = self.runtime.run(self.providers.tmdb.find_by_imdb(imdb))
        if len(hits) == 1:
            return self._accept(target, hits[0].tmdb, reason="imdb")
        ranked = [ScoredCandidate(h, 1.0) for h in hits]
        why = "TMDB knows no movie " + imdb if not hits else f"{imdb} matches several movies"
        return self._unresolved(target, why, ranked)

    def _accept(self, target: store.MovieTarget, tmdb: int, *, reason: str) -> IdentifyResult:
        now = datetime.now(UTC)
        with self.db.session() as s:
            conn = s.connection()
            store.set_external_id(conn, target.id, "tmdb", str(tmdb), "provider", now)
            store.set_status(conn, target.id, MovieStatus.IDENTIFIED.value, None, now)
            store.replace_identify_candidates(conn, target.id, [])
        log.info("movie %s identified as TMDB %s (%s)", target.id, tmdb, reason)
        return IdentifyResult(
            target.id, MovieStatus.IDENTIFIED.value, "identified", reason, tmdb=tmdb
        )

    def _unresolved(
        self, target: store.MovieTarget, reason: str, ranked: Sequence[ScoredCandidate]
    ) -> IdentifyResult:
        status = MovieStatus.NEEDS_REVIEW if ranked else MovieStatus.UNIDENTIFIED
        kept = list(ranked[:KEEP_CANDIDATES])
        now = datetime.now(UTC)
        with self.db.session() as s:
            conn = s.connection()
            store.set_status(conn, target.id, status.value, reason, now)
            store.replace_identify_candidates(conn, target.id, [c.as_row() for c in kept])
        log.info("movie %s: %s (%d candidates)", target.id, reason, len(kept))
        return IdentifyResult(target.id, status.value, status.value, reason, candidates=len(kept))
