"""The verify phase: does the library still hold what was published, the cache its bytes?

One entry point, `Verifier.verify` (a library, or one movie of it). It reports:

* `missing`: a file Metarr published is gone;
* `modified`: it is there with other bytes (size and mtime are compared first; the
  file is hashed only when one of them changed);
* `wrong_named`: it is there but no longer under the name the movie's current
  basename and profile give it (a downloader renamed the video), or another file
  in the folder holds a missing file's bytes;
* `unknown`: files the last scan could not classify (report only);
* `cache_missing` / `cache_corrupt`: a cache file behind a published or selected
  image is gone or its bytes no longer hash to its name (checked the same way:
  size and mtime against the last good check, hashed only when they changed).

Repairs (when the library's setting or the request says so; the default is on)
touch only what Metarr wrote: cache files are fetched again from a known
candidate URL, or taken from an intact library copy; missing and modified files
are written again from the cache (a modified one goes to the recycle bin first);
wrong-named ones are renamed to their current name when that name is free.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from metarr.db import publish_store as store
from metarr.db import recycle_store, verify_store
from metarr.db.engine import Database
from metarr.domain import publish as rules
from metarr.domain.errors import MetarrError, NotFound
from metarr.domain.publish import FileRole
from metarr.storage import atomic
from metarr.storage.cache import ContentCache
from metarr.storage.recycle import RecycleBin

log = logging.getLogger(__name__)

# (url, provider) -> the image's bytes; raises when it cannot be fetched
Fetch = Callable[[str, str], bytes]
# movie id -> the NFO publishing would write now (None: the movie is not published)
Render = Callable[[int], bytes | None]
Check = Callable[[], None]
Progress = Callable[[float, str], None]
MISSING, MODIFIED, WRONG_NAMED, UNKNOWN = "missing", "modified", "wrong_named", "unknown"
CACHE_MISSING, CACHE_CORRUPT = "cache_missing", "cache_corrupt"
KINDS = (MISSING, MODIFIED, WRONG_NAMED, UNKNOWN, CACHE_MISSING, CACHE_CORRUPT)
_NOT_REFETCHED = ("local", "user")  # candidates whose bytes only ever came from disk


@dataclass(slots=True)
class Finding:
    """Something verification found, and what it did about it."""

    kind: str
    path: str
    movie_id: int | None = None
    detail: str | None = None
    repaired: bool = False
    repair: str | None = None


@dataclass(slots=True)
class VerifyResult:
    """A finished verification: its counters and findings."""

    run_id: int
    library_id: int
    repair: bool
    stats: dict[str, int] = field(default_factory=dict)
    findings: list[Finding] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """The job result (findings summarised; the full list is in the database)."""
        return {
            "run_id": self.run_id,
            "library_id": self.library_id,
            "repair": self.repair,
            "stats": self.stats,
        }


@dataclass(slots=True)
class _Run:
    """Working state of one verification."""

    root: Path
    settings: store.PublishSettings
    repair: bool
    stats: dict[str, int]
    findings: list[Finding] = field(default_factory=list)
    record_updates: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    forget: list[str] = field(default_factory=list)
    recycled: list[dict[str, Any]] = field(default_factory=list)
    checks: dict[str, tuple[int, int]] = field(default_factory=dict)
    bad_cache: set[str] = field(default_factory=set)

    def add(self, finding: Finding) -> Finding:
        self.findings.append(finding)
        self.stats[finding.kind] = self.stats.get(finding.kind, 0) + 1
        return finding


class Verifier:
    """Compares a library with what was published, and the cache with its hashes."""

    def __init__(
        self,
        db: Database,
        cache: ContentCache,
        recycle: RecycleBin,
        fetch: Fetch | None = None,
        render: Render | None = None,
    ) -> None:
        self.db = db
        self.cache = cache
        self.recycle = recycle
        self.fetch = fetch
        self.render = render

    def verify(
        self,
        library_id: int,
        movie_id: int | None = None,
        *,
        repair: bool | None = None,
        job_id: int | None = None,
        check: Check | None = None,
        progress: Progress | None = None,
    ) -> VerifyResult:
        """Verify a library (or one of its movies), repair per setting, record the run."""
        now = datetime.now(UTC)
        with self.db.session() as s:
            conn = s.connection()
            root = store.library_root(conn, library_id)
            if root is None:
                raise NotFound(f"library {library_id} does not exist")
            if movie_id is not None and store.movie_library(conn, movie_id) != library_id:
                raise NotFound(f"movie {movie_id} is not in library {library_id}")
            settings = store.load_settings(conn, library_id)
            do_repair = settings.verify_repair if repair is None else repair
            run_id = verify_store.start_run(conn, library_id, movie_id, job_id, do_repair, now)
        try:
            run = self._run(library_id, movie_id, Path(root), settings, do_repair, check, progress)
        except BaseException as exc:
            with self.db.session() as s:
                verify_store.finish_run(
                    s.connection(), run_id, "failed", {}, [], datetime.now(UTC), str(exc)[:2000]
                )
            raise
        with self.db.session() as s:
            conn = s.connection()
            for path, values in run.record_updates:
                store.update_record(conn, library_id, path, values)
            store.forget_paths(conn, library_id, run.forget)
            for values in run.recycled:
                recycle_store.add_recycle_entry(conn, {"library_id": library_id, **values})
            if run.checks:
                verify_store.save_cache_checks(conn, run.checks, datetime.now(UTC))
            verify_store.finish_run(
                conn,
                run_id,
                "succeeded",
                run.stats,
                [asdict(f) for f in run.findings],
                datetime.now(UTC),
            )
        return VerifyResult(run_id, library_id, do_repair, run.stats, run.findings)

    # -- the run ----------------------------------------------------------------------

    def _run(
        self,
        library_id: int,
        movie_id: int | None,
        root: Path,
        settings: store.PublishSettings,
        repair: bool,
        check: Check | None,
        progress: Progress | None,
    ) -> _Run:
        with self.db.session() as s:
            conn = s.connection()
            layouts = verify_store.movie_layouts(conn, library_id, movie_id)
            ids = [m.id for m in layouts]
            records = store.published_of_library(
                conn, library_id, None if movie_id is None else ids
            )
            whole = library_id if movie_id is None else None
            unknown = verify_store.unknown_files(conn, ids, library_id=whole)
            # NFOs are rendered again from the database, not kept in the cache
            hints = {
                r.sha256: r.path.rpartition(".")[2]
                for rs in records.values()
                for r in rs
                if r.kind is not FileRole.NFO
            }
            shas = sorted(set(hints) | verify_store.selected_hashes(conn, ids, library_id=whole))
            checks = verify_store.load_cache_checks(conn, shas)
        stats = {"movies": len(layouts), "files": 0, "hashed": 0, "cache_files": 0}
        stats |= {"cache_hashed": 0, "repaired": 0}
        run = _Run(root, settings, repair, stats)
        bad: dict[str, tuple[Finding, Path | None]] = {}
        for n, sha in enumerate(shas):
            if check is not None and n % 1000 == 0:
                check()
            found = self._check_cache(run, sha, checks.get(sha), hints.get(sha))
            if found is not None:
                bad[sha] = found
        if bad and repair:
            self._repair_cache(run, bad, records)
        total = len(layouts)
        for n, movie in enumerate(layouts):
            if check is not None and n % 200 == 0:
                check()
                if progress is not None:
                    progress(n / total if total else 1.0, f"{n}/{total} movies")
            self._check_movie(run, movie, records.get(movie.id, []), unknown.get(movie.id, []))
        return run

    # -- the cache --------------------------------------------------------------------

    def _cached(self, sha: str, ext: str | None) -> tuple[Path, tuple[int, int]] | None:
        """The cache file of `sha` and its (size, mtime_ns), trying the likely name first."""
        if ext:  # the cache's layout: <root>/<aa>/<bb>/<sha256>.<ext>
            path = Path(f"{self.cache.root}/{sha[:2]}/{sha[2:4]}/{sha}.{ext}")
            stat = _stat(path)
            if stat is not None:
                return path, stat
        found = self.cache.find(sha)
        stat = _stat(found.path) if found is not None else None
        return (found.path, stat) if found is not None and stat is not None else None

    def _check_cache(
        self, run: _Run, sha: str, last_good: tuple[int, int] | None, ext: str | None
    ) -> tuple[Finding, Path | None] | None:
        """A finding when the cache file of `sha` is gone or its bytes changed."""
        run.stats["cache_files"] += 1
        cached = self._cached(sha, ext)
        if cached is None:
            run.bad_cache.add(sha)
            return run.add(Finding(CACHE_MISSING, sha)), None
        path, stat = cached
        if last_good == stat:
            return None
        run.stats["cache_hashed"] += 1
        if _sha256(path) == sha:
            run.checks[sha] = stat
            return None
        run.bad_cache.add(sha)
        return run.add(Finding(CACHE_CORRUPT, sha, detail=str(path))), path

    def _repair_cache(
        self,
        run: _Run,
        bad: dict[str, tuple[Finding, Path | None]],
        records: dict[int, list[store.PublishedRecord]],
    ) -> None:
        """Fetch damaged or missing cache files again: from an intact library copy, or
        from a candidate URL."""
        with self.db.session() as s:
            urls = verify_store.candidate_urls(s.connection(), sorted(bad))
        copies = {  # a library copy whose stat still matches its record holds the bytes
            r.sha256: run.root / r.path
            for rs in records.values()
            for r in rs
            if r.sha256 in bad and _stat_matches(run.root, r)
        }
        for sha, (finding, damaged) in bad.items():
            data, how = self._fetch_again(sha, urls.get(sha, []), copies.get(sha))
            if data is None:
                finding.repair = how
                continue
            if damaged is not None:
                with contextlib.suppress(FileNotFoundError):
                    damaged.unlink()  # same size, other bytes: `put` would keep it
            ext = (
                damaged.suffix.lstrip(".")
                if damaged is not None
                else _ext_of(urls.get(sha, []), copies.get(sha))
            )
            stored = self.cache.put_bytes(data, ext)
            st = os.stat(stored.path)
            run.checks[sha] = (st.st_size, st.st_mtime_ns)
            run.bad_cache.discard(sha)
            finding.repaired, finding.repair = True, how
            run.stats["repaired"] += 1

    def _fetch_again(
        self, sha: str, urls: list[tuple[str, str]], library_copy: Path | None
    ) -> tuple[bytes | None, str]:
        """The bytes of `sha` from an intact library copy or a candidate URL."""
        if library_copy is not None:
            try:
                data = library_copy.read_bytes()
            except OSError:
                data = b""
            if hashlib.sha256(data).hexdigest() == sha:
                return data, f"copied back from {library_copy.name}"
        tried = []
        for url, provider in urls:
            if provider in _NOT_REFETCHED or self.fetch is None:
                continue
            try:
                data = self.fetch(url, provider)
            except (MetarrError, OSError) as exc:
                tried.append(f"{url}: {exc}")
                continue
            if hashlib.sha256(data).hexdigest() == sha:
                return data, f"downloaded again from {url}"
            tried.append(f"{url}: the provider now serves other bytes")
        if tried:
            return None, "not repaired: " + "; ".join(tried)[:500]
        return None, "not repaired: no source for these bytes"

    # -- one movie --------------------------------------------------------------------

    def _check_movie(
        self,
        run: _Run,
        movie: verify_store.MovieLayoutRow,
        records: Sequence[store.PublishedRecord],
        unknown: Sequence[str],
    ) -> None:
        root = run.root
        layout = rules.MovieLayout(
            movie.folder, movie.basename, movie.disc is not None, movie.key == movie.folder
        )
        recorded = {r.path for r in records}
        missing: list[store.PublishedRecord] = []
        base = str(root)
        for record in records:
            run.stats["files"] += 1
            try:
                st = os.stat(f"{base}/{record.path}")
            except (FileNotFoundError, NotADirectoryError):
                target = root / record.path
                missing.append(record)
                finding = run.add(Finding(MISSING, record.path, movie.id))
                if run.repair:
                    self._rewrite(run, record, target, finding, recycle=False)
                continue
            if (st.st_size, st.st_mtime_ns) != (record.size, record.mtime_ns):
                target = root / record.path
                run.stats["hashed"] += 1
                if _sha256(target) == record.sha256:
                    update = {"size": st.st_size, "mtime_ns": st.st_mtime_ns}
                    run.record_updates.append((record.path, update))
                else:
                    finding = run.add(
                        Finding(MODIFIED, record.path, movie.id, detail="content changed")
                    )
                    if run.repair:
                        self._rewrite(run, record, target, finding, recycle=True)
                        continue
            self._check_name(run, layout, movie.id, record, recorded)
        if missing:
            self._find_renamed(run, layout, movie.id, missing, recorded)
        for path in unknown:
            if path not in recorded:
                run.add(Finding(UNKNOWN, path, movie.id, detail="not recognised by the scan"))

    def _rewrite(
        self,
        run: _Run,
        record: store.PublishedRecord,
        target: Path,
        finding: Finding,
        *,
        recycle: bool,
    ) -> None:
        """Write a published file again: from the cache, an NFO by rendering it again."""
        values: dict[str, Any] = {}
        nfo: bytes | None = None
        found = None
        how = "written again from the cache"
        if record.kind is FileRole.NFO:
            nfo = self.render(record.movie_id) if self.render is not None else None
            if nfo is None:
                finding.repair = "not repaired: the movie is not published any more"
                return
            sha = hashlib.sha256(nfo).hexdigest()
            how = "rendered again from the database"
            if sha != record.sha256:  # the metadata changed since: write what it is now
                values["sha256"] = sha
                how += " (the metadata changed since it was published)"
        else:
            found = None if record.sha256 in run.bad_cache else self.cache.find(record.sha256)
            if found is None:
                finding.repair = "not repaired: not in the cache"
                return
        try:
            if recycle:
                run.recycled.append(_recycled(self.recycle, target, record, "repaired"))
            elif not target.parent.is_dir():
                if target.parent.name != rules.ACTORS_FOLDER:
                    finding.repair = "not repaired: the folder is gone"
                    return
                atomic.ensure_dir(target.parent)
            if nfo is not None:
                written = atomic.write_bytes(target, nfo)
            else:
                assert found is not None
                written = atomic.install(found.path, target, sha256=record.sha256)
        except (OSError, atomic.ContentMismatch, MetarrError) as exc:
            finding.repair = f"not repaired: {exc}"
            return
        values |= {"size": written.size, "mtime_ns": written.mtime_ns, "linked": False}
        run.record_updates.append((record.path, values))
        finding.repaired, finding.repair = True, how
        run.stats["repaired"] += 1

    def _check_name(
        self,
        run: _Run,
        layout: rules.MovieLayout,
        movie_id: int,
        record: store.PublishedRecord,
        recorded: set[str],
    ) -> None:
        """A published file under a name the movie no longer uses."""
        published = rules.Published(record.path, record.kind, record.role, record.sha256)
        expected = rules.expected_path(layout, run.settings.profile, published)
        if expected is None or expected == record.path:
            return
        finding = run.add(
            Finding(WRONG_NAMED, record.path, movie_id, detail=f"should be {expected}")
        )
        if not run.repair:
            return
        new = run.root / expected
        if expected in recorded or new.exists():
            finding.repair = f"not repaired: {expected} exists"
            return
        old = run.root / record.path
        try:
            os.rename(old, new)
            atomic.fsync_dir(new.parent)
            st = os.stat(new)
        except OSError as exc:
            finding.repair = f"not repaired: {exc}"
            return
        run.record_updates.append(
            (record.path, {"path": expected, "size": st.st_size, "mtime_ns": st.st_mtime_ns})
        )
        recorded.add(expected)
        finding.repaired, finding.repair = True, f"renamed to {expected}"
        run.stats["repaired"] += 1

    def _find_renamed(
        self,
        run: _Run,
        layout: rules.MovieLayout,
        movie_id: int,
        missing: Sequence[store.PublishedRecord],
        recorded: set[str],
    ) -> None:
        """Other files in the folder holding a missing file's bytes (renamed by someone)."""
        folder = run.root / layout.folder if layout.folder else run.root
        by_size: dict[int, list[store.PublishedRecord]] = {}
        for record in missing:
            by_size.setdefault(record.size, []).append(record)
        try:
            entries = list(os.scandir(folder))
        except OSError:
            return
        for entry in entries:
            rel = rules.join(layout.folder, entry.name)
            if rel in recorded or atomic.is_temp_name(entry.name):
                continue
            try:
                if not entry.is_file(follow_symlinks=False):
                    continue
                size = entry.stat().st_size
            except OSError:
                continue
            candidates = by_size.get(size)
            if not candidates:
                continue
            run.stats["hashed"] += 1
            sha = _sha256(Path(entry.path))
            for record in candidates:
                if record.sha256 == sha:
                    run.add(
                        Finding(
                            WRONG_NAMED,
                            rel,
                            movie_id,
                            detail=f"holds the bytes of {record.path}",
                            repair="reported only: Metarr did not write this file",
                        )
                    )
                    break


def _sha256(path: Path) -> str | None:
    try:
        return atomic.sha256_file(path)
    except OSError:
        return None


def _stat(path: Path) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_size, st.st_mtime_ns


def _stat_matches(root: Path, record: store.PublishedRecord) -> bool:
    try:
        st = os.stat(root / record.path)
    except OSError:
        return False
    return (st.st_size, st.st_mtime_ns) == (record.size, record.mtime_ns)


def _ext_of(urls: list[tuple[str, str]], library_copy: Path | None) -> str:
    if library_copy is not None and library_copy.suffix:
        return library_copy.suffix.lstrip(".")
    for url, _ in urls:
        tail = url.rsplit("/", 1)[-1]
        if "." in tail:
            return tail.rsplit(".", 1)[-1].lower()[:10] or "jpg"
    return "jpg"


def _recycled(
    bin_: RecycleBin, target: Path, record: store.PublishedRecord, reason: str
) -> dict[str, Any]:
    item = bin_.put(target, reason=reason, keep_original=True, meta={"rel_path": record.path})
    return item.index_values(record.path, movie_id=record.movie_id)
