"""Browsing movies: paginated lists with filters, and the full movie page."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.orm import Session

from metarr.db.engine import Database
from metarr.db.tables import (
    ExternalIdRow,
    LibraryRow,
    LockRow,
    MediaFileRow,
    MetadataFieldRow,
    MovieRow,
    StreamRow,
)
from metarr.domain.errors import InvalidInput, NotFound
from metarr.domain.media import METADATA_FIELDS, ArtworkType, MovieStatus

SORTS = {
    "title": (MovieRow.sort_key, MovieRow.id),
    "year": (MovieRow.year, MovieRow.sort_key),
    "added": (MovieRow.created_at, MovieRow.id),
    "updated": (MovieRow.updated_at, MovieRow.id),
}


@dataclass(frozen=True, slots=True)
class MovieSummary:
    """A row of the movies list."""

    id: int
    library_id: int
    title: str | None
    year: int | None
    status: str
    ids: dict[str, Any]
    artwork: tuple[str, ...]
    path: str


@dataclass(frozen=True, slots=True)
class MoviePage:
    """A page of movies and the total matching the filters."""

    items: list[MovieSummary]
    total: int


@dataclass(slots=True)
class MovieDetail:
    """Everything the movie page shows."""

    summary: MovieSummary
    library_name: str
    disc: str | None
    review_reason: str | None
    monitored: bool
    deleted_at: datetime | None
    created_at: datetime
    updated_at: datetime
    id_sources: dict[str, str] = field(default_factory=dict)
    files: list[dict[str, Any]] = field(default_factory=list)
    streams: list[dict[str, Any]] = field(default_factory=list)
    metadata: dict[str, dict[str, Any]] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class MovieQuery:
    """Filters, sort and pagination of the movies list."""

    library_id: int | None = None
    status: str | None = None
    q: str | None = None
    missing: str | None = None  # an artwork type the movie lacks
    include_deleted: bool = False
    sort: str = "title"
    desc: bool = False
    limit: int = 50
    offset: int = 0


class BrowseService:
    """Read-only queries for the API and the UI."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def movies(self, query: MovieQuery) -> MoviePage:
        """Movies matching `query`, one page of them, with the total."""
        if query.status is not None and query.status not in {s.value for s in MovieStatus}:
            raise InvalidInput(
                f"status must be one of {', '.join(s.value for s in MovieStatus)}",
                field="status",
            )
        if query.sort not in SORTS:
            raise InvalidInput(f"sort must be one of {', '.join(SORTS)}", field="sort")
        if query.missing is not None and query.missing not in {a.value for a in ArtworkType}:
            raise InvalidInput("missing must be an artwork type", field="missing")
        conditions: list[ColumnElement[bool]] = []
        if not query.include_deleted:
            conditions.append(MovieRow.deleted_at.is_(None))
        if query.library_id is not None:
            conditions.append(MovieRow.library_id == query.library_id)
        if query.status is not None:
            conditions.append(MovieRow.status == query.status)
        if query.q:
            term = query.q.strip().casefold()
            conditions.append(
                or_(
                    MovieRow.sort_key.contains(term, autoescape=True),
                    func.lower(MovieRow.title).contains(term, autoescape=True),
                    MovieRow.key.contains(query.q.strip(), autoescape=True),
                )
            )
        if query.missing is not None:
            # artwork holds a sorted comma list; wrap in commas to match whole names
            conditions.append(~(("," + MovieRow.artwork + ",").contains("," + query.missing + ",")))
        order = [c.desc() if query.desc else c.asc() for c in SORTS[query.sort]]
        with self.db.session() as s:
            total = s.scalar(select(func.count()).select_from(MovieRow).where(*conditions)) or 0
            rows = s.scalars(
                select(MovieRow)
                .where(*conditions)
                .order_by(*order)
                .limit(query.limit)
                .offset(query.offset)
            ).all()
            ids = _ids_of(s, [r.id for r in rows])
            return MoviePage([_summary(r, ids.get(r.id, {})) for r in rows], int(total))

    def movie(self, movie_id: int) -> MovieDetail:
        """The movie page: files, streams, ids and metadata with provenance."""
        with self.db.session() as s:
            row = s.get(MovieRow, movie_id)
            if row is None:
                raise NotFound(f"movie {movie_id} does not exist")
            library = s.get(LibraryRow, row.library_id)
            id_rows = s.execute(
                select(ExternalIdRow.provider, ExternalIdRow.value, ExternalIdRow.source).where(
                    ExternalIdRow.movie_id == movie_id
                )
            ).all()
            ids = {p: _id_value(p, v) for p, v, _ in id_rows}
            detail = MovieDetail(
                summary=_summary(row, ids),
                library_name=library.name if library else "",
                disc=row.disc,
                review_reason=row.review_reason,
                monitored=row.monitored,
                deleted_at=row.deleted_at,
                created_at=row.created_at,
                updated_at=row.updated_at,
                id_sources={p: src for p, _, src in id_rows},
            )
            files = s.scalars(
                select(MediaFileRow)
                .where(MediaFileRow.movie_id == movie_id)
                .order_by(MediaFileRow.path)
            ).all()
            for f in files:
                detail.files.append(
                    {
                        "id": f.id,
                        "path": f.path,
                        "kind": f.kind,
                        "role": f.role,
                        "language": f.language,
                        "forced": f.forced,
                        "sdh": f.sdh,
                        "part": f.part,
                        "actor": f.actor,
                        "size": f.size,
                        "container": f.container,
                        "duration": f.duration,
                        "probe_status": f.probe_status,
                        "prober": f.prober,
                        "probe_error": f.probe_error,
                    }
                )
            by_file = {f.id: f.path for f in files}
            if by_file:
                for st in s.scalars(
                    select(StreamRow)
                    .where(StreamRow.file_id.in_(list(by_file)))
                    .order_by(StreamRow.file_id, StreamRow.index)
                ):
                    detail.streams.append(
                        {
                            "file": by_file[st.file_id],
                            "index": st.index,
                            "kind": st.kind,
                            "codec": st.codec,
                            "language": st.language,
                            "title": st.title,
                            "default": st.is_default,
                            "forced": st.forced,
                            "width": st.width,
                            "height": st.height,
                            "aspect": st.aspect,
                            "frame_rate": st.frame_rate,
                            "hdr": st.hdr,
                            "channels": st.channels,
                        }
                    )
            locks = set(s.scalars(select(LockRow.target).where(LockRow.movie_id == movie_id)))
            values = {
                r.field: r
                for r in s.scalars(
                    select(MetadataFieldRow).where(MetadataFieldRow.movie_id == movie_id)
                )
            }
            for name in METADATA_FIELDS:
                r = values.get(name)
                detail.metadata[name] = {
                    "value": r.value if r else None,
                    "source": r.source if r else None,
                    "updated_at": r.updated_at if r else None,
                    "locked": name in locks,
                }
            return detail


def _summary(row: MovieRow, ids: dict[str, Any]) -> MovieSummary:
    return MovieSummary(
        id=row.id,
        library_id=row.library_id,
        title=row.title,
        year=row.year,
        status=row.status,
        ids={"tmdb": ids.get("tmdb"), "imdb": ids.get("imdb"), "tvdb": ids.get("tvdb")},
        artwork=tuple(a for a in row.artwork.split(",") if a),
        path=row.folder,
    )


def _id_value(provider: str, value: str) -> int | str:
    return int(value) if provider in ("tmdb", "tvdb") and value.isdigit() else value


def _ids_of(s: Session, movie_ids: list[int]) -> dict[int, dict[str, Any]]:
    out: dict[int, dict[str, Any]] = {}
    if not movie_ids:
        return out
    for movie_id, provider, value in s.execute(
        select(ExternalIdRow.movie_id, ExternalIdRow.provider, ExternalIdRow.value).where(
            ExternalIdRow.movie_id.in_(movie_ids)
        )
    ):
        out.setdefault(movie_id, {})[provider] = _id_value(provider, value)
    return out
