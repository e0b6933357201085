"""Scan phase: walk a library, classify and identify its movies, probe, persist changes.

Incremental: a file whose size and mtime are unchanged costs one `stat` and no
write; only new or changed movies are re-read (NFO), re-identified and probed.
Writes go in batches, each in its own transaction, so a crash leaves the
previous state consistent and the next scan finishes the work.
"""

from __future__ import annotations

import hashlib
import logging
import os
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from metarr.db import scan_store
from metarr.db.engine import Database
from metarr.db.scan_store import FileWrite, KnownMovie, LibraryState, MovieWrite
from metarr.domain.discovery import ClassifiedFile, MovieUnit, discover
from metarr.domain.fields import automated_changes, info_to_fields
from metarr.domain.identity import decide_identity
from metarr.domain.ignore import IgnoreMatcher
from metarr.domain.media import (
    ExternalIds,
    FileKind,
    MovieInfo,
    NfoDocument,
    ProbeResult,
    VideoRole,
)
from metarr.domain.naming import ids_from_name
from metarr.domain.ports import Prober
from metarr.domain.titles import display_title
from metarr.media.names import guess_movie
from metarr.nfo import read_nfo
from metarr.storage.hashing import quick_hash
from metarr.storage.walk import walk_library

log = logging.getLogger(__name__)

MAX_NFO_BYTES = 5 * 1024 * 1024
ProgressFn = Callable[[str, int, int], None]


class ScanCancelled(Exception):
    """The scan was asked to stop; what was written so far is consistent."""


@dataclass(slots=True)
class ScanOptions:
    """How to scan: parallelism, batching, grace period, and an optional scope."""

    probe_workers: int = 4
    batch_size: int = 500
    sample_max_bytes: int = 50 * 1024 * 1024
    grace_days: int = 30
    scope: str | None = None  # a folder relative to the root: scan only that
    hint_ids: ExternalIds | None = None  # ids given by a webhook for the scoped movie


