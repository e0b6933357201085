"""OMDb wire calls."""

from __future__ import annotations

from metarr.providers.base import ProviderHttp, parse_payload
from metarr.providers.omdb import schemas


class OmdbApi:
    """Typed calls to OMDb."""

    def __init__(self, http: ProviderHttp) -> None:
        self.http = http

    async def title(self, imdb_id: str) -> schemas.Title:
        """`GET /?i={imdb_id}&r=json`."""
        data = await self.http.get_json("", {"i": imdb_id, "r": "json"})
        return parse_payload(schemas.Title, data, provider="omdb")
