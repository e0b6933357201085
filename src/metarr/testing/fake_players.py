"""Fake Jellyfin and Plex servers on 127.0.0.1, for tests and benchmarks.

Real threaded HTTP servers answering the endpoints Metarr uses the way those
servers do (status codes, JSON shapes, auth errors), recording every request::

    with FakeJellyfinServer() as jf:
        config = PlayerConfig(name="jf", type="jellyfin", host="127.0.0.1",
                              port=jf.port, token=jf.token)
        jf.play("Heat", "/media/movies/Heat (1995)/Heat (1995).mkv")  # now playing
        jf.fail(2)                    # the next 2 requests answer 503
        jf.updates                    # bodies of POST /Library/Media/Updated

    with FakePlexServer(sections=[PlexLibrary("1", "Movies", "movie", ["/data/movies"])]) as px:
        px.scans                      # (section key, path) of partial scans

Jellyfin: `GET /System/Info` (token), `GET /System/Info/Public` (no token),
`GET /Sessions`, `POST /Library/Media/Updated` (204). Tokens are read from
`Authorization: MediaBrowser ..., Token="..."`, `X-Emby-Token` or `?api_key=`.
Plex: `GET /identity` (no token), `GET /`, `GET /library/sections`,
`GET /library/sections/{key}/refresh?path=...`, `GET /status/sessions`; tokens from
`X-Plex-Token` (header or query). JSON answers (Metarr asks for JSON).
"""

from __future__ import annotations

import json
import re
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from metarr.testing.http_server import LoopbackHandler, LoopbackServer

JELLYFIN_TOKEN = "0123456789abcdef0123456789abcdef"  # noqa: S105 - a fake API key
PLEX_TOKEN = "fake-plex-token-xyz"  # noqa: S105 - a fake token
_MEDIABROWSER_TOKEN = re.compile(r'Token="([^"]*)"')


@dataclass(frozen=True, slots=True)
class PlayerRequest:
    """One request a fake received."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: Any
    status: int
    at: float = field(default_factory=time.monotonic)


class _Handler(LoopbackHandler):
    server_fake: _FakeServer

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    def _handle(self, method: str) -> None:
        fake = self.server_fake
        path, query = self.split_path()
        headers = {k.lower(): v for k, v in self.headers.items()}
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        body: Any = None
        if raw:
            try:
                body = json.loads(raw)
            except ValueError:
                body = raw.decode("utf-8", errors="replace")
        failure = fake._take_failure()
        if failure is not None:
            status, payload, ctype = failure, "Service Unavailable", "text/plain"
        else:
            status, payload, ctype = fake.route(method, path, query, headers, body)
        fake._record(PlayerRequest(method, path, query, headers, body, status))
        if fake.latency:
            time.sleep(fake.latency)
        if payload is None:
            data = b""
        elif isinstance(payload, str):
            data = payload.encode()
        else:
            data = json.dumps(payload).encode()
        self.send(status, data, ctype if data else None)


class _FakeServer(LoopbackServer[PlayerRequest]):
    """What the player fakes share: a token, a failure burst, latency, JSON-ish answers."""

    product = "fake"
    handler = _Handler

    def __init__(self, token: str, *, host: str = "127.0.0.1", port: int = 0) -> None:
        super().__init__(host=host, port=port)
        self.token = token
        self.valid_tokens = {token}
        self.fail_next = 0
        self.fail_status = 503
        self.latency = 0.0

    def fail(self, count: int, status: int = 503) -> None:
        """The next `count` requests answer `status`."""
        with self._lock:
            self.fail_next, self.fail_status = count, status

    def clear(self) -> None:
        """Forget the request log."""
        self.clear_requests()

    def _take_failure(self) -> int | None:
        with self._lock:
            if self.fail_next > 0:
                self.fail_next -= 1
                return self.fail_status
            return None

    def route(
        self, method: str, path: str, query: dict[str, str], headers: dict[str, str], body: Any
    ) -> tuple[int, Any, str]:
        """(status, body, content type) for one request."""
        raise NotImplementedError


# -- Jellyfin ---------------------------------------------------------------------------


class FakeJellyfinServer(_FakeServer):
    """Jellyfin 10.9 look-alike (see the module docstring)."""

    product = "jellyfin"

    def __init__(self, token: str = JELLYFIN_TOKEN, **kwargs: Any) -> None:
        super().__init__(token, **kwargs)
        self.server_name = "Fake Jellyfin"
        self.version = "10.9.11"
        self.server_id = uuid.uuid4().hex
        self.sessions: list[dict[str, Any]] = []

    @property
    def updates(self) -> list[Any]:
        """Bodies of the `POST /Library/Media/Updated` requests that were accepted."""
        return [
            r.body for r in self.requests if r.path == "/Library/Media/Updated" and r.status == 204
        ]

    def play(
        self, title: str, path: str, *, media_type: str = "Video", paused: bool = False
    ) -> None:
        """A client starts playing `path`."""
        self.sessions.append(
            {
                "Id": uuid.uuid4().hex,
                "Client": "Jellyfin Web",
                "DeviceName": "Living room",
                "UserName": "alice",
                "NowPlayingItem": {
                    "Name": title,
                    "Type": "Movie" if media_type == "Video" else "Audio",
                    "MediaType": media_type,
                    "Path": path,
                },
                "PlayState": {"IsPaused": paused, "PositionTicks": 0},
            }
        )

    def stop_playing(self) -> None:
        """Every client stops."""
        self.sessions.clear()

    def _token(self, headers: dict[str, str], query: dict[str, str]) -> str | None:
        auth = headers.get("authorization", "") or headers.get("x-emby-authorization", "")
        match = _MEDIABROWSER_TOKEN.search(auth) if auth.startswith("MediaBrowser") else None
        if match:
            return match.group(1)
        return (
            headers.get("x-emby-token")
            or headers.get("x-mediabrowser-token")
            or query.get("api_key")
        )

    def route(
        self, method: str, path: str, query: dict[str, str], headers: dict[str, str], body: Any
    ) -> tuple[int, Any, str]:
        """Jellyfin's answers."""
        ctype = "application/json; charset=utf-8"
        public = {
            "LocalAddress": self.url,
            "ServerName": self.server_name,
            "Version": self.version,
            "ProductName": "Jellyfin Server",
            "Id": self.server_id,
            "StartupWizardCompleted": True,
        }
        if method == "GET" and path == "/System/Info/Public":
            return 200, public, ctype
        known = {"/System/Info", "/Sessions", "/Library/Media/Updated"}
        if path not in known:
            return 404, None, ctype
        if self._token(headers, query) not in self.valid_tokens:
            return 401, None, ctype  # Jellyfin answers 401 with an empty body
        if path == "/System/Info" and method == "GET":
            return 200, {**public, "OperatingSystem": "Linux", "HasPendingRestart": False}, ctype
        if path == "/Sessions" and method == "GET":
            return 200, list(self.sessions), ctype
        if path == "/Library/Media/Updated" and method == "POST":
            updates = body.get("Updates") if isinstance(body, dict) else None
            valid = isinstance(updates, list) and all(
                isinstance(u, dict)
                and isinstance(u.get("Path"), str)
                and u.get("UpdateType") in (None, "Created", "Modified", "Deleted")
                for u in updates
            )
            if not valid:
                return (
                    400,
                    {"title": "One or more validation errors occurred.", "status": 400},
                    ctype,
                )
            return 204, None, ctype
        return 405, None, ctype


