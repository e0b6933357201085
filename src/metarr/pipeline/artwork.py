"""The artwork step of enrichment: candidates downloaded, checked, selected and cached.

`Artwork.run` is the `artwork` job of one movie, queued by its `enrich` job at a
lower priority (image hosts are not API rate-limited: the metadata work that is
waits for nobody). It reads what it needs from the database in one transaction,
hands the network and CPU work to the providers' event loop as one coroutine, and
writes the outcome in one transaction. On the loop every download runs at once
(bounded by `ImageFetcher.MAX_CONCURRENT` for the whole process); the work on the
bytes (Pillow checks, perceptual hashes, SHA-256 and the atomic cache write) runs in
a small thread pool, where Pillow and hashlib release the GIL.

- Selection: per type, a person's picks stay and the remaining slots are filled
  with the best valid images, in rank order, exactly as if they were tried one
  by one: each wave downloads the candidates that would fill the open slots if
  they all pass, and the next wave only replaces the ones that did not (invalid
  image, too large, near-duplicate of a better pick, download failure). A locked
  type (`asset:<type>`) and a person's pick are never touched.
- Headshots: each actor's profile image, content-addressed, so a person in many
  movies is one file, downloaded once per process; its hash is recorded in the
  cast entry (`thumb_sha256`, a cache reference: no history). A locked `cast` is
  left alone.
- Collection art (`set.poster`, `set.fanart`): candidates like a movie's own
  types, but an image another movie of the collection already cached is reused
  by URL instead of downloaded again.
- Local files (`cache_local`): artwork and NFO files found beside the media are
  copied into the cache (so a downloader deleting them loses nothing); unchanged
  artwork is not read again. The NFOs' hashes are kept in the hidden `nfo_sha256`
  field.

Idempotent: a second run downloads nothing (rejected candidates are remembered)."""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from metarr.db import candidate_store
from metarr.db import enrich_store as store
from metarr.db.cache_refs import NFO_FIELD
from metarr.db.engine import Database
from metarr.domain import assets
from metarr.domain.errors import MetarrError, NotFound
from metarr.media.images import ImageInfo, InvalidImage, inspect_image, perceptual_hash
from metarr.pipeline.selection import (
    SET_TYPES,
    ArtworkOptions,
    Fetched,
    TypeJob,
    TypePlan,
    base_type,
    rank_stored,
    walk,
)
from metarr.providers import ProviderNotFound, ProviderRuntime, ProviderUnavailable
from metarr.providers.images import ImageFetcher
from metarr.storage.cache import AssetTooLarge, ContentCache

__all__ = ["LOCAL", "SET_TYPES", "Artwork", "ArtworkResult", "base_type"]

log = logging.getLogger(__name__)

T = TypeVar("T")

LOCAL = "local"
MAX_REMEMBERED = 20_000
NFO_SOURCE = "nfo"


@dataclass(slots=True)
class ArtworkResult:
    """What one artwork step did."""

    movie_id: int
    action: str  # cached | skipped
    reason: str | None = None
    downloads: int = 0
    selection_changes: int = 0
    local_cached: int = 0
    headshots: int = 0

    def as_dict(self) -> dict[str, Any]:
        """A job result."""
        return {
            "movie_id": self.movie_id,
            "action": self.action,
            "reason": self.reason,
            "downloads": self.downloads,
            "selection_changes": self.selection_changes,
            "local_cached": self.local_cached,
            "headshots": self.headshots,
        }


@dataclass(slots=True)
class Plan:
    """What the artwork step of one movie works on, read in one transaction."""

    types: list[TypeJob]
    headshots_have: dict[str, str]  # profile URL -> sha256 cached, to record in the cast
    headshots_missing: list[str]  # profile URLs to download


def _check(data: bytes, kind: str, fingerprint: bool) -> tuple[ImageInfo, int | None]:
    info = inspect_image(data, claimed_type=base_type(kind))
    return info, perceptual_hash(data) if fingerprint else None


