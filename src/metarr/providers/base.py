"""Provider plumbing: the HTTP client (rate limit, retry, breaker, cache, timeouts),
error translation into our error tree, key redaction, and the plug-in base class.

This is the only module that touches httpx exceptions: everything leaving the
providers package is a `MetarrError` (usually one of the `Provider*` errors below).
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import logging
import random
import re
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, ClassVar, Literal, TypeVar

import httpx
from pydantic import BaseModel, ValidationError

from metarr.domain.errors import AuthenticationFailed, InvalidInput, NotFound, ServiceUnavailable
from metarr.jobs.breaker import Breakers, BreakerState
from metarr.jobs.retry import Backoff
from metarr.providers.cache import MemoryResponseCache, ResponseCache, cache_key
from metarr.providers.ratelimit import RateLimiters, Sleep
from metarr.providers.settings import ProviderConfig
from metarr.providers.usage import ProviderUsage, UsageKind

log = logging.getLogger("metarr.providers")

M = TypeVar("M", bound=BaseModel)


# -- errors ---------------------------------------------------------------------------


class ProviderUnavailable(ServiceUnavailable):
    """The provider is down, slow or throttling us: retry later (after `retry_after`)."""

    def __init__(self, message: str, *, provider: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.provider = provider
        self.retry_after = retry_after


class ProviderAuthFailed(AuthenticationFailed):
    """The provider refused our key: the provider is marked key-invalid, no retry."""

    def __init__(self, message: str, *, provider: str) -> None:
        super().__init__(message)
        self.provider = provider


class ProviderDisabled(AuthenticationFailed):
    """The provider is off (no key or disabled): configure it; retrying cannot help."""

    code = "provider_disabled"

    def __init__(self, message: str, *, provider: str) -> None:
        super().__init__(message)
        self.provider = provider


class ProviderNotFound(NotFound):
    """The provider has no such item (record it; do not retry)."""

    def __init__(self, message: str, *, provider: str) -> None:
        super().__init__(message)
        self.provider = provider


# -- redaction ------------------------------------------------------------------------

_SECRET_QUERY = re.compile(r"(?i)\b(api_key|apikey|client_key)=([^&\s\"'#>]+)")
_BEARER = re.compile(r"(?i)\b(bearer\s+)[A-Za-z0-9._~+/=-]+")


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """`text` with key query parameters, bearer tokens and the given secrets masked."""
    text = _SECRET_QUERY.sub(r"\1=***", text)
    text = _BEARER.sub(r"\1***", text)
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text


class RedactingFilter(logging.Filter):
    """Masks keys in log records (httpx logs every request URL, query string included)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


_FILTER = RedactingFilter()


def install_log_redaction() -> None:
    """Attach the redacting filter to the loggers that see provider URLs (idempotent)."""
    for name in ("httpx", "httpcore", "metarr.providers"):
        logger = logging.getLogger(name)
        if _FILTER not in logger.filters:
            logger.addFilter(_FILTER)


install_log_redaction()


# -- plumbing -------------------------------------------------------------------------


class Capability(StrEnum):
    """What a provider can do."""

    SEARCH = "search"
    DETAILS = "details"
    ARTWORK = "artwork"
    RATINGS = "ratings"
    COLLECTIONS = "collections"
    CHANGES = "changes"


class ProviderState(StrEnum):
    """Health of a provider as the UI shows it."""

    OK = "ok"
    DISABLED = "disabled"
    KEY_INVALID = "key_invalid"
    CIRCUIT_OPEN = "circuit_open"


@dataclass(frozen=True, slots=True)
class ProviderStatus:
    """A provider's state and a message a person can act on."""

    name: str
    title: str
    state: ProviderState
    message: str | None = None

    @property
    def usable(self) -> bool:
        """Whether calls may be made (an open circuit recovers by itself)."""
        return self.state in (ProviderState.OK, ProviderState.CIRCUIT_OPEN)


@dataclass(frozen=True, slots=True)
class Auth:
    """How a key travels: query parameters and/or headers."""

    params: tuple[tuple[str, str], ...] = ()
    headers: tuple[tuple[str, str], ...] = ()


Verdict = Literal["ok", "auth", "not_found", "invalid", "rate_limited", "unavailable"]
ResponseRule = Callable[[int, bytes], Verdict | None]


def default_verdict(status: int) -> Verdict:
    """What an HTTP status means for the caller."""
    if 200 <= status < 300:
        return "ok"
    if status in (401, 403):
        return "auth"
    if status == 404:
        return "not_found"
    if status == 429:
        return "rate_limited"
    if status == 408 or status >= 500 or status < 200 or 300 <= status < 400:
        return "unavailable"
    return "invalid"


