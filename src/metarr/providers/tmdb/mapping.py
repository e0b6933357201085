"""TMDB payloads -> domain (pure: no I/O, no clock)."""

from __future__ import annotations

from dataclasses import dataclass

from metarr.domain.candidates import (
    AssetCandidate,
    CollectionDetails,
    MovieDetails,
    SearchResult,
    Trailer,
)
from metarr.domain.media import Actor, ArtworkType, ExternalIds, MovieInfo, MovieSet, Rating
from metarr.domain.trailers import best_trailer, kodi_trailer_url
from metarr.providers.tmdb import schemas

PROVIDER = "tmdb"

# Which release type's certification wins in a country: theatrical first, then
# limited theatrical, digital, physical, TV, premiere. Empty certifications never win.
RELEASE_TYPE_ORDER = (3, 2, 4, 5, 6, 1)

_NO_TEXT = frozenset({"", "xx", "00", "zxx", "null", "none"})


def normalise_language(code: str | None) -> str | None:
    """An ISO 639-1 code in lower case, or None for "no text" (null, "", "xx", "00")."""
    if code is None:
        return None
    code = code.strip().lower()
    return None if code in _NO_TEXT else code


def year_of(date: str | None) -> int | None:
    """The year of an ISO date ("1999-10-15" -> 1999), None when missing."""
    if not date or len(date) < 4 or not date[:4].isdigit():
        return None
    return int(date[:4])


@dataclass(frozen=True, slots=True)
class ImageBase:
    """Builds image URLs from TMDB's image base URL (from /configuration or settings)."""

    base_url: str

    def url(self, path: str | None, size: str = "original") -> str | None:
        """The URL of image `path` at `size`, or None without a path."""
        if not path:
            return None
        return f"{self.base_url.rstrip('/')}/{size}/{path.lstrip('/')}"


def image_base_from_configuration(config: schemas.Configuration) -> ImageBase:
    """The HTTPS image base of a /configuration answer."""
    base = config.images.secure_base_url or config.images.base_url
    if not base:
        raise ValueError("configuration without an image base URL")
    return ImageBase(base)


def certification_for(
    release_dates: schemas.ReleaseDates | None,
    country: str,
    legacy: schemas.LegacyReleases | None = None,
) -> str | None:
    """The rating of `country`: best release type first, earliest date within a type."""
    return certifications(release_dates, legacy).get(country.upper())


def certifications(
    release_dates: schemas.ReleaseDates | None,
    legacy: schemas.LegacyReleases | None = None,
) -> dict[str, str]:
    """Country -> rating, for every country with a non-empty certification."""
    out: dict[str, str] = {}
    if release_dates is not None:
        for country in release_dates.results:
            rated = [r for r in country.release_dates if r.certification.strip()]
            if not rated:
                continue
            best = min(
                rated,
                key=lambda r: (
                    RELEASE_TYPE_ORDER.index(r.type)
                    if r.type in RELEASE_TYPE_ORDER
                    else len(RELEASE_TYPE_ORDER),
                    r.release_date or "9999",
                ),
            )
            out[country.iso_3166_1.upper()] = best.certification.strip()
    if legacy is not None:  # pre-2015 `releases`: only where release_dates said nothing
        for release in legacy.countries:
            cert = release.certification.strip()
            if cert:
                out.setdefault(release.iso_3166_1.upper(), cert)
    return out


def _unique(values: list[str]) -> list[str]:
    seen: set[str] = set()
    out: list[str] = []
    for value in values:
        if value and value not in seen:
            seen.add(value)
            out.append(value)
    return out


def cast_of(credits: schemas.Credits | None, images: ImageBase) -> list[Actor]:
    """The cast in billing order with profile image URLs."""
    if credits is None:
        return []
    members = sorted(
        enumerate(credits.cast),
        key=lambda pair: (pair[1].order if pair[1].order is not None else 10_000, pair[0]),
    )
    return [
        Actor(
            name=member.name,
            role=member.character or None,
            order=member.order if member.order is not None else index,
            thumb=images.url(member.profile_path),
        )
        for index, member in members
    ]


def directors_of(credits: schemas.Credits | None) -> list[str]:
    """Crew with the job Director, in payload order."""
    if credits is None:
        return []
    return _unique([c.name for c in credits.crew if c.job == "Director"])


def writers_of(credits: schemas.Credits | None) -> list[str]:
    """Crew of the Writing department (screenplay, novel, story...), in payload order."""
    if credits is None:
        return []
    return _unique([c.name for c in credits.crew if c.department == "Writing"])


def candidates_from_images(
    images: schemas.Images | None, base: ImageBase, provider: str = PROVIDER
) -> list[AssetCandidate]:
    """Posters -> poster, backdrops -> fanart, logos -> clearlogo (language normalised)."""
    if images is None:
        return []
    kinds = (
        (ArtworkType.POSTER, images.posters),
        (ArtworkType.FANART, images.backdrops),
        (ArtworkType.CLEARLOGO, images.logos),
    )
    out: list[AssetCandidate] = []
    for kind, items in kinds:
        for image in items:
            url = base.url(image.file_path)
            if url is None:
                continue
            out.append(
                AssetCandidate(
                    type=kind,
                    url=url,
                    provider=provider,
                    width=image.width,
                    height=image.height,
                    language=normalise_language(image.iso_639_1),
                    votes=image.vote_count,
                    vote_average=image.vote_average,
                    remote_id=image.file_path,
                )
            )
    return out


