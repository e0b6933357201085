"""Typed settings of one provider, built from `METARR_<NAME>_*` environment variables.

Every provider reads the same variables (NAME is TMDB, FANART or OMDB)::

    METARR_<NAME>_API_KEY        the key (TMDB: a v3 key or a v4 read access token)
    METARR_<NAME>_ENABLED        true/false (default true; without a key it is off anyway)
    METARR_<NAME>_BASE_URL       the API root (tests point it at the fake server)
    METARR_<NAME>_IMAGE_BASE_URL TMDB only: overrides the image URL from /configuration
    METARR_<NAME>_LANGUAGE       e.g. en-US
    METARR_<NAME>_REGION         search region, e.g. US
    METARR_<NAME>_CERTIFICATION_COUNTRY  country whose rating becomes the certification
    METARR_<NAME>_RATE_LIMIT     requests per second this process may send
    METARR_<NAME>_TIMEOUT        seconds per request
    METARR_<NAME>_MAX_RETRIES    retries after the first attempt (5xx, timeouts, 429)
    METARR_<NAME>_CACHE_TTL      seconds a response stays cached (default 7 days)

Settings saved on the Providers page (the `provider_settings` table) override these:
the effective config is defaults < environment < database (`layered_config`), so an
env key still works while the database holds none. `ProviderConfig` stays the one type.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError

from metarr.domain.errors import InvalidInput

SEVEN_DAYS = 7 * 24 * 3600.0

# Defaults per provider: where the real service lives and how hard we may push it.
DEFAULTS: dict[str, dict[str, Any]] = {
    "tmdb": {"base_url": "https://api.themoviedb.org/3", "rate_limit": 40.0},
    "fanart": {"base_url": "https://webservice.fanart.tv/v3", "rate_limit": 10.0},
    "omdb": {"base_url": "https://www.omdbapi.com/", "rate_limit": 5.0},
}

_FIELDS = (
    "enabled",
    "api_key",
    "base_url",
    "image_base_url",
    "language",
    "region",
    "certification_country",
    "rate_limit",
    "timeout",
    "max_retries",
    "max_retry_after",
    "cache_ttl",
)


class ProviderConfig(BaseModel):
    """How to reach and use one provider; a provider without a key is off."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    enabled: bool = True
    api_key: SecretStr | None = None
    base_url: str
    image_base_url: str | None = None
    language: str = "en-US"
    region: str | None = None
    certification_country: str = "US"
    rate_limit: float = Field(default=10.0, gt=0, le=1000)
    timeout: float = Field(default=10.0, gt=0, le=300)
    max_retries: int = Field(default=3, ge=0, le=10)
    max_retry_after: float = Field(default=60.0, ge=0)
    cache_ttl: float = Field(default=SEVEN_DAYS, ge=0)

    @property
    def env_prefix(self) -> str:
        """The environment prefix of this provider, e.g. METARR_TMDB_."""
        return f"METARR_{self.name.upper()}_"

    @property
    def key(self) -> str | None:
        """The API key in clear (never log it), or None."""
        if self.api_key is None:
            return None
        value = self.api_key.get_secret_value().strip()
        return value or None

    @property
    def active(self) -> bool:
        """Enabled and has a key."""
        return self.enabled and self.key is not None

    def disabled_reason(self) -> str | None:
        """Why the provider is off, in words a person can act on; None when active."""
        if not self.enabled:
            return (
                f"{self.name} is disabled (on the Providers page or {self.env_prefix}ENABLED=false)"
            )
        if self.key is None:
            return (
                f"{self.name} has no API key: set one on the Providers page "
                f"or in {self.env_prefix}API_KEY to enable it"
            )
        return None

    @property
    def image_language(self) -> str:
        """The ISO 639-1 part of `language` ("en-US" -> "en")."""
        return self.language.split("-")[0].lower()

    @classmethod
    def for_provider(cls, name: str, **values: Any) -> ProviderConfig:
        """A config for `name` with its defaults, overridden by `values`."""
        merged: dict[str, Any] = {**DEFAULTS.get(name, {}), **values, "name": name}
        return cls.model_validate(merged)

    @classmethod
    def from_env(cls, name: str, environ: Mapping[str, str] | None = None) -> ProviderConfig:
        """Build the config of provider `name` from `METARR_<NAME>_*` variables."""
        prefix = f"METARR_{name.upper()}_"
        try:
            return cls.for_provider(name, **env_values(name, environ))
        except ValidationError as exc:
            first = exc.errors()[0]
            loc = str(first["loc"][0]) if first["loc"] else "?"
            raise InvalidInput(
                f"{prefix}{loc.upper()}: {first['msg']}", field=prefix + loc.upper()
            ) from None


def env_values(name: str, environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The `METARR_<NAME>_*` settings that are set (non-blank), by field name."""
    env = os.environ if environ is None else environ
    prefix = f"METARR_{name.upper()}_"
    values: dict[str, str] = {}
    for field in _FIELDS:
        raw = env.get(prefix + field.upper())
        if raw is not None and raw.strip() != "":
            values[field] = raw.strip()
    return values


def layered_config(
    name: str, environ: Mapping[str, str] | None = None, stored: Mapping[str, Any] | None = None
) -> ProviderConfig:
    """The effective config: defaults < `METARR_<NAME>_*` < `stored` (database, non-None).

    The environment is validated first, so a bad variable is named as such; values
    from the database were validated when they were saved.
    """
    base = ProviderConfig.from_env(name, environ)
    overrides = {k: v for k, v in (stored or {}).items() if v is not None and k in _FIELDS}
    if not overrides:
        return base
    merged: dict[str, Any] = {**DEFAULTS.get(name, {}), **env_values(name, environ), **overrides}
    if merged.get("region") == "":
        merged["region"] = None  # saved as "" = explicitly no region, whatever the env says
    return ProviderConfig.for_provider(name, **merged)


def configs_from_env(
    names: tuple[str, ...] = ("tmdb", "fanart", "omdb"),
    environ: Mapping[str, str] | None = None,
) -> dict[str, ProviderConfig]:
    """The configs of every known provider, by name."""
    return {name: ProviderConfig.from_env(name, environ) for name in names}
