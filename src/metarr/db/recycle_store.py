"""The recycle bin's index: what was replaced or removed, where it is kept, why."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, delete, func, insert, select

from metarr.db.tables import Base
from metarr.db.tables_publish import RecycleEntryRow

RECYCLE = Base.metadata.tables[RecycleEntryRow.__tablename__]


@dataclass(frozen=True, slots=True)
class RecycleEntry:
    """A `recycle_bin` row."""

    id: int
    library_id: int | None
    movie_id: int | None
    original_path: str
    rel_path: str | None
    stored_path: str
    reason: str
    size: int
    sha256: str
    mtime_ns: int
    recycled_at: datetime


def _entry(r: Any) -> RecycleEntry:
    return RecycleEntry(
        id=r.id,
        library_id=r.library_id,
        movie_id=r.movie_id,
        original_path=r.original_path,
        rel_path=r.rel_path,
        stored_path=r.stored_path,
        reason=r.reason,
        size=r.size,
        sha256=r.sha256,
        mtime_ns=r.mtime_ns,
        recycled_at=r.recycled_at,
    )


def add_recycle_entry(conn: Connection, values: dict[str, Any]) -> int:
    """Index one recycled file; returns its id."""
    new_id = conn.execute(insert(RECYCLE).values(**values).returning(RECYCLE.c.id)).scalar_one()
    return int(new_id)


def recycle_entries(
    conn: Connection,
    *,
    library_id: int | None = None,
    movie_id: int | None = None,
    limit: int = 100,
    offset: int = 0,
) -> tuple[list[RecycleEntry], int]:
    """Entries, newest first, and how many there are in all."""
    where = []
    if library_id is not None:
        where.append(RECYCLE.c.library_id == library_id)
    if movie_id is not None:
        where.append(RECYCLE.c.movie_id == movie_id)
    total = conn.scalar(select(func.count()).select_from(RECYCLE).where(*where)) or 0
    rows = conn.execute(
        select(RECYCLE).where(*where).order_by(RECYCLE.c.id.desc()).limit(limit).offset(offset)
    )
    return [_entry(r) for r in rows], int(total)


def recycle_entry(conn: Connection, entry_id: int) -> RecycleEntry | None:
    """One entry, or None."""
    row = conn.execute(select(RECYCLE).where(RECYCLE.c.id == entry_id)).first()
    return _entry(row) if row is not None else None


def expired_recycle_entries(conn: Connection, before: datetime) -> list[RecycleEntry]:
    """Entries recycled before `before`."""
    rows = conn.execute(select(RECYCLE).where(RECYCLE.c.recycled_at < before))
    return [_entry(r) for r in rows]


def known_stored_paths(conn: Connection) -> set[str]:
    """Every stored path the index knows."""
    return set(conn.scalars(select(RECYCLE.c.stored_path)))


def delete_recycle_entry(conn: Connection, entry_id: int) -> None:
    """Drop an entry from the index."""
    conn.execute(delete(RECYCLE).where(RECYCLE.c.id == entry_id))
