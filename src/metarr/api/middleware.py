"""Pure ASGI middleware: request ids and access log, security headers, rate and body limits."""

from __future__ import annotations

import hashlib
import math
import re
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from urllib.parse import parse_qsl

from fastapi import FastAPI
from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from metarr.api.problems import internal_error_response, problem_response, status_title
from metarr.logs import (
    bind_request_id,
    current_request_id,
    get_logger,
    redact_text,
    reset_request_id,
)
from metarr.settings import Settings

__all__ = [
    "API_KEY_HEADER",
    "DEFAULT_CSP",
    "DOCS_CSP",
    "REQUEST_ID_HEADER",
    "BodySizeLimitMiddleware",
    "FixedWindowRateLimiter",
    "PayloadTooLarge",
    "RateLimitDecision",
    "RateLimitMiddleware",
    "RequestContextMiddleware",
    "SecurityHeadersMiddleware",
    "UnhandledErrorMiddleware",
    "install_middleware",
]

REQUEST_ID_HEADER = "X-Request-ID"
API_KEY_HEADER = "X-Api-Key"
_API_KEY_QUERY_PARAMS = frozenset({"apikey", "api_key"})
_REQUEST_ID_RE = re.compile(r"[A-Za-z0-9._-]{1,128}")

DEFAULT_CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "connect-src 'self' ws: wss:; frame-ancestors 'none'; base-uri 'self'; form-action 'self'"
)
# Swagger UI bootstraps itself with an inline script and inline styles.
DOCS_CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
    "script-src 'self' 'unsafe-inline'; connect-src 'self'; frame-ancestors 'none'; "
    "base-uri 'self'; form-action 'self'"
)
_STATIC_SECURITY_HEADERS: tuple[tuple[str, str], ...] = (
    ("X-Content-Type-Options", "nosniff"),
    ("X-Frame-Options", "DENY"),
    ("Referrer-Policy", "no-referrer"),
    ("Permissions-Policy", "camera=(), microphone=(), geolocation=(), payment=(), usb=()"),
    ("Cross-Origin-Opener-Policy", "same-origin"),
)

access_log = get_logger("metarr.access")
log = get_logger("metarr.api")


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key.lower() == name:
            return bytes(value).decode("latin-1")
    return None


def _path_matches(path: str, prefixes: Iterable[str]) -> bool:
    return any(path == p or path.startswith(p.rstrip("/") + "/") for p in prefixes)


class RequestContextMiddleware:
    """Give each HTTP request an id (log context, `request.state`, response header) and log it."""

    def __init__(
        self, app: ASGIApp, *, quiet_paths: tuple[str, ...] = ("/api/v1/health", "/metrics")
    ) -> None:
        self.app = app
        self.quiet_paths = quiet_paths

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        incoming = _header(scope, b"x-request-id")
        request_id = (
            incoming if incoming and _REQUEST_ID_RE.fullmatch(incoming) else uuid.uuid4().hex
        )
        # A fresh dict: the server's per-request copy of lifespan state stays untouched.
        scope["state"] = {**scope.get("state", {}), "request_id": request_id}
        status: int | None = None

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                MutableHeaders(scope=message)[REQUEST_ID_HEADER] = request_id
            await send(message)

        tokens = bind_request_id(request_id)
        started = time.perf_counter()
        try:
            await self.app(scope, receive, send_with_id)
        finally:
            self._log_access(scope, status, time.perf_counter() - started)
            reset_request_id(tokens)

    def _log_access(self, scope: Scope, status: int | None, elapsed: float) -> None:
        path: str = scope.get("path", "")
        query = bytes(scope.get("query_string", b"")).decode("latin-1")
        client = scope.get("client")
        fields: dict[str, object] = {
            "method": scope.get("method"),
            "path": path,
            # None: the app ended without answering (client gone, or it crashed mid-way).
            "status": status,
            "duration_ms": round(elapsed * 1000, 2),
            "client": client[0] if client else None,
        }
        if query:
            fields["query"] = redact_text(query)
        if _path_matches(path, self.quiet_paths):
            access_log.debug("request", **fields)
        else:
            access_log.info("request", **fields)


