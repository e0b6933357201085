"""The SQL of identification and enrichment: targets, ids, fields, locks, history
(artwork candidates and selections: `candidate_store`)."""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Select, bindparam, delete, func, insert, select, update

from metarr.db.scan_store import load_fields_and_locks
from metarr.db.tables import (
    Base,
    ExternalIdRow,
    HistoryRow,
    LibraryRow,
    LockRow,
    MediaFileRow,
    MetadataFieldRow,
    MovieRow,
)
from metarr.db.tables_assets import AssetCandidateRow, IdentifyCandidateRow
from metarr.domain.fields import FieldChange
from metarr.domain.titles import TITLE_FIELDS, display_title

_tables = Base.metadata.tables
MOVIES = _tables[MovieRow.__tablename__]
IDS = _tables[ExternalIdRow.__tablename__]
FIELDS = _tables[MetadataFieldRow.__tablename__]
LOCKS = _tables[LockRow.__tablename__]
HISTORY = _tables[HistoryRow.__tablename__]
FILES = _tables[MediaFileRow.__tablename__]
LIBRARIES = _tables[LibraryRow.__tablename__]
ASSETS = _tables[AssetCandidateRow.__tablename__]
IDENTIFY = _tables[IdentifyCandidateRow.__tablename__]

# Where provider-written fields come from (cleared when a person changes the identity).
PROVIDER_SOURCES = ("tmdb", "fanart", "omdb", "provider")

__all__ = [
    "PROVIDER_SOURCES",
    "MovieTarget",
    "load_fields_and_locks",
]


@dataclass(frozen=True, slots=True)
class MovieTarget:
    """What the phases need to know about one movie."""

    id: int
    library_id: int
    title: str | None
    year: int | None
    parsed_title: str | None
    parsed_year: int | None
    status: str
    monitored: bool
    deleted: bool
    ids: dict[str, tuple[str, str]] = field(default_factory=dict)  # provider -> (value, source)
    sort_key: str | None = None

    @property
    def tmdb(self) -> int | None:
        """The TMDB id, when known and numeric."""
        value = self.ids.get("tmdb", ("", ""))[0]
        return int(value) if value.isdigit() else None

    @property
    def imdb(self) -> str | None:
        """The IMDb id, when known."""
        value = self.ids.get("imdb")
        return value[0] if value else None


@dataclass(frozen=True, slots=True)
class ArtworkState:
    """What the artwork step needs to know about one movie."""

    deleted: bool
    monitored: bool
    locks: set[str]
    cast: Any  # the `cast` field's value (None when absent)


# -- movies and ids -------------------------------------------------------------------


def load_target(conn: Connection, movie_id: int) -> MovieTarget | None:
    """The movie with its ids, or None when it does not exist."""
    row = conn.execute(select(MOVIES).where(MOVIES.c.id == movie_id)).first()
    if row is None:
        return None
    ids = {
        r.provider: (r.value, r.source)
        for r in conn.execute(
            select(IDS.c.provider, IDS.c.value, IDS.c.source).where(IDS.c.movie_id == movie_id)
        )
    }
    return _target(row, ids)


def _target(row: Any, ids: dict[str, tuple[str, str]]) -> MovieTarget:
    """A MovieTarget from a `movies` row (and its ids, read apart)."""
    return MovieTarget(
        id=row.id,
        library_id=row.library_id,
        title=row.title,
        year=row.year,
        parsed_title=row.parsed_title,
        parsed_year=row.parsed_year,
        status=row.status,
        monitored=bool(row.monitored),
        deleted=row.deleted_at is not None,
        ids=ids,
        sort_key=row.sort_key,
    )


# The enrich job's statements run for every movie: built once (no per-call construction
# or cache-key work), a fixed number per movie whatever the number of fields or artwork.


@functools.lru_cache(maxsize=8)
def _enrich_target_statement(set_types: tuple[str, ...]) -> Select[Any]:
    has_set = (
        select(ASSETS.c.id)
        .where(ASSETS.c.movie_id == MOVIES.c.id, ASSETS.c.type.in_(set_types))
        .limit(1)
        .exists()
    )
    return (
        select(
            MOVIES.c.id,
            MOVIES.c.library_id,
            MOVIES.c.title,
            MOVIES.c.year,
            MOVIES.c.sort_key,
            MOVIES.c.parsed_title,
            MOVIES.c.parsed_year,
            MOVIES.c.status,
            MOVIES.c.monitored,
            MOVIES.c.deleted_at,
            has_set.label("has_set"),
            IDS.c.provider,
            IDS.c.value,
            IDS.c.source,
        )
        .select_from(MOVIES.outerjoin(IDS, IDS.c.movie_id == MOVIES.c.id))
        .where(MOVIES.c.id == bindparam("movie_id"))
    )


