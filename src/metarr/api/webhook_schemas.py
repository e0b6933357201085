"""Webhook wire models: Radarr/Sonarr/Lidarr payloads in, event log and mappings out.

Payload models are lenient (every field optional, unknown fields kept) because
each downloader version adds fields; `to_event` turns one into the domain's
`ManagerEvent`, which is all the rules look at.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic.alias_generators import to_camel

from metarr.domain.webhooks import ManagerEvent, WebhookSource, hint_ids

MAX_EVENT_TYPE = 60


class InvalidPayload(ValueError):
    """The body is not a JSON object with an `eventType`."""


class _Payload(BaseModel):
    """camelCase on the wire, snake_case here; unknown fields are kept, not refused."""

    model_config = ConfigDict(alias_generator=to_camel, validate_by_name=True, extra="allow")


class RadarrMovie(_Payload):
    """`movie` of a Radarr payload."""

    id: int | None = None
    title: str | None = None
    year: int | None = None
    release_date: str | None = None
    folder_path: str | None = None
    tmdb_id: int | None = None
    imdb_id: str | None = None


class RadarrRemoteMovie(_Payload):
    """`remoteMovie`: what the release was parsed as."""

    tmdb_id: int | None = None
    imdb_id: str | None = None
    title: str | None = None
    year: int | None = None


class RadarrMovieFile(_Payload):
    """`movieFile` / an entry of `deletedFiles`."""

    id: int | None = None
    relative_path: str | None = None
    path: str | None = None
    quality: str | None = None
    size: int | None = None


class RadarrRelease(_Payload):
    """`release` of a Grab."""

    quality: str | None = None
    release_title: str | None = None
    indexer: str | None = None
    size: int | None = None


class StatusMessage(_Payload):
    """One entry of `downloadStatusMessages` (ManualInteractionRequired)."""

    title: str | None = None
    messages: list[str] = Field(default_factory=list)


class RadarrPayload(_Payload):
    """Any Radarr webhook body (v3 and current); `event_type` tells which."""

    event_type: str
    instance_name: str | None = None
    application_url: str | None = None
    movie: RadarrMovie | None = None
    remote_movie: RadarrRemoteMovie | None = None
    movie_file: RadarrMovieFile | None = None
    release: RadarrRelease | None = None
    is_upgrade: bool | None = None
    # a list of files on Download (upgrade), a bool on MovieDelete
    deleted_files: list[RadarrMovieFile] | bool | None = None
    delete_reason: str | None = None
    download_client: str | None = None
    download_id: str | None = None
    download_status: str | None = None
    download_status_messages: list[StatusMessage] = Field(default_factory=list)
    # Health, HealthRestored, ApplicationUpdate
    level: str | None = None
    message: str | None = None
    type: str | None = None
    wiki_url: str | None = None
    previous_version: str | None = None
    new_version: str | None = None


class SonarrSeries(_Payload):
    """`series` of a Sonarr payload."""

    id: int | None = None
    title: str | None = None
    year: int | None = None
    path: str | None = None
    tvdb_id: int | None = None
    tmdb_id: int | None = None
    imdb_id: str | None = None


class SonarrPayload(_Payload):
    """Any Sonarr webhook body; kept and logged until TV handling arrives."""

    event_type: str
    series: SonarrSeries | None = None
    level: str | None = None
    message: str | None = None


class LidarrArtist(_Payload):
    """`artist` of a Lidarr payload."""

    name: str | None = None
    path: str | None = None


class LidarrPayload(_Payload):
    """Any Lidarr webhook body; kept and logged until music handling arrives."""

    event_type: str
    artist: LidarrArtist | None = None
    level: str | None = None
    message: str | None = None


def parse_body(body: bytes) -> dict[str, Any]:
    """The body as a JSON object with a string `eventType`, or InvalidPayload saying why."""
    if not body.strip():
        raise InvalidPayload("the body is empty")
    try:
        data = json.loads(body, parse_constant=_refuse_constant)
    except (ValueError, RecursionError) as exc:  # JSONDecodeError and bad UTF-8 are ValueErrors
        raise InvalidPayload(f"the body is not valid JSON ({_first_line(exc)})") from exc
    if not isinstance(data, dict):
        raise InvalidPayload("the body must be a JSON object")
    event_type = data.get("eventType")
    if not isinstance(event_type, str) or not event_type.strip():
        raise InvalidPayload("the body has no eventType")
    if len(event_type) > MAX_EVENT_TYPE or not event_type.isprintable():
        raise InvalidPayload("eventType is not a plausible event name")
    return data


def to_event(source: WebhookSource, data: dict[str, Any]) -> ManagerEvent:
    """Type a parsed body; raises pydantic's ValidationError when its shape is wrong."""
    if source is WebhookSource.RADARR:
        return _radarr_event(RadarrPayload.model_validate(data))
    if source is WebhookSource.SONARR:
        sonarr = SonarrPayload.model_validate(data)
        series = sonarr.series or SonarrSeries()
        return ManagerEvent(
            source=source,
            event_type=_clean(sonarr.event_type) or "",
            title=_clean(series.title),
            year=series.year or None,
            folder_path=_clean(series.path),
            level=_clean(sonarr.level),
            message=_clean(sonarr.message),
        )
    lidarr = LidarrPayload.model_validate(data)
    artist = lidarr.artist or LidarrArtist()
    return ManagerEvent(
        source=source,
        event_type=_clean(lidarr.event_type) or "",
        title=_clean(artist.name),
        folder_path=_clean(artist.path),
        level=_clean(lidarr.level),
        message=_clean(lidarr.message),
    )


