"""fanart.tv: HD logos, clearart, discart, banners, landscape, posters, backgrounds."""

from __future__ import annotations

import json

from metarr.domain.candidates import AssetCandidate
from metarr.domain.errors import InvalidInput
from metarr.providers.base import Auth, Capability, Provider, Verdict
from metarr.providers.fanart import mapping
from metarr.providers.fanart.api import FanartApi

# A movie fanart.tv surely has, for "test connection".
CHECK_TMDB_ID = 120


class FanartProvider(Provider):
    """The fanart.tv plug-in (project key in `api_key`)."""

    name = "fanart"
    title = "fanart.tv"
    capabilities = frozenset({Capability.ARTWORK})

    def auth(self, key: str) -> Auth:
        """The project key travels as `api_key`."""
        return Auth(params=(("api_key", key),))

    def response_rule(self, status: int, body: bytes) -> Verdict | None:
        """fanart.tv sometimes answers 200 with `{"status": "error", ...}`."""
        if status != 200 or not body.startswith(b"{") or b'"status"' not in body:
            return None
        try:
            data = json.loads(body)
        except ValueError:
            return None
        if isinstance(data, dict) and data.get("status") == "error":
            message = str(data.get("error message", "")).lower()
            if "api key" in message:
                return "auth"
            return "not_found" if "not found" in message else "unavailable"
        return None

    @property
    def api(self) -> FanartApi:
        """The wire calls (raises ProviderDisabled when off)."""
        return FanartApi(self.http)

    async def check(self) -> None:
        """Fetch a well-known movie: proves the key."""
        await self.api.movie(CHECK_TMDB_ID)

    async def movie_artwork(
        self, tmdb_id: int | None = None, imdb_id: str | None = None
    ) -> list[AssetCandidate]:
        """Artwork candidates of a movie by TMDB id (preferred) or IMDb id."""
        movie_id: int | str | None = tmdb_id if tmdb_id is not None else imdb_id
        if movie_id is None:
            raise InvalidInput("fanart.tv needs a TMDB or IMDb id", field="ids")
        payload = await self.api.movie(movie_id)
        return mapping.candidates(payload)