# -- Plex -------------------------------------------------------------------------------


@dataclass
class PlexLibrary:
    """One library section of the fake Plex."""

    key: str
    title: str
    type: str  # movie | show | artist | photo
    locations: list[str]


class FakePlexServer(_FakeServer):
    """Plex Media Server look-alike (see the module docstring)."""

    product = "plex"

    def __init__(
        self,
        token: str = PLEX_TOKEN,
        *,
        sections: list[PlexLibrary] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(token, **kwargs)
        self.friendly_name = "Fake Plex"
        self.version = "1.41.3.9314-a0bfb8370"
        self.machine_id = uuid.uuid4().hex
        self.sections = list(sections or [])
        self.sessions: list[dict[str, Any]] = []

    @property
    def scans(self) -> list[tuple[str, str | None]]:
        """(section key, path) of the partial scans that were accepted."""
        found = []
        for r in self.requests:
            match = re.fullmatch(r"/library/sections/([^/]+)/refresh", r.path)
            if match and r.status == 200:
                found.append((match.group(1), r.query.get("path")))
        return found

    def play(self, title: str, file: str, *, kind: str = "movie", paused: bool = False) -> None:
        """Someone starts playing `file`."""
        self.sessions.append(
            {
                "type": kind,
                "title": title,
                "Media": [{"Part": [{"file": file}]}],
                "Player": {"state": "paused" if paused else "playing", "title": "Living room"},
                "User": {"title": "alice"},
            }
        )

    def stop_playing(self) -> None:
        """Everyone stops."""
        self.sessions.clear()

    def route(
        self, method: str, path: str, query: dict[str, str], headers: dict[str, str], body: Any
    ) -> tuple[int, Any, str]:
        """Plex's answers (JSON, as asked with Accept: application/json)."""
        ctype = "application/json"
        if method != "GET":
            return 405, None, ctype
        if path == "/identity":
            return (
                200,
                {
                    "MediaContainer": {
                        "size": 0,
                        "claimed": True,
                        "machineIdentifier": self.machine_id,
                        "version": self.version,
                    }
                },
                ctype,
            )
        token = headers.get("x-plex-token") or query.get("X-Plex-Token")
        if token not in self.valid_tokens:
            html = "<html><head><title>Unauthorized</title></head><body><h1>401 Unauthorized</h1></body></html>"  # noqa: E501
            return 401, html, "text/html"
        if path == "/":
            return (
                200,
                {
                    "MediaContainer": {
                        "size": 0,
                        "friendlyName": self.friendly_name,
                        "machineIdentifier": self.machine_id,
                        "version": self.version,
                        "platform": "Linux",
                    }
                },
                ctype,
            )
        if path == "/library/sections":
            directories = [
                {
                    "key": s.key,
                    "type": s.type,
                    "title": s.title,
                    "agent": "tv.plex.agents.movie",
                    "scanner": "Plex Movie",
                    "Location": [{"id": i + 1, "path": p} for i, p in enumerate(s.locations)],
                }
                for s in self.sections
            ]
            return (
                200,
                {"MediaContainer": {"size": len(directories), "Directory": directories}},
                ctype,
            )
        match = re.fullmatch(r"/library/sections/([^/]+)/refresh", path)
        if match:
            if not any(s.key == match.group(1) for s in self.sections):
                return 404, None, ctype
            return 200, None, ctype
        if path == "/status/sessions":
            return (
                200,
                {"MediaContainer": {"size": len(self.sessions), "Metadata": list(self.sessions)}},
                ctype,
            )
        return 404, None, ctype
