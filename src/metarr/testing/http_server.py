"""Loopback HTTP server plumbing shared by the fake services in `metarr.testing`.

A fake subclasses `LoopbackServer` (lifecycle, port, URL, request log) and points
`handler` at its `LoopbackHandler` subclass, which reaches the fake as `server_fake`::

    class _Handler(LoopbackHandler):
        server_fake: FakeThing

        def do_GET(self) -> None:
            path, query = self.split_path()
            self.server_fake._record(...)
            self.send(200, b"{}", "application/json")

    class FakeThing(LoopbackServer[ThingRequest]):
        handler = _Handler
"""

from __future__ import annotations

import contextlib
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar, Generic, Self, TypeVar
from urllib.parse import parse_qsl, urlsplit

R = TypeVar("R")


class LoopbackServer(Generic[R]):
    """A threaded HTTP server on 127.0.0.1 (a free port unless given) with a request log.

    Subclasses set `handler`; requests are recorded as whatever `R` the fake chooses.
    `_lock` guards the log and may guard the subclass's own shared state too.
    """

    handler: ClassVar[type[LoopbackHandler]]

    def __init__(self, *, host: str = "127.0.0.1", port: int = 0) -> None:
        self.host, self._port = host, port
        self._lock = threading.Lock()
        self._log: list[R] = []
        self._connections: set[socket.socket] = set()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> Self:
        """Serve in a daemon thread."""
        handler = type("Handler", (self.handler,), {"server_fake": self})
        server = ThreadingHTTPServer((self.host, self._port), handler)
        server.daemon_threads = True
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and drop kept-alive connections: clients get "connection refused"."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        with self._lock:
            connections, self._connections = list(self._connections), set()
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        """The TCP port."""
        if self._server is None:
            raise RuntimeError("the fake server is not running")
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        """http://127.0.0.1:<port>."""
        return f"http://{self.host}:{self.port}"

    @property
    def requests(self) -> list[R]:
        """Every request so far (a copy)."""
        with self._lock:
            return list(self._log)

    def clear_requests(self) -> None:
        """Forget the request log."""
        with self._lock:
            self._log.clear()

    def _record(self, request: R) -> None:
        with self._lock:
            self._log.append(request)


class LoopbackHandler(BaseHTTPRequestHandler):
    """Keep-alive request handler that stays quiet and tracks its connection for `stop()`."""

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out in separate writes
    timeout = 30
    server_fake: LoopbackServer[Any]

    def log_message(self, format: str, *args: Any) -> None:
        return  # quiet: tests assert on the request log instead

    def setup(self) -> None:
        super().setup()
        with self.server_fake._lock:
            self.server_fake._connections.add(self.connection)

    def finish(self) -> None:
        with self.server_fake._lock:
            self.server_fake._connections.discard(self.connection)
        super().finish()

    def split_path(self) -> tuple[str, dict[str, str]]:
        """The request's path and its query parameters (blank values kept)."""
        split = urlsplit(self.path)
        return split.path, dict(parse_qsl(split.query, keep_blank_values=True))

    def send(
        self,
        status: int,
        body: bytes,
        content_type: str | None,
        headers: dict[str, str] | None = None,
    ) -> None:
        """Answer `status` with `body`; no Content-Type header when `content_type` is None."""
        try:
            self.send_response(status)
            if content_type is not None:
                self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client gave up (timeout test)
