"""The publish phase: write a movie's NFO and artwork into its library folder.

One entry point, `Publisher.publish` (movies by id: one, or a library or a folder
of it in batches), and its dry run, `Publisher.plan`. Per batch of movies:

1. Unchanged movies are set aside first: a fingerprint of everything a movie's
   files are made from (metadata as stored, ids, streams, selected images, names,
   profile, the NFO writer's code) equal to the one stored when it was last
   published, and every recorded file still with its recorded size and mtime,
   means there is nothing to do: no rendering, no hashing, no write.
2. For the others (in a thread pool, one task per folder): render the NFO
   (deterministic bytes), look up the selected artwork and cast headshots in the
   content cache, name the files (`domain/publish.py`; all of this step's reading
   is in `publish_inputs.py`), read what is there (a
   file whose size and mtime match its record holds what was written; anything
   else that could match is hashed), and plan by hash: create, replace, keep,
   or remove (only files Metarr wrote are ever removed). A file to be replaced
   or removed goes to the recycle bin; new content is staged as a temp file in
   the target folder (hard-linked from the cache when the library allows it,
   else copied and checked against its hash).
3. The batch's staged files are flushed together (`atomic.sync_files`), renamed
   into place, the folders flushed (`atomic.sync_dirs`), and then what was
   written (path, hash, size, mtime) and the fingerprints are recorded in one
   transaction.

NFO text is not put in the content cache here: it is rendered from the database
(deterministically), which is also how verification rebuilds a lost NFO.

A process killed mid-publish leaves at most temp files (swept from a folder the
next time it is published) and files written but not yet recorded (found equal
by hash and adopted by the next run); it stored no fingerprints for that batch,
so the next run does the full work for those movies.
"""

from __future__ import annotations

import logging
import os
from collections import defaultdict
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from metarr.db import publish_store as store
from metarr.db.engine import Database
from metarr.domain import publish as rules
from metarr.domain.errors import MetarrError, NotFound
from metarr.domain.publish import Action, FileRole, PlanEntry, Profile
from metarr.pipeline import publish_inputs as inputs
from metarr.pipeline.publish_inputs import PublishOptions
from metarr.storage import atomic
from metarr.storage.cache import ContentCache
from metarr.storage.recycle import RecycleBin

log = logging.getLogger(__name__)

MAX_ERRORS = 20


class PublishFailed(MetarrError):
    """A movie could not be published completely (what was written is recorded)."""

    code = "publish_failed"


@dataclass(frozen=True, slots=True)
class MoviePlan:
    """The dry run of one movie: a step per path, or why nothing would be published."""

    movie_id: int
    library_id: int
    profile: str
    entries: tuple[PlanEntry, ...]
    skipped: str | None = None
    missing: tuple[str, ...] = ()  # selected images not in the cache


@dataclass(slots=True)
class PublishResult:
    """What a publish did, in counts (and which movies changed on disk)."""

    movies: int = 0
    changed: int = 0
    unchanged: int = 0
    skipped: int = 0
    failed: int = 0
    created: int = 0
    replaced: int = 0
    removed: int = 0
    kept: int = 0
    temp_swept: int = 0
    changed_ids: list[int] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    skipped_reasons: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """The job result."""
        return {
            "movies": self.movies,
            "changed": self.changed,
            "unchanged": self.unchanged,
            "skipped": self.skipped,
            "failed": self.failed,
            "created": self.created,
            "replaced": self.replaced,
            "removed": self.removed,
            "kept": self.kept,
            "temp_swept": self.temp_swept,
            "changed_ids": self.changed_ids,
            "errors": self.errors,
            "skipped_reasons": self.skipped_reasons,
        }


@dataclass(slots=True)
class _Staged:
    """New content in a temp file beside its target, waiting for the batch's flush."""

    tmp: Path
    target: Path
    entry: PlanEntry
    linked: bool
    outcome: _Outcome


@dataclass(slots=True)
class _Outcome:
    """One movie's publish."""

    movie_id: int
    status: str  # changed | unchanged | skipped | failed
    reason: str | None = None
    entries: list[PlanEntry] = field(default_factory=list)
    write: store.MovieWrite | None = None
    staged: list[_Staged] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    fingerprint: str | None = None
    files: int = 0
    swept: int = 0


Check = Callable[[], None]
Progress = Callable[[float, str], None]