@dataclass(slots=True)
class ScanStats:
    """Counters of one scan, as the API reports them."""

    directories: int = 0
    files: int = 0
    ignored: int = 0
    movies: int = 0
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    moved: int = 0
    restored: int = 0
    deleted: int = 0
    purged: int = 0
    probed: int = 0
    probe_failed: int = 0
    nfo_errors: int = 0
    orphans: int = 0
    errors: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready counters (errors capped)."""
        out = asdict(self)
        out["errors"] = self.errors[:50]
        return out


@dataclass(slots=True)
class _Pending:
    """A changed movie on its way to the database."""

    unit: MovieUnit
    known: KnownMovie | None
    probes: dict[str, Future[tuple[str | None, ProbeResult | None]]]


@dataclass(slots=True)
class _Read:
    """A changed movie once its files are hashed/probed, its NFOs read and its row found."""

    unit: MovieUnit
    known: KnownMovie | None  # None: a new movie
    files: list[FileWrite]
    nfos: list[tuple[str, NfoDocument]]
    name_ids: ExternalIds
    nfo_hashes: dict[str, str] = field(default_factory=dict)  # path -> sha256 of the bytes read


class LibraryScanner:
    """Runs one scan of one library against the database."""

    def __init__(
        self,
        db: Database,
        prober: Prober,
        *,
        options: ScanOptions | None = None,
        progress: ProgressFn | None = None,
        on_written: Callable[[list[int]], None] | None = None,
        should_cancel: Callable[[], bool] | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.db = db
        self.prober = prober
        self.options = options or ScanOptions()
        self._progress = progress or (lambda _phase, _done, _total: None)
        self._on_written = on_written
        self._should_cancel = should_cancel or (lambda: False)
        self._clock = clock

    def scan(self, library_id: int, root: str, ignore_patterns: list[str]) -> ScanStats:
        """Scan `root` (the library's folder) and persist what changed."""
        started = time.perf_counter()
        stats = ScanStats()
        opts = self.options
        scope = (opts.scope or "").strip("/") or None

        self._progress("walking", 0, 0)
        # load what the database knows while the disk is walked: both mostly wait on I/O
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="scan-state") as loader:
            known_future = loader.submit(self._load_state, library_id, scope)
            walked = walk_library(
                root,
                ignore=IgnoreMatcher(ignore_patterns),
                scope=scope,
                on_directory=lambda n: self._progress("walking", n, 0) if n % 1000 == 0 else None,
            )
            stats.directories, stats.ignored = walked.directories, walked.ignored
            stats.files, stats.errors = len(walked.entries), list(walked.errors)
            found = discover(walked.entries, sample_max_bytes=opts.sample_max_bytes)
            if scope is not None:
                found.units[:] = [u for u in found.units if _within(u.key, scope)]
            stats.movies = len(found.units)
            state = known_future.result()

        seen_keys = {u.key for u in found.units}
        vanished = {
            k: m for k, m in state.movies.items() if k not in seen_keys
        }  # includes already soft-deleted ones: they may come back under a new name
        dirty: list[tuple[MovieUnit, KnownMovie | None]] = []
        for unit in found.units:
            known = state.movies.get(unit.key)
            if known is not None and known.deleted_at is None and _unchanged(unit, known, state):
                stats.unchanged += 1
                continue
            dirty.append((unit, known))

        total = len(dirty)
        self._progress("reading", 0, total)
        claimed: set[int] = set()
        with ThreadPoolExecutor(max_workers=opts.probe_workers, thread_name_prefix="probe") as pool:
            pending = [
                _Pending(unit, known, self._submit_probes(pool, root, unit, state))
                for unit, known in dirty
            ]
            done, size = 0, max(1, opts.batch_size)
            for start in range(0, total, size):
                batch: list[_Read] = []
                for item in pending[start : start + size]:
                    if self._should_cancel():
                        for p in pending:
                            for fut in p.probes.values():
                                fut.cancel()
                        raise ScanCancelled()
                    batch.append(self._read(root, item, state, vanished, claimed, stats))
                    done += 1
                    self._progress("reading", done, total)  # the listener throttles
                self._flush(library_id, self._prepare(batch))
        self._progress("writing", total, total)

        now = self._clock()
        gone = [m.id for k, m in vanished.items() if m.id not in claimed and m.deleted_at is None]
        stats.deleted = len(gone)
        orphan_writes = [_file_write(f) for f in found.orphans]
        orphan_paths = {f.entry.path for f in found.orphans}
        stale_orphans = [
            p for p, kf in state.files.items() if kf.movie_id is None and p not in orphan_paths
        ]
        stats.orphans = len(orphan_writes)
        changed_orphans = [
            w
            for w in orphan_writes
            if (kf := state.files.get(w.path)) is None
            or kf.movie_id is not None
            or (kf.size, kf.mtime_ns) != (w.size, w.mtime_ns)
        ]
        with self.db.engine.begin() as conn:
            scan_store.soft_delete_movies(conn, gone, now)
            scan_store.write_orphans(conn, library_id, changed_orphans, stale_orphans, now)
            if scope is None:
                stats.purged = scan_store.purge_deleted(
                    conn, library_id, now - timedelta(days=opts.grace_days)
                )
        stats.seconds = round(time.perf_counter() - started, 3)
        self._progress("done", total, total)
        return stats

    # -- steps ---------------------------------------------------------------

    def _load_state(self, library_id: int, scope: str | None) -> LibraryState:
        with self.db.engine.connect() as conn:
            return scan_store.load_state(conn, library_id, scope)

    def _submit_probes(
        self, pool: ThreadPoolExecutor, root: str, unit: MovieUnit, state: LibraryState
    ) -> dict[str, Future[tuple[str | None, ProbeResult | None]]]:
        futures: dict[str, Future[tuple[str | None, ProbeResult | None]]] = {}
        for cf in unit.files:
            if cf.cls.kind is not FileKind.VIDEO:
                continue
            known = state.files.get(cf.entry.path)
            if (
                known is not None
                and (known.size, known.mtime_ns) == (cf.entry.size, cf.entry.mtime_ns)
                and known.probe_status is not None
            ):
                continue  # unchanged and already probed
            disc_index = unit.disc is not None and cf.cls.role == VideoRole.MAIN
            futures[cf.entry.path] = pool.submit(
                self._probe_one, os.path.join(root, cf.entry.path), not disc_index
            )
        return futures

    def _probe_one(self, path: str, probe: bool) -> tuple[str | None, ProbeResult | None]:
        digest = quick_hash(path)
        if not probe:
            return digest, None
        try:
            return digest, self.prober.probe(path)
        except Exception as exc:  # a prober bug must not fail the scan
            log.exception("prober crashed on %s", path)
            return digest, ProbeResult(ok=False, error=f"prober crashed: {exc}")

    def _read(
        self,
        root: str,
        item: _Pending,
        state: LibraryState,
        vanished: dict[str, KnownMovie],
        claimed: set[int],
        stats: ScanStats,
    ) -> _Read:
        """Collect one changed movie's files (hashes, probes) and NFOs; find its stored row."""
        unit, known = item.unit, item.known
        files: list[FileWrite] = []
        main_hashes: list[str] = []
        for cf in unit.files:
            fw = _file_write(cf)
            fut = item.probes.get(cf.entry.path)
            if fut is not None:
                digest, probe = fut.result()
                fw.quick_hash = digest
                if probe is not None:
                    fw.probe = probe
                    stats.probed += 1
                    if not probe.ok:
                        stats.probe_failed += 1
                elif unit.disc is not None:
                    fw.probe = ProbeResult(ok=True, prober=None, container=unit.disc.value)
            else:
                kf = state.files.get(cf.entry.path)
                fw.quick_hash = kf.quick_hash if kf else None
            is_main = cf.cls.kind is FileKind.VIDEO and cf.cls.role in (
                VideoRole.MAIN,
                VideoRole.PART,
            )
            if is_main and fw.quick_hash:
                main_hashes.append(fw.quick_hash)
            files.append(fw)

        nfo_hashes: dict[str, str] = {}
        nfos = self._read_nfos(root, unit, stats, nfo_hashes)
        name_ids = _name_ids(unit)

        if known is None:
            known = self._match_vanished(
                unit, main_hashes, nfos, name_ids, vanished, claimed, state
            )
            if known is not None:
                stats.moved += 1
                if known.deleted_at is not None:
                    stats.restored += 1
            else:
                stats.added += 1
        else:
            if known.deleted_at is not None:
                stats.restored += 1
            else:
                stats.updated += 1
            claimed.add(known.id)
        return _Read(unit, known, files, nfos, name_ids, nfo_hashes)

    def _prepare(self, batch: list[_Read]) -> list[MovieWrite]:
        """Decide identity, metadata and list columns of a batch of read movies.

        What is stored for the batch's known movies (kept ids, metadata, locks) is
        loaded with one query each for the whole batch: a new movie has nothing yet.
        """
        known_ids = [r.known.id for r in batch if r.known is not None]
        kept: dict[int, dict[str, tuple[str, str]]] = {}
        current: dict[int, dict[str, Any]] = {}
        locks: dict[int, set[str]] = {}
        published: dict[int, dict[str, str]] = {}
        if known_ids:
            with self.db.engine.connect() as conn:
                kept = scan_store.load_kept_ids(conn, known_ids)
                current, locks = scan_store.load_fields_and_locks(conn, known_ids)
                published = scan_store.load_published_nfos(conn, known_ids)
        return [
            self._movie_write(
                r,
                kept.get(r.known.id) if r.known else None,
                current.get(r.known.id, {}) if r.known else {},
                locks.get(r.known.id, set()) if r.known else set(),
                published.get(r.known.id, {}) if r.known else {},
            )
            for r in batch
        ]

    def _movie_write(
        self,
        read: _Read,
        kept: dict[str, tuple[str, str]] | None,
        cur: dict[str, Any],
        locks: set[str],
        published_nfos: dict[str, str] | None = None,
    ) -> MovieWrite:
        """What to store for one movie, given what is stored for it now.

        An NFO exactly as Metarr last published it (same bytes) is Metarr's own
        rendering of what is stored: it is not read back as new metadata (that
        would turn provider values into `nfo` ones and drop what the NFO cannot
        hold, such as cached headshots). An NFO someone edited is read as usual.
        """
        unit, known, nfos = read.unit, read.known, read.nfos
        own = published_nfos or {}
        foreign = [
            (p, d) for p, d in nfos if own.get(p) is None or own[p] != read.nfo_hashes.get(p)
        ]
        hint = (
            self.options.hint_ids if self.options.scope and unit.key == self.options.scope else None
        )
        decision = decide_identity(nfos=nfos, name_ids=read.name_ids, hint_ids=hint, kept=kept)
        primary = next((d for _, d in foreign if d.kind == "movie" and d.info.title), None)
        info = primary.info if primary else MovieInfo()
        changes = automated_changes(cur, info_to_fields(info), locks) if primary else []

        # the guessit parse is cached per names + size + mtime of the main video
        main = unit.main_videos()[0] if unit.main_videos() else None
        parse_key = (
            f"{unit.folder}|{main.entry.path}|{main.entry.size}|{main.entry.mtime_ns}"
            if main
            else unit.folder
        )
        if known is not None and known.parse_key == parse_key:
            parsed_title, parsed_year = known.parsed_title, known.parsed_year
        else:
            filename = os.path.splitext(os.path.basename(main.entry.path))[0] if main else ""
            folder_name = os.path.basename(unit.folder) if _is_folder_movie(unit) else ""
            parsed_title, parsed_year = guess_movie(folder_name, filename)

        final = dict(cur)
        for ch in changes:
            final[ch.field] = ch.new
        shown = display_title(final, parsed_title, parsed_year)
        values: dict[str, Any] = {
            "key": unit.key,
            "folder": unit.folder,
            "basename": unit.basename,
            "disc": unit.disc.value if unit.disc else None,
            "title": shown.title,
            "year": shown.year,
            "sort_key": shown.sort_key,
            "status": decision.status.value,
            "review_reason": decision.review_reason,
            "parsed_title": parsed_title,
            "parsed_year": parsed_year,
            "parse_key": parse_key,
            "artwork": ",".join(
                sorted(
                    {
                        str(cf.cls.role)
                        for cf in unit.files
                        if cf.cls.kind is FileKind.ARTWORK and cf.cls.role
                    }
                )
            ),
            "deleted_at": None,
        }
        id_values = {
            t: (v, decision.sources[t]) for t, v in decision.ids.as_dict().items() if v is not None
        }
        return MovieWrite(
            movie_id=known.id if known else None,
            values=values,
            files=read.files,
            ids={t: (str(v), s) for t, (v, s) in id_values.items()},
            field_changes=changes,
        )

    def _read_nfos(
        self, root: str, unit: MovieUnit, stats: ScanStats, hashes: dict[str, str]
    ) -> list[tuple[str, NfoDocument]]:
        """Parse the unit's NFOs; `hashes` receives the sha256 of each file's bytes."""
        docs: list[tuple[str, NfoDocument]] = []
        for cf in unit.nfo_candidates():
            path = os.path.join(root, cf.entry.path)
            try:
                if cf.entry.size > MAX_NFO_BYTES:
                    raise ValueError(f"larger than {MAX_NFO_BYTES} bytes")
                with open(path, "rb") as fh:
                    data = fh.read(MAX_NFO_BYTES + 1)
            except (OSError, ValueError) as exc:
                stats.nfo_errors += 1
                stats.errors.append(f"{cf.entry.path}: {exc}")
                continue
            hashes[cf.entry.path] = hashlib.sha256(data).hexdigest()
            doc = read_nfo(data)
            if not doc.well_formed:
                stats.nfo_errors += 1
                stats.errors.append(f"{cf.entry.path}: {doc.error or 'malformed NFO'}")
            docs.append((cf.entry.path, doc))
        return docs

    def _match_vanished(
        self,
        unit: MovieUnit,
        main_hashes: list[str],
        nfos: list[tuple[str, NfoDocument]],
        name_ids: ExternalIds,
        vanished: dict[str, KnownMovie],
        claimed: set[int],
        state: LibraryState,
    ) -> KnownMovie | None:
        """A new folder that is a vanished movie moved or renamed (same video, same ids)."""
        if not vanished:
            return None
        candidates = {m.id: m for m in vanished.values() if m.id not in claimed}
        if not candidates:
            return None
        for movie_id, m in candidates.items():
            for path in state.files_by_movie.get(movie_id, []):
                kf = state.files[path]
                if kf.quick_hash and kf.quick_hash in main_hashes and kf.kind == "video":
                    claimed.add(movie_id)
                    return m
        wanted: dict[str, set[str]] = {"tmdb": set(), "imdb": set()}
        for _, doc in nfos:
            if doc.ids.tmdb is not None:
                wanted["tmdb"].add(str(doc.ids.tmdb))
            if doc.ids.imdb:
                wanted["imdb"].add(doc.ids.imdb)
        if name_ids.tmdb is not None:
            wanted["tmdb"].add(str(name_ids.tmdb))
        if name_ids.imdb:
            wanted["imdb"].add(name_ids.imdb)
        if not any(wanted.values()):
            return None
        with self.db.engine.connect() as conn:
            for provider, vals in wanted.items():
                hits = scan_store.find_movies_by_ids(conn, state.library_id, provider, vals)
                for movie_id in hits.values():
                    if movie_id in candidates:
                        claimed.add(movie_id)
                        return candidates[movie_id]
        return None

    def _flush(self, library_id: int, batch: list[MovieWrite]) -> None:
        if not batch:
            return
        with self.db.engine.begin() as conn:
            scan_store.write_movies(conn, library_id, batch, self._clock())
        if self._on_written is not None:  # after commit: listeners may read the rows
            self._on_written([w.movie_id for w in batch if w.movie_id is not None])