def parse_retry_after(value: str | None, *, now: Callable[[], float] = time.time) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or HTTP date), or None."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - now())


def body_message(body: bytes) -> str | None:
    """The human message in a provider's error body (TMDB, fanart.tv, OMDb shapes)."""
    try:
        data = json.loads(body)
    except ValueError:
        return None
    if not isinstance(data, dict):
        return None
    for key in ("status_message", "error message", "Error", "message"):
        value = data.get(key)
        if isinstance(value, str) and value:
            return value
    errors = data.get("errors")
    if isinstance(errors, list) and errors:
        return "; ".join(str(e) for e in errors)
    return None


# Retries inside one call: 0.5 s, 1 s, 2 s... (the job queue retries later, slower).
PROVIDER_BACKOFF = Backoff(base=0.5, factor=2.0, max_delay=30.0, jitter=0.2)


@dataclass
class ProviderDeps:
    """What every provider client in one process shares (built once, in bootstrap)."""

    cache: ResponseCache = field(default_factory=MemoryResponseCache)
    breakers: Breakers = field(default_factory=Breakers)
    limiters: RateLimiters = field(default_factory=RateLimiters)
    backoff: Backoff = field(default_factory=lambda: PROVIDER_BACKOFF)
    sleep: Sleep = asyncio.sleep
    rand: Callable[[], float] = random.random
    user_agent: str = "Metarr/0.1"
    usage: ProviderUsage = field(default_factory=ProviderUsage)  # requests, 429s, errors


