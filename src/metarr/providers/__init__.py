"""Metadata providers: one package per external system, shared HTTP plumbing, a registry.

Typical wiring (composition root)::

    deps = ProviderDeps(cache=FileResponseCache.in_data_dir(settings.data_dir))
    providers = default_registry().build(configs_from_env(), deps)
    runtime = ProviderRuntime()
    details = runtime.run(providers.tmdb.movie_details(603))   # from a job thread
    ...
    runtime.run(providers.aclose()); runtime.close()
"""

from __future__ import annotations

from metarr.providers.base import (
    Capability,
    Provider,
    ProviderAuthFailed,
    ProviderDeps,
    ProviderDisabled,
    ProviderNotFound,
    ProviderState,
    ProviderStatus,
    ProviderUnavailable,
)
from metarr.providers.cache import FileResponseCache, MemoryResponseCache, ResponseCache
from metarr.providers.registry import ProviderRegistry, Providers, default_registry
from metarr.providers.runtime import ProviderRuntime
from metarr.providers.settings import ProviderConfig, configs_from_env

__all__ = [
    "Capability",
    "FileResponseCache",
    "MemoryResponseCache",
    "Provider",
    "ProviderAuthFailed",
    "ProviderConfig",
    "ProviderDeps",
    "ProviderDisabled",
    "ProviderNotFound",
    "ProviderRegistry",
    "ProviderRuntime",
    "ProviderState",
    "ProviderStatus",
    "ProviderUnavailable",
    "Providers",
    "ResponseCache",
    "configs_from_env",
    "default_registry",
]
