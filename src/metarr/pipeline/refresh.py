"""Change-driven provider update: which movies of a library to re-enrich, and why.

TMDB's changes list (`/movie/changes`, at most 14 days, all pages) names the
movies changed since the library's last provider update; only those are
re-enriched, plus movies no provider touched for longer than the force-refresh
age (default 30 days). Unmonitored movies get no provider updates. An unchanged
library therefore costs the changes-list pages only, never one request per movie.

"Last touched" is the newest TMDB history row or artwork download of the movie;
an enrichment that found nothing new leaves neither, so the caller can say that a
movie was enriched recently anyway (`recently_enriched`, from the job queue).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from metarr.db import enrich_store as store
from metarr.db.engine import Database
from metarr.providers import ProviderRuntime, Providers

log = logging.getLogger(__name__)

CHANGES_WINDOW = timedelta(days=14)  # the most TMDB's changes list spans
DEFAULT_FORCE_REFRESH_AGE = timedelta(days=30)


@dataclass(slots=True)
class RefreshPlan:
    """What one provider update decided for a library."""

    library_id: int
    since: datetime | None  # start of the changes window (None: nothing to ask about)
    until: datetime
    changed_ids: int = 0  # ids in TMDB's changes list (all of TMDB, not just ours)
    changed: list[int] = field(default_factory=list)  # our movies in the list
    stale: list[int] = field(default_factory=list)  # our movies past the force-refresh age
    unmonitored: int = 0

    @property
    def movie_ids(self) -> list[int]:
        """Movies to re-enrich, each once."""
        return sorted({*self.changed, *self.stale})

    def as_dict(self) -> dict[str, Any]:
        """A job result; `checked_until` is where the next update starts."""
        return {
            "library_id": self.library_id,
            "since": self.since.isoformat() if self.since else None,
            "checked_until": self.until.isoformat(),
            "changed_ids": self.changed_ids,
            "changed": list(self.changed),
            "stale": list(self.stale),
            "unmonitored": self.unmonitored,
        }


class ProviderUpdate:
    """Plans the re-enrichment of one library from TMDB's changes list."""

    def __init__(
        self,
        db: Database,
        providers: Providers,
        runtime: ProviderRuntime,
        *,
        force_refresh_age: timedelta = DEFAULT_FORCE_REFRESH_AGE,
    ) -> None:
        self.db = db
        self.providers = providers
        self.runtime = runtime
        self.force_refresh_age = force_refresh_age

    def plan(
        self,
        library_id: int,
        since: datetime | None,
        *,
        now: datetime | None = None,
        recently_enriched: Callable[[int, datetime], bool] | None = None,
    ) -> RefreshPlan:
        """Movies to re-enrich: changed at TMDB after `since`, or not refreshed for too long.

        `since` is the end of the previous update's window (None: the full 14 days).
        `recently_enriched(movie_id, cutoff)` may veto a stale movie that was in
        fact enriched after `cutoff` without any change.
        """
        now = now or datetime.now(UTC)
        with self.db.session() as s:
            movies = store.library_refresh_state(s.connection(), library_id)
        plan = RefreshPlan(library_id, None, now)
        live = [m for m in movies if m.monitored]
        plan.unmonitored = len(movies) - len(live)
        if not live:
            return plan  # nothing to refresh: not even the changes list is fetched
        start = max(store.utc(since), now - CHANGES_WINDOW) if since else now - CHANGES_WINDOW
        plan.since = start
        changed = set(
            self.runtime.run(self.providers.tmdb.changed_movie_ids(start.date(), now.date()))
        )
        plan.changed_ids = len(changed)
        cutoff = now - self.force_refresh_age
        for movie in live:
            if movie.tmdb in changed:
                plan.changed.append(movie.movie_id)
                continue
            old = movie.last_refreshed is None or movie.last_refreshed < cutoff
            if old and (recently_enriched is None or not recently_enriched(movie.movie_id, cutoff)):
                plan.stale.append(movie.movie_id)
        log.info(
            "provider update of library %s: %d changed, %d stale, %d unmonitored skipped",
            library_id,
            len(plan.changed),
            len(plan.stale),
            plan.unmonitored,
        )
        return plan
