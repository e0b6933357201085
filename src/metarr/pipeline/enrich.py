"""The enrich phase: provider metadata merged under locks, artwork candidates stored and scored.

For one identified, monitored movie (the `enrich` job):

1. Providers, concurrently on the providers' loop: TMDB details in one request
   (`append_to_response`) alongside fanart.tv artwork and OMDb ratings when
   those providers are on (a disabled or failing secondary provider is skipped
   and the reason recorded, it never fails the phase); then, at once, OMDb when
   the IMDb id only came with the details and the movie's collection (one
   request per collection and process: `/collection/{id}`).
2. Trailer: the best YouTube trailer (`domain.trailers`) as Kodi's plugin URL.
3. Merge, in one transaction: every field through `domain.fields.automated_changes`
   (never a locked field, never erase); ratings merged per source (TMDB's, then
   OMDb's); every change recorded in `history` with its provider as source; every
   artwork candidate stored with its 0-100 score (`domain.assets.rank`), collection
   art as `set.poster`/`set.fanart`. Cast entries keep the cached headshot hash of
   the same profile image (`thumb_sha256`), so an unchanged cast is no change.

Everything that touches image bytes - downloading, checking and selecting artwork,
cast headshots, local artwork and NFO texts into the cache - is `pipeline.artwork`,
run by the lower-priority `artwork` job the enrich job queues: the API budget is
the scarce resource, image hosts are not rate limited, so workers spend their time
on API-bound work first and artwork drains behind it.

Idempotent: a second run with the same provider data writes no field and no history.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from metarr.db import candidate_store
from metarr.db import enrich_store as store
from metarr.db.engine import Database
from metarr.domain import assets
from metarr.domain.candidates import AssetCandidate, CollectionDetails, MovieDetails
from metarr.domain.errors import NotFound
from metarr.domain.fields import FieldChange, JsonValue, automated_changes, info_to_fields
from metarr.domain.media import MovieInfo, Rating
from metarr.domain.priorities import may_replace
from metarr.domain.titles import TITLE_FIELDS
from metarr.domain.trailers import best_trailer, kodi_trailer_url
from metarr.pipeline.artwork import LOCAL, SET_TYPES, Artwork
from metarr.providers import (
    ProviderAuthFailed,
    ProviderDisabled,
    ProviderNotFound,
    ProviderRuntime,
    Providers,
    ProviderUnavailable,
)
from metarr.providers.images import ImageFetcher
from metarr.storage.cache import ContentCache

__all__ = ["LOCAL", "EnrichOptions", "EnrichResult", "Enricher", "ImageFetcher"]

log = logging.getLogger(__name__)

MAX_ASSET_BYTES = 50 * 1024 * 1024
MAX_REMEMBERED_COLLECTIONS = 2_000


@dataclass(frozen=True, slots=True)
class EnrichOptions:
    """How enrichment ranks and selects artwork."""

    limits: Mapping[str, int] = field(default_factory=lambda: dict(assets.DEFAULT_LIMITS))
    # field -> sources best first (domain.priorities); a field not listed: providers win
    field_priorities: Mapping[str, Sequence[str]] = field(default_factory=dict)
    max_bytes: int = MAX_ASSET_BYTES
    provider_order: tuple[str, ...] = ("tmdb", "fanart")
    # Candidates examined per type beyond its limit (invalid images, near-duplicates).
    extra_tries: int = 3
    download_timeout: float = 30.0


@dataclass(slots=True)
class EnrichResult:
    """What one enrichment (the metadata step) did."""

    movie_id: int
    action: str  # enriched | skipped
    reason: str | None = None
    fields_changed: int = 0
    candidates_added: int = 0
    providers_skipped: dict[str, str] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """A job result."""
        return {
            "movie_id": self.movie_id,
            "action": self.action,
            "reason": self.reason,
            "fields_changed": self.fields_changed,
            "candidates_added": self.candidates_added,
            "providers_skipped": dict(self.providers_skipped),
        }


def merge_ratings(current: JsonValue, incoming: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Ratings per source: incoming sources replace theirs in place, others are kept."""
    out = [dict(r) for r in (current or []) if isinstance(r, dict)]
    index = {r.get("source"): i for i, r in enumerate(out)}
    for rating in incoming:
        at = index.get(rating["source"])
        if at is None:
            index[rating["source"]] = len(out)
            out.append(dict(rating))
        else:
            out[at] = dict(rating)
    return out