def parse_payload(model: type[M], data: Any, *, provider: str) -> M:
    """Validate a provider payload; a shape we do not understand is the provider's fault."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ProviderUnavailable(
            f"{provider} sent an unexpected {model.__name__} payload "
            f"({exc.error_count()} problem(s), first at {exc.errors()[0]['loc']})",
            provider=provider,
        ) from None


class ProviderHttp:
    """The HTTP side of one provider: every request goes through `get_json`.

    Order of a call: key-invalid short-cut -> response cache -> circuit breaker ->
    (rate limiter -> request -> verdict) with retries -> cache store. The breaker
    counts one success/failure per call, not per attempt; it is named
    `<provider>.http` so it never shares a half-open probe with the job worker's
    breaker of the same provider.
    """

    def __init__(
        self,
        provider: str,
        title: str,
        config: ProviderConfig,
        deps: ProviderDeps,
        auth: Auth,
        *,
        rule: ResponseRule | None = None,
    ) -> None:
        self.provider = provider
        self.title = title
        self.config = config
        self.deps = deps
        self.auth = auth
        self.rule = rule
        self.breaker = deps.breakers.get(f"{provider}.http")
        self.limiter = deps.limiters.get(provider, config.rate_limit)
        self.key_invalid: str | None = None
        self.requests_sent = 0
        self._secrets = (
            [config.key or ""] + [v for _, v in auth.params] + [v for _, v in auth.headers]
        )
        self._client: httpx.AsyncClient | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    # -- public ---------------------------------------------------------------------

    async def get_json(
        self,
        path: str,
        params: Mapping[str, str | int | float | None] | None = None,
        *,
        cache_ttl: float | None = None,
    ) -> Any:
        """GET `path` under the base URL and decode JSON; `cache_ttl=0` bypasses the cache."""
        pairs = [(k, str(v)) for k, v in (params or {}).items() if v is not None]
        ttl = self.config.cache_ttl if cache_ttl is None else cache_ttl
        key = cache_key(self.provider, path, pairs)
        if self.key_invalid is not None:
            raise ProviderAuthFailed(self.key_invalid, provider=self.provider)
        if ttl > 0:
            cached = self.deps.cache.get(key)
            if cached is not None:
                try:
                    data = json.loads(cached)
                    self._count("cache_hits")
                    return data
                except ValueError:
                    log.warning("%s: dropping an unreadable cached response", self.provider)
        body = await self._fetch(path, pairs)
        try:
            data = json.loads(body)
        except ValueError:
            raise ProviderUnavailable(
                f"{self.title} answered {self._display(path, pairs)} with something not JSON",
                provider=self.provider,
            ) from None
        if ttl > 0:
            self.deps.cache.put(key, body, ttl)
        return data

    def redact(self, text: str) -> str:
        """`text` with this provider's key masked."""
        return redact(text, self._secrets)

    async def aclose(self) -> None:
        """Close the connection pool (on the loop that created it)."""
        client, self._client = self._client, None
        if client is not None:
            await client.aclose()

    # -- internals ------------------------------------------------------------------

    def _url(self, path: str) -> str:
        base = self.config.base_url
        if not path:
            return base
        return base.rstrip("/") + "/" + path.lstrip("/")

    def _display(self, path: str, pairs: list[tuple[str, str]]) -> str:
        query = "&".join(f"{k}={v}" for k, v in pairs)
        return self.redact("/" + path.lstrip("/") + (f"?{query}" if query else ""))

    def _http(self) -> httpx.AsyncClient:
        loop = asyncio.get_running_loop()
        if self._client is not None and self._loop is not loop:
            if self._loop is not None and not self._loop.is_closed():
                raise RuntimeError(
                    f"{self.provider} client used from a second event loop; "
                    "call it through ProviderRuntime.run()/run_async()"
                )
            self._client = None  # the old loop is gone with its connections
        if self._client is None:
            timeout = self.config.timeout
            self._client = httpx.AsyncClient(
                timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)),
                headers={"User-Agent": self.deps.user_agent, "Accept": "application/json"},
                follow_redirects=True,
                limits=httpx.Limits(max_connections=32, max_keepalive_connections=16),
            )
            self._loop = loop
        return self._client

    def _count(self, kind: UsageKind) -> None:
        self.deps.usage.count(self.provider, kind)

    def _verdict(self, status: int, body: bytes) -> Verdict:
        if self.rule is not None:
            verdict = self.rule(status, body)
            if verdict is not None:
                return verdict
        return default_verdict(status)

    def _message(self, status: int, body: bytes) -> str:
        text = body_message(body)
        return self.redact(f"HTTP {status}" + (f": {text}" if text else ""))

    async def _fetch(self, path: str, pairs: list[tuple[str, str]]) -> bytes:
        """One logical request with retries; returns the body of a successful answer."""
        name, title = self.provider, self.title
        if not self.breaker.allow():
            wait = self.breaker.seconds_until_probe()
            raise ProviderUnavailable(
                f"{title} is failing; circuit open, next try in {wait:.0f}s",
                provider=name,
                retry_after=wait,
            )
        display = self._display(path, pairs)
        url = self._url(path)
        query: list[tuple[str, str | int | float | bool | None]] = [*pairs, *self.auth.params]
        headers = dict(self.auth.headers)
        settled = False
        attempt = 0
        try:
            while True:
                attempt += 1
                client = self._http()  # built before the slot: building it takes time
                await self.limiter.acquire(self.deps.sleep)
                cause: Exception | None = None
                hint: float | None = None
                started = time.monotonic()
                try:
                    self.requests_sent += 1
                    self._count("requests")
                    response = await client.get(url, params=query, headers=headers)
                except httpx.TimeoutException as exc:
                    self._count("errors")
                    problem, cause = f"timed out after {self.config.timeout:g}s", exc
                except httpx.InvalidURL as exc:  # not an HTTPError: a bad base URL
                    self._count("errors")
                    settled = True
                    self.breaker.release()
                    raise InvalidInput(
                        f"{title}: invalid base URL {self.config.base_url!r}",
                        field=f"{self.config.env_prefix}BASE_URL",
                    ) from exc
                except httpx.HTTPError as exc:
                    self._count("errors")
                    problem, cause = f"request failed ({type(exc).__name__})", exc
                else:
                    status, body = response.status_code, response.content
                    log.debug(
                        "%s GET %s -> %d in %.0f ms",
                        name,
                        display,
                        status,
                        (time.monotonic() - started) * 1000,
                    )
                    verdict = self._verdict(status, body)
                    if verdict == "ok":
                        settled = True
                        self.breaker.record_success()
                        return body
                    if verdict in ("auth", "not_found", "invalid"):
                        if verdict != "not_found":
                            self._count("errors")
                        settled = True
                        self.breaker.record_success()  # it answered: the service is up
                        self._raise_for(verdict, status, body, display)
                    if verdict == "rate_limited":
                        self._count("rate_limited")
                        pause = parse_retry_after(response.headers.get("Retry-After"))
                        if pause is None:
                            pause = self.deps.backoff.delay(attempt, self.deps.rand)
                        self.limiter.pause(pause)
                        if pause > self.config.max_retry_after or attempt > self.config.max_retries:
                            raise ProviderUnavailable(
                                f"{title} is rate limiting us (Retry-After {pause:g}s): {display}",
                                provider=name,
                                retry_after=pause,
                            )
                        log.info("%s: 429 on %s, waiting %.2fs as asked", name, display, pause)
                        await self.deps.sleep(pause)
                        continue
                    self._count("errors")
                    problem = self._message(status, body)
                    hint = parse_retry_after(response.headers.get("Retry-After"))
                if attempt > self.config.max_retries:
                    settled = True
                    self.breaker.record_failure()
                    raise ProviderUnavailable(
                        f"{title} unavailable: {problem} on {display} after {attempt} attempt(s)",
                        provider=name,
                        retry_after=hint,
                    ) from cause
                delay = self.deps.backoff.delay(attempt, self.deps.rand)
                if hint is not None and delay < hint <= self.config.max_retry_after:
                    delay = hint
                log.warning(
                    "%s: %s on %s; retry %d/%d in %.2fs",
                    name,
                    problem,
                    display,
                    attempt,
                    self.config.max_retries,
                    delay,
                )
                await self.deps.sleep(delay)
        finally:
            if not settled:
                self.breaker.release()

    def _raise_for(self, verdict: Verdict, status: int, body: bytes, display: str) -> None:
        message = self._message(status, body)
        if verdict == "auth":
            self.key_invalid = (
                f"{self.title} refused the API key ({message}); set a valid one "
                f"on the Providers page or in {self.config.env_prefix}API_KEY"
            )
            log.warning("%s: %s", self.provider, self.key_invalid)
            raise ProviderAuthFailed(self.key_invalid, provider=self.provider)
        if verdict == "not_found":
            raise ProviderNotFound(f"{self.title}: not found: {display}", provider=self.provider)
        raise InvalidInput(f"{self.title} rejected {display}: {message}")


