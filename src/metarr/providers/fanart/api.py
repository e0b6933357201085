"""fanart.tv v3 wire calls."""

from __future__ import annotations

from metarr.providers.base import ProviderHttp, parse_payload
from metarr.providers.fanart import schemas


class FanartApi:
    """Typed calls to fanart.tv v3."""

    def __init__(self, http: ProviderHttp) -> None:
        self.http = http

    async def movie(self, movie_id: int | str) -> schemas.MovieImages:
        """`GET /movies/{tmdb_or_imdb_id}`."""
        data = await self.http.get_json(f"movies/{movie_id}")
        return parse_payload(schemas.MovieImages, data, provider="fanart")