def trailers_of(movie: schemas.Movie) -> list[Trailer]:
    """Trailers (and teasers), official ones first; falls back to legacy `trailers`."""
    found: list[Trailer] = []
    if movie.videos is not None:
        for video in movie.videos.results:
            if video.type not in ("Trailer", "Teaser"):
                continue
            found.append(
                Trailer(
                    key=video.key,
                    site=video.site,
                    name=video.name,
                    type=video.type,
                    language=normalise_language(video.iso_639_1),
                    official=video.official,
                    size=video.size,
                )
            )
    elif movie.trailers is not None:
        for legacy in movie.trailers.youtube:
            found.append(
                Trailer(key=legacy.source, name=legacy.name, type=legacy.type or "Trailer")
            )
    # stable: official trailers, then official teasers, then the rest
    return sorted(found, key=lambda t: (not t.official, t.type != "Trailer"))


def _kodi_trailer(trailers: list[Trailer]) -> str | None:
    # No language preference here: enrichment picks again with the configured one.
    return kodi_trailer_url(best_trailer(trailers, None))


def details_from_payload(
    movie: schemas.Movie, images: ImageBase, *, country: str = "US"
) -> MovieDetails:
    """Map a `/movie/{id}` answer (with appends) to `MovieDetails`."""
    imdb = movie.imdb_id or (movie.external_ids.imdb_id if movie.external_ids else None)
    collection = (
        MovieSet(name=movie.belongs_to_collection.name, tmdb=movie.belongs_to_collection.id)
        if movie.belongs_to_collection is not None
        else None
    )
    certs = certifications(movie.release_dates, movie.releases)
    trailers = trailers_of(movie)
    ratings = []
    if movie.vote_average is not None and movie.vote_count:
        ratings.append(
            Rating(source="themoviedb", value=movie.vote_average, votes=movie.vote_count)
        )
    info = MovieInfo(
        title=movie.title,
        original_title=movie.original_title or None,
        year=year_of(movie.release_date),
        plot=movie.overview or None,
        tagline=movie.tagline or None,
        runtime=movie.runtime or None,
        premiered=movie.release_date or None,
        certification=certs.get(country.upper()),
        genres=_unique([g.name for g in movie.genres]),
        studios=_unique([c.name for c in movie.production_companies]),
        countries=_unique([c.name or c.iso_3166_1 for c in movie.production_countries]),
        tags=_unique([k.name for k in movie.keywords.keywords]) if movie.keywords else [],
        directors=directors_of(movie.credits),
        writers=writers_of(movie.credits),
        cast=cast_of(movie.credits, images),
        ratings=ratings,
        set=collection,
        trailer=_kodi_trailer(trailers),
    )
    alternative = (
        _unique([t.title for t in movie.alternative_titles.titles])
        if movie.alternative_titles
        else []
    )
    return MovieDetails(
        provider=PROVIDER,
        ids=ExternalIds(tmdb=movie.id, imdb=imdb or None),
        info=info,
        collection=collection,
        certifications=certs,
        assets=candidates_from_images(movie.images, images),
        trailers=trailers,
        original_language=movie.original_language,
        popularity=movie.popularity,
        alternative_titles=alternative,
    )


def search_result(summary: schemas.MovieSummary, images: ImageBase) -> SearchResult:
    """One search hit / find hit / collection part."""
    return SearchResult(
        tmdb=summary.id,
        title=summary.title,
        original_title=summary.original_title or None,
        year=year_of(summary.release_date),
        popularity=summary.popularity,
        poster_url=images.url(summary.poster_path, "w342"),
        overview=summary.overview or None,
        original_language=summary.original_language,
    )


def search_results(page: schemas.SearchPage, images: ImageBase) -> list[SearchResult]:
    """The hits of a search page, in TMDB's order."""
    return [search_result(s, images) for s in page.results]


def find_results(found: schemas.FindResult, images: ImageBase) -> list[SearchResult]:
    """The movie hits of a `/find` by external id."""
    return [search_result(s, images) for s in found.movie_results]


def collection_from_payload(collection: schemas.Collection, images: ImageBase) -> CollectionDetails:
    """A `/collection/{id}` answer: the set, its movies by release date, its artwork."""
    parts = sorted(
        (search_result(p, images) for p in collection.parts),
        key=lambda r: (r.year is None, r.year or 0, r.tmdb),
    )
    assets = candidates_from_images(collection.images, images)
    if not assets:
        for kind, path in (
            (ArtworkType.POSTER, collection.poster_path),
            (ArtworkType.FANART, collection.backdrop_path),
        ):
            url = images.url(path)
            if url is not None:
                assets.append(AssetCandidate(kind, url, PROVIDER, remote_id=path))
    return CollectionDetails(
        set=MovieSet(
            name=collection.name, overview=collection.overview or None, tmdb=collection.id
        ),
        parts=tuple(parts),
        assets=tuple(assets),
    )


def changed_ids(page: schemas.ChangesPage) -> list[int]:
    """The movie ids of one changes page."""
    return [c.id for c in page.results]
