"""`/movies`: browse movies and read one with its files, streams and metadata."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from metarr.api.deps import ContainerDep, PathId, QueryId
from metarr.api.schemas import (
    FieldOut,
    FileOut,
    Ids,
    MovieDetailOut,
    MovieOut,
    MoviePageOut,
    StreamOut,
)
from metarr.services.browse import MovieQuery, MovieSummary

router = APIRouter(prefix="/movies", tags=["movies"])


def _summary(m: MovieSummary) -> MovieOut:
    return MovieOut(
        id=m.id,
        library_id=m.library_id,
        title=m.title,
        year=m.year,
        status=m.status,
        ids=Ids(**m.ids),
        artwork=list(m.artwork),
        path=m.path,
    )


@router.get("")
def list_movies(
    container: ContainerDep,
    library_id: QueryId = None,
    status: str | None = None,
    q: Annotated[str | None, Query(max_length=200)] = None,
    missing: str | None = None,
    sort: str = "title",
    desc: bool = False,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> MoviePageOut:
    """Movies with filters (library, status, text, missing artwork), sorted and paginated."""
    page = container.browse.movies(
        MovieQuery(
            library_id=library_id,
            status=status,
            q=q,
            missing=missing,
            sort=sort,
            desc=desc,
            limit=limit,
            offset=offset,
        )
    )
    return MoviePageOut(items=[_summary(m) for m in page.items], total=page.total)


@router.get("/{movie_id}")
def get_movie(movie_id: PathId, container: ContainerDep) -> MovieDetailOut:
    """One movie: ids, files with their classification, streams, metadata with provenance."""
    d = container.browse.movie(movie_id)
    return MovieDetailOut(
        **_summary(d.summary).model_dump(),
        library_name=d.library_name,
        disc=d.disc,
        review_reason=d.review_reason,
        monitored=d.monitored,
        deleted_at=d.deleted_at,
        created_at=d.created_at,
        updated_at=d.updated_at,
        id_sources=d.id_sources,
        files=[FileOut(**f) for f in d.files],
        streams=[StreamOut(**s) for s in d.streams],
        metadata={k: FieldOut(**v) for k, v in d.metadata.items()},
    )
