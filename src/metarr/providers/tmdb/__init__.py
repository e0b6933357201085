"""TMDB: the backbone provider (search, details, artwork, collections, changes)."""

from __future__ import annotations

import asyncio
import re
from datetime import date

from metarr.domain.candidates import CollectionDetails, MovieDetails, SearchResult
from metarr.domain.errors import InvalidInput
from metarr.domain.media import ExternalIds
from metarr.providers.base import (
    Auth,
    Capability,
    Provider,
    ProviderDeps,
    ProviderNotFound,
    ProviderUnavailable,
)
from metarr.providers.settings import ProviderConfig
from metarr.providers.tmdb import mapping
from metarr.providers.tmdb.api import TmdbApi

_IMDB = re.compile(r"^tt\d{5,10}$")
MAX_CHANGE_PAGES = 500


def is_v4_token(key: str) -> bool:
    """A v4 read access token (a JWT) rather than a 32-hex v3 key."""
    return key.startswith("eyJ") or "." in key or len(key) > 64


class TmdbProvider(Provider):
    """The TMDB plug-in. A first enrichment by TMDB id costs one request (plus one
    `/configuration` per process unless METARR_TMDB_IMAGE_BASE_URL is set); by IMDb id two."""

    name = "tmdb"
    title = "TMDB"
    capabilities = frozenset(
        {
            Capability.SEARCH,
            Capability.DETAILS,
            Capability.ARTWORK,
            Capability.COLLECTIONS,
            Capability.CHANGES,
        }
    )

    def __init__(self, config: ProviderConfig, deps: ProviderDeps | None = None) -> None:
        super().__init__(config, deps)
        self._images: mapping.ImageBase | None = (
            mapping.ImageBase(config.image_base_url) if config.image_base_url else None
        )
        self._images_lock = asyncio.Lock()

    def auth(self, key: str) -> Auth:
        """v3 keys go in `api_key`; v4 tokens in a Bearer header."""
        if is_v4_token(key):
            return Auth(headers=(("Authorization", f"Bearer {key}"),))
        return Auth(params=(("api_key", key),))

    @property
    def api(self) -> TmdbApi:
        """The wire calls (raises ProviderDisabled when off)."""
        return TmdbApi(self.http, self.config)

    async def check(self) -> None:
        """Fetch /configuration: proves the key and the base URL."""
        await self.api.configuration()

    async def image_base(self) -> mapping.ImageBase:
        """The image URL base: from settings, else /configuration once per process."""
        if self._images is not None:
            return self._images
        async with self._images_lock:
            if self._images is None:
                config = await self.api.configuration()
                try:
                    self._images = mapping.image_base_from_configuration(config)
                except ValueError as exc:
                    raise ProviderUnavailable(str(exc), provider=self.name) from None
        return self._images

    async def search(self, title: str, year: int | None = None) -> list[SearchResult]:
        """Movies matching `title` (and `year`), in TMDB's relevance order."""
        if not title.strip():
            raise InvalidInput("a search needs a title", field="title")
        api = self.api
        page = await api.search_movie(title.strip(), year)
        return mapping.search_results(page, await self.image_base())

    async def find_by_imdb(self, imdb_id: str) -> list[SearchResult]:
        """Movies with IMDb id `imdb_id` (usually one, or none)."""
        if not _IMDB.match(imdb_id):
            raise InvalidInput(f"not an IMDb id: {imdb_id!r}", field="imdb")
        found = await self.api.find_imdb(imdb_id)
        return mapping.find_results(found, await self.image_base())

    async def movie_details(self, tmdb_id: int, *, fresh: bool = False) -> MovieDetails:
        """Everything about a movie in one request (credits, images, videos, ratings...)."""
        api = self.api
        movie = await api.movie(tmdb_id, fresh=fresh)
        return mapping.details_from_payload(
            movie, await self.image_base(), country=self.config.certification_country
        )

    async def enrich(self, ids: ExternalIds) -> MovieDetails:
        """Details by TMDB id (1 request) or by IMDb id (find + details: 2 requests)."""
        if ids.tmdb is not None:
            return await self.movie_details(ids.tmdb)
        if ids.imdb is not None:
            hits = await self.find_by_imdb(ids.imdb)
            if not hits:
                raise ProviderNotFound(f"TMDB knows no movie {ids.imdb}", provider=self.name)
            return await self.movie_details(hits[0].tmdb)
        raise InvalidInput("enrichment needs a TMDB or IMDb id", field="ids")

    async def collection(self, collection_id: int) -> CollectionDetails:
        """A collection with its movies and artwork."""
        api = self.api
        payload = await api.collection(collection_id)
        return mapping.collection_from_payload(payload, await self.image_base())

    async def changed_movie_ids(
        self,
        start: date | None = None,
        end: date | None = None,
        *,
        max_pages: int = MAX_CHANGE_PAGES,
    ) -> list[int]:
        """Ids of movies changed between `start` and `end` (TMDB allows 14 days), all pages."""
        if start is not None and end is not None and (end - start).days > 14:
            raise InvalidInput("TMDB's changes list spans at most 14 days", field="start")
        api = self.api
        ids: list[int] = []
        page, total = 1, 1
        while page <= min(total, max_pages):
            result = await api.movie_changes(start, end, page)
            ids.extend(mapping.changed_ids(result))
            total = result.total_pages
            page += 1
        return list(dict.fromkeys(ids))
