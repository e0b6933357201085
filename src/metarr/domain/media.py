"""Entities and value objects of a movie library: files, streams, ids, metadata."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class FileKind(StrEnum):
    """What a file in a library is, as the API reports it."""

    VIDEO = "video"
    NFO = "nfo"
    ARTWORK = "artwork"
    SUBTITLE = "subtitle"
    AUDIO = "audio"
    ACTOR = "actor"
    UNKNOWN = "unknown"


class VideoRole(StrEnum):
    """The role of a video file inside a movie."""

    MAIN = "main"
    PART = "part"
    EXTRA = "extra"
    TRAILER = "trailer"
    SAMPLE = "sample"


class ArtworkType(StrEnum):
    """Artwork types Kodi and Jellyfin know, under Kodi's names."""

    POSTER = "poster"
    FANART = "fanart"
    BANNER = "banner"
    CLEARLOGO = "clearlogo"
    CLEARART = "clearart"
    DISCART = "discart"
    LANDSCAPE = "landscape"
    KEYART = "keyart"
    CHARACTERART = "characterart"


class MovieStatus(StrEnum):
    """Identification state of a movie."""

    IDENTIFIED = "identified"
    UNIDENTIFIED = "unidentified"
    NEEDS_REVIEW = "needs_review"


class DiscType(StrEnum):
    """Disc structure of a movie folder."""

    BLURAY = "bluray"
    DVD = "dvd"


@dataclass(frozen=True, slots=True)
class ExternalIds:
    """Provider ids of an item; `None` means unknown."""

    tmdb: int | None = None
    imdb: str | None = None
    tvdb: int | None = None

    def is_empty(self) -> bool:
        """True when no id is known."""
        return self.tmdb is None and self.imdb is None and self.tvdb is None

    def as_dict(self) -> dict[str, int | str | None]:
        """The ids as a plain mapping, as the API shows them."""
        return {"tmdb": self.tmdb, "imdb": self.imdb, "tvdb": self.tvdb}


@dataclass(frozen=True, slots=True)
class Classification:
    """How the scanner classified one file (pure result of its path)."""

    kind: FileKind
    role: str | None = None
    language: str | None = None
    forced: bool = False
    sdh: bool = False
    part: int | None = None  # stack part number, artwork index (fanart1..N)
    actor: str | None = None  # actor name for `.actors/<Name>.jpg`


@dataclass(frozen=True, slots=True)
class Stream:
    """One stream of a media file, as a prober reads it."""

    index: int
    kind: str  # "video" | "audio" | "subtitle"
    codec: str | None = None
    language: str | None = None
    title: str | None = None
    default: bool = False
    forced: bool = False
    width: int | None = None
    height: int | None = None
    aspect: float | None = None
    frame_rate: float | None = None
    hdr: str | None = None  # "HDR10" | "HDR10+" | "HLG" | "Dolby Vision"
    channels: int | None = None


@dataclass(frozen=True, slots=True)
class ProbeResult:
    """What a prober learned about one media file."""

    ok: bool
    prober: str | None = None  # "mediainfo" | "ffprobe"
    container: str | None = None
    duration: float | None = None  # seconds
    streams: tuple[Stream, ...] = ()
    error: str | None = None


@dataclass(frozen=True, slots=True)
class Rating:
    """A rating from one source."""

    source: str
    value: float
    votes: int | None = None
    max: float = 10.0
    default: bool = False


@dataclass(frozen=True, slots=True)
class Actor:
    """A cast member."""

    name: str
    role: str | None = None
    order: int | None = None
    thumb: str | None = None
    thumb_sha256: str | None = None  # the cached headshot


@dataclass(frozen=True, slots=True)
class MovieSet:
    """A collection (Kodi `<set>`)."""

    name: str
    overview: str | None = None
    tmdb: int | None = None


@dataclass(slots=True)
class MovieInfo:
    """Metadata of a movie as read from an NFO or a provider (empty = unknown)."""

    title: str | None = None
    original_title: str | None = None
    sort_title: str | None = None
    year: int | None = None
    plot: str | None = None
    outline: str | None = None
    tagline: str | None = None
    runtime: int | None = None  # minutes
    premiered: str | None = None  # ISO date
    certification: str | None = None
    genres: list[str] = field(default_factory=list)
    studios: list[str] = field(default_factory=list)
    countries: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    directors: list[str] = field(default_factory=list)
    writers: list[str] = field(default_factory=list)
    cast: list[Actor] = field(default_factory=list)
    ratings: list[Rating] = field(default_factory=list)
    set: MovieSet | None = None
    userrating: float | None = None
    top250: int | None = None
    trailer: str | None = None


# The metadata fields Metarr manages, in display order (the keys of `MovieInfo`
# that carry provenance in the database).
METADATA_FIELDS: tuple[str, ...] = (
    "title",
    "original_title",
    "sort_title",
    "year",
    "plot",
    "outline",
    "tagline",
    "runtime",
    "premiered",
    "certification",
    "genres",
    "studios",
    "countries",
    "tags",
    "directors",
    "writers",
    "cast",
    "ratings",
    "set",
    "userrating",
    "top250",
    "trailer",
)


@dataclass(frozen=True, slots=True)
class NfoDocument:
    """An NFO file as read: ids, metadata, and whether it parsed cleanly."""

    ids: ExternalIds
    info: MovieInfo
    kind: str  # root element: "movie", "tvshow", "episodedetails", ..., or "url" / "invalid"
    well_formed: bool
    conflicts: tuple[str, ...] = ()  # id types given more than once with different values
    error: str | None = None
