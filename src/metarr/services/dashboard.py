"""The dashboard's numbers: how complete each library's metadata and artwork are."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Integer, and_, case, exists, func, or_, select
from sqlalchemy.sql.elements import ColumnElement

from metarr.db.engine import Database
from metarr.db.tables import LibraryRow, MetadataFieldRow, MovieRow
from metarr.db.tables_assets import AssetCandidateRow
from metarr.db.tables_publish import PublishedMovieRow
from metarr.domain.media import MovieStatus

# What a complete movie has, in the order the dashboard shows it.
MEASURES = ("identified", "plot", "poster", "fanart", "published")


@dataclass(frozen=True, slots=True)
class Completeness:
    """One library: its live movies and how many of them have each measure."""

    library_id: int
    name: str
    movies: int
    counts: dict[str, int]

    def percent(self, measure: str) -> int:
        """Share of the movies with `measure`, rounded down (100 only when all have it)."""
        if not self.movies:
            return 0
        return self.counts.get(measure, 0) * 100 // self.movies

    @property
    def complete(self) -> bool:
        """Every movie has everything."""
        return all(self.counts.get(m, 0) == self.movies for m in MEASURES)


class DashboardService:
    """Aggregates for the dashboard (one query for every library)."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def completeness(self) -> list[Completeness]:
        """Per library, by name: identified, with a plot, a poster, a fanart, published."""
        movie = MovieRow.__table__.c
        flags: dict[str, ColumnElement[bool]] = {
            "identified": movie.status == MovieStatus.IDENTIFIED.value,
            "plot": exists().where(
                MetadataFieldRow.movie_id == movie.id, MetadataFieldRow.field == "plot"
            ),
            "poster": _has_art("poster"),
            "fanart": _has_art("fanart"),
            "published": exists().where(PublishedMovieRow.movie_id == movie.id),
        }
        counts = [
            func.coalesce(func.sum(case((flag, 1), else_=0)), 0).cast(Integer).label(name)
            for name, flag in flags.items()
        ]
        live = and_(MovieRow.library_id == LibraryRow.id, MovieRow.deleted_at.is_(None))
        query = (
            select(LibraryRow.id, LibraryRow.name, func.count(MovieRow.id).label("movies"), *counts)
            .select_from(LibraryRow)
            .outerjoin(MovieRow, live)
            .group_by(LibraryRow.id, LibraryRow.name)
            .order_by(LibraryRow.name)
        )
        with self.db.session() as s:
            rows = s.execute(query).all()
        return [
            Completeness(
                library_id=int(r.id),
                name=str(r.name),
                movies=int(r.movies),
                counts={name: int(getattr(r, name)) for name in MEASURES},
            )
            for r in rows
        ]


def _has_art(kind: str) -> ColumnElement[bool]:
    """Artwork of `kind` in the folder (as scanned) or selected for publishing."""
    columns = MovieRow.__table__.c
    in_folder = ("," + columns.artwork + ",").contains(f",{kind},")
    selected = exists().where(
        AssetCandidateRow.movie_id == columns.id,
        AssetCandidateRow.type == kind,
        AssetCandidateRow.selected.is_(True),
    )
    return or_(in_folder, selected)