def load_enrich_target(
    conn: Connection, movie_id: int, set_types: Iterable[str]
) -> tuple[MovieTarget | None, bool]:
    """The movie with its ids, and whether it has candidates of `set_types` already.

    One statement: the movie joined with its ids, the flag as a subquery.
    """
    rows = conn.execute(
        _enrich_target_statement(tuple(sorted(set_types))), {"movie_id": movie_id}
    ).all()
    if not rows:
        return None, False
    row = rows[0]
    target = _target(row, {r.provider: (r.value, r.source) for r in rows if r.provider is not None})
    return target, bool(row.has_set)


def load_artwork_state(conn: Connection, movie_id: int) -> ArtworkState | None:
    """The movie's state, locks and cast for its artwork step; None when it does not exist."""
    row = conn.execute(
        select(MOVIES.c.deleted_at, MOVIES.c.monitored, FIELDS.c.value)
        .select_from(
            MOVIES.outerjoin(
                FIELDS, (FIELDS.c.movie_id == MOVIES.c.id) & (FIELDS.c.field == "cast")
            )
        )
        .where(MOVIES.c.id == movie_id)
    ).first()
    if row is None:
        return None
    return ArtworkState(
        deleted=row.deleted_at is not None,
        monitored=bool(row.monitored),
        locks=load_locks(conn, movie_id),
        cast=row.value,
    )


def library_exists(conn: Connection, library_id: int) -> bool:
    """True when the library exists."""
    return conn.scalar(select(LIBRARIES.c.id).where(LIBRARIES.c.id == library_id)) is not None


def library_movies(conn: Connection, library_id: int) -> list[tuple[int, bool, str, bool, bool]]:
    """(id, has tmdb id, status, has imdb id, monitored) of the library's live movies."""
    movies = conn.execute(
        select(MOVIES.c.id, MOVIES.c.status, MOVIES.c.monitored)
        .where(MOVIES.c.library_id == library_id, MOVIES.c.deleted_at.is_(None))
        .order_by(MOVIES.c.id)
    ).all()
    ids: dict[int, set[str]] = {}
    for r in conn.execute(
        select(IDS.c.movie_id, IDS.c.provider)
        .join(MOVIES, MOVIES.c.id == IDS.c.movie_id)
        .where(MOVIES.c.library_id == library_id)
    ):
        ids.setdefault(r.movie_id, set()).add(r.provider)
    return [
        (m.id, "tmdb" in ids.get(m.id, ()), m.status, "imdb" in ids.get(m.id, ()), m.monitored)
        for m in movies
    ]


def set_external_id(
    conn: Connection, movie_id: int, provider: str, value: str, source: str, now: datetime
) -> bool:
    """Insert or replace one id; returns True when something changed."""
    current = conn.execute(
        select(IDS.c.value, IDS.c.source).where(
            IDS.c.movie_id == movie_id, IDS.c.provider == provider
        )
    ).first()
    if current is None:
        conn.execute(
            insert(IDS).values(
                movie_id=movie_id, provider=provider, value=value, source=source, updated_at=now
            )
        )
        return True
    if (current.value, current.source) == (value, source):
        return False
    conn.execute(
        update(IDS)
        .where(IDS.c.movie_id == movie_id, IDS.c.provider == provider)
        .values(value=value, source=source, updated_at=now)
    )
    return True


def delete_external_id(conn: Connection, movie_id: int, provider: str) -> None:
    """Forget one id of a movie."""
    conn.execute(delete(IDS).where(IDS.c.movie_id == movie_id, IDS.c.provider == provider))


def set_status(
    conn: Connection, movie_id: int, status: str, reason: str | None, now: datetime
) -> None:
    """Set the identification status (and the review reason shown to a person)."""
    conn.execute(
        update(MOVIES)
        .where(MOVIES.c.id == movie_id)
        .values(status=status, review_reason=reason, updated_at=now)
    )


# -- identification candidates --------------------------------------------------------


def replace_identify_candidates(
    conn: Connection, movie_id: int, rows: Sequence[dict[str, Any]]
) -> None:
    """Keep exactly `rows` (provider, ref, title, year, score, data) for the movie."""
    conn.execute(delete(IDENTIFY).where(IDENTIFY.c.movie_id == movie_id))
    if rows:
        conn.execute(insert(IDENTIFY), [{"movie_id": movie_id, **r} for r in rows])