def ratings_json(ratings: list[Rating]) -> list[dict[str, Any]]:
    """Ratings as stored in the `ratings` field."""
    value: list[dict[str, Any]] = info_to_fields(MovieInfo(ratings=ratings)).get("ratings", [])
    return value


def keep_headshots(incoming: JsonValue, current: JsonValue) -> None:
    """Give incoming cast entries the cached headshot of the same profile image.

    The hash is a reference into the cache (filled in by the artwork step): an actor
    whose profile image did not change keeps it, so an unchanged cast stays equal.
    """
    if not isinstance(incoming, list) or not isinstance(current, list):
        return
    known = {
        a["thumb"]: a["thumb_sha256"]
        for a in current
        if isinstance(a, dict) and a.get("thumb") and a.get("thumb_sha256")
    }
    if not known:
        return
    for actor in incoming:
        if isinstance(actor, dict):
            sha = known.get(actor.get("thumb") or "")
            if sha:
                actor["thumb_sha256"] = sha


def to_candidate(a: AssetCandidate) -> assets.Candidate | None:
    """A provider's candidate in the ranking's terms (None for a type we do not rank)."""
    kind = a.type.value
    if kind not in assets.IDEAL_SIZES:
        return None
    average = a.vote_average
    if average is not None:
        average = min(10.0, max(0.0, average))
    return assets.Candidate(
        type=kind,
        url=a.url,
        provider=a.provider,
        width=a.width if a.width and a.width > 0 else None,
        height=a.height if a.height and a.height > 0 else None,
        language=a.language,
        votes=max(0, a.votes or 0),
        vote_average=average,
    )


@dataclass(slots=True)
class Provided:
    """What the providers answered for one movie (step 1 of the module docstring)."""

    details: MovieDetails
    artwork: list[AssetCandidate]
    ratings: list[Rating]
    collection: CollectionDetails | None


async def _all(*steps: Awaitable[Any]) -> list[Any]:
    """Await steps concurrently; when one fails the others are cancelled, its error raised."""
    tasks = [asyncio.ensure_future(step) for step in steps]
    try:
        return list(await asyncio.gather(*tasks))
    except BaseException:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise


