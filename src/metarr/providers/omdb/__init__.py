"""OMDb: IMDb, Rotten Tomatoes and Metacritic ratings."""

from __future__ import annotations

import json
import re

from metarr.domain.errors import InvalidInput
from metarr.domain.media import Rating
from metarr.providers.base import Auth, Capability, Provider, ProviderNotFound, Verdict
from metarr.providers.omdb import mapping
from metarr.providers.omdb.api import OmdbApi

_IMDB = re.compile(r"^tt\d{5,10}$")
CHECK_IMDB_ID = "tt0137523"


class OmdbProvider(Provider):
    """The OMDb plug-in (key in `apikey`)."""

    name = "omdb"
    title = "OMDb"
    capabilities = frozenset({Capability.RATINGS})

    def auth(self, key: str) -> Auth:
        """The key travels as `apikey`."""
        return Auth(params=(("apikey", key),))

    def response_rule(self, status: int, body: bytes) -> Verdict | None:
        """OMDb errors are `{"Response": "False", "Error": ...}`, with 200 or 401."""
        if b'"Response"' not in body:
            return None
        try:
            data = json.loads(body)
        except ValueError:
            return None
        if not isinstance(data, dict) or data.get("Response") != "False":
            return None
        error = str(data.get("Error", "")).lower()
        if "limit" in error:
            return "unavailable"  # the daily quota: try again later, the key is fine
        if "api key" in error:
            return "auth"
        if "not found" in error or "incorrect imdb id" in error:
            return "not_found"
        return "invalid" if status == 200 else None

    @property
    def api(self) -> OmdbApi:
        """The wire calls (raises ProviderDisabled when off)."""
        return OmdbApi(self.http)

    async def check(self) -> None:
        """Fetch a well-known title: proves the key."""
        await self.api.title(CHECK_IMDB_ID)

    async def ratings(self, imdb_id: str) -> list[Rating]:
        """The ratings OMDb knows for `imdb_id` (empty when it has none)."""
        if not _IMDB.match(imdb_id):
            raise InvalidInput(f"not an IMDb id: {imdb_id!r}", field="imdb")
        payload = await self.api.title(imdb_id)
        if payload.response == "False":
            raise ProviderNotFound(f"OMDb: {payload.error or 'no such title'}", provider=self.name)
        return mapping.ratings(payload)
