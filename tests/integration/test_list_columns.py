"""The movie list's columns (title, year, sort key) follow the one title rule
(`domain.titles.display_title`) whichever path writes the metadata."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select

from metarr.bootstrap import Container
from metarr.db import enrich_store
from metarr.db.tables import MovieRow
from metarr.testing.library_builder import LibraryBuilder


def _movie(container: Container, tmp_path: Path) -> int:
    root = tmp_path / "films"
    LibraryBuilder(root).movie("Matrix", 1998, artwork=())
    library = container.libraries.create(name="Films", kind="movies", path=str(root))
    container.scans.run(container.scans.create(library.id)[0].id)
    with container.db.session() as s:
        return int(s.scalars(select(MovieRow.id)).one())


def _columns(container: Container, movie_id: int) -> tuple[str | None, int | None, str]:
    with container.db.session() as s:
        row = s.get(MovieRow, movie_id)
        assert row is not None
        return row.title, row.year, row.sort_key


def test_provider_values_use_the_premiered_year_and_the_sort_title(
    container: Container, tmp_path: Path
) -> None:
    movie = _movie(container, tmp_path)
    assert _columns(container, movie) == ("Matrix", 1998, "matrix")
    now = datetime.now(UTC)
    with container.db.session() as s:
        # no year among the values: the premiered date's year wins over the parsed one
        enrich_store.refresh_title(
            s.connection(), movie, now, {"title": "The Matrix", "premiered": "1999-03-31"}
        )
    assert _columns(container, movie) == ("The Matrix", 1999, "matrix")
    with container.db.session() as s:
        enrich_store.refresh_title(
            s.connection(), movie, now, {"title": "The Matrix", "sort_title": "Matrix 1"}
        )
    assert _columns(container, movie) == ("The Matrix", 1998, "matrix 1")
