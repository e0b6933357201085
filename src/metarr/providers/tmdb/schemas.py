"""TMDB v3 payload models (only the fields we read; lax: old payloads carry numbers as strings)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore")


class Genre(_Model):
    """A genre."""

    id: int | None = None
    name: str


class Company(_Model):
    """A production company."""

    id: int | None = None
    name: str


class Country(_Model):
    """A production country."""

    iso_3166_1: str
    name: str | None = None


class CollectionRef(_Model):
    """`belongs_to_collection` of a movie."""

    id: int
    name: str
    poster_path: str | None = None
    backdrop_path: str | None = None


class CastMember(_Model):
    """One `credits.cast` entry."""

    id: int | None = None
    name: str
    character: str | None = None
    order: int | None = None
    profile_path: str | None = None


class CrewMember(_Model):
    """One `credits.crew` entry."""

    id: int | None = None
    name: str
    department: str | None = None
    job: str | None = None
    profile_path: str | None = None


class Credits(_Model):
    """`credits`."""

    cast: list[CastMember] = Field(default_factory=list)
    crew: list[CrewMember] = Field(default_factory=list)


class Image(_Model):
    """One image of `images.posters/backdrops/logos`."""

    file_path: str
    width: int | None = None
    height: int | None = None
    iso_639_1: str | None = None
    vote_average: float | None = None
    vote_count: int | None = None


class Images(_Model):
    """`images`."""

    posters: list[Image] = Field(default_factory=list)
    backdrops: list[Image] = Field(default_factory=list)
    logos: list[Image] = Field(default_factory=list)


class Video(_Model):
    """One `videos.results` entry."""

    key: str
    site: str = "YouTube"
    name: str | None = None
    type: str | None = None
    iso_639_1: str | None = None
    official: bool = False
    size: int | None = None


class Videos(_Model):
    """`videos`."""

    results: list[Video] = Field(default_factory=list)


class LegacyTrailer(_Model):
    """`trailers.youtube[]` of old (pre-2015) append responses."""

    source: str
    name: str | None = None
    type: str | None = None


class LegacyTrailers(_Model):
    """`trailers`."""

    youtube: list[LegacyTrailer] = Field(default_factory=list)


class ReleaseDate(_Model):
    """One dated release in a country."""

    certification: str = ""
    type: int | None = None
    release_date: str | None = None
    note: str | None = None


class CountryReleases(_Model):
    """`release_dates.results[]`."""

    iso_3166_1: str
    release_dates: list[ReleaseDate] = Field(default_factory=list)


class ReleaseDates(_Model):
    """`release_dates`."""

    results: list[CountryReleases] = Field(default_factory=list)


class LegacyRelease(_Model):
    """`releases.countries[]` of old append responses."""

    iso_3166_1: str
    certification: str = ""
    release_date: str | None = None
    primary: bool = False


class LegacyReleases(_Model):
    """`releases`."""

    countries: list[LegacyRelease] = Field(default_factory=list)


class ExternalIds(_Model):
    """`external_ids`."""

    imdb_id: str | None = None
    wikidata_id: str | None = None


class Keyword(_Model):
    """A keyword."""

    id: int | None = None
    name: str


class Keywords(_Model):
    """`keywords`."""

    keywords: list[Keyword] = Field(default_factory=list)


class AlternativeTitle(_Model):
    """One alternative title."""

    title: str
    iso_3166_1: str | None = None


class AlternativeTitles(_Model):
    """`alternative_titles`."""

    titles: list[AlternativeTitle] = Field(default_factory=list)


class Movie(_Model):
    """`GET /movie/{id}` with any `append_to_response` parts."""

    id: int
    title: str
    original_title: str | None = None
    original_language: str | None = None
    overview: str | None = None
    tagline: str | None = None
    release_date: str | None = None
    runtime: int | None = None
    imdb_id: str | None = None
    popularity: float | None = None
    vote_average: float | None = None
    vote_count: int | None = None
    poster_path: str | None = None
    backdrop_path: str | None = None
    belongs_to_collection: CollectionRef | None = None
    genres: list[Genre] = Field(default_factory=list)
    production_companies: list[Company] = Field(default_factory=list)
    production_countries: list[Country] = Field(default_factory=list)
    credits: Credits | None = None
    images: Images | None = None
    videos: Videos | None = None
    trailers: LegacyTrailers | None = None
    release_dates: ReleaseDates | None = None
    releases: LegacyReleases | None = None
    external_ids: ExternalIds | None = None
    keywords: Keywords | None = None
    alternative_titles: AlternativeTitles | None = None


class MovieSummary(_Model):
    """A movie in search results, `/find` hits and collection parts."""

    id: int
    title: str
    original_title: str | None = None
    original_language: str | None = None
    overview: str | None = None
    release_date: str | None = None
    popularity: float | None = None
    poster_path: str | None = None
    backdrop_path: str | None = None


class SearchPage(_Model):
    """`GET /search/movie`."""

    page: int = 1
    results: list[MovieSummary] = Field(default_factory=list)
    total_pages: int = 1
    total_results: int = 0


class FindResult(_Model):
    """`GET /find/{external_id}`."""

    movie_results: list[MovieSummary] = Field(default_factory=list)


class Collection(_Model):
    """`GET /collection/{id}`."""

    id: int
    name: str
    overview: str | None = None
    poster_path: str | None = None
    backdrop_path: str | None = None
    parts: list[MovieSummary] = Field(default_factory=list)
    images: Images | None = None


class ImageConfiguration(_Model):
    """`images` of `GET /configuration`."""

    base_url: str | None = None
    secure_base_url: str | None = None
    poster_sizes: list[str] = Field(default_factory=list)
    backdrop_sizes: list[str] = Field(default_factory=list)
    profile_sizes: list[str] = Field(default_factory=list)
    logo_sizes: list[str] = Field(default_factory=list)


class Configuration(_Model):
    """`GET /configuration`."""

    images: ImageConfiguration


class Change(_Model):
    """One id of `GET /movie/changes`."""

    id: int
    adult: bool | None = None


class ChangesPage(_Model):
    """`GET /movie/changes`."""

    results: list[Change] = Field(default_factory=list)
    page: int = 1
    total_pages: int = 1
    total_results: int = 0
