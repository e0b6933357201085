"""The SQL of publishing: settings, what a movie publishes from, published files.

The recycle bin's index is in `recycle_store.py`, verification's in `verify_store.py`.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Text, cast, delete, func, insert, literal, select, update
from sqlalchemy.dialects.postgresql import aggregate_order_by

from metarr.db import verify_store
from metarr.db.tables import (
    Base,
    ExternalIdRow,
    LibraryRow,
    MediaFileRow,
    MetadataFieldRow,
    MovieRow,
    StreamRow,
)
from metarr.db.tables_assets import AssetCandidateRow
from metarr.db.tables_publish import (
    PublishedFileRow,
    PublishedMovieRow,
    PublishSettingsRow,
    RecycleEntryRow,
)
from metarr.domain.media import METADATA_FIELDS, ProbeResult, Stream
from metarr.domain.publish import ARTWORK_ORDER, FileRole, Profile

_tables = Base.metadata.tables
MOVIES = _tables[MovieRow.__tablename__]
LIBRARIES = _tables[LibraryRow.__tablename__]
IDS = _tables[ExternalIdRow.__tablename__]
FIELDS = _tables[MetadataFieldRow.__tablename__]
FILES = _tables[MediaFileRow.__tablename__]
STREAMS = _tables[StreamRow.__tablename__]
ASSETS = _tables[AssetCandidateRow.__tablename__]
SETTINGS = _tables[PublishSettingsRow.__tablename__]
PUBLISHED = _tables[PublishedFileRow.__tablename__]
PUBLISHED_MOVIES = _tables[PublishedMovieRow.__tablename__]
RECYCLE = _tables[RecycleEntryRow.__tablename__]

CHUNK = 500  # ids per IN (...) list


def _chunks(values: Sequence[Any], size: int = CHUNK) -> Iterator[Sequence[Any]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


# -- settings -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PublishSettings:
    """How a library is published."""

    library_id: int
    profile: Profile = Profile.KODI
    hardlinks: bool = False
    verify_repair: bool = True


def library_root(conn: Connection, library_id: int) -> str | None:
    """The library's root path, or None when it does not exist."""
    return conn.scalar(select(LIBRARIES.c.path).where(LIBRARIES.c.id == library_id))


def load_settings(conn: Connection, library_id: int) -> PublishSettings:
    """The library's publish settings (defaults when never changed)."""
    row = conn.execute(select(SETTINGS).where(SETTINGS.c.library_id == library_id)).first()
    if row is None:
        return PublishSettings(library_id)
    return PublishSettings(library_id, Profile(row.profile), row.hardlinks, row.verify_repair)


def save_settings(conn: Connection, settings: PublishSettings, now: datetime) -> None:
    """Store the library's publish settings."""
    values = {
        "profile": settings.profile.value,
        "hardlinks": settings.hardlinks,
        "verify_repair": settings.verify_repair,
        "updated_at": now,
    }
    done = conn.execute(
        update(SETTINGS).where(SETTINGS.c.library_id == settings.library_id).values(**values)
    )
    if not done.rowcount:
        conn.execute(insert(SETTINGS).values(library_id=settings.library_id, **values))


# -- what a movie publishes from ------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PublishedRecord:
    """A `published_files` row."""

    path: str
    movie_id: int
    kind: FileRole
    role: str
    sha256: str
    size: int
    mtime_ns: int
    linked: bool


# Separators of the aggregated fields: JSON text never holds a raw control character.
_FIELD_SEP, _ROW_SEP = "\x1f", "\x1e"
# (container, duration, probe status, prober, probe error) of a main video or part
VideoRow = tuple[str | None, float | None, str | None, str | None, str | None]
# (index, kind, codec, language, title, default, forced, width, height, aspect,
#  frame rate, hdr, channels) of one of its streams
StreamRow_ = tuple[Any, ...]