# -- the plug-in base -----------------------------------------------------------------


class Provider(ABC):
    """A metadata source: identity and capabilities as class attributes, wire calls inside.

    Contract for subclasses (one package each: `__init__.py` holds the subclass,
    `api.py` the wire calls, `schemas.py` the payload models, `mapping.py` the pure
    payload -> domain functions):

    * set `name` (also the env prefix: METARR_<NAME>_*), `title` and `capabilities`;
    * implement `auth(key)` (how the key travels) and `check()` (a cheap call that
      proves the key works, for "test connection");
    * optionally override `response_rule` for provider-specific error bodies.

    Every public method is a coroutine meant to run on the `ProviderRuntime` loop and
    raises only our error tree: `ProviderDisabled` (no key/disabled),
    `ProviderAuthFailed`, `ProviderNotFound`, `ProviderUnavailable`, `InvalidInput`.
    """

    name: ClassVar[str]
    title: ClassVar[str]
    capabilities: ClassVar[frozenset[Capability]]

    def __init__(self, config: ProviderConfig, deps: ProviderDeps | None = None) -> None:
        if config.name != self.name:
            raise ValueError(f"{type(self).__name__} needs a {self.name!r} config")
        self.config = config
        self.deps = deps if deps is not None else ProviderDeps()
        self._http: ProviderHttp | None = None
        key = config.key
        if config.enabled and key is not None:
            self._http = ProviderHttp(
                self.name, self.title, config, self.deps, self.auth(key), rule=self.response_rule
            )
        else:
            log.info("%s", config.disabled_reason())

    @abstractmethod
    def auth(self, key: str) -> Auth:
        """How `key` is sent to the provider."""

    @abstractmethod
    async def check(self) -> None:
        """A cheap authenticated call; raises when the key or the service is not fine."""

    def response_rule(self, status: int, body: bytes) -> Verdict | None:
        """Provider-specific meaning of a response (None = use the HTTP status)."""
        return None

    def mark_key_invalid(self, message: str | None) -> None:
        """Record a key test's verdict: `message` marks the key invalid, None clears it."""
        if self._http is not None:
            self._http.key_invalid = message

    @property
    def http(self) -> ProviderHttp:
        """The HTTP client; raises `ProviderDisabled` when the provider is off."""
        if self._http is None:
            reason = self.config.disabled_reason() or f"{self.name} is disabled"
            raise ProviderDisabled(reason, provider=self.name)
        return self._http

    def status(self) -> ProviderStatus:
        """The provider's state for health pages and the connections screen."""
        if self._http is None:
            reason = self.config.disabled_reason()
            return ProviderStatus(self.name, self.title, ProviderState.DISABLED, reason)
        if self._http.key_invalid is not None:
            return ProviderStatus(
                self.name, self.title, ProviderState.KEY_INVALID, self._http.key_invalid
            )
        if self._http.breaker.state() is not BreakerState.CLOSED:
            wait = self._http.breaker.seconds_until_probe()
            return ProviderStatus(
                self.name,
                self.title,
                ProviderState.CIRCUIT_OPEN,
                f"{self.title} is failing; next try in {wait:.0f}s",
            )
        return ProviderStatus(self.name, self.title, ProviderState.OK)

    async def aclose(self) -> None:
        """Release the connection pool."""
        if self._http is not None:
            await self._http.aclose()