class Publisher:
    """Publishes movies into their library folders."""

    def __init__(
        self,
        db: Database,
        cache: ContentCache,
        recycle: RecycleBin,
        options: PublishOptions | None = None,
    ) -> None:
        self.db = db
        self.cache = cache
        self.recycle = recycle
        self.options = options or PublishOptions()

    # -- entry points -----------------------------------------------------------------

    def plan(self, movie_id: int) -> MoviePlan:
        """What publishing the movie would do now (nothing is written)."""
        with self.db.session() as s:
            conn = s.connection()
            sources = store.load_sources(conn, [movie_id])
            if not sources:
                raise NotFound(f"movie {movie_id} does not exist")
            src = sources[0]
            settings = store.load_settings(conn, src.library_id)
            owners = inputs.shared_owners(conn, sources)
        profile = settings.profile.value
        reason = inputs.skip_reason(src)
        if reason is not None:
            return MoviePlan(src.id, src.library_id, profile, (), skipped=reason)
        foreign = inputs.foreign_paths(owners.get(src.library_id, {}), src.id)
        prepared = inputs.prepare(src, settings, foreign, self.cache, self.options)
        state = inputs.disk_state(Path(src.root), prepared, src.published)
        entries = rules.plan(prepared.desired, state, inputs.published_view(src))
        return MoviePlan(
            src.id, src.library_id, profile, tuple(entries), missing=tuple(prepared.missing)
        )

    def publish(
        self,
        movie_ids: Sequence[int],
        *,
        check: Check | None = None,
        progress: Progress | None = None,
    ) -> PublishResult:
        """Publish these movies (in batches, one transaction per batch).

        The next batch is read from the database while the current one is worked on.
        """
        result = PublishResult()
        total = len(movie_ids)
        size = max(self.options.batch_size, 1)
        batches = [movie_ids[start : start + size] for start in range(0, total, size)]
        with (
            ThreadPoolExecutor(max(self.options.threads, 1), "publish") as pool,
            ThreadPoolExecutor(1, "publish-load") as loader,
        ):
            upcoming = loader.submit(self._load, batches[0]) if batches else None
            for n, _ in enumerate(batches):
                if check is not None:
                    check()
                assert upcoming is not None
                sources = upcoming.result()
                upcoming = (
                    loader.submit(self._load, batches[n + 1]) if n + 1 < len(batches) else None
                )
                self._batch(sources, pool, result)
                if progress is not None:
                    done = min((n + 1) * size, total)
                    progress(done / total if total else 1.0, f"{done}/{total} movies")
        return result

    def library_movies(self, library_id: int, scope: str | None = None) -> list[int]:
        """The movies a library (or one folder of it) publishes."""
        with self.db.session() as s:
            conn = s.connection()
            if store.library_root(conn, library_id) is None:
                raise NotFound(f"library {library_id} does not exist")
            return store.library_movie_ids(conn, library_id, scope)

    # -- one batch --------------------------------------------------------------------

    def _load(self, ids: Sequence[int]) -> list[store.MovieSource]:
        """What a batch of movies is published from (their own rows only)."""
        with self.db.session() as s:
            return store.load_sources(s.connection(), ids)

    def _batch(
        self, sources: list[store.MovieSource], pool: ThreadPoolExecutor, result: PublishResult
    ) -> None:
        # settings and shared `.actors/` owners are read now, after the previous batch's
        # records were committed
        with self.db.session() as s:
            conn = s.connection()
            settings = {
                lib: store.load_settings(conn, lib) for lib in {src.library_id for src in sources}
            }
            owners = inputs.shared_owners(conn, sources)
        outcomes: list[_Outcome] = []
        groups: dict[tuple[int, str], list[store.MovieSource]] = defaultdict(list)
        for src in sources:
            quick = self._quick(src, settings[src.library_id], owners)
            if quick is not None:
                outcomes.append(quick)
            else:
                groups[(src.library_id, src.folder)].append(src)
        for done in pool.map(
            lambda group: self._publish_group(group, settings[group[0].library_id], owners),
            list(groups.values()),
        ):
            outcomes.extend(done)
        self._commit(outcomes)
        for outcome in outcomes:
            _settle(outcome)
        writes = [o.write for o in outcomes if o.write is not None]
        if writes:
            with self.db.session() as s:
                store.record_writes(s.connection(), writes, datetime.now(UTC))
        for outcome in outcomes:
            _count(result, outcome)

    def _quick(
        self,
        src: store.MovieSource,
        settings: store.PublishSettings,
        owners: dict[int, dict[str, int]],
    ) -> _Outcome | None:
        """The outcome when nothing needs looking at (skipped, or unchanged); else None."""
        reason = inputs.skip_reason(src)
        if reason is not None:
            return _Outcome(src.id, "skipped", reason=reason)
        if src.fingerprint is None:
            return None
        foreign = inputs.foreign_paths(owners.get(src.library_id, {}), src.id)
        headshots = [(r.path, r.sha256) for r in src.published.values() if r.kind is FileRole.ACTOR]
        fingerprint = inputs.fingerprint(src, settings, self.options, foreign, headshots)
        if fingerprint == src.fingerprint and inputs.records_intact(Path(src.root), src):
            return _Outcome(src.id, "unchanged")
        return None

    def _commit(self, outcomes: list[_Outcome]) -> None:
        """Flush the batch's staged files, rename them into place, flush their folders."""
        staged = [item for o in outcomes for item in o.staged]
        if not staged:
            return
        try:
            atomic.sync_files(item.tmp for item in staged)
        except OSError as exc:
            for item in staged:
                item.tmp.unlink(missing_ok=True)
                item.outcome.errors.append(f"{item.entry.path}: {exc}")
            return
        folders: set[Path] = set()
        for item in staged:
            try:
                written = atomic.commit(item.tmp, item.target, linked=item.linked)
            except OSError as exc:
                item.outcome.errors.append(f"{item.entry.path}: {exc}")
                continue
            folders.add(item.target.parent)
            assert item.outcome.write is not None
            item.outcome.write.upserts.append(
                _record(item.entry, written.size, written.mtime_ns, written.linked)
            )
        try:
            atomic.sync_dirs(folders)
        except OSError as exc:
            log.warning("could not flush folders after publishing: %s", exc)

    # -- one folder -------------------------------------------------------------------

    def _publish_group(
        self,
        group: list[store.MovieSource],
        settings: store.PublishSettings,
        owners: dict[int, dict[str, int]],
    ) -> list[_Outcome]:
        """The movies of one folder, one after the other (they may share `.actors/`)."""
        root = Path(group[0].root)
        folder = root / group[0].folder if group[0].folder else root
        lib_owners = dict(owners.get(group[0].library_id, {}))
        swept = 0
        if folder.is_dir():
            swept = len(atomic.sweep(folder)) + len(atomic.sweep(folder / rules.ACTORS_FOLDER))
        outcomes: list[_Outcome] = []
        for src in group:
            try:
                outcome = self._publish_movie(src, settings, lib_owners, folder)
            except (MetarrError, OSError) as exc:
                outcome = _Outcome(src.id, "failed", errors=[f"movie {src.id}: {exc}"])
            for entry in outcome.entries:  # the first movie of the folder keeps a headshot
                if entry.kind is not FileRole.ACTOR:
                    continue
                if entry.action is not Action.REMOVE:
                    lib_owners.setdefault(entry.path, src.id)
                elif lib_owners.get(entry.path) == src.id:
                    del lib_owners[entry.path]
            outcomes.append(outcome)
        if outcomes:
            outcomes[0].swept = swept
        return outcomes

    def _publish_movie(
        self,
        src: store.MovieSource,
        settings: store.PublishSettings,
        owners: dict[str, int],
        folder: Path,
    ) -> _Outcome:
        if not folder.is_dir():
            raise PublishFailed(f"the movie folder {folder} does not exist")
        foreign = inputs.foreign_paths(owners, src.id)
        root = Path(src.root)
        prepared = inputs.prepare(src, settings, foreign, self.cache, self.options)
        state = inputs.disk_state(root, prepared, src.published)
        write = store.MovieWrite(src.id, src.library_id)
        outcome = _Outcome(src.id, "changed", write=write)
        outcome.entries = rules.plan(prepared.desired, state, inputs.published_view(src))
        hardlinks = settings.hardlinks and atomic.same_filesystem(self.cache.root, root)
        for entry in outcome.entries:
            try:
                self._carry_out(entry, root, prepared, hardlinks, src, outcome)
            except (OSError, MetarrError, atomic.ContentMismatch) as exc:
                outcome.errors.append(f"{entry.path}: {exc}")
        desired = {d.path for d in prepared.desired}
        # records of files gone from disk that are no longer wanted
        write.deletes += [
            p for p in src.published if p not in desired and not state.get(p, rules.ABSENT).exists
        ]
        if not prepared.missing:
            headshots = [(d.path, d.sha256) for d in prepared.desired if d.kind is FileRole.ACTOR]
            outcome.fingerprint = inputs.fingerprint(
                src, settings, self.options, foreign, headshots
            )
            outcome.files = len(prepared.desired)
        return outcome

    def _carry_out(
        self,
        entry: PlanEntry,
        root: Path,
        prepared: inputs.Prepared,
        hardlinks: bool,
        src: store.MovieSource,
        outcome: _Outcome,
    ) -> None:
        """One plan step: recycle what goes, stage what comes, note what stays."""
        target = root / entry.path
        _check_inside(root, target)
        write = outcome.write
        assert write is not None
        if entry.action is Action.KEEP:
            st = os.stat(target)
            known = src.published.get(entry.path)
            if known is None or (known.size, known.mtime_ns, known.sha256) != (
                st.st_size,
                st.st_mtime_ns,
                entry.sha256,
            ):
                write.upserts.append(_record(entry, st.st_size, st.st_mtime_ns, False))
            return
        if entry.action is Action.REMOVE:
            write.recycled.append(self._recycle(target, entry.path, "removed", keep=False))
            write.deletes.append(entry.path)
            return
        assert entry.sha256 is not None
        if entry.action is Action.REPLACE:
            write.recycled.append(self._recycle(target, entry.path, "replaced", keep=True))
        elif target.parent.name == rules.ACTORS_FOLDER:
            atomic.ensure_dir(target.parent)
        if entry.kind is FileRole.NFO:
            tmp, linked = atomic.stage_bytes(target, prepared.nfo), False
        else:
            source = prepared.sources[entry.sha256]
            tmp, linked = atomic.stage_file(source, target, sha256=entry.sha256, hardlink=hardlinks)
            if not linked:  # a copy hashed the cache file on the way: it is intact
                _remember_check(write, entry.sha256, source)
        outcome.staged.append(_Staged(tmp, target, entry, linked, outcome))

    def _recycle(self, target: Path, rel: str, reason: str, *, keep: bool) -> dict[str, Any]:
        item = self.recycle.put(target, reason=reason, keep_original=keep, meta={"rel_path": rel})
        return item.index_values(rel)

    # -- what is wanted, what is there ------------------------------------------------

    def render_nfo(self, movie_id: int) -> bytes | None:
        """The NFO publishing would write for a movie now (None: it is not published)."""
        with self.db.session() as s:
            conn = s.connection()
            sources = store.load_sources(conn, [movie_id])
            if not sources or inputs.skip_reason(sources[0]) is not None:
                return None
            settings = store.load_settings(conn, sources[0].library_id)
        return inputs.render_nfo(sources[0], settings.profile, self.options)