def load_identify_candidates(conn: Connection, movie_id: int) -> list[dict[str, Any]]:
    """The kept candidates, best first."""
    rows = conn.execute(
        select(IDENTIFY)
        .where(IDENTIFY.c.movie_id == movie_id)
        .order_by(IDENTIFY.c.score.desc(), IDENTIFY.c.id)
    ).all()
    return [
        {
            "provider": r.provider,
            "ref": r.ref,
            "title": r.title,
            "year": r.year,
            "score": r.score,
            "data": dict(r.data or {}),
        }
        for r in rows
    ]


# -- metadata fields ------------------------------------------------------------------


_INSERT_FIELDS = insert(FIELDS)
_UPDATE_FIELD = (
    update(FIELDS)
    .where(FIELDS.c.id == bindparam("row_id"))
    .values(
        value=bindparam("new_value", type_=FIELDS.c.value.type),
        source=bindparam("new_source", type_=FIELDS.c.source.type),
        updated_at=bindparam("new_at", type_=FIELDS.c.updated_at.type),
    )
)
_INSERT_HISTORY = insert(HISTORY)
_FIELD_ROWS = select(FIELDS.c.id, FIELDS.c.field, FIELDS.c.value, FIELDS.c.source).where(
    FIELDS.c.movie_id == bindparam("movie_id")
)
_LOCK_TARGETS = select(LOCKS.c.target).where(LOCKS.c.movie_id == bindparam("movie_id"))


@dataclass(slots=True)
class MergeState:
    """A movie's metadata as a merge sees it (read in the merge's transaction)."""

    values: dict[str, Any]  # field -> value
    sources: dict[str, str]  # field -> who wrote it
    row_ids: dict[str, int]  # field -> its metadata_fields row
    locks: set[str]


def load_merge_state(conn: Connection, movie_id: int) -> MergeState:
    """Field values, sources and row ids, and the locks of a movie: two statements."""
    state = MergeState({}, {}, {}, set())
    for row_id, name, value, source in conn.execute(_FIELD_ROWS, {"movie_id": movie_id}):
        state.values[name] = value
        state.sources[name] = source
        state.row_ids[name] = row_id
    state.locks = set(conn.scalars(_LOCK_TARGETS, {"movie_id": movie_id}))
    return state


def load_locks(conn: Connection, movie_id: int) -> set[str]:
    """The lock targets of a movie (fields, `asset:<type>`, `cast_order`)."""
    return set(conn.scalars(_LOCK_TARGETS, {"movie_id": movie_id}))


def apply_field_changes(
    conn: Connection,
    movie_id: int,
    changes: Iterable[FieldChange],
    source: str,
    now: datetime,
) -> int:
    """Write changes (already filtered by `automated_changes`) with history; returns count.

    A fixed number of statements whatever the number of changes: one read of the
    existing rows, one multi-row insert, one executemany update, one history insert.
    """
    return write_field_changes(conn, movie_id, [(c, source) for c in changes], now)


def write_field_changes(
    conn: Connection,
    movie_id: int,
    changes: Sequence[tuple[FieldChange, str]],
    now: datetime,
    row_ids: Mapping[str, int] | None = None,
) -> int:
    """Write (change, source) pairs in order, with history; returns how many.

    A field changed twice (TMDB's ratings, then OMDb's) keeps the last value and
    source, and both changes are in the history. `row_ids` (field -> row, from
    `load_merge_state`) saves reading them; at most four statements.
    """
    if not changes:
        return 0
    if row_ids is None:
        row_ids = dict(
            conn.execute(
                select(FIELDS.c.field, FIELDS.c.id).where(
                    FIELDS.c.movie_id == movie_id,
                    FIELDS.c.field.in_({c.field for c, _ in changes}),
                )
            ).all()
        )
    last = {c.field: (c, source) for c, source in changes}
    inserts = [
        {"movie_id": movie_id, "field": name, "value": c.new, "source": source, "updated_at": now}
        for name, (c, source) in last.items()
        if name not in row_ids
    ]
    updates = [
        {"row_id": row_ids[name], "new_value": c.new, "new_source": source, "new_at": now}
        for name, (c, source) in last.items()
        if name in row_ids
    ]
    if inserts:
        conn.execute(_INSERT_FIELDS, inserts)
    if updates:
        conn.execute(_UPDATE_FIELD, updates)
    conn.execute(
        _INSERT_HISTORY,
        [
            {
                "movie_id": movie_id,
                "at": now,
                "source": source,
                "kind": "field",
                "target": c.field,
                "old": c.old,
                "new": c.new,
            }
            for c, source in changes
        ],
    )
    return len(changes)