@dataclass(slots=True)
class MovieSource:
    """Everything publishing a movie needs, loaded in bulk, kept as stored.

    Metadata stays JSON text and streams stay tuples until a movie really has to
    be rendered: an unchanged movie is recognised by a hash of these alone.
    """

    id: int
    library_id: int
    root: str
    key: str
    folder: str
    basename: str | None
    disc: str | None
    status: str
    deleted: bool
    title: str | None = None  # from the fields or the file name (the scan's choice)
    year: int | None = None
    # the metadata fields as stored: "<name>\x1f<JSON text>" joined by "\x1e", by name
    fields_blob: str = ""
    ids: dict[str, str] = field(default_factory=dict)
    video_rows: list[tuple[VideoRow, list[StreamRow_]]] = field(default_factory=list)
    artwork: list[tuple[str, str]] = field(default_factory=list)  # (type, sha256), best first
    published: dict[str, PublishedRecord] = field(default_factory=dict)
    fingerprint: str | None = None

    @property
    def own_folder(self) -> bool:
        """True when the folder holds this movie only (not a loose file among others)."""
        return self.key == self.folder

    def fields(self) -> dict[str, Any]:
        """The metadata values (decoded)."""
        out: dict[str, Any] = {}
        for item in self.fields_blob.split(_ROW_SEP) if self.fields_blob else ():
            name, _, text = item.partition(_FIELD_SEP)
            if name and text:
                out[name] = json.loads(text)
        return out

    def videos(self) -> list[ProbeResult]:
        """The probed main video (or the parts, in order) with their streams."""
        return [
            ProbeResult(
                ok=status == "ok",
                prober=prober,
                container=container,
                duration=duration,
                streams=tuple(
                    Stream(
                        index=r[0],
                        kind=r[1],
                        codec=r[2],
                        language=r[3],
                        title=r[4],
                        default=bool(r[5]),
                        forced=bool(r[6]),
                        width=r[7],
                        height=r[8],
                        aspect=r[9],
                        frame_rate=r[10],
                        hdr=r[11],
                        channels=r[12],
                    )
                    for r in streams
                ),
                error=error,
            )
            for (container, duration, status, prober, error), streams in self.video_rows
        ]


def library_movie_ids(conn: Connection, library_id: int, scope: str | None = None) -> list[int]:
    """Ids of the library's movies (not deleted), optionally under one folder."""
    query = select(MOVIES.c.id).where(
        MOVIES.c.library_id == library_id, MOVIES.c.deleted_at.is_(None)
    )
    if scope:
        query = query.where(
            (MOVIES.c.folder == scope)
            | (func.substr(MOVIES.c.folder, 1, len(scope) + 1) == scope + "/")
        )
    return [r.id for r in conn.execute(query.order_by(MOVIES.c.folder, MOVIES.c.id))]


def load_sources(conn: Connection, movie_ids: Sequence[int]) -> list[MovieSource]:
    """The movies with their fields, ids, probed videos, selected artwork and records."""
    found: dict[int, MovieSource] = {}
    for chunk in _chunks(list(movie_ids)):
        rows = conn.execute(
            select(
                MOVIES.c.id,
                MOVIES.c.library_id,
                MOVIES.c.key,
                MOVIES.c.folder,
                MOVIES.c.basename,
                MOVIES.c.disc,
                MOVIES.c.status,
                MOVIES.c.deleted_at,
                MOVIES.c.title,
                MOVIES.c.year,
                LIBRARIES.c.path,
            )
            .join(LIBRARIES, LIBRARIES.c.id == MOVIES.c.library_id)
            .where(MOVIES.c.id.in_(chunk))
        )
        for r in rows:
            found[r.id] = MovieSource(
                id=r.id,
                library_id=r.library_id,
                root=r.path,
                key=r.key,
                folder=r.folder,
                basename=r.basename,
                disc=r.disc,
                status=r.status,
                deleted=r.deleted_at is not None,
                title=r.title,
                year=r.year,
            )
        _load_fields(conn, chunk, found)
        _load_videos(conn, chunk, found)
        _load_artwork(conn, chunk, found)
        for record in _published(conn, PUBLISHED.c.movie_id.in_(chunk)):
            found[record.movie_id].published[record.path] = record
        for fp in conn.execute(
            select(PUBLISHED_MOVIES.c.movie_id, PUBLISHED_MOVIES.c.fingerprint).where(
                PUBLISHED_MOVIES.c.movie_id.in_(chunk)
            )
        ):
            found[fp.movie_id].fingerprint = fp.fingerprint
    return [found[i] for i in movie_ids if i in found]