def interpret(
    source: WebhookSource, data: dict[str, Any]
) -> tuple[ManagerEvent | None, str | None]:
    """`to_event` that never raises: (event, None) or (None, what did not fit)."""
    try:
        return to_event(source, data), None
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()[:5]
        )
        return None, problems


def _radarr_event(p: RadarrPayload) -> ManagerEvent:
    movie = p.movie or RadarrMovie()
    remote = p.remote_movie or RadarrRemoteMovie()
    year = movie.year or remote.year or _year_of(movie.release_date)
    message = p.message
    if p.event_type == "ManualInteractionRequired" and not message:
        lines = [m for s in p.download_status_messages for m in s.messages]
        message = "; ".join(lines[:3]) or p.download_status
    return ManagerEvent(
        source=WebhookSource.RADARR,
        event_type=_clean(p.event_type) or "",
        title=_clean(movie.title or remote.title),
        year=year or None,
        folder_path=_clean(movie.folder_path),
        # the movie's own ids; the release's parse only when there is no movie
        ids=hint_ids(movie.tmdb_id, movie.imdb_id)
        if p.movie is not None
        else hint_ids(remote.tmdb_id, remote.imdb_id),
        is_upgrade=bool(p.is_upgrade),
        delete_reason=_clean(p.delete_reason),
        deleted_files=bool(p.deleted_files),  # True, or a non-empty list
        level=_clean(p.level),
        message=_clean(message),
        release_title=_clean(p.release.release_title if p.release else None),
    )


def _year_of(date: str | None) -> int | None:
    if date and len(date) >= 4 and date[:4].isdigit():
        year = int(date[:4])
        return year if year > 1800 else None
    return None


def _clean(text: str | None) -> str | None:
    """Drop NUL characters (PostgreSQL text refuses them) and surrounding blanks."""
    if text is None:
        return None
    return text.replace("\x00", "").strip() or None


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not allowed")


def _first_line(exc: BaseException) -> str:
    return (str(exc).splitlines() or [type(exc).__name__])[0][:200]


# -- API responses --------------------------------------------------------------------


class WebhookResultOut(BaseModel):
    """Answer to a webhook call: the stored event id, its status and what was done."""

    id: int
    status: Literal["received", "processed", "ignored", "failed"]
    outcome: str | None
    actions: list[dict[str, Any]]


class WebhookEventOut(BaseModel):
    """A received webhook call in the event log."""

    id: int
    source: str
    event_type: str
    received_at: datetime
    remote_addr: str | None
    body_size: int
    status: str
    outcome: str | None
    actions: list[dict[str, Any]]
    scan_ids: list[int]
    job_ids: list[int]
    processed_at: datetime | None


class WebhookEventDetailOut(WebhookEventOut):
    """One received call with its raw body and parsed payload."""

    raw_body: str
    payload: dict[str, Any] | None


class WebhookEventPageOut(BaseModel):
    """A page of the event log."""

    items: list[WebhookEventOut]
    total: int


class PathMappingIn(BaseModel):
    """Body of `POST /webhooks/path-mappings`."""

    model_config = ConfigDict(extra="forbid")

    source: Literal["radarr", "sonarr", "lidarr"]
    from_path: str = Field(min_length=1, max_length=4096)
    to_path: str = Field(min_length=1, max_length=4096)


class PathMappingOut(BaseModel):
    """A manager path mapping."""

    id: int
    source: str
    from_path: str
    to_path: str
