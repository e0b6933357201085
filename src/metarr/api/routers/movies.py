"""`/movies`: browse movies and read one with its files, streams and metadata."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Body, Query
from pydantic import BaseModel, ConfigDict, Field

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


class LockIn(BaseModel):
    """Body of lock/unlock: fields, `asset:<type>`, `cast_order`, or `["all"]`."""

    model_config = ConfigDict(extra="forbid")
    targets: list[str] = Field(min_length=1, max_length=100)


class ResetIn(BaseModel):
    """Body of reset: the field to give back to automation."""

    model_config = ConfigDict(extra="forbid")
    field: str = Field(min_length=1, max_length=40)


class RollbackIn(BaseModel):
    """Body of rollback: the moment to go back to."""

    model_config = ConfigDict(extra="forbid")
    to: datetime


class ChangeOut(BaseModel):
    """One recorded change."""

    id: int
    at: datetime
    source: str
    kind: str
    target: str
    old: Any
    new: Any


@router.patch("/{movie_id}")
def patch_movie(
    movie_id: PathId, body: Annotated[dict[str, Any], Body()], container: ContainerDep
) -> MovieDetailOut:
    """Change metadata fields (`{"plot": "...", ...}`); each changed field is locked."""
    container.edit.patch(movie_id, body)
    return get_movie(movie_id, container)


@router.post("/{movie_id}/lock")
def lock_fields(movie_id: PathId, body: LockIn, container: ContainerDep) -> MovieDetailOut:
    """Lock fields, asset types or the cast order against automation."""
    container.edit.lock(movie_id, body.targets)
    return get_movie(movie_id, container)


@router.post("/{movie_id}/unlock")
def unlock_fields(movie_id: PathId, body: LockIn, container: ContainerDep) -> MovieDetailOut:
    """Let automation change these again."""
    container.edit.unlock(movie_id, body.targets)
    return get_movie(movie_id, container)


@router.post("/{movie_id}/reset")
def reset_field(movie_id: PathId, body: ResetIn, container: ContainerDep) -> MovieDetailOut:
    """Unlock a field and restore the last automated value."""
    container.edit.reset(movie_id, body.field)
    return get_movie(movie_id, container)


@router.get("/{movie_id}/history")
def movie_history(
    movie_id: PathId,
    container: ContainerDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> list[ChangeOut]:
    """Every recorded change, newest first (who/what, when, old -> new)."""
    return [
        ChangeOut(**asdict(c)) for c in container.edit.history(movie_id, limit=limit, offset=offset)
    ]


@router.post("/{movie_id}/history/{change_id}/revert")
def revert_change(movie_id: PathId, change_id: PathId, container: ContainerDep) -> MovieDetailOut:
    """Undo one field change (the old value comes back, locked)."""
    container.edit.revert(movie_id, change_id)
    return get_movie(movie_id, container)


@router.post("/{movie_id}/rollback")
def rollback_movie(movie_id: PathId, body: RollbackIn, container: ContainerDep) -> MovieDetailOut:
    """Put every field back to its value at a point in time."""
    container.edit.rollback(movie_id, body.to)
    return get_movie(movie_id, container)
