"""All the SQL of identification and enrichment: targets, ids, fields, candidates, selections."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, delete, func, insert, select, update

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
from metarr.domain.identity import sort_key

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
    "StoredCandidate",
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
class StoredCandidate:
    """An `asset_candidates` row."""

    id: int
    type: str
    url: str
    provider: str
    width: int | None
    height: int | None
    language: str | None
    votes: int
    vote_average: float | None
    score: float
    blocked: bool
    selected: bool
    selected_by: str | None
    rejected: str | None
    sha256: str | None


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


def apply_field_changes(
    conn: Connection,
    movie_id: int,
    changes: Iterable[FieldChange],
    source: str,
    now: datetime,
) -> int:
    """Write changes (already filtered by `automated_changes`) with history; returns count."""
    count = 0
    for change in changes:
        exists = conn.scalar(
            select(FIELDS.c.id).where(FIELDS.c.movie_id == movie_id, FIELDS.c.field == change.field)
        )
        if exists is None:
            conn.execute(
                insert(FIELDS).values(
                    movie_id=movie_id,
                    field=change.field,
                    value=change.new,
                    source=source,
                    updated_at=now,
                )
            )
        else:
            conn.execute(
                update(FIELDS)
                .where(FIELDS.c.id == exists)
                .values(value=change.new, source=source, updated_at=now)
            )
        record(conn, movie_id, now, source, "field", change.field, change.old, change.new)
        count += 1
    return count


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


def refresh_title(conn: Connection, movie_id: int, now: datetime) -> None:
    """Keep the list columns (title, year, sort key) in step with the metadata."""
    fields = dict(
        conn.execute(
            select(FIELDS.c.field, FIELDS.c.value).where(
                FIELDS.c.movie_id == movie_id,
                FIELDS.c.field.in_(("title", "year", "sort_title")),
            )
        ).all()
    )
    movie = conn.execute(
        select(MOVIES.c.title, MOVIES.c.year, MOVIES.c.sort_key, MOVIES.c.parsed_title)
        .add_columns(MOVIES.c.parsed_year)
        .where(MOVIES.c.id == movie_id)
    ).first()
    if movie is None:
        return
    title = fields.get("title") or movie.parsed_title
    year = fields.get("year") or movie.parsed_year
    key = sort_key(fields.get("sort_title") or title)
    if (title, year, key) != (movie.title, movie.year, movie.sort_key):
        conn.execute(
            update(MOVIES)
            .where(MOVIES.c.id == movie_id)
            .values(title=title, year=year, sort_key=key, updated_at=now)
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


# -- asset candidates -----------------------------------------------------------------

_CANDIDATE_VALUES = (
    "provider",
    "width",
    "height",
    "language",
    "votes",
    "vote_average",
    "score",
    "sha256",
)


def load_candidates(conn: Connection, movie_id: int) -> list[StoredCandidate]:
    """Every artwork candidate of a movie."""
    rows = conn.execute(
        select(ASSETS).where(ASSETS.c.movie_id == movie_id).order_by(ASSETS.c.id)
    ).all()
    return [
        StoredCandidate(
            id=r.id,
            type=r.type,
            url=r.url,
            provider=r.provider,
            width=r.width,
            height=r.height,
            language=r.language,
            votes=r.votes or 0,
            vote_average=r.vote_average,
            score=r.score or 0.0,
            blocked=bool(r.blocked),
            selected=bool(r.selected),
            selected_by=r.selected_by,
            rejected=r.rejected,
            sha256=r.sha256,
        )
        for r in rows
    ]


def upsert_candidates(conn: Connection, movie_id: int, rows: Sequence[dict[str, Any]]) -> int:
    """Store candidates (type, url, provider, dims, language, votes, score); returns new ones.

    Existing rows keep their selection, block and download state; only the
    provider's data and the score are refreshed, and only when they changed.
    """
    current = {(c.type, c.url): c for c in load_candidates(conn, movie_id)}
    new: list[dict[str, Any]] = []
    for row in rows:
        known = current.get((row["type"], row["url"]))
        if known is None:
            new.append({"movie_id": movie_id, "blocked": False, "selected": False, **row})
            continue
        changed = {k: row[k] for k in _CANDIDATE_VALUES if k in row and getattr(known, k) != row[k]}
        if changed:
            conn.execute(update(ASSETS).where(ASSETS.c.id == known.id).values(**changed))
    if new:
        conn.execute(insert(ASSETS), new)
    return len(new)


def delete_provider_candidates(conn: Connection, movie_id: int) -> None:
    """Drop candidates automation found (the identity changed); a person's picks stay."""
    conn.execute(
        delete(ASSETS).where(
            ASSETS.c.movie_id == movie_id,
            ASSETS.c.provider != "local",
            ASSETS.c.blocked.is_(False),
            (ASSETS.c.selected_by.is_(None)) | (ASSETS.c.selected_by != "user"),
        )
    )


def mark_candidate(conn: Connection, candidate_id: int, **values: Any) -> None:
    """Update one candidate (selected, selected_by, sha256, rejected, fetched_at)."""
    conn.execute(update(ASSETS).where(ASSETS.c.id == candidate_id).values(**values))


def local_artwork(conn: Connection, movie_id: int) -> tuple[str | None, list[tuple[str, str]]]:
    """The library root and the (relative path, artwork type) of the movie's artwork files."""
    root = conn.scalar(
        select(LIBRARIES.c.path)
        .join(MOVIES, MOVIES.c.library_id == LIBRARIES.c.id)
        .where(MOVIES.c.id == movie_id)
    )
    rows = conn.execute(
        select(FILES.c.path, FILES.c.role)
        .where(FILES.c.movie_id == movie_id, FILES.c.kind == "artwork")
        .order_by(FILES.c.path)
    ).all()
    return root, [(r.path, r.role) for r in rows if r.role]


def candidate_by_url(
    conn: Connection, movie_id: int, kind: str, url: str
) -> StoredCandidate | None:
    """One candidate of a movie by type and URL."""
    return next(
        (c for c in load_candidates(conn, movie_id) if c.type == kind and c.url == url), None
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
