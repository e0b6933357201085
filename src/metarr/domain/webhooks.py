"""Webhook rules: what each downloader event means for Metarr, and manager path mapping."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from metarr.domain import pathmap
from metarr.domain.media import ExternalIds


class WebhookSource(StrEnum):
    """The downloaders that can call Metarr's webhook."""

    RADARR = "radarr"
    SONARR = "sonarr"
    LIDARR = "lidarr"


SOURCES: tuple[str, ...] = tuple(s.value for s in WebhookSource)
_SOURCE_NAMES = {"radarr": "Radarr", "sonarr": "Sonarr", "lidarr": "Lidarr"}


class WebhookAction(StrEnum):
    """What Metarr does about one event."""

    TEST = "test"  # a connection test: answer, note it
    RECORD = "record"  # an activity entry, nothing else
    SCAN = "scan"  # rescan the movie's folder in the background
    SOFT_DELETE = "soft_delete"  # mark the movie gone (files untouched)
    KEEP = "keep"  # deliberately nothing: an upgrade is replacing the file
    IGNORE = "ignore"  # not handled (yet)


@dataclass(frozen=True, slots=True)
class ManagerEvent:
    """The parts of a downloader payload the rules need, already typed."""

    source: WebhookSource
    event_type: str
    title: str | None = None
    year: int | None = None
    folder_path: str | None = None  # as the downloader sees it
    ids: ExternalIds = field(default_factory=ExternalIds)
    is_upgrade: bool = False
    delete_reason: str | None = None
    deleted_files: bool = False  # files were (or will be) removed from disk
    level: str | None = None  # health level as sent
    message: str | None = None  # health / update / manual-interaction text
    release_title: str | None = None

    @property
    def display_title(self) -> str:
        """`Title (Year)` for messages, or a placeholder."""
        if not self.title:
            return "an unnamed item"
        return f"{self.title} ({self.year})" if self.year else self.title


@dataclass(frozen=True, slots=True)
class Plan:
    """The decision for one event: the action and how the activity log tells it."""

    action: WebhookAction
    kind: str  # activity kind
    level: str  # info | warning | error
    message: str
    folder_must_exist: bool = False  # a scan of a folder that is missing here is refused


def plan_event(event: ManagerEvent) -> Plan:
    """Classify an event into an action (PRODUCT.md §1.7); never raises."""
    name = source_name(event.source)
    if event.source is not WebhookSource.RADARR:
        later = "TV" if event.source is WebhookSource.SONARR else "Music"
        return Plan(
            WebhookAction.IGNORE,
            "webhook.received",
            "info",
            f"{name} {event.event_type} received; {later} handling comes later",
        )
    title = event.display_title
    match event.event_type:
        case "Test":
            return Plan(
                WebhookAction.TEST, "webhook.received", "info", f"{name} test notification received"
            )
        case "Grab":
            release = f" ({event.release_title})" if event.release_title else ""
            return Plan(
                WebhookAction.RECORD, "download.grabbed", "info", f"{name} grabbed {title}{release}"
            )
        case "Download":
            what = "an upgrade of " if event.is_upgrade else ""
            message = f"{name} imported {what}{title}"
            return Plan(WebhookAction.SCAN, "webhook.received", "info", message, True)
        case "Rename":
            return Plan(
                WebhookAction.SCAN, "webhook.received", "info", f"{name} renamed {title}", True
            )
        case "MovieFileDelete":
            reason = (event.delete_reason or "").strip()
            if reason.lower() == "upgrade":
                return Plan(
                    WebhookAction.KEEP,
                    "webhook.received",
                    "info",
                    f"{name} deleted the old file of {title}: upgrade in progress, metadata kept",
                )
            because = f" ({reason})" if reason else ""
            return Plan(
                WebhookAction.SCAN,
                "webhook.received",
                "info",
                f"{name} deleted the file of {title}{because}",
            )
        case "MovieDelete":
            files = "with its files" if event.deleted_files else "keeping its files"
            return Plan(
                WebhookAction.SOFT_DELETE,
                "movie.deleted",
                "info",
                f"{name} deleted {title} {files}",
            )
        case "MovieAdded":
            return Plan(WebhookAction.RECORD, "movie.added", "info", f"{name} added {title}")
        case "Health":
            text = event.message or "a health check failed"
            return Plan(
                WebhookAction.RECORD,
                "health.issue",
                health_level(event.level),
                f"{name} health: {text}",
            )
        case "HealthRestored":
            text = event.message or "a health check passes again"
            return Plan(
                WebhookAction.RECORD, "health.restored", "info", f"{name} health restored: {text}"
            )
        case "ApplicationUpdate":
            text = event.message or f"{name} was updated"
            return Plan(WebhookAction.RECORD, "application.update", "info", text)
        case "ManualInteractionRequired":
            detail = f": {event.message}" if event.message else ""
            return Plan(
                WebhookAction.RECORD,
                "manual_interaction",
                "warning",
                f"{name} needs a manual import decision for {title}{detail}",
            )
    return Plan(
        WebhookAction.IGNORE,
        "webhook.received",
        "info",
        f"{name} event {event.event_type!r} is not handled",
    )