def _within(key: str, scope: str) -> bool:
    return key == scope or key.startswith(scope + "/")


def _unchanged(unit: MovieUnit, known: KnownMovie, state: LibraryState) -> bool:
    """True when every file of the unit is known, unchanged and still this movie's."""
    known_paths = state.files_by_movie.get(known.id, ())
    if len(known_paths) != len(unit.files):
        return False
    for cf in unit.files:
        kf = state.files.get(cf.entry.path)
        if (
            kf is None
            or kf.movie_id != known.id
            or kf.size != cf.entry.size
            or kf.mtime_ns != cf.entry.mtime_ns
            or kf.kind != cf.cls.kind.value
            or kf.role != (str(cf.cls.role) if cf.cls.role is not None else None)
            or kf.part != cf.cls.part
        ):
            return False
    return True


def _file_write(cf: ClassifiedFile) -> FileWrite:
    c = cf.cls
    return FileWrite(
        path=cf.entry.path,
        kind=c.kind.value,
        role=str(c.role) if c.role is not None else None,
        language=c.language,
        forced=c.forced,
        sdh=c.sdh,
        part=c.part,
        actor=c.actor,
        size=cf.entry.size,
        mtime_ns=cf.entry.mtime_ns,
    )


def _name_ids(unit: MovieUnit) -> ExternalIds:
    """Ids tagged in the folder name, else in the main video's file name."""
    folder_ids = (
        ids_from_name(os.path.basename(unit.folder))
        if unit.folder and _is_folder_movie(unit)
        else ExternalIds()
    )
    mains = unit.main_videos()
    file_ids = ids_from_name(os.path.basename(mains[0].entry.path)) if mains else ExternalIds()
    return ExternalIds(
        tmdb=folder_ids.tmdb if folder_ids.tmdb is not None else file_ids.tmdb,
        imdb=folder_ids.imdb or file_ids.imdb,
        tvdb=folder_ids.tvdb if folder_ids.tvdb is not None else file_ids.tvdb,
    )


def _is_folder_movie(unit: MovieUnit) -> bool:
    """True when the movie owns its folder (not a loose file in a folder of many)."""
    return unit.key == unit.folder