class SecurityHeadersMiddleware:
    """Add CSP, anti-framing and related headers to every HTTP response (routes may override)."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        csp: str = DEFAULT_CSP,
        docs_csp: str = DOCS_CSP,
        docs_paths: tuple[str, ...] = ("/api/v1/docs", "/api/v1/redoc"),
    ) -> None:
        self.app = app
        self.csp = csp
        self.docs_csp = docs_csp
        self.docs_paths = docs_paths

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        csp = self.docs_csp if _path_matches(scope["path"], self.docs_paths) else self.csp

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in _STATIC_SECURITY_HEADERS:
                    headers.setdefault(name, value)
                headers.setdefault("Content-Security-Policy", csp)
            await send(message)

        await self.app(scope, receive, send_with_headers)


class UnhandledErrorMiddleware:
    """Turn an exception that escaped the app into a logged, opaque 500 problem response."""

    # Starlette's own last-resort handler sits outside all user middleware, so its
    # 500 would carry neither the request id nor the security headers.

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        response_started = False

        async def send_tracking(message: Message) -> None:
            nonlocal response_started
            if message["type"] == "http.response.start":
                response_started = True
            await send(message)

        try:
            await self.app(scope, receive, send_tracking)
        except ClientDisconnect:
            log.info("client_disconnected", path=scope["path"])
        except Exception as exc:
            log.error("unhandled_exception", path=scope["path"], exc_info=exc)
            if response_started:
                # Half a response is on the wire; only dropping the connection is honest.
                raise
            response = internal_error_response(
                instance=scope["path"], request_id=current_request_id()
            )
            await response(scope, receive, send)


@dataclass(frozen=True, slots=True)
class RateLimitDecision:
    """Outcome of counting one request against a client's window."""

    allowed: bool
    limit: int
    remaining: int
    reset_after: int

    def headers(self) -> dict[str, str]:
        """The `X-RateLimit-*` headers describing this decision."""
        return {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(self.remaining),
            "X-RateLimit-Reset": str(self.reset_after),
        }


@dataclass(slots=True)
class _Window:
    start: float
    count: int


class FixedWindowRateLimiter:
    """Per-client fixed-window counter with a hard cap on the number of tracked clients."""

    def __init__(
        self,
        limit: int,
        *,
        window_seconds: float = 60.0,
        max_clients: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if limit < 1 or window_seconds <= 0 or max_clients < 1:
            raise ValueError("limit, window_seconds and max_clients must be positive")
        self.limit = limit
        self.window_seconds = window_seconds
        self.max_clients = max_clients
        self._clock = clock
        # Ordered by window start, so the oldest (first to expire) windows are at the front.
        self._windows: OrderedDict[str, _Window] = OrderedDict()
        # No awaits happen under it; it protects against worker threads sharing a limiter.
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._windows)

    def hit(self, key: str) -> RateLimitDecision:
        """Count one request from `key` and say whether it may proceed."""
        now = self._clock()
        with self._lock:
            window = self._windows.get(key)
            if window is None or now - window.start >= self.window_seconds:
                if window is not None:
                    del self._windows[key]
                self._evict(now)
                window = _Window(start=now, count=0)
                self._windows[key] = window
            allowed = window.count < self.limit
            if allowed:
                window.count += 1
            remaining = self.limit - window.count
            reset_after = max(1, math.ceil(window.start + self.window_seconds - now))
        return RateLimitDecision(allowed, self.limit, remaining, reset_after)

    def _evict(self, now: float) -> None:
        windows = self._windows
        while windows:
            oldest = next(iter(windows.values()))
            if now - oldest.start < self.window_seconds:
                break
            windows.popitem(last=False)
        # Still full of live windows: drop the oldest, the one closest to resetting anyway.
        while len(windows) >= self.max_clients:
            windows.popitem(last=False)


def _client_key(scope: Scope) -> str:
    api_key = _header(scope, API_KEY_HEADER.lower().encode())
    if not api_key:
        query = bytes(scope.get("query_string", b"")).decode("latin-1")
        if query:
            for name, value in parse_qsl(query, keep_blank_values=False):
                if name.lower() in _API_KEY_QUERY_PARAMS:
                    api_key = value
                    break
    if api_key:
        # Only a digest is kept in memory, never the key itself.
        return "key:" + hashlib.sha256(api_key.encode()).hexdigest()[:32]
    return _client_ip(scope)


def _client_ip(scope: Scope) -> str:
    client = scope.get("client")
    return "ip:" + (client[0] if client else "unknown")