def _load_fields(conn: Connection, chunk: Sequence[int], found: dict[int, MovieSource]) -> None:
    """Metadata as stored (JSON text), one aggregated row per movie: far fewer rows to fetch.

    Only the fields Metarr manages (not hidden bookkeeping fields), in name order, so
    the text itself can be hashed to tell whether anything changed. (SQLite before
    3.44 cannot order inside `group_concat`; it follows the ordered subquery in
    practice, and an order that did change would only cost one unneeded render.)
    """
    text = FIELDS.c.field + _FIELD_SEP + cast(FIELDS.c.value, Text)
    # `field || ''`: filter the rows a movie's index range gives, rather than let SQLite
    # probe the index once per (movie, field name) pair, which is several times slower
    managed = FIELDS.c.field.concat("").in_(METADATA_FIELDS)
    if conn.dialect.name == "postgresql":
        # string_agg(item, sep ORDER BY field): the order clause follows the last argument
        joined = func.string_agg(text, aggregate_order_by(literal(_ROW_SEP), FIELDS.c.field))
        query = select(FIELDS.c.movie_id, joined).where(managed).group_by(FIELDS.c.movie_id)
    else:
        ordered = (
            select(FIELDS.c.movie_id.label("movie_id"), text.label("item"))
            .where(FIELDS.c.movie_id.in_(chunk), managed)
            .order_by(FIELDS.c.movie_id, FIELDS.c.field)
            .subquery()
        )
        query = select(ordered.c.movie_id, func.group_concat(ordered.c.item, _ROW_SEP)).group_by(
            ordered.c.movie_id
        )
    if conn.dialect.name == "postgresql":
        query = query.where(FIELDS.c.movie_id.in_(chunk))
    for movie_id, joined_text in conn.execute(query):
        found[movie_id].fields_blob = joined_text or ""
    for r in conn.execute(
        select(IDS.c.movie_id, IDS.c.provider, IDS.c.value).where(IDS.c.movie_id.in_(chunk))
    ):
        found[r[0]].ids[r[1]] = r[2]


def _load_videos(conn: Connection, chunk: Sequence[int], found: dict[int, MovieSource]) -> None:
    """Main videos (or parts, in order) with their streams, in one joined query."""
    query = (
        select(
            FILES.c.id,
            FILES.c.movie_id,
            FILES.c.container,
            FILES.c.duration,
            FILES.c.probe_status,
            FILES.c.prober,
            FILES.c.probe_error,
            STREAMS.c.index,
            STREAMS.c.kind,
            STREAMS.c.codec,
            STREAMS.c.language,
            STREAMS.c.title,
            STREAMS.c.is_default,
            STREAMS.c.forced,
            STREAMS.c.width,
            STREAMS.c.height,
            STREAMS.c.aspect,
            STREAMS.c.frame_rate,
            STREAMS.c.hdr,
            STREAMS.c.channels,
        )
        .select_from(FILES.outerjoin(STREAMS, STREAMS.c.file_id == FILES.c.id))
        .where(
            FILES.c.movie_id.in_(chunk),
            FILES.c.kind == "video",
            FILES.c.role.in_(("main", "part")),
        )
        .order_by(FILES.c.movie_id, FILES.c.part, FILES.c.path, FILES.c.id, STREAMS.c.index)
    )
    current_file: int | None = None
    streams: list[StreamRow_] = []
    for r in conn.execute(query):
        if r[0] != current_file:
            current_file, streams = r[0], []
            found[r[1]].video_rows.append(((r[2], r[3], r[4], r[5], r[6]), streams))
        if r[7] is not None:  # a file without streams has one row of NULLs
            streams.append(tuple(r[7:]))


def _load_artwork(conn: Connection, chunk: Sequence[int], found: dict[int, MovieSource]) -> None:
    rows = conn.execute(
        select(
            ASSETS.c.movie_id,
            ASSETS.c.type,
            ASSETS.c.sha256,
            ASSETS.c.score,
            ASSETS.c.selected_by,
            ASSETS.c.id,
        ).where(
            ASSETS.c.movie_id.in_(chunk),
            ASSETS.c.type.in_(ARTWORK_ORDER),  # collection art does not live beside a movie
            ASSETS.c.selected.is_(True),
            ASSETS.c.blocked.is_(False),
            ASSETS.c.sha256.is_not(None),
        )
    ).all()
    # a person's picks first, then by score (the first fanart is `-fanart`, the rest numbered)
    for r in sorted(rows, key=lambda r: (r.movie_id, r.selected_by != "user", -r.score, r.id)):
        found[r.movie_id].artwork.append((r.type, r.sha256))


_ROLES = {role.value: role for role in FileRole}


def _published(conn: Connection, *where: Any) -> Iterator[PublishedRecord]:
    columns = (
        PUBLISHED.c.path,
        PUBLISHED.c.movie_id,
        PUBLISHED.c.kind,
        PUBLISHED.c.role,
        PUBLISHED.c.sha256,
        PUBLISHED.c.size,
        PUBLISHED.c.mtime_ns,
        PUBLISHED.c.linked,
    )
    for path, movie_id, kind, role, sha, size, mtime_ns, linked in conn.execute(
        select(*columns).where(*where)
    ):
        yield PublishedRecord(path, movie_id, _ROLES[kind], role, sha, size, mtime_ns, linked)


