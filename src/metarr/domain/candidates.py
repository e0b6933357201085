"""What providers hand back: movie details, artwork candidates, search results."""

from __future__ import annotations

from dataclasses import dataclass, field

from metarr.domain.media import Actor, ArtworkType, ExternalIds, MovieInfo, MovieSet


@dataclass(frozen=True, slots=True)
class AssetCandidate:
    """One artwork URL offered by a provider; `language` None means "no text"."""

    type: ArtworkType
    url: str
    provider: str
    width: int | None = None
    height: int | None = None
    language: str | None = None
    votes: int | None = None  # TMDB vote_count, fanart.tv likes
    vote_average: float | None = None  # TMDB only (0-10)
    remote_id: str | None = None  # the provider's id of the image, when it has one


@dataclass(frozen=True, slots=True)
class Trailer:
    """A trailer (or other video) a provider knows, by site and key."""

    key: str
    site: str = "YouTube"
    name: str | None = None
    type: str = "Trailer"
    language: str | None = None
    official: bool = False
    size: int | None = None  # vertical resolution (1080, 720...)


@dataclass(slots=True)
class MovieDetails:
    """Everything one provider knows about one movie, mapped to the domain."""

    provider: str
    ids: ExternalIds
    info: MovieInfo
    collection: MovieSet | None = None
    certifications: dict[str, str] = field(default_factory=dict)  # country -> rating
    assets: list[AssetCandidate] = field(default_factory=list)
    trailers: list[Trailer] = field(default_factory=list)
    original_language: str | None = None
    popularity: float | None = None
    alternative_titles: list[str] = field(default_factory=list)

    @property
    def cast(self) -> list[Actor]:
        """The cast in billing order, with profile image URLs in `Actor.thumb`."""
        return self.info.cast


@dataclass(frozen=True, slots=True)
class SearchResult:
    """One hit of a provider search (or an id lookup)."""

    tmdb: int
    title: str
    original_title: str | None = None
    year: int | None = None
    popularity: float | None = None
    poster_url: str | None = None
    alternative_titles: tuple[str, ...] = ()
    overview: str | None = None
    original_language: str | None = None


@dataclass(frozen=True, slots=True)
class CollectionDetails:
    """A collection (Kodi set) with its movies and artwork."""

    set: MovieSet
    parts: tuple[SearchResult, ...] = ()
    assets: tuple[AssetCandidate, ...] = ()