def fill_cast_thumbs(conn: Connection, movie_id: int, thumbs: Mapping[str, str]) -> int:
    """Record cached headshots (profile URL -> sha256) in the movie's `cast`; returns how many.

    The hash is a reference into the cache, not metadata a person sees: the value is
    updated in place, without history, and only for actors whose profile image is
    still that URL. A locked `cast` is a person's and is not rewritten at all. The
    row is read for update so a concurrent merge is not lost (PostgreSQL).
    """
    if not thumbs:
        return 0
    if conn.scalar(
        select(LOCKS.c.id).where(LOCKS.c.movie_id == movie_id, LOCKS.c.target == "cast")
    ):
        return 0
    row = conn.execute(
        select(FIELDS.c.id, FIELDS.c.value)
        .where(FIELDS.c.movie_id == movie_id, FIELDS.c.field == "cast")
        .with_for_update()
    ).first()
    if row is None or not isinstance(row.value, list):
        return 0
    cast = [dict(a) if isinstance(a, dict) else a for a in row.value]
    filled = 0
    for actor in cast:
        if not isinstance(actor, dict):
            continue
        sha = thumbs.get(actor.get("thumb") or "")
        if sha and actor.get("thumb_sha256") != sha:
            actor["thumb_sha256"] = sha
            filled += 1
    if filled:
        conn.execute(update(FIELDS).where(FIELDS.c.id == row.id).values(value=cast))
    return filled


def load_field(conn: Connection, movie_id: int, name: str) -> Any:
    """The stored value of one field of a movie (None when absent)."""
    return conn.scalar(
        select(FIELDS.c.value).where(FIELDS.c.movie_id == movie_id, FIELDS.c.field == name)
    )


def set_hidden_field(
    conn: Connection, movie_id: int, name: str, value: Any, source: str, now: datetime
) -> None:
    """Write a bookkeeping field (not in METADATA_FIELDS: never shown, edited or locked).

    No history: it records where files were cached, not metadata a person sees.
    """
    updated = conn.execute(
        update(FIELDS)
        .where(FIELDS.c.movie_id == movie_id, FIELDS.c.field == name)
        .values(value=value, source=source, updated_at=now)
    )
    if not updated.rowcount:
        conn.execute(
            insert(FIELDS).values(
                movie_id=movie_id, field=name, value=value, source=source, updated_at=now
            )
        )


def clear_provider_fields(
    conn: Connection, movie_id: int, locked: set[str], by: str, now: datetime
) -> int:
    """Remove unlocked fields a provider wrote (the identity changed); recorded as `by`."""
    rows = conn.execute(
        select(FIELDS.c.id, FIELDS.c.field, FIELDS.c.value).where(
            FIELDS.c.movie_id == movie_id, FIELDS.c.source.in_(PROVIDER_SOURCES)
        )
    ).all()
    count = 0
    for r in rows:
        if r.field in locked:
            continue
        conn.execute(delete(FIELDS).where(FIELDS.c.id == r.id))
        record(conn, movie_id, now, by, "field", r.field, r.value, None)
        count += 1
    return count


def refresh_title(
    conn: Connection,
    movie_id: int,
    now: datetime,
    fields: Mapping[str, Any] | None = None,
    movie: MovieTarget | None = None,
) -> None:
    """Keep the list columns (title, year, sort key) in step with the metadata.

    `fields`: the movie's current metadata values, `movie`: its list columns and
    parsed name, when the caller holds them already (each saves a read).
    """
    if fields is None:
        fields = dict(
            conn.execute(
                select(FIELDS.c.field, FIELDS.c.value).where(
                    FIELDS.c.movie_id == movie_id,
                    FIELDS.c.field.in_(sorted(TITLE_FIELDS)),
                )
            ).all()
        )
    if movie is not None:
        known = (movie.title, movie.year, movie.sort_key, movie.parsed_title, movie.parsed_year)
    else:
        found = conn.execute(
            select(
                MOVIES.c.title,
                MOVIES.c.year,
                MOVIES.c.sort_key,
                MOVIES.c.parsed_title,
                MOVIES.c.parsed_year,
            ).where(MOVIES.c.id == movie_id)
        ).first()
        if found is None:
            return
        known = tuple(found)
    old_title, old_year, old_key, parsed_title, parsed_year = known
    shown = display_title(fields, parsed_title, parsed_year)
    title, year, key = shown.title, shown.year, shown.sort_key
    if (title, year, key) != (old_title, old_year, old_key):
        conn.execute(
            _UPDATE_TITLE,
            {"b_id": movie_id, "b_title": title, "b_year": year, "b_key": key, "b_now": now},
        )


