"""The SQL of artwork candidates: what providers and the folder offer for each movie,
their scores, selections and downloads (split out of `enrich_store`)."""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, delete, insert, select, update

from metarr.db.tables import Base, LibraryRow, MediaFileRow, MovieRow
from metarr.db.tables_assets import AssetCandidateRow

_tables = Base.metadata.tables
MOVIES = _tables[MovieRow.__tablename__]
FILES = _tables[MediaFileRow.__tablename__]
LIBRARIES = _tables[LibraryRow.__tablename__]
ASSETS = _tables[AssetCandidateRow.__tablename__]


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
    fetched_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class LocalFile:
    """An artwork or NFO file of a movie, as the scanner recorded it."""

    path: str  # relative to the library root
    kind: str  # artwork | nfo
    role: str | None  # the artwork type; main | other for NFOs
    size: int
    updated_at: datetime  # when the scanner last wrote the row (the file changed)


_CANDIDATE_VALUES = (
    "provider",
    "width",
    "height",
    "language",
    "votes",
    "vote_average",
    "score",
    "sha256",
    "fetched_at",
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
            fetched_at=r.fetched_at,
        )
        for r in rows
    ]


_CANDIDATE_STATE = select(
    ASSETS.c.id, ASSETS.c.type, ASSETS.c.url, *(ASSETS.c[k] for k in _CANDIDATE_VALUES)
).where(ASSETS.c.movie_id == bindparam("movie_id"))
_INSERT_CANDIDATES = insert(ASSETS)
# Stored NULLs read back the way StoredCandidate gives them (not a change to write).
_READ_AS = {"votes": 0, "score": 0.0}


def upsert_candidates(conn: Connection, movie_id: int, rows: Sequence[dict[str, Any]]) -> int:
    """Store candidates (type, url, provider, dims, language, votes, score); returns new ones.

    Existing rows keep their selection, block and download state; only the
    provider's data and the score are refreshed, and only when they changed. One
    read, one insert, one executemany per distinct set of changed columns.
    """
    current = {(r.type, r.url): r for r in conn.execute(_CANDIDATE_STATE, {"movie_id": movie_id})}
    new: list[dict[str, Any]] = []
    updates: list[tuple[int, dict[str, Any]]] = []
    for row in rows:
        known = current.get((row["type"], row["url"]))
        if known is None:
            new.append({"movie_id": movie_id, "blocked": False, "selected": False, **row})
            continue
        changed = {}
        for k in _CANDIDATE_VALUES:
            if k in row:
                stored = getattr(known, k)
                if stored is None:
                    stored = _READ_AS.get(k)
                if stored != row[k]:
                    changed[k] = row[k]
        if changed:
            updates.append((known.id, changed))
    if new:
        conn.execute(_INSERT_CANDIDATES, new)
    mark_candidates(conn, updates)
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


def mark_candidates(conn: Connection, updates: Sequence[tuple[int, dict[str, Any]]]) -> None:
    """Update many candidates: one executemany per distinct set of columns."""
    groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for candidate_id, values in updates:
        keys = tuple(sorted(values))
        groups.setdefault(keys, []).append(
            {"row_id": candidate_id, **{f"new_{k}": v for k, v in values.items()}}
        )
    for keys, rows in groups.items():
        conn.execute(_update_candidates_statement(keys), rows)


@functools.lru_cache(maxsize=64)
def _update_candidates_statement(keys: tuple[str, ...]) -> Any:
    return (
        update(ASSETS)
        .where(ASSETS.c.id == bindparam("row_id"))
        .values({k: bindparam(f"new_{k}", type_=ASSETS.c[k].type) for k in keys})
    )


def local_files(conn: Connection, movie_id: int) -> tuple[str | None, list[LocalFile]]:
    """The library root and the movie's artwork (with a type) and NFO files (not extras')."""
    root = conn.scalar(
        select(LIBRARIES.c.path)
        .join(MOVIES, MOVIES.c.library_id == LIBRARIES.c.id)
        .where(MOVIES.c.id == movie_id)
    )
    rows = conn.execute(
        select(FILES.c.path, FILES.c.kind, FILES.c.role, FILES.c.size, FILES.c.updated_at)
        .where(FILES.c.movie_id == movie_id, FILES.c.kind.in_(("artwork", "nfo")))
        .order_by(FILES.c.path)
    ).all()
    return root, [
        LocalFile(r.path, r.kind, r.role, r.size, r.updated_at)
        for r in rows
        if (r.kind == "artwork" and r.role) or (r.kind == "nfo" and r.role != "extra")
    ]


def cached_hashes_by_url(
    conn: Connection, urls: Sequence[str], types: Iterable[str]
) -> dict[str, str]:
    """URL -> sha256 of candidates of `types` (any movie) already downloaded."""
    out: dict[str, str] = {}
    for start in range(0, len(urls), 500):
        chunk = list(urls[start : start + 500])
        for r in conn.execute(
            select(ASSETS.c.url, ASSETS.c.sha256).where(
                ASSETS.c.type.in_(list(types)),
                ASSETS.c.url.in_(chunk),
                ASSETS.c.sha256.is_not(None),
            )
        ):
            out.setdefault(r.url, r.sha256)
    return out


def candidate_by_url(
    conn: Connection, movie_id: int, kind: str, url: str
) -> StoredCandidate | None:
    """One candidate of a movie by type and URL."""
    return next(
        (c for c in load_candidates(conn, movie_id) if c.type == kind and c.url == url), None
    )
