"""Artwork bytes from image hosts (TMDB's image CDN, fanart.tv's assets).

Image hosts are not under the providers' API rate limits: downloads share only a
bound on concurrent requests, and speak our error tree (not found, unavailable,
too large).
"""

from __future__ import annotations

import asyncio

import httpx

from metarr.providers.base import ProviderNotFound, ProviderUnavailable
from metarr.providers.registry import Providers
from metarr.storage.cache import AssetTooLarge

__all__ = ["ImageFetcher"]


class ImageFetcher:
    """Downloads artwork bytes on the providers' loop.

    Image hosts (TMDB's image CDN, fanart.tv's assets) are not under the providers'
    API rate limits, so downloads only share a bound on concurrent requests: making
    them wait for API slots capped a 1,000-movie enrichment at ~3 movies/s.
    """

    # httpcore walks every pooled connection on each request (expiry checks): a small
    # pool costs less CPU per download than a large one, and 8 keep the images flowing.
    MAX_CONCURRENT = 8

    def __init__(self, providers: Providers, *, timeout: float = 30.0) -> None:
        self.providers = providers
        self.timeout = timeout
        self._client: httpx.AsyncClient | None = None
        self._slots: asyncio.Semaphore | None = None  # made on the providers' loop
        self.downloads = 0

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient(
                timeout=httpx.Timeout(self.timeout, connect=min(self.timeout, 10.0)),
                headers={"User-Agent": "Metarr/0.1"},
                follow_redirects=True,
                limits=httpx.Limits(
                    max_connections=self.MAX_CONCURRENT,
                    max_keepalive_connections=self.MAX_CONCURRENT,
                ),
            )
        return self._client

    async def fetch(self, url: str, provider: str, max_bytes: int) -> bytes:
        """The image at `url`; AssetTooLarge past `max_bytes`, ProviderUnavailable on failure."""
        if self._slots is None:
            self._slots = asyncio.Semaphore(self.MAX_CONCURRENT)
        self.downloads += 1
        try:
            async with self._slots, self._http().stream("GET", url) as response:
                if response.status_code == 404:
                    raise ProviderNotFound(f"image gone: {url}", provider=provider)
                if response.status_code != 200:
                    raise ProviderUnavailable(
                        f"image download answered HTTP {response.status_code}: {url}",
                        provider=provider,
                    )
                declared = response.headers.get("Content-Length", "")
                if declared.isdigit() and int(declared) > max_bytes:
                    raise AssetTooLarge(f"{url} is {declared} bytes, the cap is {max_bytes}")
                body = bytearray()
                async for chunk in response.aiter_bytes():
                    body.extend(chunk)
                    if len(body) > max_bytes:
                        raise AssetTooLarge(f"{url} exceeds the cap of {max_bytes} bytes")
                return bytes(body)
        except httpx.HTTPError as exc:
            raise ProviderUnavailable(
                f"image download failed ({type(exc).__name__}): {url}", provider=provider
            ) from exc

    async def aclose(self) -> None:
        """Close the connection pool (on the providers' loop)."""
        client, self._client = self._client, None
        if client is not None:
            await client.aclose()
