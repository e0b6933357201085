"""Provider settings (saved in the database), key tests, usage stats, enrichment preferences.

Effective config of a provider = defaults < `METARR_<NAME>_*` < what the Providers
page saved (`provider_settings`; NULL columns inherit). Saving rebuilds that provider
in the running set (`Providers.replace`), so a new key or rate limit applies without
a restart; calls in flight finish on the old instance, which is closed a little later.

Other processes (`metarr worker`) notice saved changes within `sync_interval` seconds:
a background thread compares a cheap version of the settings tables and rebuilds what
changed. The same thread adds the process's provider usage counts (kept in memory by
`providers.usage.ProviderUsage`) to the hourly `provider_usage` rows; stats are read
as the current hour plus the 23 before it.
"""

from __future__ import annotations

import builtins
import logging
import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from pydantic import SecretStr

from metarr.db import provider_store as store
from metarr.db.engine import Database
from metarr.domain import priorities as prio
from metarr.domain.assets import DEFAULT_LIMITS
from metarr.domain.errors import InvalidInput, MetarrError, NotFound
from metarr.jobs import Breakers
from metarr.pipeline.enrich import Enricher, EnrichOptions
from metarr.providers import (
    Capability,
    MemoryResponseCache,
    Provider,
    ProviderAuthFailed,
    ProviderConfig,
    ProviderDeps,
    ProviderRegistry,
    ProviderRuntime,
    Providers,
    ProviderState,
)
from metarr.providers.ratelimit import RateLimiters
from metarr.providers.settings import env_values, layered_config
from metarr.providers.usage import HOUR, UsageCounts, hour_of

log = logging.getLogger(__name__)

FIELD_PRIORITIES = "field_priorities"
ASSET_LIMITS = "asset_limits"
SYNC_INTERVAL = 60.0
RETIRE_AFTER = 120.0  # seconds an old provider instance stays open for calls in flight
USAGE_KEEP = timedelta(days=8)
MAX_KEY_LENGTH = 512
_LANGUAGE = re.compile(r"^[a-z]{2,3}(-[A-Z]{2})?$")
_COUNTRY = re.compile(r"^[A-Z]{2}$")
_KEY = re.compile(r"^[\x21-\x7e]+$")  # printable ASCII, no spaces


@dataclass(frozen=True, slots=True)
class ProviderSettingsView:
    """A provider's effective settings as shown to people: never the key itself."""

    enabled: bool
    has_key: bool
    key_last4: str | None  # only for keys of 12+ characters
    key_source: str | None  # db | env | None
    language: str
    region: str | None
    certification_country: str
    rate_limit: float
    base_url: str
    sources: dict[str, str]  # field -> db | env | default
    updated_at: datetime | None


@dataclass(frozen=True, slots=True)
class ProviderView:
    """One provider: state, settings (no key), what it can do, usage in the last 24 h."""

    name: str
    title: str
    state: str  # ok | no_key | disabled | key_invalid | circuit_open
    message: str | None
    capabilities: tuple[str, ...]
    settings: ProviderSettingsView
    stats_24h: dict[str, int]


@dataclass(frozen=True, slots=True)
class KeyTest:
    """The outcome of one authenticated test call."""

    ok: bool
    error: str | None
    latency_ms: float | None
    state: str


@dataclass(frozen=True, slots=True)
class FieldPriorities:
    """Per field, the order of sources (best first); `overrides` are the saved ones."""

    fields: dict[str, tuple[str, ...]]
    overrides: dict[str, tuple[str, ...]]
    sources: tuple[str, ...]
    default: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class AssetLimits:
    """How many images of each artwork type enrichment selects."""

    limits: dict[str, int]
    overrides: dict[str, int]
    defaults: dict[str, int]
    maximum: int = prio.MAX_ASSET_LIMIT