# -- helpers ------------------------------------------------------------------------------


def _remember_check(write: store.MovieWrite, sha256: str, path: Path) -> None:
    """Note that a cache file was just read whole and matched its hash."""
    try:
        st = os.stat(path)
    except OSError:
        return
    write.cache_checks[sha256] = (st.st_size, st.st_mtime_ns)


def _record(entry: PlanEntry, size: int, mtime_ns: int, linked: bool) -> dict[str, Any]:
    return {
        "path": entry.path,
        "kind": entry.kind.value,
        "role": entry.role,
        "sha256": entry.sha256,
        "size": size,
        "mtime_ns": mtime_ns,
        "linked": linked,
    }


def _check_inside(root: Path, target: Path) -> None:
    """Never touch a path outside the library root."""
    base = os.path.join(os.path.normpath(root), "")  # with exactly one trailing separator
    if not os.path.normpath(target).startswith(base):
        raise PublishFailed(f"{target} is outside the library {root}")


def _settle(outcome: _Outcome) -> None:
    """Final status of a looked-at movie; its fingerprint only when all went well."""
    if outcome.status != "changed":
        return
    assert outcome.write is not None
    if outcome.errors:
        outcome.status = "failed"
        return
    if not any(e.action is not Action.KEEP for e in outcome.entries):
        outcome.status = "unchanged"
    if outcome.fingerprint is not None:
        outcome.write.fingerprint = outcome.fingerprint
        outcome.write.files = outcome.files


def _count(result: PublishResult, outcome: _Outcome) -> None:
    result.movies += 1
    result.temp_swept += outcome.swept
    if outcome.status == "skipped":
        result.skipped += 1
        key = outcome.reason or "skipped"
        result.skipped_reasons[key] = result.skipped_reasons.get(key, 0) + 1
        return
    for entry in outcome.entries:
        if entry.action is Action.CREATE:
            result.created += 1
        elif entry.action is Action.REPLACE:
            result.replaced += 1
        elif entry.action is Action.REMOVE:
            result.removed += 1
        else:
            result.kept += 1
    if outcome.status == "failed":
        result.failed += 1
        room = MAX_ERRORS - len(result.errors)
        result.errors.extend(outcome.errors[: max(room, 0)])
    if outcome.status == "unchanged":
        result.unchanged += 1
    elif any(e.action is not Action.KEEP for e in outcome.entries):
        result.changed += 1
        result.changed_ids.append(outcome.movie_id)


__all__ = [
    "MoviePlan",
    "Profile",
    "PublishFailed",
    "PublishOptions",
    "PublishResult",
    "Publisher",
]