_UPDATE_TITLE = (
    update(MOVIES)
    .where(MOVIES.c.id == bindparam("b_id"))
    .values(
        title=bindparam("b_title", type_=MOVIES.c.title.type),
        year=bindparam("b_year", type_=MOVIES.c.year.type),
        sort_key=bindparam("b_key", type_=MOVIES.c.sort_key.type),
        updated_at=bindparam("b_now", type_=MOVIES.c.updated_at.type),
    )
)


def record(
    conn: Connection,
    movie_id: int,
    at: datetime,
    source: str,
    kind: str,
    target: str,
    old: Any,
    new: Any,
) -> None:
    """One history row."""
    conn.execute(
        insert(HISTORY).values(
            movie_id=movie_id, at=at, source=source, kind=kind, target=target, old=old, new=new
        )
    )


# -- locks ----------------------------------------------------------------------------


def set_lock(conn: Connection, movie_id: int, target: str, locked: bool, now: datetime) -> bool:
    """Lock or unlock one target as a person's act (recorded); True when it changed."""
    exists = conn.scalar(
        select(LOCKS.c.id).where(LOCKS.c.movie_id == movie_id, LOCKS.c.target == target)
    )
    if locked and exists is None:
        conn.execute(insert(LOCKS).values(movie_id=movie_id, target=target, created_at=now))
        record(conn, movie_id, now, "user", "lock", target, False, True)
        return True
    if not locked and exists is not None:
        conn.execute(delete(LOCKS).where(LOCKS.c.id == exists))
        record(conn, movie_id, now, "user", "unlock", target, True, False)
        return True
    return False


# -- change-driven refresh ------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RefreshState:
    """A live, identified movie of a library and when a provider last changed it."""

    movie_id: int
    tmdb: int
    monitored: bool
    last_refreshed: datetime | None


def library_refresh_state(conn: Connection, library_id: int) -> list[RefreshState]:
    """Identified live movies of a library with their newest TMDB history row / download.

    Three grouped queries for the whole library, never one per movie.
    """
    movies = conn.execute(
        select(MOVIES.c.id, MOVIES.c.monitored, IDS.c.value)
        .join(IDS, (IDS.c.movie_id == MOVIES.c.id) & (IDS.c.provider == "tmdb"))
        .where(MOVIES.c.library_id == library_id, MOVIES.c.deleted_at.is_(None))
        .order_by(MOVIES.c.id)
    ).all()
    in_library = select(MOVIES.c.id).where(MOVIES.c.library_id == library_id).scalar_subquery()
    changed = dict(
        conn.execute(
            select(HISTORY.c.movie_id, func.max(HISTORY.c.at))
            .where(HISTORY.c.source == "tmdb", HISTORY.c.movie_id.in_(in_library))
            .group_by(HISTORY.c.movie_id)
        ).all()
    )
    fetched = dict(
        conn.execute(
            select(ASSETS.c.movie_id, func.max(ASSETS.c.fetched_at))
            .where(ASSETS.c.provider != "local", ASSETS.c.movie_id.in_(in_library))
            .group_by(ASSETS.c.movie_id)
        ).all()
    )
    out: list[RefreshState] = []
    for m in movies:
        if not str(m.value).isdigit():
            continue
        seen = [utc(t) for t in (changed.get(m.id), fetched.get(m.id)) if t is not None]
        out.append(RefreshState(m.id, int(m.value), bool(m.monitored), max(seen, default=None)))
    return out


def utc(value: datetime) -> datetime:
    """An aware UTC datetime (SQLite hands back naive ones, stored as UTC)."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def load_field_sources(conn: Connection, movie_id: int) -> dict[str, str]:
    """Which source wrote each metadata field of a movie (for field priorities)."""
    rows = conn.execute(
        select(FIELDS.c.field, FIELDS.c.source).where(FIELDS.c.movie_id == movie_id)
    )
    return {r.field: r.source for r in rows}
