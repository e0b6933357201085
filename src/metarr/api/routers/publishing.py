"""Publishing: publish and verify jobs, the dry-run plan, settings, the recycle bin."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Query, Response, status
from pydantic import BaseModel, ConfigDict, Field

from metarr.api.deps import ContainerDep, PathId, QueryId
from metarr.bootstrap import Container
from metarr.services.publishing import PublishingService

router = APIRouter(tags=["publishing"])


class JobIdsOut(BaseModel):
    """The jobs a request queued."""

    job_ids: list[int]


class PublishIn(BaseModel):
    """Optional body of `POST /libraries/{id}/publish`."""

    model_config = ConfigDict(extra="forbid")
    scope: str | None = Field(default=None, max_length=4096)  # one folder of the library


class VerifyIn(BaseModel):
    """Optional body of the verify requests."""

    model_config = ConfigDict(extra="forbid")
    repair: bool | None = None  # default: the library's setting


class PlanEntryOut(BaseModel):
    """One path of a publish plan."""

    path: str
    action: Literal["create", "replace", "remove", "keep"]
    kind: Literal["nfo", "artwork", "actor"]
    role: str
    sha256: str | None


class PlanOut(BaseModel):
    """What publishing a movie would do now."""

    movie_id: int
    library_id: int
    profile: str
    skipped: str | None
    missing: list[str]
    summary: dict[str, int]
    entries: list[PlanEntryOut]


class SettingsOut(BaseModel):
    """A library's publish settings."""

    library_id: int
    profile: Literal["kodi", "jellyfin"]
    hardlinks: bool
    verify_repair: bool
    hardlinks_possible: bool


class SettingsPatch(BaseModel):
    """Body of `PATCH /libraries/{id}/publish-settings`: only the given fields change."""

    model_config = ConfigDict(extra="forbid")
    profile: Literal["kodi", "jellyfin"] | None = None
    hardlinks: bool | None = None
    verify_repair: bool | None = None


class FindingOut(BaseModel):
    """Something verification found, and what was done about it."""

    movie_id: int | None
    kind: str
    path: str
    detail: str | None
    repaired: bool
    repair: str | None


class VerificationRunOut(BaseModel):
    """One verification run."""

    id: int
    library_id: int
    movie_id: int | None
    job_id: int | None
    status: str
    repair: bool
    stats: dict[str, Any]
    error: str | None
    started_at: datetime
    finished_at: datetime | None
    findings_total: int
    findings: list[FindingOut]


class VerificationOut(BaseModel):
    """The newest verification runs, newest first."""

    runs: list[VerificationRunOut]


class RecycleEntryOut(BaseModel):
    """A file in the recycle bin."""

    id: int
    library_id: int | None
    movie_id: int | None
    original_path: str
    rel_path: str | None
    reason: str
    size: int
    sha256: str
    recycled_at: datetime


class RecyclePageOut(BaseModel):
    """A page of the recycle bin, newest first."""

    items: list[RecycleEntryOut]
    total: int


class RestoreOut(BaseModel):
    """A restored file."""

    path: str
    size: int
    displaced_entry_id: int | None  # the file that was at the path, now in the bin


def publishing_service(container: Container) -> PublishingService:
    """The container's publishing service."""
    return container.publishing


@router.post("/movies/{movie_id}/publish", status_code=status.HTTP_202_ACCEPTED)
def publish_movie(movie_id: PathId, container: ContainerDep) -> JobIdsOut:
    """Queue publishing one movie's NFO and artwork into its folder."""
    return JobIdsOut(job_ids=publishing_service(container).enqueue_movie(movie_id))


@router.post("/libraries/{library_id}/publish", status_code=status.HTTP_202_ACCEPTED)
def publish_library(
    library_id: PathId,
    container: ContainerDep,
    body: Annotated[PublishIn | None, Body()] = None,
) -> JobIdsOut:
    """Queue publishing a library (or `scope`: one folder of it)."""
    scope = body.scope if body else None
    return JobIdsOut(job_ids=publishing_service(container).enqueue_library(library_id, scope))


