"""The provider registry: plug-in classes by name, and the built set for one process."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator, Mapping

from metarr.providers.base import Capability, Provider, ProviderDeps, ProviderStatus
from metarr.providers.fanart import FanartProvider
from metarr.providers.omdb import OmdbProvider
from metarr.providers.settings import ProviderConfig
from metarr.providers.tmdb import TmdbProvider

log = logging.getLogger(__name__)


class ProviderRegistry:
    """Known provider classes by name, in priority order (first = preferred source)."""

    def __init__(self) -> None:
        self._classes: dict[str, type[Provider]] = {}

    def register(self, cls: type[Provider]) -> type[Provider]:
        """Add a provider class (usable as a decorator)."""
        if cls.name in self._classes:
            raise ValueError(f"provider {cls.name!r} is already registered")
        self._classes[cls.name] = cls
        return cls

    def names(self) -> tuple[str, ...]:
        """Registered names, in registration order."""
        return tuple(self._classes)

    def get(self, name: str) -> type[Provider]:
        """The class of provider `name`."""
        try:
            return self._classes[name]
        except KeyError:
            raise KeyError(f"unknown provider {name!r}") from None

    def build(
        self, configs: Mapping[str, ProviderConfig], deps: ProviderDeps | None = None
    ) -> Providers:
        """One instance per registered provider (missing config = defaults, i.e. no key)."""
        shared = deps if deps is not None else ProviderDeps()
        built: dict[str, Provider] = {}
        for name, cls in self._classes.items():
            config = configs.get(name) or ProviderConfig.for_provider(name)
            built[name] = cls(config, shared)
        return Providers(built)

    def build_one(self, config: ProviderConfig, deps: ProviderDeps) -> Provider:
        """A new instance of provider `config.name` (settings changed, or a key test)."""
        return self.get(config.name)(config, deps)


def default_registry() -> ProviderRegistry:
    """TMDB, fanart.tv and OMDb - one line per provider."""
    registry = ProviderRegistry()
    registry.register(TmdbProvider)
    registry.register(FanartProvider)
    registry.register(OmdbProvider)
    return registry


class Providers:
    """The providers of one process (shared deps: cache, limiters, breakers)."""

    def __init__(self, providers: Mapping[str, Provider]) -> None:
        self._providers = dict(providers)
        self._lock = threading.Lock()

    def replace(self, provider: Provider) -> Provider:
        """Swap in a rebuilt provider of the same name; returns the old one (to close later).

        Calls already running keep the old instance; every later look-up gets the new one.
        """
        with self._lock:
            old = self.get(provider.name)
            self._providers = {**self._providers, provider.name: provider}
        return old

    def __iter__(self) -> Iterator[Provider]:
        return iter(self._providers.values())

    def get(self, name: str) -> Provider:
        """Provider `name` (enabled or not)."""
        try:
            return self._providers[name]
        except KeyError:
            raise KeyError(f"unknown provider {name!r}") from None

    @property
    def tmdb(self) -> TmdbProvider:
        """The TMDB plug-in."""
        provider = self.get("tmdb")
        assert isinstance(provider, TmdbProvider)
        return provider

    @property
    def fanart(self) -> FanartProvider:
        """The fanart.tv plug-in."""
        provider = self.get("fanart")
        assert isinstance(provider, FanartProvider)
        return provider

    @property
    def omdb(self) -> OmdbProvider:
        """The OMDb plug-in."""
        provider = self.get("omdb")
        assert isinstance(provider, OmdbProvider)
        return provider

    def enabled(self, capability: Capability | None = None) -> list[Provider]:
        """Providers that may be called now, optionally with `capability`."""
        return [
            p
            for p in self._providers.values()
            if p.status().usable and (capability is None or capability in p.capabilities)
        ]

    def statuses(self) -> list[ProviderStatus]:
        """Every provider's state, for health pages."""
        return [p.status() for p in self._providers.values()]

    async def aclose(self) -> None:
        """Close every connection pool (run on the ProviderRuntime loop)."""
        for provider in self._providers.values():
            await provider.aclose()