class RateLimitMiddleware:
    """Limit requests per client (API key, else IP) and report it in `X-RateLimit-*`.

    By default every API request counts; `methods` narrows it (the login forms: POST).
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        limiter: FixedWindowRateLimiter,
        prefix: str | tuple[str, ...] = "/api/",
        exempt_paths: tuple[str, ...] = ("/api/v1/health",),
        methods: frozenset[str] | None = None,
        client_key: Callable[[Scope], str] = _client_key,
    ) -> None:
        self.app = app
        self.limiter = limiter
        self.prefix = prefix
        self.exempt_paths = exempt_paths
        self.methods = methods
        self.client_key = client_key

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope.get("path", "")
        if (
            scope["type"] != "http"
            or not path.startswith(self.prefix)
            or _path_matches(path, self.exempt_paths)
            or (self.methods is not None and scope.get("method") not in self.methods)
        ):
            await self.app(scope, receive, send)
            return

        decision = self.limiter.hit(self.client_key(scope))
        headers = decision.headers()
        if not decision.allowed:
            log.info("rate_limited", path=path, reset_after=decision.reset_after)
            response = problem_response(
                429,
                "rate_limited",
                status_title(429),
                f"Rate limit of {decision.limit} requests per minute exceeded.",
                headers={**headers, "Retry-After": str(decision.reset_after)},
                instance=path,
            )
            await response(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                mutable = MutableHeaders(scope=message)
                for name, value in headers.items():
                    mutable[name] = value
            await send(message)

        await self.app(scope, receive, send_with_headers)


class PayloadTooLarge(StarletteHTTPException):
    """The request body is over the size limit (raised from `receive`, answered with 413)."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, detail=f"Request body is larger than {limit} bytes.")
        self.limit = limit


def _content_length(scope: Scope) -> int | None:
    raw = _header(scope, b"content-length")
    if raw is None:
        return None
    try:
        return int(raw)
    except ValueError:
        return None


class BodySizeLimitMiddleware:
    """Refuse bodies over the limit: at once by Content-Length, or mid-stream when chunked."""

    def __init__(
        self, app: ASGIApp, *, max_bytes: int, path_limits: Mapping[str, int] | None = None
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        # Longest prefix first so /api/v1/movies/1/images can differ from /api/v1/.
        self.path_limits = sorted((path_limits or {}).items(), key=lambda kv: -len(kv[0]))

    def _limit_for(self, path: str) -> int:
        for prefix, limit in self.path_limits:
            if path.startswith(prefix):
                return limit
        return self.max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self._limit_for(scope["path"])
        declared = _content_length(scope)
        if declared is not None and declared > limit:
            await self._reject(scope, receive, send, limit)
            return

        received = 0
        response_started = False

        async def limited_receive() -> Message:
            nonlocal received
            if received > limit:
                raise PayloadTooLarge(limit)
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                # The chunk that crosses the line is never handed to the app.
                if received > limit:
                    raise PayloadTooLarge(limit)
            return message

        async def send_tracking(message: Message) -> None:
            nonlocal response_started
            if message["type"] == "http.response.start":
                response_started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, send_tracking)
        except PayloadTooLarge:
            # Normally the exception handlers answer it; this covers apps without them.
            if response_started:
                raise
            await self._reject(scope, receive, send, limit)

    @staticmethod
    async def _reject(scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        log.info("payload_too_large", path=scope["path"], limit=limit)
        response = problem_response(
            413,
            "payload_too_large",
            status_title(413),
            f"Request body is larger than {limit} bytes.",
            instance=scope["path"],
        )
        await response(scope, receive, send)


def install_middleware(
    app: FastAPI, settings: Settings, *, body_limit_overrides: Mapping[str, int] | None = None
) -> None:
    """Install the middleware stack; outermost first: request id, headers, 500s, rate, body."""
    # add_middleware() puts each new layer outside the previous ones.
    app.add_middleware(
        BodySizeLimitMiddleware,
        max_bytes=settings.max_body_bytes,
        path_limits=body_limit_overrides,
    )
    app.add_middleware(
        RateLimitMiddleware, limiter=FixedWindowRateLimiter(settings.rate_limit_per_minute)
    )
    # password guessing: each login costs an argon2 check, so attempts are few per client
    app.add_middleware(
        RateLimitMiddleware,
        limiter=FixedWindowRateLimiter(settings.login_attempts_per_minute),
        prefix=("/login", "/setup"),
        exempt_paths=(),
        methods=frozenset({"POST"}),
        client_key=_client_ip,  # per address: a made-up API key header must not reset it
    )
    app.add_middleware(UnhandledErrorMiddleware)
    app.add_middleware(SecurityHeadersMiddleware)
    app.add_middleware(RequestContextMiddleware)