class Artwork:
    """Selection, headshots and local files of the enrich phase (see the module docstring)."""

    def __init__(
        self,
        db: Database,
        runtime: ProviderRuntime,
        cache: ContentCache,
        fetcher: ImageFetcher,
        options: Callable[[], ArtworkOptions],
        preferred_language: Callable[[], str | None],
        *,
        workers: int | None = None,
    ) -> None:
        self.db = db
        self.runtime = runtime
        self.cache = cache
        self.fetcher = fetcher
        self.options = options
        self.preferred_language = preferred_language
        self.workers = workers or min(8, (os.cpu_count() or 2) + 2)
        self._pool: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()
        # URL -> sha256: a person in another movie, a collection's art for its next movie
        self._remembered: OrderedDict[str, str] = OrderedDict()

    # -- plumbing ---------------------------------------------------------------------

    def _executor(self) -> ThreadPoolExecutor:
        with self._lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(self.workers, thread_name_prefix="metarr-images")
            return self._pool

    async def in_pool(self, fn: Callable[..., T], *args: Any) -> T:
        """Run blocking work (Pillow, hashing, file writes) in the image pool."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor(), functools.partial(fn, *args))

    def close(self) -> None:
        """Stop the image pool (the fetcher is closed on the providers' loop)."""
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True)

    def remembered(self, url: str) -> str | None:
        """The sha256 this process cached for `url`, if any."""
        with self._lock:
            return self._remembered.get(url)

    def remember(self, pairs: Iterable[tuple[str, str]]) -> None:
        """Remember URL -> sha256 (bounded, least recently used out first)."""
        with self._lock:
            for url, sha in pairs:
                self._remembered[url] = sha
                self._remembered.move_to_end(url)
            while len(self._remembered) > MAX_REMEMBERED:
                self._remembered.popitem(last=False)

    def _put(self, data: bytes, ext: str) -> str:
        return self.cache.put_bytes(data, ext, max_bytes=self.options().max_bytes).sha256

    def _print_of(self, sha256: str) -> int | None:
        try:
            return perceptual_hash(self.cache.path_of(sha256).read_bytes())
        except (OSError, MetarrError) as exc:
            log.info("no fingerprint for cached %s: %s", sha256, exc)
            return None

    # -- the step -------------------------------------------------------------------

    def run(self, movie_id: int, *, check: Callable[[], None] | None = None) -> ArtworkResult:
        """The artwork step of one movie (see the module docstring)."""
        check = check or (lambda: None)
        result = ArtworkResult(movie_id, "skipped")
        plan = self._plan(movie_id, result)
        if plan is None:
            return result
        if plan.types or plan.headshots_missing:
            plans, fetched = self.runtime.run(self._fetch_all(plan.types, plan.headshots_missing))
        else:
            plans, fetched = [], {}
        check()
        result.headshots = len(fetched)
        thumbs = {**plan.headshots_have, **fetched}
        result.downloads, result.selection_changes = self._record(movie_id, plans, thumbs)
        check()
        result.local_cached = self.cache_local(movie_id)
        result.action = "cached"
        return result

    def _plan(self, movie_id: int, result: ArtworkResult) -> Plan | None:
        """What to fetch, from one transaction; None (reason in `result`) when nothing."""
        with self.db.session() as s:
            conn = s.connection()
            state = store.load_artwork_state(conn, movie_id)
            if state is None:
                raise NotFound(f"movie {movie_id} does not exist")
            if state.deleted or not state.monitored:
                result.reason = "deleted" if state.deleted else "unmonitored: no provider updates"
                return None
            stored = [
                c for c in candidate_store.load_candidates(conn, movie_id) if c.provider != LOCAL
            ]
            set_urls = [
                c.url for c in stored if c.type in SET_TYPES and not c.selected and not c.rejected
            ]
            shared = (
                candidate_store.cached_hashes_by_url(conn, set_urls, SET_TYPES) if set_urls else {}
            )
        have, missing = self._plan_headshots(state.cast, state.locks)
        return Plan(self._jobs(stored, shared, state.locks), have, missing)

    async def _fetch_all(
        self, jobs: list[TypeJob], headshots: list[str]
    ) -> tuple[list[TypePlan], dict[str, str]]:
        plans, fetched = await asyncio.gather(
            self._select_all(jobs), self.fetch_headshots(headshots)
        )
        return plans, fetched

    # -- headshots --------------------------------------------------------------------

    def _plan_headshots(self, cast: Any, locked: set[str]) -> tuple[dict[str, str], list[str]]:
        """(URL -> sha256 cached but not recorded in the cast yet, URLs to download).

        A locked `cast` is a person's: it is not rewritten, not even to add hashes.
        """
        if "cast" in locked or not isinstance(cast, list):
            return {}, []
        have: dict[str, str] = {}
        missing: list[str] = []
        seen: set[str] = set()
        for actor in cast:
            if not isinstance(actor, dict):
                continue
            url = actor.get("thumb")
            if not isinstance(url, str) or not url or url in seen:
                continue
            seen.add(url)
            recorded = actor.get("thumb_sha256")
            if isinstance(recorded, str) and self.cache.exists(recorded):
                self.remember([(url, recorded)])
                continue
            sha = self.remembered(url)
            if sha is not None and self.cache.exists(sha):
                have[url] = sha
            else:
                missing.append(url)
        return have, missing

    async def fetch_headshots(self, urls: list[str]) -> dict[str, str]:
        """Download, check and cache these profile images at once; URL -> sha256."""
        found = await asyncio.gather(*(self._headshot(url) for url in urls))
        out = {url: sha for url, sha in zip(urls, found, strict=True) if sha is not None}
        self.remember(out.items())
        return out

    async def _headshot(self, url: str) -> str | None:
        try:
            data = await self.fetcher.fetch(url, "tmdb", self.options().max_bytes)
            return await self.in_pool(self._check_and_put, data, assets.HEADSHOT)
        except (ProviderNotFound, ProviderUnavailable, InvalidImage, AssetTooLarge) as exc:
            log.info("headshot %s not cached: %s", url, exc)
            return None

    def _check_and_put(self, data: bytes, kind: str) -> str:
        info = inspect_image(data, claimed_type=kind)
        return self._put(data, info.ext)

    # -- selection --------------------------------------------------------------------

    def _jobs(
        self,
        stored: list[candidate_store.StoredCandidate],
        shared: Mapping[str, str],
        locked: set[str],
    ) -> list[TypeJob]:
        """Per unlocked type, everything its selection needs (`shared`: set art by URL)."""
        options = self.options()
        locked_types = {t.removeprefix("asset:") for t in locked if t.startswith("asset:")}
        jobs: list[TypeJob] = []
        for kind, ranked in rank_stored(stored, self.preferred_language(), options).items():
            if kind in locked_types:
                continue
            of_type = [c for c in stored if c.type == kind]
            limit = max(0, options.limits.get(kind, assets.DEFAULT_LIMITS.get(kind, 1)))
            kept = {
                c.id
                for c in of_type
                if c.selected
                and c.selected_by != "user"
                and c.sha256
                and self.cache.exists(c.sha256)
            }
            reuse: dict[str, str] = {}
            if kind in SET_TYPES:
                for c in of_type:
                    sha = self.remembered(c.url) or shared.get(c.url)
                    if sha is not None and self.cache.exists(sha):
                        reuse[c.url] = sha
            jobs.append(
                TypeJob(kind, ranked, of_type, limit, limit + options.extra_tries, kept, reuse)
            )
        return jobs

    async def _select_all(self, jobs: list[TypeJob]) -> list[TypePlan]:
        return list(await asyncio.gather(*(self._select_type(job) for job in jobs)))

    async def _select_type(self, job: TypeJob) -> TypePlan:
        outcomes: dict[int, Fetched] = {}
        prints: dict[str, int] = {}
        # Near-duplicates only matter where a type holds more than one image.
        fingerprints = job.limit > 1
        first_wave = True
        while True:
            picks, unknown = walk(job, outcomes, prints)
            if not unknown:
                break
            if first_wave and fingerprints:
                known = [
                    c.sha256
                    for c in job.of_type
                    if c.sha256 and (c.id in job.kept or (c.selected and c.selected_by == "user"))
                ]
                found = await asyncio.gather(*(self.in_pool(self._print_of, h) for h in known))
                prints.update({h: fp for h, fp in zip(known, found, strict=True) if fp is not None})
            first_wave = False
            got = await asyncio.gather(*(self._obtain(c, job, fingerprints) for c in unknown))
            outcomes.update({c.id: o for c, o in zip(unknown, got, strict=True)})
        fresh = [(c, o) for c, o in picks if o is not None]
        shas = await asyncio.gather(*(self._store(o) for _, o in fresh))
        if job.kind in SET_TYPES:
            self.remember((c.url, sha) for (c, _), sha in zip(fresh, shas, strict=True))
        return TypePlan(
            job,
            keep=[c for c, o in picks if o is None],
            new=[(c, sha) for (c, _), sha in zip(fresh, shas, strict=True)],
            rejected=[(cid, o.rejected) for cid, o in outcomes.items() if o.rejected],
        )

    async def _obtain(
        self, cand: candidate_store.StoredCandidate, job: TypeJob, fingerprint: bool
    ) -> Fetched:
        """Download and check one candidate (or reuse the file another movie cached)."""
        shared = job.reuse.get(cand.url)
        if shared is not None:
            fp = await self.in_pool(self._print_of, shared) if fingerprint else None
            return Fetched(sha256=shared, fingerprint=fp)
        try:
            data = await self.fetcher.fetch(cand.url, cand.provider, self.options().max_bytes)
        except AssetTooLarge:
            return Fetched(rejected="too_large")
        except (ProviderNotFound, ProviderUnavailable) as exc:
            log.warning("artwork download failed, will try again next time: %s", exc)
            return Fetched(failed=True)
        try:
            info, fp = await self.in_pool(_check, data, job.kind, fingerprint)
        except InvalidImage as exc:
            log.info("%s rejected: %s", cand.url, exc)
            return Fetched(rejected="invalid_image")
        return Fetched(data=data, ext=info.ext, fingerprint=fp)

    async def _store(self, outcome: Fetched) -> str:
        if outcome.sha256 is not None:
            return outcome.sha256
        assert outcome.data is not None
        assert outcome.ext is not None
        return await self.in_pool(self._put, outcome.data, outcome.ext)

    def _record(
        self, movie_id: int, plans: list[TypePlan], thumbs: Mapping[str, str]
    ) -> tuple[int, int]:
        """Write every type's outcome and the cast's headshots in one transaction.

        Returns (new picks cached, types whose selection changed: each with history).
        """
        now = datetime.now(UTC)
        downloads = changes = 0
        updates: list[tuple[int, dict[str, Any]]] = []
        history: list[tuple[str, str, list[str | None], list[str | None]]] = []
        for plan in plans:
            updates += [(cid, {"rejected": reason}) for cid, reason in plan.rejected]
            kept_ids = {c.id for c in plan.keep} | {c.id for c, _ in plan.new}
            before = [c.sha256 for c in plan.job.of_type if c.selected]
            updates += [
                (c.id, {"selected": False, "selected_by": None})
                for c in plan.job.of_type
                if c.selected and c.selected_by != "user" and c.id not in kept_ids
            ]
            updates += [
                (c.id, {"selected": True, "selected_by": "auto", "sha256": sha, "fetched_at": now})
                for c, sha in plan.new
            ]
            after = (
                [c.sha256 for c in plan.job.user]
                + [c.sha256 for c in plan.keep]
                + [sha for _, sha in plan.new]
            )
            if sorted(filter(None, before)) != sorted(filter(None, after)):
                source = plan.new[0][0].provider if plan.new else "provider"
                history.append((source, plan.job.kind, before, after))
            downloads += len(plan.new)
        if updates or history or thumbs:
            with self.db.session() as s:
                conn = s.connection()
                candidate_store.mark_candidates(conn, updates)
                for source, kind, before, after in history:
                    store.record(conn, movie_id, now, source, "asset", kind, before, after)
                store.fill_cast_thumbs(conn, movie_id, thumbs)
        changes = len(history)
        return downloads, changes

    # -- files beside the media -------------------------------------------------------

    def cache_local(self, movie_id: int) -> int:
        """Copy the movie's artwork and NFO files into the cache; returns artwork files cached.

        Artwork whose file the scanner has not seen change since it was cached is not
        read again. NFO texts are small: they are hashed every time, and the hidden
        `nfo_sha256` field (source `nfo`) changes only when one of them did.
        """
        with self.db.session() as s:
            conn = s.connection()
            root, files = candidate_store.local_files(conn, movie_id)
            if root is None or not files:
                return 0
            known = {
                c.url: c
                for c in candidate_store.load_candidates(conn, movie_id)
                if c.provider == LOCAL
            }
            nfo_now = store.load_field(conn, movie_id, NFO_FIELD)
        todo: list[candidate_store.LocalFile] = []
        for f in files:
            if f.kind == "nfo":
                todo.append(f)
                continue
            cand = known.get(f"{LOCAL}:{f.path}")
            if cand is None or not cand.sha256 or cand.fetched_at is None:
                todo.append(f)
                continue
            cached = self.cache.find(cand.sha256)
            if (
                cached is None
                or cached.size != f.size
                or store.utc(f.updated_at) > store.utc(cand.fetched_at)
            ):
                todo.append(f)
        if not todo:
            return 0
        results = self.runtime.run(
            self._read_local([(Path(root) / f.path, f) for f in todo]),
        )
        now = datetime.now(UTC)
        rows: list[dict[str, Any]] = []
        nfos: dict[str, str] = {}
        for f, outcome in zip(todo, results, strict=True):
            if outcome is None:
                continue
            sha, info = outcome
            if info is None:
                nfos[f.path] = sha
                continue
            rows.append(
                {
                    "type": f.role,
                    "url": f"{LOCAL}:{f.path}",
                    "provider": LOCAL,
                    "width": info.width,
                    "height": info.height,
                    "sha256": sha,
                    "fetched_at": now,
                }
            )
        with self.db.session() as s:
            conn = s.connection()
            if rows:
                candidate_store.upsert_candidates(conn, movie_id, rows)
            if nfos and nfos != nfo_now:
                store.set_hidden_field(conn, movie_id, NFO_FIELD, nfos, NFO_SOURCE, now)
        return len(rows)

    async def _read_local(
        self, files: list[tuple[Path, candidate_store.LocalFile]]
    ) -> list[tuple[str, ImageInfo | None] | None]:
        return list(
            await asyncio.gather(*(self.in_pool(self._local_one, path, f) for path, f in files))
        )

    def _local_one(
        self, path: Path, f: candidate_store.LocalFile
    ) -> tuple[str, ImageInfo | None] | None:
        max_bytes = self.options().max_bytes
        try:
            if f.kind == "nfo":
                return self.cache.put_file(path, "nfo", max_bytes=max_bytes).sha256, None
            data = path.read_bytes()
            info = inspect_image(data)
            return self.cache.put_bytes(data, info.ext, max_bytes=max_bytes).sha256, info
        except (OSError, MetarrError) as exc:
            log.info("local file %s not cached: %s", path, exc)
            return None
