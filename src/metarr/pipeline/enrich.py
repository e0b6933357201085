"""The enrich phase: provider metadata merged under locks, artwork ranked, selected and cached.

For one identified, monitored movie:

1. TMDB details in one request (`append_to_response`); fanart.tv artwork and
   OMDb ratings when those providers are on (a disabled or failing secondary
   provider is skipped and the reason recorded, it never fails the phase).
2. Merge: every field through `domain.fields.automated_changes` (never a locked
   field, never erase); ratings merged per source (TMDB's, then OMDb's); every
   change recorded in `history` with its provider as source.
3. Artwork: every candidate stored with its 0-100 score (`domain.assets.rank`),
   then per type the best ones within the limits are downloaded into the
   content cache (size cap, Pillow validation, near-duplicate rejection). A
   locked type (`asset:<type>`) and a person's pick are never touched.
4. Local artwork found by the scan is copied into the cache too.
5. Cast headshots: each actor's profile image is cached (content-addressed, so a
   person in many movies is one file, downloaded once per process) and its hash
   recorded in the cast entry as `thumb_sha256`; a locked `cast` is left alone.

Idempotent: a second run with the same provider data writes no field, no
history and downloads nothing (rejected candidates are remembered).
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from metarr.db import enrich_store as store
from metarr.db.engine import Database
from metarr.domain import assets
from metarr.domain.candidates import AssetCandidate, MovieDetails
from metarr.domain.errors import MetarrError, NotFound
from metarr.domain.fields import JsonValue, automated_changes, info_to_fields
from metarr.domain.media import MovieInfo, Rating
from metarr.media.images import InvalidImage, inspect_image, is_near_duplicate, perceptual_hash
from metarr.providers import (
    ProviderAuthFailed,
    ProviderDisabled,
    ProviderNotFound,
    ProviderRuntime,
    Providers,
    ProviderUnavailable,
)
from metarr.storage.cache import AssetTooLarge, ContentCache

log = logging.getLogger(__name__)

MAX_ASSET_BYTES = 50 * 1024 * 1024
MAX_REMEMBERED_HEADSHOTS = 20_000
LOCAL = "local"


@dataclass(frozen=True, slots=True)
class EnrichOptions:
    """How enrichment ranks and selects artwork."""

    limits: Mapping[str, int] = field(default_factory=lambda: dict(assets.DEFAULT_LIMITS))
    max_bytes: int = MAX_ASSET_BYTES
    provider_order: tuple[str, ...] = ("tmdb", "fanart")
    # Candidates examined per type beyond its limit (invalid images, near-duplicates).
    extra_tries: int = 3
    download_timeout: float = 30.0


@dataclass(slots=True)
class EnrichResult:
    """What one enrichment did."""

    movie_id: int
    action: str  # enriched | skipped
    reason: str | None = None
    fields_changed: int = 0
    candidates_added: int = 0
    downloads: int = 0
    selection_changes: int = 0
    local_cached: int = 0
    headshots: int = 0
    providers_skipped: dict[str, str] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """A job result."""
        return {
            "movie_id": self.movie_id,
            "action": self.action,
            "reason": self.reason,
            "fields_changed": self.fields_changed,
            "candidates_added": self.candidates_added,
            "downloads": self.downloads,
            "selection_changes": self.selection_changes,
            "local_cached": self.local_cached,
            "headshots": self.headshots,
            "providers_skipped": dict(self.providers_skipped),
        }


class ImageFetcher:
    """Downloads artwork bytes on the providers' loop.

    Image hosts (TMDB's image CDN, fanart.tv's assets) are not under the providers'
    API rate limits, so downloads only share a bound on concurrent requests: making
    them wait for API slots capped a 1,000-movie enrichment at ~3 movies/s.
    """

    MAX_CONCURRENT = 8

    def __init__(self, providers: Providers, *, timeout: float = 30.0) -> None:
        self.providers = providers
        self.timeout = timeout
        self._client: httpx.AsyncClient | None = None
        self._slots: asyncio.Semaphore | None = None  # made on the providers' loop
        self.downloads = 0

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient(
                timeout=httpx.Timeout(self.timeout, connect=min(self.timeout, 10.0)),
                headers={"User-Agent": "Metarr/0.1"},
                follow_redirects=True,
            )
        return self._client

    async def fetch(self, url: str, provider: str, max_bytes: int) -> bytes:
        """The image at `url`; AssetTooLarge past `max_bytes`, ProviderUnavailable on failure."""
        if self._slots is None:
            self._slots = asyncio.Semaphore(self.MAX_CONCURRENT)
        self.downloads += 1
        try:
            async with self._slots, self._http().stream("GET", url) as response:
                if response.status_code == 404:
                    raise ProviderNotFound(f"image gone: {url}", provider=provider)
                if response.status_code != 200:
                    raise ProviderUnavailable(
                        f"image download answered HTTP {response.status_code}: {url}",
                        provider=provider,
                    )
                declared = response.headers.get("Content-Length", "")
                if declared.isdigit() and int(declared) > max_bytes:
                    raise AssetTooLarge(f"{url} is {declared} bytes, the cap is {max_bytes}")
                body = bytearray()
                async for chunk in response.aiter_bytes():
                    body.extend(chunk)
                    if len(body) > max_bytes:
                        raise AssetTooLarge(f"{url} exceeds the cap of {max_bytes} bytes")
                return bytes(body)
        except httpx.HTTPError as exc:
            raise ProviderUnavailable(
                f"image download failed ({type(exc).__name__}): {url}", provider=provider
            ) from exc

    async def aclose(self) -> None:
        """Close the connection pool (on the providers' loop)."""
        client, self._client = self._client, None
        if client is not None:
            await client.aclose()


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


def _stored_candidate(c: store.StoredCandidate) -> assets.Candidate:
    return assets.Candidate(
        type=c.type,
        url=c.url,
        provider=c.provider,
        width=c.width,
        height=c.height,
        language=c.language,
        votes=c.votes,
        vote_average=c.vote_average,
        blocked=c.blocked,
        sha256=c.sha256,
    )


class Enricher:
    """Runs the enrich phase for one movie at a time (a job handler calls it)."""

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
        # Headshot URL -> sha256: the same person in another movie is not downloaded again.
        self._headshots: OrderedDict[str, str] = OrderedDict()

    @property
    def preferred_language(self) -> str:
        """Artwork language preference: the TMDB language setting."""
        return self.providers.tmdb.config.image_language

    def enrich(
        self, movie_id: int, *, check: Callable[[], None] | None = None, fresh: bool = False
    ) -> EnrichResult:
        """Enrich one movie; see the module docstring (`fresh`: bypass the response cache)."""
        check = check or (lambda: None)
        with self.db.session() as s:
            target = store.load_target(s.connection(), movie_id)
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

        details = self.runtime.run(self.providers.tmdb.movie_details(target.tmdb, fresh=fresh))
        check()
        artwork = self._fanart(target.tmdb, result.providers_skipped)
        imdb = target.imdb or details.ids.imdb
        omdb = self._omdb(imdb, result.providers_skipped)
        check()
        headshots = self._cache_headshots(target.id, details, result, check)
        check()
        locked = self._merge(target, details, [*details.assets, *artwork], omdb, result, headshots)
        check()
        self._select(target.id, locked, result, check)
        self._cache_local(target.id, result)
        result.action = "enriched"
        return result

    # -- providers --------------------------------------------------------------------

    def _fanart(self, tmdb_id: int, skipped: dict[str, str]) -> list[AssetCandidate]:
        provider = self.providers.fanart
        status = provider.status()
        if not status.usable:
            skipped["fanart"] = status.message or status.state.value
            return []
        try:
            return self.runtime.run(provider.movie_artwork(tmdb_id=tmdb_id))
        except ProviderNotFound:
            return []
        except (ProviderAuthFailed, ProviderDisabled, ProviderUnavailable) as exc:
            log.warning("fanart.tv skipped for TMDB %s: %s", tmdb_id, exc)
            skipped["fanart"] = str(exc)
            return []

    def _omdb(self, imdb: str | None, skipped: dict[str, str]) -> list[Rating]:
        provider = self.providers.omdb
        status = provider.status()
        if not status.usable:
            skipped["omdb"] = status.message or status.state.value
            return []
        if imdb is None:
            skipped["omdb"] = "no IMDb id"
            return []
        try:
            return self.runtime.run(provider.ratings(imdb))
        except ProviderNotFound:
            return []
        except (ProviderAuthFailed, ProviderDisabled, ProviderUnavailable) as exc:
            log.warning("OMDb skipped for %s: %s", imdb, exc)
            skipped["omdb"] = str(exc)
            return []

    # -- metadata ---------------------------------------------------------------------

    def _merge(
        self,
        target: store.MovieTarget,
        details: MovieDetails,
        artwork: list[AssetCandidate],
        omdb: list[Rating],
        result: EnrichResult,
        headshots: Mapping[str, str] | None = None,
    ) -> set[str]:
        """Write fields, ids and candidates in one transaction; returns the movie's locks."""
        now = datetime.now(UTC)
        with self.db.session() as s:
            conn = s.connection()
            if details.ids.imdb and target.imdb is None:
                store.set_external_id(conn, target.id, "imdb", details.ids.imdb, "provider", now)
            fields, locks = store.load_fields_and_locks(conn, [target.id])
            current = dict(fields.get(target.id, {}))
            locked = set(locks.get(target.id, set()))
            incoming = info_to_fields(details.info)
            for actor in incoming.get("cast", []):
                sha = (headshots or {}).get(actor.get("thumb") or "")
                if sha:
                    actor["thumb_sha256"] = sha
            tmdb_ratings = incoming.pop("ratings", [])
            steps: list[tuple[str, dict[str, JsonValue]]] = [("tmdb", incoming)]
            for source, ratings in (("tmdb", tmdb_ratings), ("omdb", ratings_json(omdb))):
                if ratings:
                    steps.append((source, {"ratings": ratings}))
            for source, values in steps:
                if "ratings" in values:
                    values = {"ratings": merge_ratings(current.get("ratings"), values["ratings"])}
                changes = automated_changes(current, values, locked)
                result.fields_changed += store.apply_field_changes(
                    conn, target.id, changes, source, now
                )
                current.update({c.field: c.new for c in changes})
            if result.fields_changed:
                store.refresh_title(conn, target.id, now)
            result.candidates_added = store.upsert_candidates(
                conn, target.id, self._scored(artwork)
            )
        return locked

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

    # -- artwork ----------------------------------------------------------------------

    def _select(
        self, movie_id: int, locked: set[str], result: EnrichResult, check: Callable[[], None]
    ) -> None:
        """Per type: keep a person's picks, fill the remaining slots with the best valid images."""
        locked_types = {t.removeprefix("asset:") for t in locked if t.startswith("asset:")}
        with self.db.session() as s:
            stored = [
                c for c in store.load_candidates(s.connection(), movie_id) if c.provider != LOCAL
            ]
        by_key = {(c.type, c.url): c for c in stored}
        ranked = assets.rank(
            (_stored_candidate(c) for c in stored),
            preferred_language=self.preferred_language,
            provider_order=self.options.provider_order,
        )
        order: dict[str, list[store.StoredCandidate]] = {}
        for candidate, _ in ranked:
            order.setdefault(candidate.type, []).append(by_key[candidate.key])
        for kind in sorted({c.type for c in stored}):
            if kind in locked_types:
                continue
            check()
            self._select_type(movie_id, kind, order.get(kind, []), stored, result)

    def _select_type(
        self,
        movie_id: int,
        kind: str,
        ranked: list[store.StoredCandidate],
        stored: list[store.StoredCandidate],
        result: EnrichResult,
    ) -> None:
        limit = max(0, self.options.limits.get(kind, assets.DEFAULT_LIMITS.get(kind, 1)))
        of_type = [c for c in stored if c.type == kind]
        user = [c for c in of_type if c.selected and c.selected_by == "user"]
        before = [c.sha256 for c in of_type if c.selected]
        keep: list[store.StoredCandidate] = list(user)
        hashes: list[int] | None = None
        new_picks: list[tuple[store.StoredCandidate, str]] = []  # candidate, sha256
        budget = limit + self.options.extra_tries
        examined = 0
        for cand in ranked:
            if len(keep) + len(new_picks) >= limit or examined >= budget:
                break
            if cand.selected_by == "user":
                continue
            examined += 1
            if cand.rejected:
                continue
            if cand.selected and cand.sha256 and self.cache.exists(cand.sha256):
                keep.append(cand)
                continue
            data = self._download(cand)
            if data is None:
                continue
            try:
                info = inspect_image(data, claimed_type=kind)
                fingerprint = perceptual_hash(data)
            except InvalidImage as exc:
                log.info("movie %s: %s rejected: %s", movie_id, cand.url, exc)
                self._mark(cand.id, rejected="invalid_image")
                continue
            if hashes is None:
                hashes = [self._hash_of(c.sha256) for c in keep if c.sha256]
            if any(is_near_duplicate(fingerprint, h) for h in hashes):
                self._mark(cand.id, rejected="near_duplicate")
                continue
            cached = self.cache.put_bytes(data, info.ext, max_bytes=self.options.max_bytes)
            hashes.append(fingerprint)
            new_picks.append((cand, cached.sha256))
        kept_ids = {c.id for c in keep} | {c.id for c, _ in new_picks}
        now = datetime.now(UTC)
        with self.db.session() as s:
            conn = s.connection()
            for cand in of_type:
                if cand.selected and cand.selected_by != "user" and cand.id not in kept_ids:
                    store.mark_candidate(conn, cand.id, selected=False, selected_by=None)
            for cand, sha in new_picks:
                store.mark_candidate(
                    conn, cand.id, selected=True, selected_by="auto", sha256=sha, fetched_at=now
                )
            after = [c.sha256 for c in keep] + [sha for _, sha in new_picks]
            if sorted(filter(None, before)) != sorted(filter(None, after)):
                source = new_picks[0][0].provider if new_picks else "provider"
                store.record(conn, movie_id, now, source, "asset", kind, before, after)
                result.selection_changes += 1
        result.downloads += len(new_picks)

    def fetch_image(self, url: str, provider: str) -> bytes:
        """Download one image through `provider`'s rate limiter, within the size cap."""
        return self.runtime.run(self.fetcher.fetch(url, provider, self.options.max_bytes))

    def _download(self, cand: store.StoredCandidate) -> bytes | None:
        try:
            return self.runtime.run(
                self.fetcher.fetch(cand.url, cand.provider, self.options.max_bytes)
            )
        except AssetTooLarge:
            self._mark(cand.id, rejected="too_large")
        except (ProviderNotFound, ProviderUnavailable) as exc:
            log.warning("artwork download failed, will try again next time: %s", exc)
        return None

    def _hash_of(self, sha256: str) -> int:
        return perceptual_hash(self.cache.path_of(sha256).read_bytes())

    def _mark(self, candidate_id: int, **values: Any) -> None:
        with self.db.session() as s:
            store.mark_candidate(s.connection(), candidate_id, **values)

    # -- cast headshots ---------------------------------------------------------------

    def _cache_headshots(
        self,
        movie_id: int,
        details: MovieDetails,
        result: EnrichResult,
        check: Callable[[], None],
    ) -> dict[str, str]:
        """Profile image URL -> sha256 of the cached headshot, for the cast entries."""
        urls = list(dict.fromkeys(a.thumb for a in details.cast if a.thumb))
        if not urls:
            return {}
        with self.db.session() as s:
            fields, locks = store.load_fields_and_locks(s.connection(), [movie_id])
        if "cast" in locks.get(movie_id, set()):
            return {}  # a person's cast is not rewritten, not even to add hashes
        known = {
            str(a["thumb"]): str(a["thumb_sha256"])
            for a in fields.get(movie_id, {}).get("cast") or []
            if isinstance(a, dict) and a.get("thumb") and a.get("thumb_sha256")
        }
        out: dict[str, str] = {}
        for url in urls:
            sha = known.get(url) or self._headshots.get(url)
            if sha is None or not self.cache.exists(sha):
                check()
                sha = self._cache_headshot(url)
                if sha is None:
                    continue
                result.headshots += 1
            out[url] = sha
            self._headshots[url] = sha
            self._headshots.move_to_end(url)
            while len(self._headshots) > MAX_REMEMBERED_HEADSHOTS:
                self._headshots.popitem(last=False)
        return out

    def _cache_headshot(self, url: str) -> str | None:
        try:
            data = self.fetch_image(url, "tmdb")
            info = inspect_image(data, claimed_type=assets.HEADSHOT)
            return self.cache.put_bytes(data, info.ext, max_bytes=self.options.max_bytes).sha256
        except (ProviderNotFound, ProviderUnavailable, InvalidImage, AssetTooLarge) as exc:
            log.info("headshot %s not cached: %s", url, exc)
            return None

    # -- local artwork ----------------------------------------------------------------

    def _cache_local(self, movie_id: int, result: EnrichResult) -> None:
        """Copy artwork found on disk into the cache, so a downloader deleting it loses nothing."""
        with self.db.session() as s:
            root, files = store.local_artwork(s.connection(), movie_id)
        if root is None or not files:
            return
        rows: list[dict[str, Any]] = []
        for rel, role in files:
            path = Path(root) / rel
            try:
                data = path.read_bytes()
                info = inspect_image(data)
                cached = self.cache.put_bytes(data, info.ext, max_bytes=self.options.max_bytes)
            except (OSError, MetarrError) as exc:
                log.info("local artwork %s not cached: %s", path, exc)
                continue
            rows.append(
                {
                    "type": role,
                    "url": f"{LOCAL}:{rel}",
                    "provider": LOCAL,
                    "width": info.width,
                    "height": info.height,
                    "sha256": cached.sha256,
                    "fetched_at": datetime.now(UTC),
                }
            )
        with self.db.session() as s:
            store.upsert_candidates(s.connection(), movie_id, rows)
        result.local_cached = len(rows)