@router.get("/movies/{movie_id}/publish/plan")
def publish_plan(movie_id: PathId, container: ContainerDep) -> PlanOut:
    """The dry run: each path with create, replace, remove or keep (nothing is written)."""
    plan = publishing_service(container).plan(movie_id)
    summary = {a: 0 for a in ("create", "replace", "remove", "keep")}
    for entry in plan.entries:
        summary[entry.action.value] += 1
    return PlanOut(
        movie_id=plan.movie_id,
        library_id=plan.library_id,
        profile=plan.profile,
        skipped=plan.skipped,
        missing=list(plan.missing),
        summary=summary,
        entries=[
            PlanEntryOut(
                path=e.path,
                action=e.action.value,
                kind=e.kind.value,
                role=e.role,
                sha256=e.sha256,
            )
            for e in plan.entries
        ],
    )


@router.get("/libraries/{library_id}/publish-settings")
def get_publish_settings(library_id: PathId, container: ContainerDep) -> SettingsOut:
    """How the library is published (profile, hard links, verification repairs)."""
    return SettingsOut(**asdict(publishing_service(container).settings(library_id)))


@router.patch("/libraries/{library_id}/publish-settings")
def patch_publish_settings(
    library_id: PathId, body: SettingsPatch, container: ContainerDep
) -> SettingsOut:
    """Change the library's publish settings."""
    view = publishing_service(container).update_settings(
        library_id, **body.model_dump(exclude_unset=True)
    )
    return SettingsOut(**asdict(view))


@router.post("/libraries/{library_id}/verify", status_code=status.HTTP_202_ACCEPTED)
def verify_library(
    library_id: PathId,
    container: ContainerDep,
    body: Annotated[VerifyIn | None, Body()] = None,
) -> JobIdsOut:
    """Queue verification of a library against what was published (and of the cache)."""
    repair = body.repair if body else None
    return JobIdsOut(
        job_ids=publishing_service(container).verify_library(library_id, repair=repair)
    )


@router.post("/movies/{movie_id}/verify", status_code=status.HTTP_202_ACCEPTED)
def verify_movie(
    movie_id: PathId,
    container: ContainerDep,
    body: Annotated[VerifyIn | None, Body()] = None,
) -> JobIdsOut:
    """Queue verification of one movie."""
    repair = body.repair if body else None
    return JobIdsOut(job_ids=publishing_service(container).verify_movie(movie_id, repair=repair))


@router.get("/verification")
def verification(
    container: ContainerDep,
    library_id: QueryId = None,
    movie_id: QueryId = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 10,
) -> VerificationOut:
    """The latest verification runs with their findings and what was repaired."""
    runs = publishing_service(container).verification(
        library_id=library_id, movie_id=movie_id, limit=limit
    )
    return VerificationOut(runs=[VerificationRunOut(**r) for r in runs])


@router.get("/recycle-bin")
def recycle_bin(
    container: ContainerDep,
    library_id: QueryId = None,
    movie_id: QueryId = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> RecyclePageOut:
    """Files Metarr replaced or removed, newest first."""
    items, total = publishing_service(container).recycle_bin(
        library_id=library_id, movie_id=movie_id, limit=limit, offset=offset
    )
    return RecyclePageOut(
        items=[
            RecycleEntryOut(
                id=e.id,
                library_id=e.library_id,
                movie_id=e.movie_id,
                original_path=e.original_path,
                rel_path=e.rel_path,
                reason=e.reason,
                size=e.size,
                sha256=e.sha256,
                recycled_at=e.recycled_at,
            )
            for e in items
        ],
        total=total,
    )


@router.post("/recycle-bin/{entry_id}/restore")
def restore(entry_id: PathId, container: ContainerDep) -> RestoreOut:
    """Put a recycled file back where it was, byte for byte."""
    return RestoreOut(**asdict(publishing_service(container).restore(entry_id)))


@router.delete("/recycle-bin/{entry_id}", status_code=status.HTTP_204_NO_CONTENT)
def purge(entry_id: PathId, container: ContainerDep) -> Response:
    """Delete a recycled file for good."""
    publishing_service(container).purge(entry_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
