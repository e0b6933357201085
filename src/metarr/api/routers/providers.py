"""`/providers`: settings (keys are write-only), key tests, 24 h usage, field priorities,
per-type asset limits."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from metarr.api.deps import ContainerDep
from metarr.services.providers import (
    AssetLimits,
    FieldPriorities,
    KeyTest,
    ProviderView,
)

router = APIRouter(prefix="/providers", tags=["providers"])


class ProviderSettingsOut(BaseModel):
    """A provider's effective settings; the key itself is never returned."""

    enabled: bool
    has_key: bool
    key_last4: str | None = Field(description="last 4 characters of a key of 12+ characters")
    key_source: str | None = Field(description="db (saved here) | env | null")
    language: str
    region: str | None
    certification_country: str
    rate_limit: float = Field(description="requests per second")
    base_url: str
    sources: dict[str, str] = Field(description="setting -> db | env | default")
    updated_at: datetime | None


class UsageOut(BaseModel):
    """Usage over the current hour and the 23 before it, summed over every process."""

    requests: int
    rate_limited: int
    errors: int
    cache_hits: int


class ProviderOut(BaseModel):
    """One provider."""

    name: str
    title: str
    state: str = Field(description="ok | no_key | disabled | key_invalid | circuit_open")
    message: str | None
    capabilities: list[str]
    settings: ProviderSettingsOut
    stats_24h: UsageOut


class ProviderPatch(BaseModel):
    """Settings to change; a field sent as null removes the saved value (env/default apply)."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool | None = None
    api_key: str | None = Field(default=None, description="write-only")
    language: str | None = Field(default=None, examples=["en-US"])
    region: str | None = Field(default=None, description='"" = no region', examples=["US"])
    certification_country: str | None = Field(default=None, examples=["US"])
    rate_limit: float | None = None
    base_url: str | None = None


class KeyTestIn(BaseModel):
    """Test this key instead of the saved one (it is not saved)."""

    model_config = ConfigDict(extra="forbid")

    api_key: str | None = None


class KeyTestOut(BaseModel):
    """The outcome of one authenticated call to the provider."""

    ok: bool
    error: str | None
    latency_ms: float | None
    state: str


class PrioritiesOut(BaseModel):
    """Per field, its sources best first; `overrides` are the saved ones."""

    fields: dict[str, list[str]]
    overrides: dict[str, list[str]]
    sources: list[str]
    default: list[str]


class PrioritiesIn(BaseModel):
    """The GET shape; only `fields` is read. Fields left out use the default order."""

    model_config = ConfigDict(extra="ignore")

    fields: dict[str, Any]


class AssetLimitsOut(BaseModel):
    """How many images of each artwork type enrichment selects."""

    limits: dict[str, int]
    overrides: dict[str, int]
    defaults: dict[str, int]
    maximum: int


class AssetLimitsIn(BaseModel):
    """The GET shape; only `limits` is read. Types left out use their default."""

    model_config = ConfigDict(extra="ignore")

    limits: dict[str, Any]


def _provider(view: ProviderView) -> ProviderOut:
    data = asdict(view)
    data["capabilities"] = list(view.capabilities)
    return ProviderOut.model_validate(data)


def _priorities(p: FieldPriorities) -> PrioritiesOut:
    return PrioritiesOut(
        fields={k: list(v) for k, v in p.fields.items()},
        overrides={k: list(v) for k, v in p.overrides.items()},
        sources=list(p.sources),
        default=list(p.default),
    )


def _limits(a: AssetLimits) -> AssetLimitsOut:
    return AssetLimitsOut.model_validate(asdict(a))


def _test(t: KeyTest) -> KeyTestOut:
    return KeyTestOut.model_validate(asdict(t))


@router.get("")
def list_providers(container: ContainerDep) -> list[ProviderOut]:
    """Every provider in priority order: state, settings (no keys), usage in the last 24 h."""
    return [_provider(v) for v in container.providers.list()]


# Fixed paths first: they must not be taken for a provider name.
@router.get("/priorities")
def get_priorities(container: ContainerDep) -> PrioritiesOut:
    """Which source wins each metadata field (best first)."""
    return _priorities(container.providers.priorities())


@router.put("/priorities")
def put_priorities(body: PrioritiesIn, container: ContainerDep) -> PrioritiesOut:
    """Replace the field priorities (nothing is saved if any entry is refused)."""
    return _priorities(container.providers.set_priorities(body.fields))


@router.get("/asset-limits")
def get_asset_limits(container: ContainerDep) -> AssetLimitsOut:
    """How many images of each artwork type are selected."""
    return _limits(container.providers.asset_limits())


@router.put("/asset-limits")
def put_asset_limits(body: AssetLimitsIn, container: ContainerDep) -> AssetLimitsOut:
    """Replace the per-type limits (nothing is saved if any entry is refused)."""
    return _limits(container.providers.set_asset_limits(body.limits))


@router.get("/{name}")
def get_provider(name: str, container: ContainerDep) -> ProviderOut:
    """One provider."""
    return _provider(container.providers.get(name))


@router.patch("/{name}")
def patch_provider(name: str, body: ProviderPatch, container: ContainerDep) -> ProviderOut:
    """Change settings; the provider is rebuilt at once (no restart)."""
    return _provider(container.providers.update(name, body.model_dump(exclude_unset=True)))


@router.post("/{name}/test")
def check_provider_key(
    name: str, container: ContainerDep, body: KeyTestIn | None = None
) -> KeyTestOut:
    """One cheap authenticated call with the saved key (or `api_key`), never cached."""
    key = body.api_key if body is not None else None
    return _test(container.providers.test_key(name, key))
