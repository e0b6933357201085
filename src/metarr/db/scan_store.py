"""All the SQL of a library scan: load the known state, write changed movies in batches."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Table, and_, bindparam, delete, insert, or_, select, update

from metarr.db.tables import (
    Base,
    ExternalIdRow,
    LockRow,
    MediaFileRow,
    MetadataFieldRow,
    MovieRow,
    StreamRow,
)
from metarr.db.tables_publish import PublishedFileRow
from metarr.domain.fields import FieldChange
from metarr.domain.media import ProbeResult

_tables = Base.metadata.tables
HISTORY = _tables["history"]
FILES = _tables[MediaFileRow.__tablename__]
MOVIES = _tables[MovieRow.__tablename__]
STREAMS = _tables[StreamRow.__tablename__]
IDS = _tables[ExternalIdRow.__tablename__]
FIELDS = _tables[MetadataFieldRow.__tablename__]
LOCKS = _tables[LockRow.__tablename__]
PUBLISHED = _tables[PublishedFileRow.__tablename__]


@dataclass(slots=True)
class KnownFile:
    """What the database knows of one file (enough to tell it is unchanged)."""

    id: int
    movie_id: int | None
    size: int
    mtime_ns: int
    kind: str
    role: str | None
    part: int | None
    quick_hash: str | None
    probe_status: str | None


@dataclass(slots=True)
class KnownMovie:
    """What the database knows of one movie."""

    id: int
    key: str
    deleted_at: datetime | None
    parse_key: str | None
    parsed_title: str | None
    parsed_year: int | None


@dataclass(slots=True)
class LibraryState:
    """The known files and movies of a library (or of one folder of it)."""

    library_id: int
    files: dict[str, KnownFile] = field(default_factory=dict)
    movies: dict[str, KnownMovie] = field(default_factory=dict)
    files_by_movie: dict[int, list[str]] = field(default_factory=lambda: defaultdict(list))


@dataclass(slots=True)
class FileWrite:
    """A file of a changed movie, as it must be stored."""

    path: str
    kind: str
    role: str | None
    language: str | None
    forced: bool
    sdh: bool
    part: int | None
    actor: str | None
    size: int
    mtime_ns: int
    quick_hash: str | None = None
    probe: ProbeResult | None = None  # None: keep the stored probe result


@dataclass(slots=True)
class MovieWrite:
    """Everything a scan writes for one changed (or new, moved, restored) movie."""

    movie_id: int | None
    values: dict[str, Any]
    files: list[FileWrite]
    ids: dict[str, tuple[str, str]]  # type -> (value, source)
    field_changes: list[FieldChange]
    field_source: str = "nfo"


def _scoped(column: Any, scope: str | None) -> Any:
    if not scope:
        return True
    return or_(column == scope, column.startswith(scope + "/", autoescape=True))


def load_state(conn: Connection, library_id: int, scope: str | None) -> LibraryState:
    """Load the files and movies of `library_id` under `scope` (whole library if None)."""
    state = LibraryState(library_id)
    rows = conn.execute(
        select(
            FILES.c.id,
            FILES.c.path,
            FILES.c.movie_id,
            FILES.c.size,
            FILES.c.mtime_ns,
            FILES.c.kind,
            FILES.c.role,
            FILES.c.part,
            FILES.c.quick_hash,
            FILES.c.probe_status,
        ).where(FILES.c.library_id == library_id, _scoped(FILES.c.path, scope))
    )
    files, by_movie = state.files, state.files_by_movie
    # fetch as plain tuples: a no-change rescan of 10,000 movies loads ~50,000 rows
    for fid, path, movie_id, size, mtime_ns, kind, role, part, qhash, probe in rows.all():
        files[path] = KnownFile(fid, movie_id, size, mtime_ns, kind, role, part, qhash, probe)
        if movie_id is not None:
            by_movie[movie_id].append(path)
    movie_rows = conn.execute(
        select(
            MOVIES.c.id,
            MOVIES.c.key,
            MOVIES.c.deleted_at,
            MOVIES.c.parse_key,
            MOVIES.c.parsed_title,
            MOVIES.c.parsed_year,
        ).where(MOVIES.c.library_id == library_id, _scoped(MOVIES.c.key, scope))
    )
    for m in movie_rows:
        state.movies[m.key] = KnownMovie(
            m.id, m.key, m.deleted_at, m.parse_key, m.parsed_title, m.parsed_year
        )
    return state


def load_kept_ids(
    conn: Connection, movie_ids: Iterable[int]
) -> dict[int, dict[str, tuple[str, str]]]:
    """Ids set by a person, a webhook or a provider: a rescan keeps them."""
    out: dict[int, dict[str, tuple[str, str]]] = defaultdict(dict)
    for chunk in _chunks(list(movie_ids)):
        for movie_id, provider, value, source in conn.execute(
            select(IDS.c.movie_id, IDS.c.provider, IDS.c.value, IDS.c.source).where(
                IDS.c.movie_id.in_(chunk), IDS.c.source.in_(("user", "webhook", "provider"))
            )
        ):
            out[movie_id][provider] = (value, source)
    return out


def load_fields_and_locks(
    conn: Connection, movie_ids: Iterable[int]
) -> tuple[dict[int, dict[str, Any]], dict[int, set[str]]]:
    """Current metadata values and locks of the given movies."""
    fields: dict[int, dict[str, Any]] = defaultdict(dict)
    locks: dict[int, set[str]] = defaultdict(set)
    for chunk in _chunks(list(movie_ids)):
        for movie_id, name, value in conn.execute(
            select(FIELDS.c.movie_id, FIELDS.c.field, FIELDS.c.value).where(
                FIELDS.c.movie_id.in_(chunk)
            )
        ):
            fields[movie_id][name] = value
        for movie_id, target in conn.execute(
            select(LOCKS.c.movie_id, LOCKS.c.target).where(LOCKS.c.movie_id.in_(chunk))
        ):
            locks[movie_id].add(target)
    return fields, locks


def load_published_nfos(conn: Connection, movie_ids: Iterable[int]) -> dict[int, dict[str, str]]:
    """The NFO files Metarr last published for the given movies: {movie: {path: sha256}}."""
    found: dict[int, dict[str, str]] = defaultdict(dict)
    for chunk in _chunks(list(movie_ids)):
        for movie_id, path, sha in conn.execute(
            select(PUBLISHED.c.movie_id, PUBLISHED.c.path, PUBLISHED.c.sha256).where(
                PUBLISHED.c.movie_id.in_(chunk), PUBLISHED.c.kind == "nfo"
            )
        ):
            found[movie_id][path] = sha
    return found


def find_movies_by_ids(
    conn: Connection, library_id: int, provider: str, values: Iterable[str]
) -> dict[str, int]:
    """Movies of the library holding one of `values` for `provider` (for moves)."""
    vals = list(values)
    if not vals:
        return {}
    rows = conn.execute(
        select(IDS.c.value, IDS.c.movie_id)
        .join(MOVIES, MOVIES.c.id == IDS.c.movie_id)
        .where(MOVIES.c.library_id == library_id, IDS.c.provider == provider, IDS.c.value.in_(vals))
    )
    return {r.value: r.movie_id for r in rows}


def write_movies(
    conn: Connection, library_id: int, writes: list[MovieWrite], now: datetime
) -> None:
    """Persist a batch of changed movies (caller owns the transaction).

    Statements are batched across the whole batch (executemany), and what is
    stored is read with one query per table for the whole batch, because a first
    scan writes tens of thousands of rows and per-movie round trips dominate.
    """
    new = [w for w in writes if w.movie_id is None]
    old = [w for w in writes if w.movie_id is not None]
    if new:
        # ids are matched by key (unique in a library): asking for RETURNING rows in
        # parameter order makes SQLAlchemy insert row by row on SQLite
        rows = conn.execute(
            insert(MOVIES).returning(MOVIES.c.id, MOVIES.c.key),
            [
                {"library_id": library_id, "created_at": now, "updated_at": now, "monitored": True}
                | w.values
                for w in new
            ],
        ).all()
        by_key = {r.key: r.id for r in rows}
        for w in new:
            w.movie_id = by_key[w.values["key"]]
    _update_rows(
        conn, MOVIES, [{"id": w.movie_id, "updated_at": now} | w.values for w in old], by=("id",)
    )
    _write_files(conn, library_id, writes, {id(w) for w in new}, now)
    _write_ids(conn, writes, {id(w) for w in new}, now)
    _write_fields(conn, writes, now)


def _chunks(items: list[Any], size: int = 500) -> Iterator[list[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _update_rows(
    conn: Connection, table: Table, rows: list[dict[str, Any]], *, by: tuple[str, ...]
) -> None:
    """UPDATE many rows with executemany: `by` columns select the row, the rest are set.

    Rows setting different columns go in separate statements (one per column set).
    """
    groups: dict[tuple[str, ...], list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        groups[tuple(sorted(k for k in row if k not in by))].append(row)
    # the WHERE parameters are renamed: a bound name may not be a column being SET
    where = [table.c[col] == bindparam(f"by_{col}") for col in by]
    for columns, group in groups.items():
        conn.execute(
            update(table).where(*where).values({c: bindparam(c) for c in columns}),
            [{f"by_{col}": row[col] for col in by} | {c: row[c] for c in columns} for row in group],
        )


def _ids_by_path(conn: Connection, library_id: int, paths: list[str]) -> dict[str, int]:
    out: dict[str, int] = {}
    for chunk in _chunks(paths):
        for r in conn.execute(
            select(FILES.c.path, FILES.c.id).where(
                FILES.c.library_id == library_id, FILES.c.path.in_(chunk)
            )
        ):
            out[r.path] = r.id
    return out


_FILE_DEFAULTS: dict[str, Any] = {
    "quick_hash": None,
    "container": None,
    "duration": None,
    "probe_status": None,
    "prober": None,
    "probe_error": None,
}


def _write_files(
    conn: Connection,
    library_id: int,
    writes: list[MovieWrite],
    new_ids: set[int],
    now: datetime,
) -> None:
    # files the batch's known movies no longer have (a new movie has no files yet)
    old = [w.movie_id for w in writes if id(w) not in new_ids]
    keep = {(w.movie_id, f.path) for w in writes if id(w) not in new_ids for f in w.files}
    gone: list[int] = []
    for chunk in _chunks(old):
        for file_id, movie_id, path in conn.execute(
            select(FILES.c.id, FILES.c.movie_id, FILES.c.path).where(FILES.c.movie_id.in_(chunk))
        ):
            if (movie_id, path) not in keep:
                gone.append(file_id)
    for chunk in _chunks(gone):
        conn.execute(delete(FILES).where(FILES.c.id.in_(chunk)))
    all_paths = [f.path for w in writes for f in w.files]
    existing = _ids_by_path(conn, library_id, all_paths)
    inserts: list[dict[str, Any]] = []
    updates: list[dict[str, Any]] = []
    probed: list[tuple[str, ProbeResult]] = []
    for w in writes:
        for f in w.files:
            values: dict[str, Any] = {
                "movie_id": w.movie_id,
                "kind": f.kind,
                "role": f.role,
                "language": f.language,
                "forced": f.forced,
                "sdh": f.sdh,
                "part": f.part,
                "actor": f.actor,
                "size": f.size,
                "mtime_ns": f.mtime_ns,
                "updated_at": now,
            }
            if f.quick_hash is not None:
                values["quick_hash"] = f.quick_hash
            if f.probe is not None:
                values |= _probe_values(f.probe)
                probed.append((f.path, f.probe))
            file_id = existing.get(f.path)
            if file_id is None:
                inserts.append(
                    _FILE_DEFAULTS
                    | {"library_id": library_id, "path": f.path, "created_at": now}
                    | values
                )
            else:
                updates.append({"id": file_id} | values)
    _update_rows(conn, FILES, updates, by=("id",))
    if inserts:
        conn.execute(insert(FILES), inserts)
    if not probed:
        return
    # only files stored before this batch can have streams to replace
    for chunk in _chunks([existing[p] for p, _ in probed if p in existing]):
        conn.execute(delete(STREAMS).where(STREAMS.c.file_id.in_(chunk)))
    ids = existing | _ids_by_path(conn, library_id, [p for p, _ in probed if p not in existing])
    stream_rows = [
        {
            "file_id": ids[path],
            "index": s.index,
            "kind": s.kind,
            "codec": s.codec,
            "language": s.language,
            "title": s.title,
            "is_default": s.default,
            "forced": s.forced,
            "width": s.width,
            "height": s.height,
            "aspect": s.aspect,
            "frame_rate": s.frame_rate,
            "hdr": s.hdr,
            "channels": s.channels,
        }
        for path, result in probed
        for s in result.streams
    ]
    if stream_rows:
        conn.execute(insert(STREAMS), stream_rows)


def _probe_values(probe: ProbeResult) -> dict[str, Any]:
    return {
        "container": probe.container,
        "duration": probe.duration,
        "probe_status": "ok" if probe.ok else "unreadable",
        "prober": probe.prober,
        "probe_error": (probe.error or "")[:2000] or None,
    }


def _write_ids(
    conn: Connection, writes: list[MovieWrite], new_ids: set[int], now: datetime
) -> None:
    current: dict[int, dict[str, tuple[str, str]]] = defaultdict(dict)
    for chunk in _chunks([w.movie_id for w in writes if id(w) not in new_ids]):
        for movie_id, provider, value, source in conn.execute(
            select(IDS.c.movie_id, IDS.c.provider, IDS.c.value, IDS.c.source).where(
                IDS.c.movie_id.in_(chunk)
            )
        ):
            current[movie_id][provider] = (value, source)
    stale: list[dict[str, Any]] = []
    inserts: list[dict[str, Any]] = []
    updates: list[dict[str, Any]] = []
    for w in writes:
        stored = current.get(w.movie_id, {}) if w.movie_id is not None else {}
        stale += [{"by_movie_id": w.movie_id, "by_provider": p} for p in stored if p not in w.ids]
        for provider, (value, source) in w.ids.items():
            row = {"movie_id": w.movie_id, "provider": provider, "value": value, "source": source}
            if provider not in stored:
                inserts.append(row | {"updated_at": now})
            elif stored[provider] != (value, source):
                updates.append(row | {"updated_at": now})
    if stale:
        conn.execute(
            delete(IDS).where(
                IDS.c.movie_id == bindparam("by_movie_id"),
                IDS.c.provider == bindparam("by_provider"),
            ),
            stale,
        )
    _update_rows(conn, IDS, updates, by=("movie_id", "provider"))
    if inserts:
        conn.execute(insert(IDS), inserts)


def _write_fields(conn: Connection, writes: list[MovieWrite], now: datetime) -> None:
    inserts: list[dict[str, Any]] = []
    updates: list[dict[str, Any]] = []
    history: list[dict[str, Any]] = []
    for w in writes:
        for change in w.field_changes:
            history.append(
                {
                    "movie_id": w.movie_id,
                    "at": now,
                    "source": w.field_source,
                    "kind": "field",
                    "target": change.field,
                    "old": change.old,
                    "new": change.new,
                }
            )
            row = {
                "movie_id": w.movie_id,
                "field": change.field,
                "value": change.new,
                "source": w.field_source,
                "updated_at": now,
            }
            (inserts if change.old is None else updates).append(row)
    _update_rows(conn, FIELDS, updates, by=("movie_id", "field"))
    if inserts:
        conn.execute(insert(FIELDS), inserts)
    if history:
        conn.execute(insert(HISTORY), history)


def soft_delete_movies(conn: Connection, movie_ids: list[int], now: datetime) -> None:
    """Mark movies gone (grace period) and forget their files; metadata and locks stay."""
    if not movie_ids:
        return
    conn.execute(delete(FILES).where(FILES.c.movie_id.in_(movie_ids)))
    conn.execute(
        update(MOVIES)
        .where(MOVIES.c.id.in_(movie_ids), MOVIES.c.deleted_at.is_(None))
        .values(deleted_at=now, updated_at=now)
    )


def purge_deleted(conn: Connection, library_id: int, before: datetime) -> int:
    """Remove movies soft-deleted before `before`; returns how many."""
    result = conn.execute(
        delete(MOVIES).where(and_(MOVIES.c.library_id == library_id, MOVIES.c.deleted_at < before))
    )
    return int(result.rowcount or 0)


def write_orphans(
    conn: Connection, library_id: int, files: list[FileWrite], gone: list[str], now: datetime
) -> None:
    """Store files that belong to no movie (kind unknown), drop vanished ones."""
    if gone:
        for start in range(0, len(gone), 500):
            conn.execute(
                delete(FILES).where(
                    FILES.c.library_id == library_id, FILES.c.path.in_(gone[start : start + 500])
                )
            )
    if not files:
        return
    existing = _ids_by_path(conn, library_id, [f.path for f in files])
    inserts: list[dict[str, Any]] = []
    updates: list[dict[str, Any]] = []
    for f in files:
        values = {
            "movie_id": None,
            "kind": f.kind,
            "role": f.role,
            "language": None,
            "forced": False,
            "sdh": False,
            "part": None,
            "actor": None,
            "size": f.size,
            "mtime_ns": f.mtime_ns,
            "updated_at": now,
        }
        if f.path in existing:
            updates.append({"id": existing[f.path]} | values)
        else:
            inserts.append(
                {
                    "library_id": library_id,
                    "path": f.path,
                    "created_at": now,
                    "quick_hash": None,
                    "container": None,
                    "duration": None,
                    "probe_status": None,
                    "prober": None,
                    "probe_error": None,
                }
                | values
            )
    _update_rows(conn, FILES, updates, by=("id",))
    if inserts:
        conn.execute(insert(FILES), inserts)