def actor_owners(conn: Connection, library_id: int, folders: Iterable[str]) -> dict[str, int]:
    """Published `.actors/` paths in these (shared) folders -> the movie that published them."""
    folder_list = sorted(set(folders))
    owners: dict[str, int] = {}
    for chunk in _chunks(folder_list):
        rows = conn.execute(
            select(PUBLISHED.c.path, PUBLISHED.c.movie_id)
            .join(MOVIES, MOVIES.c.id == PUBLISHED.c.movie_id)
            .where(
                PUBLISHED.c.library_id == library_id,
                PUBLISHED.c.kind == FileRole.ACTOR.value,
                MOVIES.c.folder.in_(chunk),
            )
        )
        owners.update({r.path: r.movie_id for r in rows})
    return owners


def published_of_library(
    conn: Connection, library_id: int, movie_ids: Sequence[int] | None = None
) -> dict[int, list[PublishedRecord]]:
    """Published files per movie (of the whole library, or of some movies)."""
    out: dict[int, list[PublishedRecord]] = defaultdict(list)
    if movie_ids is None:
        for record in _published(conn, PUBLISHED.c.library_id == library_id):
            out[record.movie_id].append(record)
        return out
    for chunk in _chunks(list(movie_ids)):
        for record in _published(conn, PUBLISHED.c.movie_id.in_(chunk)):
            out[record.movie_id].append(record)
    return out


# -- results of a publish -------------------------------------------------------------


@dataclass(slots=True)
class MovieWrite:
    """What publishing changed for one movie, to be recorded."""

    movie_id: int
    library_id: int
    upserts: list[dict[str, Any]] = field(default_factory=list)  # published_files values
    deletes: list[str] = field(default_factory=list)  # paths no longer Metarr's
    recycled: list[dict[str, Any]] = field(default_factory=list)  # recycle_bin values
    fingerprint: str | None = None  # set when everything wanted is in place
    files: int = 0
    cache_checks: dict[str, tuple[int, int]] = field(default_factory=dict)  # read intact


def record_writes(conn: Connection, writes: Sequence[MovieWrite], now: datetime) -> None:
    """Record a batch of publish results in one transaction."""
    paths: dict[int, list[str]] = defaultdict(list)
    rows: list[dict[str, Any]] = []
    recycled: list[dict[str, Any]] = []
    done: list[MovieWrite] = []
    for w in writes:
        paths[w.library_id] += w.deletes + [u["path"] for u in w.upserts]
        rows += [
            {"library_id": w.library_id, "movie_id": w.movie_id, "published_at": now, **u}
            for u in w.upserts
        ]
        recycled += [{"library_id": w.library_id, "movie_id": w.movie_id, **r} for r in w.recycled]
        if w.fingerprint is not None:
            done.append(w)
    for library_id, lib_paths in paths.items():
        for chunk in _chunks(sorted(set(lib_paths))):
            conn.execute(
                delete(PUBLISHED).where(
                    PUBLISHED.c.library_id == library_id, PUBLISHED.c.path.in_(chunk)
                )
            )
    if rows:
        conn.execute(insert(PUBLISHED), rows)
    if recycled:
        conn.execute(insert(RECYCLE), recycled)
    checks: dict[str, tuple[int, int]] = {}
    for w in writes:
        checks.update(w.cache_checks)
    if checks:
        verify_store.save_cache_checks(conn, checks, now)
    movie_ids = [w.movie_id for w in writes]
    for chunk in _chunks(movie_ids):
        conn.execute(delete(PUBLISHED_MOVIES).where(PUBLISHED_MOVIES.c.movie_id.in_(chunk)))
    if done:
        conn.execute(
            insert(PUBLISHED_MOVIES),
            [
                {
                    "movie_id": w.movie_id,
                    "fingerprint": w.fingerprint,
                    "files": w.files,
                    "published_at": now,
                }
                for w in done
            ],
        )


def update_record(
    conn: Connection, library_id: int, current_path: str, values: dict[str, Any]
) -> None:
    """Change one published file's record (stat after a repair, a new path after a rename)."""
    conn.execute(
        update(PUBLISHED)
        .where(PUBLISHED.c.library_id == library_id, PUBLISHED.c.path == current_path)
        .values(**values)
    )


def forget_paths(conn: Connection, library_id: int, paths: Iterable[str]) -> None:
    """Drop records: these files are no longer Metarr's."""
    for chunk in _chunks(sorted(set(paths))):
        conn.execute(
            delete(PUBLISHED).where(
                PUBLISHED.c.library_id == library_id, PUBLISHED.c.path.in_(chunk)
            )
        )


def movie_library(conn: Connection, movie_id: int) -> int | None:
    """The library of a movie, or None when the movie does not exist."""
    return conn.scalar(select(MOVIES.c.library_id).where(MOVIES.c.id == movie_id))