@dataclass(slots=True)
class _Preferences:
    priorities: dict[str, tuple[str, ...]] = field(default_factory=dict)
    limits: dict[str, int] = field(default_factory=dict)


class ProviderSettingsService:
    """Reads, validates and saves provider settings; owns the process's `Providers`."""

    def __init__(
        self,
        db: Database,
        registry: ProviderRegistry,
        deps: ProviderDeps,
        runtime: ProviderRuntime,
        *,
        environ: Mapping[str, str] | None = None,
        clock: Callable[[], float] = time.time,
        sync_interval: float = SYNC_INTERVAL,
    ) -> None:
        self.db = db
        self.registry = registry
        self.deps = deps
        self.runtime = runtime
        self.environ = environ
        self.clock = clock
        self.sync_interval = sync_interval
        self._lock = threading.RLock()
        self._providers: Providers | None = None
        self._prefs = _Preferences()
        self._enrichers: builtins.list[Enricher] = []
        self._retired: builtins.list[tuple[float, Provider]] = []
        self._version: tuple[Any, ...] | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._last_purge = 0.0

    # -- the running providers --------------------------------------------------------

    def build(self) -> Providers:
        """Build every provider from its effective config (call once, at start-up)."""
        with self._lock:
            with self.db.session() as s:
                conn = s.connection()
                saved = store.load_settings(conn)
                self._version = store.settings_version(conn)
                self._prefs = self._load_preferences(conn)
            configs = {n: self._config(n, saved.get(n)) for n in self.registry.names()}
            self._providers = self.registry.build(configs, self.deps)
            return self._providers

    @property
    def providers(self) -> Providers:
        """The running providers (built by `build`)."""
        if self._providers is None:
            raise RuntimeError("ProviderSettingsService.build() was not called")
        return self._providers

    def enrich_options(self, base: EnrichOptions | None = None) -> EnrichOptions:
        """`base` with the saved asset limits and field priorities."""
        return replace(
            base or EnrichOptions(),
            limits={**DEFAULT_LIMITS, **self._prefs.limits},
            field_priorities=dict(self._prefs.priorities),
        )

    def attach(self, enricher: Enricher) -> None:
        """Keep `enricher.options` in step with the saved preferences (now and on changes)."""
        with self._lock:
            self._enrichers.append(enricher)
            enricher.options = self.enrich_options(enricher.options)

    def _config(self, name: str, saved: Mapping[str, Any] | None) -> ProviderConfig:
        stored = {k: v for k, v in (saved or {}).items() if k in store.SETTING_COLUMNS}
        return layered_config(name, self.environ, stored)

    def _rebuild(self, name: str, config: ProviderConfig) -> None:
        new = self.registry.build_one(config, self.deps)
        old = self.providers.replace(new)
        self._retired.append((self.clock(), old))
        log.info("provider %s rebuilt with its new settings", name)

    # -- reading ----------------------------------------------------------------------

    def list(self) -> list[ProviderView]:
        """Every provider, in priority (registry) order."""
        with self.db.session() as s:
            saved = store.load_settings(s.connection())
        stats = self.stats_24h()
        return [self._view(n, saved.get(n), stats.get(n)) for n in self.registry.names()]

    def get(self, name: str) -> ProviderView:
        """One provider; NotFound for an unknown name."""
        self._check_name(name)
        with self.db.session() as s:
            saved = store.load_settings(s.connection()).get(name)
        return self._view(name, saved, self.stats_24h().get(name))

    def _check_name(self, name: str) -> None:
        if name not in self.registry.names():
            raise NotFound(f"there is no provider named {name!r}")

    def _view(
        self, name: str, saved: Mapping[str, Any] | None, stats: UsageCounts | None
    ) -> ProviderView:
        provider = self.providers.get(name)
        config = provider.config
        status = provider.status()
        env = env_values(name, self.environ)
        sources: dict[str, str] = {}
        for column in store.SETTING_COLUMNS:
            if saved is not None and saved.get(column) is not None:
                sources[column] = "db"
            elif column in env:
                sources[column] = "env"
            else:
                sources[column] = "default"
        key = config.key
        state = status.state.value
        if status.state is ProviderState.DISABLED:
            state = "disabled" if not config.enabled else "no_key"
        settings = ProviderSettingsView(
            enabled=config.enabled,
            has_key=key is not None,
            key_last4=key[-4:] if key is not None and len(key) >= 12 else None,
            key_source=sources["api_key"] if key is not None else None,
            language=config.language,
            region=config.region,
            certification_country=config.certification_country,
            rate_limit=config.rate_limit,
            base_url=config.base_url,
            sources=sources,
            updated_at=saved.get("updated_at") if saved else None,
        )
        return ProviderView(
            name=name,
            title=provider.title,
            state=state,
            message=status.message,
            capabilities=tuple(sorted(c.value for c in provider.capabilities)),
            settings=settings,
            stats_24h=(stats or UsageCounts()).as_dict(),
        )

    # -- saving -----------------------------------------------------------------------

    def update(self, name: str, changes: Mapping[str, Any]) -> ProviderView:
        """Validate and save some settings (None clears an override); applies at once.

        Nothing is saved when any value is refused; InvalidInput names the field.
        """
        self._check_name(name)
        clean = {key: clean_setting(key, value) for key, value in changes.items()}
        with self._lock:
            with self.db.session() as s:
                conn = s.connection()
                saved = dict(store.load_settings(conn).get(name) or {})
                saved.update(clean)
                config = self._config(name, saved)  # the combination must be valid too
                if clean:
                    store.save_settings(conn, name, clean, datetime.now(UTC))
            if clean:
                self._rebuild(name, config)
        return self.get(name)

    # -- key test ---------------------------------------------------------------------

    def test_key(self, name: str, api_key: str | None = None) -> KeyTest:
        """One cheap authenticated call with `api_key` (else the saved key), uncached.

        A refused saved key marks the running provider "key invalid"; a working one
        clears that mark. A key given here is only tested, never saved.
        """
        self._check_name(name)
        running = self.providers.get(name)
        candidate = clean_setting("api_key", api_key) if api_key is not None else None
        key = candidate if candidate is not None else running.config.key
        if key is None:
            return KeyTest(False, "no API key: enter one first", None, self._state(name))
        tests_running_key = key == running.config.key
        config = running.config.model_copy(
            update={"api_key": SecretStr(key), "enabled": True, "max_retries": 0}
        )
        probe_deps = ProviderDeps(
            cache=MemoryResponseCache(),  # never answered from a cache
            breakers=Breakers(),
            limiters=RateLimiters(),  # one request; a 429 must not stall real work
            backoff=self.deps.backoff,
            sleep=self.deps.sleep,
            rand=self.deps.rand,
            user_agent=self.deps.user_agent,
            usage=self.deps.usage,  # it is a request like any other in the stats
        )
        probe = self.registry.build_one(config, probe_deps)
        started = time.monotonic()
        error: str | None = None
        try:
            self.runtime.run(probe.check(), timeout=config.timeout * 2 + 5)
        except ProviderAuthFailed as exc:
            # the advice after ";" (where to set a key) is the page the person is on
            error = "key invalid: " + str(exc).split("; set a valid one", 1)[0]
            if tests_running_key:
                running.mark_key_invalid(str(exc))
        except MetarrError as exc:
            error = str(exc)
        except TimeoutError:
            error = f"{probe.title} did not answer in time"
        finally:
            self.runtime.run(probe.aclose())
        latency = round((time.monotonic() - started) * 1000, 1)
        if error is None and tests_running_key:
            running.mark_key_invalid(None)
        return KeyTest(error is None, error, latency, self._state(name))

    def _state(self, name: str) -> str:
        provider = self.providers.get(name)
        status = provider.status()
        if status.state is ProviderState.DISABLED:
            return "disabled" if not provider.config.enabled else "no_key"
        return status.state.value

    # -- enrichment preferences -------------------------------------------------------

    def priority_sources(self) -> tuple[str, ...]:
        """Sources a field priority may list: metadata providers, then the NFO."""
        return prio.default_order(
            p.name for p in self.providers if Capability.DETAILS in p.capabilities
        )

    def priorities(self) -> FieldPriorities:
        """The effective order of sources for every field with a priority."""
        sources = self.priority_sources()
        overrides = dict(self._prefs.priorities)
        return FieldPriorities(
            fields={f: overrides.get(f, sources) for f in prio.PRIORITY_FIELDS},
            overrides=overrides,
            sources=sources,
            default=sources,
        )

    def set_priorities(self, raw: Any) -> FieldPriorities:
        """Replace the saved priorities (fields left out, or at the default, use the default)."""
        sources = self.priority_sources()
        checked = prio.check_priorities(raw, sources)
        value = {f: list(order) for f, order in checked.items() if order != sources}
        with self._lock:
            with self.db.session() as s:
                store.save_preference(s.connection(), FIELD_PRIORITIES, value, datetime.now(UTC))
            self._prefs.priorities = {f: tuple(o) for f, o in value.items()}
            self._apply_preferences()
        return self.priorities()

    def asset_limits(self) -> AssetLimits:
        """The effective number of images selected per artwork type."""
        overrides = dict(self._prefs.limits)
        defaults = dict(DEFAULT_LIMITS)
        return AssetLimits({**defaults, **overrides}, overrides, defaults)

    def set_asset_limits(self, raw: Any) -> AssetLimits:
        """Replace the saved limits (types left out, or at the default, use the default)."""
        checked = prio.check_limits(raw)
        value = {k: n for k, n in checked.items() if n != DEFAULT_LIMITS.get(k)}
        with self._lock:
            with self.db.session() as s:
                store.save_preference(s.connection(), ASSET_LIMITS, value, datetime.now(UTC))
            self._prefs.limits = value
            self._apply_preferences()
        return self.asset_limits()

    def _load_preferences(self, conn: Any) -> _Preferences:
        prefs = _Preferences()
        raw_priorities = store.load_preference(conn, FIELD_PRIORITIES) or {}
        raw_limits = store.load_preference(conn, ASSET_LIMITS) or {}
        try:
            known = prio.default_order(
                self.registry.get(n).name
                for n in self.registry.names()
                if Capability.DETAILS in self.registry.get(n).capabilities
            )
            prefs.priorities = prio.check_priorities(raw_priorities, known)
        except InvalidInput as exc:  # a provider was removed since: ignore, say so
            log.warning("saved field priorities ignored: %s", exc)
        try:
            prefs.limits = prio.check_limits(raw_limits)
        except InvalidInput as exc:
            log.warning("saved asset limits ignored: %s", exc)
        return prefs

    def _apply_preferences(self) -> None:
        for enricher in self._enrichers:
            enricher.options = self.enrich_options(enricher.options)

    # -- usage ------------------------------------------------------------------------

    def flush_usage(self) -> None:
        """Add this process's unsaved usage counts to the hourly rows."""
        pending = self.deps.usage.drain()
        if not pending:
            return
        try:
            with self.db.session() as s:
                conn = s.connection()
                for (name, hour), counts in sorted(pending.items()):
                    store.add_usage(conn, name, store.hour_start(hour), counts.as_dict())
        except Exception:
            self.deps.usage.restore(pending)
            raise

    def stats_24h(self) -> dict[str, UsageCounts]:
        """Usage per provider over the current hour and the 23 before it (all processes)."""
        try:
            self.flush_usage()
        except MetarrError as exc:
            log.warning("provider usage not saved yet: %s", exc)
        since_hour = hour_of(self.clock()) - 23 * HOUR
        with self.db.session() as s:
            rows = store.usage_since(s.connection(), store.hour_start(since_hour))
        out = {name: UsageCounts(**counts) for name, counts in rows.items()}
        for name in self.registry.names():
            unsaved = self.deps.usage.pending(name, since_hour)
            out.setdefault(name, UsageCounts()).add(unsaved)
        return out

    # -- background: usage rows, settings saved by other processes --------------------

    def sync(self) -> None:
        """Save usage, rebuild providers whose saved settings changed, close retired ones."""
        self.flush_usage()
        with self._lock:
            with self.db.session() as s:
                conn = s.connection()
                version = store.settings_version(conn)
                if version != self._version:
                    self._version = version
                    saved = store.load_settings(conn)
                    self._prefs = self._load_preferences(conn)
                else:
                    saved = None
            if saved is not None:
                for name in self.registry.names():
                    config = self._config(name, saved.get(name))
                    if config != self.providers.get(name).config:
                        self._rebuild(name, config)
                self._apply_preferences()
            now = self.clock()
            due = [p for at, p in self._retired if now - at >= RETIRE_AFTER]
            self._retired = [(at, p) for at, p in self._retired if now - at < RETIRE_AFTER]
        for provider in due:
            self.runtime.run(provider.aclose(), timeout=30)
        if now - self._last_purge >= HOUR:
            self._last_purge = now
            with self.db.session() as s:
                store.purge_usage(s.connection(), datetime.now(UTC) - USAGE_KEEP)

    def start(self) -> None:
        """Run `sync` every `sync_interval` seconds in a daemon thread."""
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="metarr-provider-sync", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.wait(self.sync_interval):
            try:
                self.sync()
            except Exception:  # never let the thread die: try again next round
                log.warning("provider settings sync failed", exc_info=True)

    def close(self) -> None:
        """Stop the thread, save usage, close retired provider instances."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None
        try:
            self.flush_usage()
        except Exception:
            log.warning("provider usage not saved at shutdown", exc_info=True)
        with self._lock:
            retired, self._retired = [p for _, p in self._retired], []
        for provider in retired:
            self.runtime.run(provider.aclose(), timeout=30)


def clean_setting(key: str, value: Any) -> Any:
    """One validated setting (None = clear the saved value); InvalidInput names the key."""
    if key not in store.SETTING_COLUMNS:
        raise InvalidInput(f"{key!r} is not a provider setting", field=key)
    if value is None:
        return None
    if key == "enabled":
        if not isinstance(value, bool):
            raise InvalidInput("enabled must be true or false", field=key)
        return value
    if key == "rate_limit":
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise InvalidInput("rate_limit must be a number of requests per second", field=key)
        if not 0 < value <= 1000:
            raise InvalidInput("rate_limit must be above 0 and at most 1000 per second", field=key)
        return float(value)
    if not isinstance(value, str):
        raise InvalidInput(f"{key} must be a string", field=key)
    text = value.strip()
    if key == "api_key":
        if not text:
            raise InvalidInput(
                "the API key is empty (send null to remove the saved key)", field=key
            )
        if len(text) > MAX_KEY_LENGTH or not _KEY.match(text):
            raise InvalidInput("the API key must be printable characters without spaces", field=key)
        return text
    if key == "language":
        if not _LANGUAGE.match(text):
            raise InvalidInput("language must look like en or en-US", field=key)
        return text
    if key in ("region", "certification_country"):
        text = text.upper()
        if key == "region" and text == "":
            return ""  # explicitly no region
        if not _COUNTRY.match(text):
            raise InvalidInput(f"{key} must be a two-letter country code like US", field=key)
        return text
    # base_url
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.hostname or len(text) > 2000:
        raise InvalidInput("base_url must be an http(s) URL with a host", field=key)
    if parts.query or parts.fragment:
        raise InvalidInput("base_url must not have a query or a fragment", field=key)
    return text
