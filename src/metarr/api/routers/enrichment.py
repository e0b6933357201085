"""Enrichment: identify/enrich/provider-update jobs, identification candidates, artwork choices."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated

from fastapi import APIRouter, File, Path, Query, UploadFile, status
from pydantic import BaseModel, ConfigDict, Field

from metarr.api.deps import MAX_ID, ContainerDep, PathId
from metarr.bootstrap import Container
from metarr.services.enrichment import AssetType, EnrichmentService

router = APIRouter(tags=["enrichment"])

ArtworkTypePath = Annotated[str, Path(min_length=1, max_length=20)]


class JobIdsOut(BaseModel):
    """The jobs a request queued."""

    job_ids: list[int]


class IdentifyIn(BaseModel):
    """A person's identification of a movie."""

    model_config = ConfigDict(extra="forbid")
    tmdb: int = Field(ge=1, le=MAX_ID)


class CandidateOut(BaseModel):
    """A movie the item may be."""

    tmdb: int
    title: str
    year: int | None
    score: float
    original_title: str | None = None
    poster_url: str | None = None
    overview: str | None = None


class CandidatesOut(BaseModel):
    """Identification candidates, best first."""

    movie_id: int
    items: list[CandidateOut]


class AssetOut(BaseModel):
    """One artwork candidate."""

    url: str
    provider: str
    width: int | None
    height: int | None
    language: str | None
    votes: int
    score: float
    blocked: bool
    selected: bool
    selected_by: str | None
    rejected: str | None
    sha256: str | None


class AssetTypeOut(BaseModel):
    """The candidates of one artwork type and the selected ones."""

    type: str
    locked: bool
    limit: int
    candidates: list[AssetOut]
    selected: list[AssetOut]


class AssetsOut(BaseModel):
    """A movie's artwork, per type."""

    movie_id: int
    types: dict[str, AssetTypeOut]


class AssetUrlIn(BaseModel):
    """The candidate a person acts on, by its URL."""

    model_config = ConfigDict(extra="forbid")
    url: str = Field(min_length=1, max_length=2000)


class JobIdOut(BaseModel):
    """The job a request queued."""

    job_id: int


def _type_out(t: AssetType) -> AssetTypeOut:
    return AssetTypeOut(
        type=t.type,
        locked=t.locked,
        limit=t.limit,
        candidates=[AssetOut(**asdict(v)) for v in t.candidates],
        selected=[AssetOut(**asdict(v)) for v in t.selected],
    )


def enrichment_service(container: Container) -> EnrichmentService:
    """The container's enrichment service."""
    return container.enrichment


@router.post("/movies/{movie_id}/enrich", status_code=status.HTTP_202_ACCEPTED)
def enrich_movie(movie_id: PathId, container: ContainerDep) -> JobIdsOut:
    """Queue identification (no TMDB id yet) or enrichment of one movie."""
    return JobIdsOut(job_ids=enrichment_service(container).enqueue_movie(movie_id))


@router.post("/libraries/{library_id}/enrich", status_code=status.HTTP_202_ACCEPTED)
def enrich_library(library_id: PathId, container: ContainerDep) -> JobIdsOut:
    """Queue identification or enrichment of every movie of a library that needs it."""
    return JobIdsOut(job_ids=enrichment_service(container).enqueue_library(library_id))


@router.get("/movies/{movie_id}/candidates")
def movie_candidates(
    movie_id: PathId,
    container: ContainerDep,
    q: Annotated[str | None, Query(max_length=200)] = None,
    year: Annotated[int | None, Query(ge=1870, le=2200)] = None,
) -> CandidatesOut:
    """Kept identification candidates, or a TMDB search (`q`, `year`) scored for this movie."""
    found = enrichment_service(container).candidates(movie_id, q=q, year=year)
    return CandidatesOut(movie_id=movie_id, items=[CandidateOut(**asdict(c)) for c in found])


@router.post("/movies/{movie_id}/identify", status_code=status.HTTP_202_ACCEPTED)
def identify_movie(movie_id: PathId, body: IdentifyIn, container: ContainerDep) -> JobIdsOut:
    """Set the TMDB id (a person's choice) and queue re-enrichment."""
    return JobIdsOut(job_ids=enrichment_service(container).identify(movie_id, body.tmdb))


@router.get("/movies/{movie_id}/assets")
def movie_assets(movie_id: PathId, container: ContainerDep) -> AssetsOut:
    """Per artwork type: candidates with their score, and the selected ones with their hash."""
    types = enrichment_service(container).assets(movie_id)
    return AssetsOut(movie_id=movie_id, types={t.type: _type_out(t) for t in types})


@router.post("/movies/{movie_id}/assets/{kind}/select")
def select_asset(
    movie_id: PathId, kind: ArtworkTypePath, body: AssetUrlIn, container: ContainerDep
) -> AssetTypeOut:
    """A person picks a candidate: cached, selected as theirs, and the type locked."""
    return _type_out(enrichment_service(container).select_asset(movie_id, kind, body.url))


@router.post("/movies/{movie_id}/assets/{kind}/upload")
def upload_asset(
    movie_id: PathId,
    kind: ArtworkTypePath,
    file: Annotated[UploadFile, File()],
    container: ContainerDep,
) -> AssetTypeOut:
    """A person's own image (multipart `file`): validated, cached, selected, type locked."""
    service = enrichment_service(container)
    # One byte past the cap is enough for the service to refuse it.
    data = file.file.read(service.enricher.options.max_bytes + 1)
    return _type_out(service.upload_asset(movie_id, kind, data))


@router.post("/movies/{movie_id}/assets/{kind}/block")
def block_asset(
    movie_id: PathId, kind: ArtworkTypePath, body: AssetUrlIn, container: ContainerDep
) -> AssetTypeOut:
    """Never select this candidate automatically (a selected one is dropped now)."""
    return _type_out(enrichment_service(container).block_asset(movie_id, kind, body.url))


@router.post("/movies/{movie_id}/assets/{kind}/lock")
def lock_asset(movie_id: PathId, kind: ArtworkTypePath, container: ContainerDep) -> AssetTypeOut:
    """Lock an artwork type: automation no longer changes it."""
    return _type_out(enrichment_service(container).lock_asset(movie_id, kind))


@router.post("/movies/{movie_id}/assets/{kind}/unlock")
def unlock_asset(movie_id: PathId, kind: ArtworkTypePath, container: ContainerDep) -> AssetTypeOut:
    """Let automation choose this artwork type again."""
    return _type_out(enrichment_service(container).lock_asset(movie_id, kind, locked=False))


@router.post("/libraries/{library_id}/provider-update", status_code=status.HTTP_202_ACCEPTED)
def provider_update(library_id: PathId, container: ContainerDep) -> JobIdOut:
    """Queue a change-driven provider update of a library (what TMDB changed, what is old)."""
    service = enrichment_service(container)
    return JobIdOut(job_id=service.schedule_runner(library_id, "manual"))