def source_name(source: str) -> str:
    """`Radarr`, `Sonarr`, `Lidarr` for messages."""
    return _SOURCE_NAMES.get(source, source)


def health_level(level: str | None) -> str:
    """Map a downloader health level (ok, notice, warning, error) to an activity level."""
    value = (level or "").strip().lower()
    if value == "error":
        return "error"
    if value == "warning":
        return "warning"
    return "info" if value in ("ok", "notice") else "warning"


_IMDB_RE = re.compile(r"tt\d{5,12}")


def hint_ids(tmdb: int | None, imdb: str | None) -> ExternalIds:
    """The ids a payload gives, keeping only plausible ones (Radarr's test sends tmdb 0)."""
    imdb = imdb.strip() if imdb else None
    return ExternalIds(
        tmdb=tmdb if tmdb is not None and tmdb > 0 else None,
        imdb=imdb if imdb and _IMDB_RE.fullmatch(imdb) else None,
    )


# -- manager path mapping -------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PathMapping:
    """A downloader's path prefix and where Metarr sees the same folder."""

    id: int
    source: str
    from_path: str
    to_path: str


@dataclass(frozen=True, slots=True)
class MappedPath:
    """The result of mapping a path: Metarr's path and the mapping used (None: as is)."""

    path: str
    mapping: PathMapping | None


def is_windows_path(path: str) -> bool:
    """True for `C:\\...`, `C:/...` and UNC `\\\\server\\share` paths."""
    return pathmap.is_windows_path(path)


def is_absolute_manager_path(path: str) -> bool:
    """True for an absolute POSIX or Windows path (what a downloader reports)."""
    return path.startswith("/") or pathmap.is_windows_path(path)


def normalize_manager_path(path: str) -> str:
    """One spelling per folder: forward slashes, no trailing slash, `.`/`..` resolved."""
    return pathmap.normalize_path(path, native=False)


def map_manager_path(path: str, mappings: Iterable[PathMapping]) -> MappedPath:
    """Map a downloader's path with the longest matching `from_path` (whole components).

    `/data/movies` never matches `/data/movies-4k`; Windows paths (`D:\\Movies\\X`)
    match case-insensitively. Without a matching mapping the path is used as is
    (normalized, forward slashes). The rules are those of `domain.pathmap`.
    """
    result = pathmap.map_path(path, mappings)
    if result.rule is None:
        return MappedPath(normalize_manager_path(path), None)
    return MappedPath(result.path, result.rule)


def relative_to_root(path: str, root: str) -> str | None:
    """`path` relative to `root` (whole components, `/`-joined; "" when equal), else None."""
    return pathmap.relative_to(path, root)


def find_library(path: str, roots: Sequence[tuple[int, str]]) -> tuple[int, str] | None:
    """The (library id, relative folder) of the deepest library root holding `path`."""
    best: tuple[int, int, str] | None = None
    for library_id, root in roots:
        rel = relative_to_root(path, root)
        if rel is None:
            continue
        depth = len(pathmap.split_path(root).parts)
        if best is None or depth > best[0]:
            best = (depth, library_id, rel)
    return (best[1], best[2]) if best else None
