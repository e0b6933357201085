"""TMDB v3 wire calls: one method per endpoint, returning validated payload models."""

from __future__ import annotations

from datetime import date

from metarr.providers.base import ProviderHttp, parse_payload
from metarr.providers.settings import ProviderConfig
from metarr.providers.tmdb import schemas

# Everything a first enrichment needs, in one request.
DETAIL_APPENDS = ("credits", "images", "videos", "release_dates", "external_ids", "keywords")

# The changes list moves all the time: cache it briefly at most.
CHANGES_TTL = 0.0


class TmdbApi:
    """Typed calls to TMDB v3 through the shared HTTP plumbing."""

    def __init__(self, http: ProviderHttp, config: ProviderConfig) -> None:
        self.http = http
        self.config = config

    def _languages(self) -> str:
        # With `language` set TMDB filters images and videos by it; ask for ours,
        # English and "no language" so textless art and fallbacks are included.
        lang = self.config.image_language
        return ",".join(dict.fromkeys([lang, "en", "null", "xx"]))

    async def configuration(self) -> schemas.Configuration:
        """`GET /configuration` (image base URL and sizes)."""
        data = await self.http.get_json("configuration")
        return parse_payload(schemas.Configuration, data, provider="tmdb")

    async def search_movie(
        self, query: str, year: int | None = None, page: int = 1
    ) -> schemas.SearchPage:
        """`GET /search/movie`."""
        data = await self.http.get_json(
            "search/movie",
            {
                "query": query,
                "year": year,
                "page": page,
                "include_adult": "false",
                "language": self.config.language,
                "region": self.config.region,
            },
        )
        return parse_payload(schemas.SearchPage, data, provider="tmdb")

    async def movie(
        self, tmdb_id: int, appends: tuple[str, ...] = DETAIL_APPENDS, *, fresh: bool = False
    ) -> schemas.Movie:
        """`GET /movie/{id}` with `append_to_response` (one request for everything).

        `fresh` skips the response cache (TMDB said the movie changed).
        """
        langs = self._languages()
        data = await self.http.get_json(
            f"movie/{int(tmdb_id)}",
            {
                "language": self.config.language,
                "append_to_response": ",".join(appends) or None,
                "include_image_language": langs if "images" in appends else None,
                "include_video_language": langs if "videos" in appends else None,
            },
            cache_ttl=0 if fresh else None,
        )
        return parse_payload(schemas.Movie, data, provider="tmdb")

    async def find_imdb(self, imdb_id: str) -> schemas.FindResult:
        """`GET /find/{imdb_id}?external_source=imdb_id`."""
        data = await self.http.get_json(
            f"find/{imdb_id}",
            {"external_source": "imdb_id", "language": self.config.language},
        )
        return parse_payload(schemas.FindResult, data, provider="tmdb")

    async def collection(self, collection_id: int) -> schemas.Collection:
        """`GET /collection/{id}` with its images."""
        data = await self.http.get_json(
            f"collection/{int(collection_id)}",
            {
                "language": self.config.language,
                "append_to_response": "images",
                "include_image_language": self._languages(),
            },
        )
        return parse_payload(schemas.Collection, data, provider="tmdb")

    async def movie_changes(
        self, start: date | None = None, end: date | None = None, page: int = 1
    ) -> schemas.ChangesPage:
        """`GET /movie/changes` (the global list; at most 14 days per query)."""
        data = await self.http.get_json(
            "movie/changes",
            {
                "start_date": start.isoformat() if start else None,
                "end_date": end.isoformat() if end else None,
                "page": page,
            },
            cache_ttl=CHANGES_TTL,
        )
        return parse_payload(schemas.ChangesPage, data, provider="tmdb")
