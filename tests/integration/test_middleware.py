"""Middleware, problem+json errors and logging, exercised over real HTTP on loopback."""

from __future__ import annotations

import json
import logging
import re
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI, Query, Request, WebSocket
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel, Field
from websockets.sync.client import connect as ws_connect

from metarr.api.middleware import FixedWindowRateLimiter, install_middleware
from metarr.api.problems import install_exception_handlers
from metarr.domain.errors import (
    AuthenticationFailed,
    FieldLocked,
    InvalidInput,
    NotFound,
    ServiceUnavailable,
)
from metarr.logs import configure_logging, get_logger, shutdown_logging
from metarr.settings import Settings

BODY_LIMIT = 2048
SECURITY_HEADERS = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
    "cross-origin-opener-policy": "same-origin",
}

log = get_logger("tests.middleware")


class Item(BaseModel):
    """Body of the validation route."""

    path: str
    limit: int = Field(ge=1)


def build_app(settings: Settings) -> FastAPI:
    """A small app with one route per behaviour under test."""
    app = FastAPI(docs_url="/api/v1/docs", openapi_url="/api/v1/openapi.json")
    seen: dict[str, int] = {"echo_calls": 0, "stream_max": 0}
    app.state.seen = seen

    @app.get("/api/v1/ping")
    async def ping(request: Request) -> dict[str, str]:
        log.info("ping_handled")
        return {"request_id": request.state.request_id}

    @app.get("/api/v1/sync-ping")
    def sync_ping() -> dict[str, str]:
        log.info("sync_ping_handled")
        logging.getLogger("tests.stdlib").info("stdlib line %s", "inside")
        return {"ok": "yes"}

    @app.get("/api/v1/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/api/v1/missing")
    async def missing() -> None:
        raise NotFound("movie 42 does not exist")

    @app.get("/api/v1/invalid")
    async def invalid() -> None:
        raise InvalidInput("must be an absolute path", field="path")

    @app.get("/api/v1/locked")
    async def locked() -> None:
        raise FieldLocked("title is locked")

    @app.get("/api/v1/unavailable")
    async def unavailable() -> None:
        raise ServiceUnavailable("TMDB is down")

    @app.get("/api/v1/denied")
    async def denied() -> None:
        raise AuthenticationFailed("a valid API key is required")

    @app.get("/api/v1/boom")
    async def boom() -> None:
        raise RuntimeError("internal detail xyzzy")

    @app.post("/api/v1/items")
    def create_item(item: Item) -> dict[str, str]:
        return {"path": item.path}

    @app.get("/api/v1/items")
    def list_items(limit: int = Query(ge=1, le=100)) -> dict[str, int]:
        return {"limit": limit}

    @app.post("/api/v1/echo")
    async def echo(request: Request) -> Response:
        body = await request.body()
        seen["echo_calls"] += 1
        return Response(body, media_type="application/octet-stream")

    @app.post("/api/v1/stream")
    async def stream(request: Request) -> dict[str, int]:
        total = 0
        async for chunk in request.stream():
            total += len(chunk)
            seen["stream_max"] = max(seen["stream_max"], total)
        return {"bytes": total}

    @app.get("/api/v1/log-headers")
    async def log_headers(request: Request) -> dict[str, str]:
        log.info("headers_seen", headers=dict(request.headers), url=str(request.url))
        return {}

    @app.get("/web/page")
    async def page() -> HTMLResponse:
        return HTMLResponse("<h1>Movies</h1>")

    @app.websocket("/api/v1/ws")
    async def events(websocket: WebSocket) -> None:
        await websocket.accept()
        await websocket.send_text("hello")
        await websocket.close()

    install_exception_handlers(app)
    install_middleware(app, settings)
    return app