class Enricher:
    """Runs the enrich phase for one movie at a time (a job handler calls it).

    `artwork` is the phase's artwork step (`pipeline.artwork.Artwork.run`), run by
    its own job after this one.
    """

    def __init__(
        self,
        db: Database,
        providers: Providers,
        runtime: ProviderRuntime,
        cache: ContentCache,
        options: EnrichOptions | None = None,
    ) -> None:
        self.db = db
        self.providers = providers
        self.runtime = runtime
        self.cache = cache
        self.options = options or EnrichOptions()
        self.fetcher = ImageFetcher(providers, timeout=self.options.download_timeout)
        # `options` is read anew for every movie: saved settings apply at once.
        self.artwork = Artwork(
            db, runtime, cache, self.fetcher, lambda: self.options, lambda: self.preferred_language
        )
        # collection id -> its request (on the providers' loop): once per collection
        self._collections: OrderedDict[int, asyncio.Future[CollectionDetails]] = OrderedDict()

    @property
    def preferred_language(self) -> str:
        """Artwork language preference: the TMDB language setting."""
        return self.providers.tmdb.config.image_language

    def close(self) -> None:
        """Close the image download pool and the image check threads."""
        self.runtime.run(self.fetcher.aclose())
        self.artwork.close()

    def enrich(
        self, movie_id: int, *, check: Callable[[], None] | None = None, fresh: bool = False
    ) -> EnrichResult:
        """Enrich one movie's metadata; see the module docstring (`fresh`: bypass the
        response cache). The artwork step (`self.artwork.run`) is the caller's to run."""
        check = check or (lambda: None)
        with self.db.session() as s:
            target, has_set = store.load_enrich_target(s.connection(), movie_id, SET_TYPES)
        if target is None:
            raise NotFound(f"movie {movie_id} does not exist")
        result = EnrichResult(movie_id, "skipped")
        if target.deleted:
            result.reason = "deleted"
            return result
        if not target.monitored:
            result.reason = "unmonitored: no provider updates"
            return result
        if target.tmdb is None:
            result.reason = "not identified (no TMDB id)"
            return result

        # Collection art is asked for once per movie (and again when TMDB says it changed).
        want_set = fresh or not has_set
        provided = self.runtime.run(
            self._provide(target, target.tmdb, fresh, want_set, result.providers_skipped)
        )
        check()
        details = provided.details
        details.info.trailer = kodi_trailer_url(
            best_trailer(details.trailers, self.providers.tmdb.config.language)
        )
        self._merge(target, provided, result)
        result.action = "enriched"
        return result

    # -- providers --------------------------------------------------------------------

    async def _provide(
        self,
        target: store.MovieTarget,
        tmdb_id: int,
        fresh: bool,
        want_set: bool,
        skipped: dict[str, str],
    ) -> Provided:
        """Every provider call of one movie, as concurrently as their inputs allow."""
        first: list[Awaitable[Any]] = [
            self.providers.tmdb.movie_details(tmdb_id, fresh=fresh),
            self._fanart(tmdb_id, skipped),
        ]
        if target.imdb is not None:
            first.append(self._omdb(target.imdb, skipped))
        details, artwork, *ratings = await _all(*first)
        collection_id = details.collection.tmdb if details.collection else None
        then: list[Awaitable[Any]] = []
        if want_set and collection_id is not None:
            then.append(self._collection(collection_id, skipped))
        if target.imdb is None:
            then.append(self._omdb(details.ids.imdb, skipped))
        late = await _all(*then) if then else []
        collection = late.pop(0) if want_set and collection_id is not None else None
        return Provided(
            details=details,
            artwork=artwork,
            ratings=(ratings or late)[0],
            collection=collection,
        )

    async def _fanart(self, tmdb_id: int, skipped: dict[str, str]) -> list[AssetCandidate]:
        provider = self.providers.fanart
        status = provider.status()
        if not status.usable:
            skipped["fanart"] = status.message or status.state.value
            return []
        try:
            return await provider.movie_artwork(tmdb_id=tmdb_id)
        except ProviderNotFound:
            return []
        except (ProviderAuthFailed, ProviderDisabled, ProviderUnavailable) as exc:
            log.warning("fanart.tv skipped for TMDB %s: %s", tmdb_id, exc)
            skipped["fanart"] = str(exc)
            return []

    async def _omdb(self, imdb: str | None, skipped: dict[str, str]) -> list[Rating]:
        provider = self.providers.omdb
        status = provider.status()
        if not status.usable:
            skipped["omdb"] = status.message or status.state.value
            return []
        if imdb is None:
            skipped["omdb"] = "no IMDb id"
            return []
        try:
            return await provider.ratings(imdb)
        except ProviderNotFound:
            return []
        except (ProviderAuthFailed, ProviderDisabled, ProviderUnavailable) as exc:
            log.warning("OMDb skipped for %s: %s", imdb, exc)
            skipped["omdb"] = str(exc)
            return []

    async def _collection(
        self, collection_id: int | None, skipped: dict[str, str]
    ) -> CollectionDetails | None:
        """The collection with its artwork: one request per collection and process.

        Concurrent movies of one collection share the request; a failed request is
        forgotten (the next movie asks again), a missing collection is remembered.
        """
        if collection_id is None or not any(
            self.options.limits.get(kind, assets.DEFAULT_LIMITS.get(kind, 1)) > 0
            for kind in SET_TYPES
        ):
            return None
        request = self._collections.get(collection_id)
        if request is None:
            request = asyncio.ensure_future(self.providers.tmdb.collection(collection_id))
            self._collections[collection_id] = request
            while len(self._collections) > MAX_REMEMBERED_COLLECTIONS:
                self._collections.popitem(last=False)
        try:
            return await asyncio.shield(request)
        except ProviderNotFound:
            return None
        except (ProviderAuthFailed, ProviderDisabled, ProviderUnavailable) as exc:
            if self._collections.get(collection_id) is request:
                del self._collections[collection_id]
            log.warning("TMDB collection %s skipped: %s", collection_id, exc)
            skipped["collection"] = str(exc)
            return None

    # -- metadata ---------------------------------------------------------------------

    def _merge(self, target: store.MovieTarget, provided: Provided, result: EnrichResult) -> None:
        """Write ids, fields (with history) and scored candidates in one transaction."""
        now = datetime.now(UTC)
        details = provided.details
        incoming = info_to_fields(details.info)
        tmdb_ratings = incoming.pop("ratings", [])
        steps: list[tuple[str, dict[str, JsonValue]]] = [("tmdb", incoming)]
        for source, ratings in (("tmdb", tmdb_ratings), ("omdb", ratings_json(provided.ratings))):
            if ratings:
                steps.append((source, {"ratings": ratings}))
        candidates = self._scored([*details.assets, *provided.artwork])
        if provided.collection is not None:
            candidates += self._scored_set(provided.collection)
        priorities = self.options.field_priorities
        with self.db.session() as s:
            conn = s.connection()
            if details.ids.imdb and target.imdb is None:
                store.set_external_id(conn, target.id, "imdb", details.ids.imdb, "provider", now)
            state = store.load_merge_state(conn, target.id)
            current, sources = state.values, state.sources
            keep_headshots(incoming.get("cast"), current.get("cast"))
            changes: list[tuple[FieldChange, str]] = []
            for source, values in steps:
                if "ratings" in values:
                    values = {"ratings": merge_ratings(current.get("ratings"), values["ratings"])}
                for change in automated_changes(current, values, state.locks):
                    if priorities and not may_replace(
                        priorities.get(change.field), sources.get(change.field), source
                    ):
                        continue
                    changes.append((change, source))
                    current[change.field] = change.new
                    sources[change.field] = source
            result.fields_changed = store.write_field_changes(
                conn, target.id, changes, now, state.row_ids
            )
            if any(c.field in TITLE_FIELDS for c, _ in changes):
                store.refresh_title(conn, target.id, now, current, target)
            result.candidates_added = candidate_store.upsert_candidates(conn, target.id, candidates)

    def _scored(self, provided: list[AssetCandidate]) -> list[dict[str, Any]]:
        pool = [c for c in (to_candidate(a) for a in provided) if c is not None]
        ranked = assets.rank(
            pool,
            preferred_language=self.preferred_language,
            provider_order=self.options.provider_order,
        )
        return [
            {
                "type": c.type,
                "url": c.url,
                "provider": c.provider,
                "width": c.width,
                "height": c.height,
                "language": c.language,
                "votes": c.votes,
                "vote_average": c.vote_average,
                "score": score,
            }
            for c, score in ranked
        ]

    def _scored_set(self, collection: CollectionDetails) -> list[dict[str, Any]]:
        """The collection's artwork as `set.poster` / `set.fanart` candidates, scored."""
        mirrored = {base: kind for kind, base in SET_TYPES.items()}
        return [
            {**row, "type": mirrored[row["type"]]}
            for row in self._scored(list(collection.assets))
            if row["type"] in mirrored
        ]

    # -- artwork ----------------------------------------------------------------------

    def fetch_image(self, url: str, provider: str) -> bytes:
        """Download one image (not API rate-limited), within the size cap."""
        return self.runtime.run(self.fetcher.fetch(url, provider, self.options.max_bytes))
