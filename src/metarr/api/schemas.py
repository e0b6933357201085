"""Request and response models of the REST API."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class LibraryIn(BaseModel):
    """Body of `POST /libraries`."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    kind: Literal["movies"] = "movies"
    path: str = Field(min_length=1, max_length=4096)
    enabled: bool = True
    auto_enrich: bool = False
    auto_publish: bool = False
    auto_sync: bool = True
    ignore_patterns: list[str] = Field(default_factory=list, max_length=200)


class LibraryPatch(BaseModel):
    """Body of `PATCH /libraries/{id}`: only the given fields change."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=200)
    path: str | None = Field(default=None, min_length=1, max_length=4096)
    enabled: bool | None = None
    auto_enrich: bool | None = None
    auto_publish: bool | None = None
    auto_sync: bool | None = None
    ignore_patterns: list[str] | None = Field(default=None, max_length=200)


class LibraryOut(BaseModel):
    """A library."""

    id: int
    name: str
    kind: str
    path: str
    enabled: bool
    auto_enrich: bool
    auto_publish: bool
    auto_sync: bool
    ignore_patterns: list[str]
    movie_count: int
    created_at: datetime
    updated_at: datetime


class ScanIn(BaseModel):
    """Optional body of `POST /libraries/{id}/scan`."""

    model_config = ConfigDict(extra="forbid")

    scope: str | None = Field(default=None, max_length=4096)


class ScanOut(BaseModel):
    """A scan run."""

    id: int
    library_id: int
    job_id: int | None
    status: Literal["queued", "running", "succeeded", "failed", "cancelled"]
    trigger: str
    scope: str | None
    phase: str | None
    progress: float
    stats: dict[str, Any]
    error: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


class Ids(BaseModel):
    """Provider ids."""

    tmdb: int | None = None
    imdb: str | None = None
    tvdb: int | None = None


class MovieOut(BaseModel):
    """A movie in a list."""

    id: int
    library_id: int
    title: str | None
    year: int | None
    status: str
    ids: Ids
    artwork: list[str]
    path: str


class MoviePageOut(BaseModel):
    """A page of movies."""

    items: list[MovieOut]
    total: int


class FileOut(BaseModel):
    """A file of a movie."""

    id: int
    path: str
    kind: str
    role: str | None
    language: str | None
    forced: bool
    sdh: bool
    part: int | None
    actor: str | None
    size: int
    container: str | None
    duration: float | None
    probe_status: str | None
    prober: str | None
    probe_error: str | None


class StreamOut(BaseModel):
    """A stream of a media file."""

    file: str
    index: int
    kind: str
    codec: str | None
    language: str | None
    title: str | None
    default: bool
    forced: bool
    width: int | None
    height: int | None
    aspect: float | None
    frame_rate: float | None
    hdr: str | None
    channels: int | None


class FieldOut(BaseModel):
    """A metadata field with its provenance."""

    value: Any
    source: str | None
    updated_at: datetime | None
    locked: bool


class MovieDetailOut(MovieOut):
    """The movie page."""

    library_name: str
    disc: Literal["bluray", "dvd"] | None
    review_reason: str | None
    monitored: bool
    deleted_at: datetime | None
    created_at: datetime
    updated_at: datetime
    id_sources: dict[str, str]
    files: list[FileOut]
    streams: list[StreamOut]
    metadata: dict[str, FieldOut]