@contextmanager
def serve(app: FastAPI) -> Iterator[str]:
    """Run `app` with uvicorn on a free loopback port in a thread; yield its base URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, log_config=None, lifespan="on", ws="auto")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while not server.started:
            if time.monotonic() > deadline or not thread.is_alive():
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.01)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("metarr-data")


@pytest.fixture(scope="module")
def log_file(data_dir: Path) -> Iterator[Path]:
    root = logging.getLogger()
    previous_level = root.level
    configure_logging(Settings(data_dir=data_dir, log_level="debug"), console=False)
    yield data_dir / "logs" / "metarr.log"
    shutdown_logging()
    root.setLevel(previous_level)


@pytest.fixture(scope="module")
def app(data_dir: Path, log_file: Path) -> FastAPI:
    settings = Settings(data_dir=data_dir, rate_limit_per_minute=1000, max_body_bytes=BODY_LIMIT)
    return build_app(settings)


@pytest.fixture(scope="module")
def base_url(app: FastAPI) -> Iterator[str]:
    with serve(app) as url:
        yield url


@pytest.fixture
def client(base_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=base_url, timeout=10) as c:
        yield c


def read_log(log_file: Path) -> list[dict[str, Any]]:
    """Every JSON line written so far."""
    return [json.loads(line) for line in log_file.read_text("utf-8").splitlines() if line]


def wait_for_log(
    log_file: Path, match: Callable[[dict[str, Any]], bool], timeout: float = 5
) -> dict[str, Any]:
    """The first log line matching `match`; the access line lands just after the response."""
    deadline = time.monotonic() + timeout
    while True:
        for line in read_log(log_file):
            if match(line):
                return line
        if time.monotonic() > deadline:
            raise AssertionError("no matching log line")
        time.sleep(0.02)


def assert_problem(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert body["code"] == code
    assert body["type"] == f"https://metarr.invalid/problems/{code}"
    assert body["title"]
    assert body["instance"] == response.request.url.path
    assert body["request_id"] == response.headers["x-request-id"]
    return body


# --- request ids and logs -------------------------------------------------


def test_client_request_id_is_echoed_and_visible_to_handlers(client: httpx.Client) -> None:
    response = client.get("/api/v1/ping", headers={"X-Request-ID": "abc-123.DEF_x"})

    assert response.status_code == 200
    assert response.headers["x-request-id"] == "abc-123.DEF_x"
    assert response.json() == {"request_id": "abc-123.DEF_x"}


@pytest.mark.parametrize("given", [None, "has spaces", "x" * 129, "semi;colon", ""])
def test_request_id_is_generated_when_missing_or_unsafe(
    client: httpx.Client, given: str | None
) -> None:
    headers = {} if given is None else {"X-Request-ID": given}

    response = client.get("/api/v1/ping", headers=headers)

    request_id = response.headers["x-request-id"]
    assert re.fullmatch(r"[0-9a-f]{32}", request_id)
    assert response.json() == {"request_id": request_id}


def test_request_id_is_on_every_log_line_of_the_request(
    client: httpx.Client, log_file: Path
) -> None:
    client.get("/api/v1/ping", headers={"X-Request-ID": "log-check-1"})
    client.get("/api/v1/sync-ping?limit=3", headers={"X-Request-ID": "log-check-2"})

    def line(event: str, request_id: str) -> dict[str, Any]:
        return wait_for_log(
            log_file, lambda e: e["event"] == event and e.get("request_id") == request_id
        )

    handler_line = line("ping_handled", "log-check-1")
    access = line("request", "log-check-1")
    # sync routes run in a worker thread; the id must follow them there
    sync_line = line("sync_ping_handled", "log-check-2")
    stdlib_line = line("stdlib line inside", "log-check-2")
    sync_access = line("request", "log-check-2")

    assert handler_line["level"] == "info"
    assert handler_line["logger"] == "tests.middleware"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z", handler_line["timestamp"])
    assert access["logger"] == "metarr.access"
    assert access["method"] == "GET"
    assert access["path"] == "/api/v1/ping"
    assert access["status"] == 200
    assert access["duration_ms"] >= 0
    assert sync_line["logger"] == "tests.middleware"
    assert stdlib_line["logger"] == "tests.stdlib"
    assert sync_access["query"] == "limit=3"


def test_api_keys_never_reach_the_log_file(client: httpx.Client, log_file: Path) -> None:
    response = client.get(
        "/api/v1/log-headers?apikey=secret123",
        headers={"X-Api-Key": "secret456", "X-Request-ID": "secrets-1"},
    )
    assert response.status_code == 200

    access = wait_for_log(
        log_file, lambda e: e["event"] == "request" and e.get("request_id") == "secrets-1"
    )
    handler_line = wait_for_log(log_file, lambda e: e["event"] == "headers_seen")
    text = log_file.read_text("utf-8")

    assert access["query"] == "apikey=***"
    assert handler_line["headers"]["x-api-key"] == "***"
    assert "apikey=***" in handler_line["url"]
    assert "secret123" not in text
    assert "secret456" not in text


def test_configure_logging_twice_does_not_duplicate_lines(data_dir: Path, log_file: Path) -> None:
    configure_logging(Settings(data_dir=data_dir, log_level="debug"), console=False)

    ours = [h for h in logging.getLogger().handlers if (h.get_name() or "").startswith("metarr.")]
    log.info("written_once", marker="dup-check")

    assert len(ours) == 1
    lines = [e for e in read_log(log_file) if e.get("marker") == "dup-check"]
    assert len(lines) == 1


# --- problem+json ---------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "status", "code"),
    [
        ("/api/v1/missing", 404, "not_found"),
        ("/api/v1/invalid", 422, "invalid_input"),
        ("/api/v1/locked", 409, "field_locked"),
        ("/api/v1/unavailable", 503, "service_unavailable"),
        ("/api/v1/denied", 401, "authentication_failed"),
        ("/api/v1/no-such-route", 404, "not_found"),
    ],
)
def test_errors_are_problem_json(client: httpx.Client, path: str, status: int, code: str) -> None:
    assert_problem(client.get(path), status, code)


def test_domain_error_details(client: httpx.Client) -> None:
    missing = assert_problem(client.get("/api/v1/missing"), 404, "not_found")
    invalid = assert_problem(client.get("/api/v1/invalid"), 422, "invalid_input")
    unavailable = client.get("/api/v1/unavailable")

    assert missing["detail"] == "movie 42 does not exist"
    assert invalid["errors"] == [
        {"field": "path", "message": "must be an absolute path", "code": "invalid_input"}
    ]
    assert int(unavailable.headers["retry-after"]) > 0


def test_method_not_allowed_keeps_status_and_allow_header(client: httpx.Client) -> None:
    response = client.delete("/api/v1/ping")

    assert_problem(response, 405, "method_not_allowed")
    assert "GET" in response.headers["allow"]


def test_body_validation_errors_name_the_fields(client: httpx.Client) -> None:
    response = client.post("/api/v1/items", json={"limit": 0})

    body = assert_problem(response, 422, "invalid_input")
    fields = {e["field"]: e for e in body["errors"]}
    assert set(fields) == {"body.path", "body.limit"}
    assert fields["body.path"]["code"] == "missing"
    assert all(e["message"] for e in body["errors"])


def test_query_validation_errors_name_the_fields(client: httpx.Client) -> None:
    body = assert_problem(client.get("/api/v1/items?limit=abc"), 422, "invalid_input")

    assert [e["field"] for e in body["errors"]] == ["query.limit"]


def test_malformed_json_is_a_validation_problem(client: httpx.Client) -> None:
    response = client.post(
        "/api/v1/items", content=b"{not json", headers={"content-type": "application/json"}
    )

    body = assert_problem(response, 422, "invalid_input")
    assert body["errors"][0]["field"].startswith("body")


def test_unhandled_exception_is_an_opaque_500(client: httpx.Client, log_file: Path) -> None:
    response = client.get("/api/v1/boom", headers={"X-Request-ID": "boom-1"})

    body = assert_problem(response, 500, "internal_error")
    assert "xyzzy" not in response.text
    assert "RuntimeError" not in response.text
    for name, value in SECURITY_HEADERS.items():
        assert response.headers[name] == value
    error = wait_for_log(
        log_file,
        lambda e: e["event"] == "unhandled_exception" and e.get("request_id") == "boom-1",
    )
    assert error["level"] == "error"
    assert "RuntimeError" in json.dumps(error["exception"])
    assert body["request_id"] == "boom-1"
    access = wait_for_log(
        log_file, lambda e: e["event"] == "request" and e.get("request_id") == "boom-1"
    )
    assert access["status"] == 500


# --- body size ------------------------------------------------------------


def test_body_within_limit_reaches_the_app(client: httpx.Client) -> None:
    payload = b"a" * BODY_LIMIT

    assert client.post("/api/v1/echo", content=payload).content == payload
    chunked = client.post("/api/v1/echo", content=iter([b"b" * 1000, b"c" * 1000]))
    assert chunked.content == b"b" * 1000 + b"c" * 1000


def test_declared_oversized_body_is_refused_unread(client: httpx.Client, app: FastAPI) -> None:
    calls_before = app.state.seen["echo_calls"]

    response = client.post("/api/v1/echo", content=b"x" * (BODY_LIMIT + 1))

    assert_problem(response, 413, "payload_too_large")
    assert app.state.seen["echo_calls"] == calls_before
    assert response.headers["x-content-type-options"] == "nosniff"


def test_chunked_oversized_body_is_cut_off(client: httpx.Client, app: FastAPI) -> None:
    chunks = [b"z" * 1000] * 5

    def trickle() -> Iterator[bytes]:
        # Pauses let the chunks reach the app one by one instead of coalesced.
        for chunk in chunks:
            yield chunk
            time.sleep(0.05)

    echo = client.post("/api/v1/echo", content=iter(chunks))
    streamed = client.post("/api/v1/stream", content=trickle())
    model = client.post(
        "/api/v1/items", content=iter(chunks), headers={"content-type": "application/json"}
    )

    assert_problem(echo, 413, "payload_too_large")
    assert_problem(streamed, 413, "payload_too_large")
    assert_problem(model, 413, "payload_too_large")
    # the chunk that crosses the limit is never handed over
    assert app.state.seen["stream_max"] <= BODY_LIMIT


# --- security headers -----------------------------------------------------


@pytest.mark.parametrize("path", ["/api/v1/ping", "/api/v1/missing", "/web/page"])
def test_security_headers_on_every_response(client: httpx.Client, path: str) -> None:
    response = client.get(path)

    for name, value in SECURITY_HEADERS.items():
        assert response.headers[name] == value
    csp = response.headers["content-security-policy"]
    assert "default-src 'self'" in csp
    assert "frame-ancestors 'none'" in csp
    assert "unsafe-inline" not in csp
    assert "camera=()" in response.headers["permissions-policy"]


def test_docs_page_gets_a_relaxed_policy(client: httpx.Client) -> None:
    response = client.get("/api/v1/docs")

    assert response.status_code == 200
    csp = response.headers["content-security-policy"]
    assert "script-src 'self' 'unsafe-inline'" in csp
    assert "frame-ancestors 'none'" in csp


def test_websockets_pass_through(base_url: str) -> None:
    with ws_connect(base_url.replace("http", "ws", 1) + "/api/v1/ws") as ws:
        assert ws.recv(timeout=5) == "hello"


# --- rate limiting --------------------------------------------------------


@pytest.fixture(scope="module")
def limited_url(data_dir: Path, log_file: Path) -> Iterator[str]:
    settings = Settings(data_dir=data_dir, rate_limit_per_minute=3, max_body_bytes=BODY_LIMIT)
    with serve(build_app(settings)) as url:
        yield url


def test_rate_limit_headers_and_429(limited_url: str) -> None:
    with httpx.Client(base_url=limited_url, timeout=10) as c:
        oks = [c.get("/api/v1/ping") for _ in range(3)]
        limited = c.get("/api/v1/ping")
        health = c.get("/api/v1/health")
        page = c.get("/web/page")
        other_key = c.get("/api/v1/ping", params={"apikey": "another-client"})
        header_key = c.get("/api/v1/ping", headers={"X-Api-Key": "third-client"})

    assert [r.status_code for r in oks] == [200, 200, 200]
    assert [r.headers["x-ratelimit-remaining"] for r in oks] == ["2", "1", "0"]
    assert all(r.headers["x-ratelimit-limit"] == "3" for r in oks)
    assert all(1 <= int(r.headers["x-ratelimit-reset"]) <= 60 for r in oks)

    assert_problem(limited, 429, "rate_limited")
    assert 1 <= int(limited.headers["retry-after"]) <= 60
    assert limited.headers["x-ratelimit-limit"] == "3"
    assert limited.headers["x-ratelimit-remaining"] == "0"
    assert limited.headers["x-frame-options"] == "DENY"

    assert health.status_code == 200
    assert "x-ratelimit-limit" not in health.headers
    assert page.status_code == 200
    assert "x-ratelimit-limit" not in page.headers
    assert other_key.status_code == 200
    assert header_key.status_code == 200


def test_limiter_window_resets() -> None:
    now = [1000.0]
    limiter = FixedWindowRateLimiter(2, window_seconds=60, clock=lambda: now[0])

    assert [limiter.hit("a").allowed for _ in range(3)] == [True, True, False]
    now[0] += 59.5
    denied = limiter.hit("a")
    assert not denied.allowed
    assert denied.reset_after == 1
    now[0] += 0.5
    fresh = limiter.hit("a")
    assert fresh.allowed
    assert fresh.remaining == 1
    assert fresh.reset_after == 60


def test_limiter_memory_is_bounded() -> None:
    now = [0.0]
    limiter = FixedWindowRateLimiter(5, max_clients=100, clock=lambda: now[0])

    for i in range(1000):
        now[0] += 0.001
        limiter.hit(f"client-{i}")
    assert len(limiter) == 100

    now[0] += 61
    limiter.hit("late")
    assert len(limiter) == 1
