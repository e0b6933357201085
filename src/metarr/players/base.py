"""Player plumbing: typed config, our error tree for players, the HTTP client that
translates foreign errors, and the plug-in base class every player implements.

This module, `http` (the bases of the token REST players) and the players' own client
modules are the only places that touch httpx or sockets: everything leaving the players
package is a `MetarrError`.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any, ClassVar, Self

import httpx
from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from metarr.domain import pathmap
from metarr.domain.errors import (
    AuthenticationFailed,
    Conflict,
    InvalidInput,
    ServiceUnavailable,
)
from metarr.domain.pathmap import PathMapper, PathRule

log = logging.getLogger("metarr.players")


# -- errors ---------------------------------------------------------------------------


class PlayerUnavailable(ServiceUnavailable):
    """The player is off, unreachable or failing: retry later (after `retry_after`)."""

    def __init__(self, message: str, *, player: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.player = player
        self.retry_after = retry_after


class PlayerAuthFailed(AuthenticationFailed):
    """The player refused our credentials: ask for new ones, do not retry."""

    def __init__(self, message: str, *, player: str) -> None:
        super().__init__(message)
        self.player = player


class PlayerRejected(InvalidInput):
    """The player understood the request and refused it (bad parameters, unsupported)."""

    def __init__(self, message: str, *, player: str, remote_code: int | None = None) -> None:
        super().__init__(message)
        self.player = player
        self.remote_code = remote_code  # HTTP status or JSON-RPC error code


class PlayerBusy(Conflict):
    """The player is playing video: the sync is deferred (retry later, not a failure)."""

    code = "player_busy"

    def __init__(self, message: str, *, player: str, retry_after: float = 120.0) -> None:
        super().__init__(message)
        self.player = player
        self.retry_after = retry_after


class SyncNotVerified(Conflict):
    """The player did the work but does not show the item yet: retry a few times."""

    code = "sync_not_verified"

    def __init__(self, message: str, *, player: str, retry_after: float = 30.0) -> None:
        super().__init__(message)
        self.player = player
        self.retry_after = retry_after


# -- config ---------------------------------------------------------------------------


class PlayerType(StrEnum):
    """The kinds of player Metarr can keep in sync."""

    KODI = "kodi"
    JELLYFIN = "jellyfin"
    PLEX = "plex"


DEFAULT_PORTS: dict[PlayerType, int] = {
    PlayerType.KODI: 8080,
    PlayerType.JELLYFIN: 8096,
    PlayerType.PLEX: 32400,
}
KODI_TCP_PORT = 9090
_HOST_RE = re.compile(r"^(\[[0-9A-Fa-f:.]+\]|[0-9A-Fa-f:]*:[0-9A-Fa-f:.]+|[A-Za-z0-9._-]+)$")


class PathMappingConfig(BaseModel):
    """One rule: files under `from` (Metarr's path) are under `to` on the player."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    from_path: str = Field(alias="from", min_length=1, max_length=4096)
    to_path: str = Field(alias="to", min_length=1, max_length=4096)

    @field_validator("from_path", "to_path")
    @classmethod
    def _absolute(cls, value: str) -> str:
        value = value.strip()
        if not pathmap.is_absolute_path(value):
            raise ValueError(
                "must be an absolute path (/srv/movies, D:\\Movies, \\\\nas\\share or smb://nas/x)"
            )
        if "\x00" in value:
            raise ValueError("must not contain NUL")
        return value

    def rule(self) -> PathRule:
        """The plain rule for `domain.pathmap`."""
        return PathRule(self.from_path, self.to_path)


class PlayerConfig(BaseModel):
    """How to reach one player; secrets stay `SecretStr` (redacted in repr and logs)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(min_length=1, max_length=100)
    type: PlayerType
    host: str = Field(min_length=1, max_length=253)
    port: int | None = Field(default=None, ge=1, le=65535)
    https: bool = False
    base_path: str = Field(default="", max_length=200)  # behind a reverse proxy: "/jellyfin"
    username: str | None = Field(default=None, max_length=200)  # Kodi web server user
    password: SecretStr | None = None  # Kodi web server password
    token: SecretStr | None = None  # Jellyfin API key / Plex token
    tcp_port: int | None = Field(default=None, ge=1, le=65535)  # Kodi JSON-RPC TCP (9090)
    path_mappings: tuple[PathMappingConfig, ...] = ()
    timeout: float = Field(default=10.0, gt=0, le=300)
    scan_timeout: float = Field(default=120.0, gt=0, le=3600)  # wait for a Kodi scan
    notify: bool = False  # on-screen notification after a sync (Kodi)

    @field_validator("host")
    @classmethod
    def _host(cls, value: str) -> str:
        value = value.strip()
        if not _HOST_RE.match(value):
            raise ValueError("must be a host name or IP address (no scheme, port or path)")
        return value

    @field_validator("base_path")
    @classmethod
    def _base_path(cls, value: str) -> str:
        value = value.strip().rstrip("/")
        if value and (not value.startswith("/") or "?" in value or "#" in value):
            raise ValueError("must be empty or a path such as /jellyfin")
        return value

    @property
    def effective_port(self) -> int:
        """The configured port or the player type's default."""
        return self.port if self.port is not None else DEFAULT_PORTS[self.type]

    @property
    def effective_tcp_port(self) -> int:
        """Kodi's TCP JSON-RPC port (notifications)."""
        return self.tcp_port if self.tcp_port is not None else KODI_TCP_PORT

    @property
    def url_host(self) -> str:
        """The host as it goes in a URL (IPv6 in brackets)."""
        if ":" in self.host and not self.host.startswith("["):
            return f"[{self.host}]"
        return self.host

    @property
    def base_url(self) -> str:
        """`http(s)://host:port[/base_path]`."""
        scheme = "https" if self.https else "http"
        return f"{scheme}://{self.url_host}:{self.effective_port}{self.base_path}"

    def mapper(self) -> PathMapper:
        """The path mapper of this player (Metarr path <-> player path)."""
        return PathMapper(tuple(m.rule() for m in self.path_mappings))

    def secrets(self) -> list[str]:
        """Secret values to mask in messages."""
        return [s.get_secret_value() for s in (self.password, self.token) if s is not None]


# -- what players do ------------------------------------------------------------------


class PlayerCapability(StrEnum):
    """What a player plug-in can do."""

    SCAN_FOLDER = "scan_folder"  # pick up a new item from its folder
    REFRESH_ITEM = "refresh_item"  # re-read one known item (NFO, artwork)
    REMOVE_ITEM = "remove_item"  # drop one item
    VERIFY = "verify"  # confirm the item is (not) there afterwards
    NOW_PLAYING = "now_playing"
    NOTIFY = "notify"  # on-screen message
    TEXTURE_CACHE = "texture_cache"  # stale artwork can be purged


class SyncKind(StrEnum):
    """What happened to the item in Metarr."""

    UPDATE = "update"  # new or changed: make the player show what is on disk
    REMOVE = "remove"  # gone: make the player forget it


class SyncAction(StrEnum):
    """What the player did."""

    ADDED = "added"  # scanned in and verified
    REFRESHED = "refreshed"  # re-read and verified
    REMOVED = "removed"  # removed and verified
    ABSENT = "absent"  # nothing to remove
    REQUESTED = "requested"  # the player was told; it works on its own (Jellyfin, Plex)


@dataclass(frozen=True, slots=True)
class SyncRequest:
    """One item to sync: the Metarr path of its main video file."""

    path: str
    kind: SyncKind = SyncKind.UPDATE
    force: bool = False  # also while the player plays video
    title: str | None = None  # for the on-screen notification


@dataclass(frozen=True, slots=True)
class SyncResult:
    """The outcome of one sync on one player."""

    player: str
    action: SyncAction
    remote_path: str  # the path as the player sees it
    rule: PathRule | None  # the path mapping used (None: same path)
    item_id: str | None = None  # the player's id of the item afterwards
    calls: int = 0  # requests sent to the player
    seconds: float = 0.0
    textures_purged: int = 0


@dataclass(frozen=True, slots=True)
class PlayerInfo:
    """What a connection test learns."""

    name: str  # the server's name or the product
    version: str
    api_version: str | None = None


@dataclass(frozen=True, slots=True)
class NowPlaying:
    """One thing a player is playing."""

    media_type: str  # "video" | "audio" | "picture" | other
    title: str | None = None
    path: str | None = None  # as the player reports it
    paused: bool = False


DISC_FOLDERS = frozenset({"bdmv", "video_ts"})


def movie_folder(video_path: str) -> str:
    """The folder a player scans for a movie file (the disc folder's parent for BDMV/VIDEO_TS)."""
    folder = pathmap.parent_path(video_path)
    if pathmap.basename(folder).casefold() in DISC_FOLDERS:
        folder = pathmap.parent_path(folder)
    return folder


# -- HTTP -----------------------------------------------------------------------------


def redact(text: str, secrets: Iterable[str]) -> str:
    """`text` with every secret value replaced by `***`."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text


class PlayerHttp:
    """A synchronous HTTP client for one player, translating failures into our errors.

    Proxies from the environment are ignored: players live on the local network.
    `calls` counts requests sent (for "calls per operation" reporting).
    """

    def __init__(
        self,
        config: PlayerConfig,
        title: str,
        *,
        headers: Mapping[str, str] | None = None,
        auth: httpx.Auth | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.config = config
        self.title = title
        self.calls = 0
        self._secrets = config.secrets()
        self._client = httpx.Client(
            base_url=config.base_url,
            headers={"User-Agent": "Metarr/0.1", **(headers or {})},
            auth=auth,
            timeout=httpx.Timeout(config.timeout, connect=min(config.timeout, 5.0)),
            transport=transport,
            trust_env=False,
            follow_redirects=False,
        )

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        json: Any = None,
        headers: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        """Send one request; returns a 2xx response or raises our error tree."""
        name = self.config.name
        where = f"{self.title} {name!r} at {self.config.base_url}"
        self.calls += 1
        started = time.monotonic()
        try:
            response = self._client.request(method, path, params=params, json=json, headers=headers)
        except httpx.TimeoutException as exc:
            raise PlayerUnavailable(
                f"{where} did not answer within {self.config.timeout:g}s", player=name
            ) from exc
        except httpx.InvalidURL as exc:
            raise InvalidInput(f"{where}: invalid address", field="host") from exc
        except httpx.HTTPError as exc:
            reason = self._redact(str(exc) or type(exc).__name__)
            raise PlayerUnavailable(f"{where} is unreachable ({reason})", player=name) from exc
        status = response.status_code
        log.debug(
            "%s %s %s -> %d in %.0f ms",
            name,
            method,
            self._redact(path),
            status,
            (time.monotonic() - started) * 1000,
        )
        if 200 <= status < 300:
            return response
        detail = self._redact(response.text[:200].strip())
        if status in (401, 403):
            raise PlayerAuthFailed(
                f"{where} refused the credentials (HTTP {status}); check the "
                + ("user name and password" if self.config.type is PlayerType.KODI else "token"),
                player=name,
            )
        if status in (408, 429) or status >= 500 or 300 <= status < 400:
            retry = response.headers.get("Retry-After")
            hint = float(retry) if retry and retry.strip().isdigit() else None
            raise PlayerUnavailable(
                f"{where} answered HTTP {status}" + (f": {detail}" if detail else ""),
                player=name,
                retry_after=hint,
            )
        raise PlayerRejected(
            f"{where} rejected {method} {self._redact(path)}: HTTP {status}"
            + (f": {detail}" if detail else ""),
            player=name,
            remote_code=status,
        )

    def get(self, path: str, *, params: Mapping[str, str] | None = None) -> httpx.Response:
        """GET `path`."""
        return self.request("GET", path, params=params)

    def json(self, response: httpx.Response) -> Any:
        """The JSON body of `response`, or PlayerUnavailable when it is not JSON."""
        try:
            return response.json()
        except ValueError:
            raise PlayerUnavailable(
                f"{self.title} {self.config.name!r} answered {response.request.url.path} "
                "with something that is not JSON",
                player=self.config.name,
            ) from None

    def close(self) -> None:
        """Close the connection pool."""
        self._client.close()

    def _redact(self, text: str) -> str:
        return redact(text, self._secrets)


# -- the plug-in base -----------------------------------------------------------------


class Player(ABC):
    """A media player Metarr keeps in sync.

    Contract for subclasses (one package each, like providers): set `type`, `title`
    and `capabilities`; implement `test()` (a cheap authenticated call for "test
    connection"), `now_playing()` and `_sync()` (the work for one item, paths already
    checked). Every public method is synchronous (job workers are threads) and raises
    only our error tree: `PlayerUnavailable` (retry later), `PlayerAuthFailed` (no
    retry), `PlayerRejected` (no retry), `PlayerBusy` and `SyncNotVerified` (retry).

    `sync()` runs one request at a time per player object and defers (PlayerBusy)
    while the player plays video, unless the request says `force`.
    """

    type: ClassVar[PlayerType]
    title: ClassVar[str]
    capabilities: ClassVar[frozenset[PlayerCapability]]

    def __init__(self, config: PlayerConfig, *, transport: httpx.BaseTransport | None = None):
        if config.type is not self.type:
            raise ValueError(f"{type(self).__name__} needs a {self.type.value!r} config")
        self.config = config
        self.mapper = config.mapper()
        self._transport = transport
        self._lock = threading.Lock()

    @property
    def name(self) -> str:
        """The player's configured name."""
        return self.config.name

    @property
    @abstractmethod
    def calls(self) -> int:
        """Requests sent to the player so far."""

    @abstractmethod
    def test(self) -> PlayerInfo:
        """A cheap authenticated call; raises when the player or the credentials fail."""

    @abstractmethod
    def now_playing(self) -> list[NowPlaying]:
        """What the player is playing now (empty when idle)."""

    @abstractmethod
    def _sync(self, request: SyncRequest, remote: pathmap.MappedPath[PathRule]) -> SyncResult:
        """Make the player reflect `request`; `remote` is the mapped video path."""

    def is_playing(self) -> bool:
        """Whether the player plays video now (music and pictures do not count)."""
        return any(item.media_type == "video" for item in self.now_playing())

    def sync(self, request: SyncRequest) -> SyncResult:
        """Sync one item (see the class docstring); returns what was done."""
        if not pathmap.is_absolute_path(request.path):
            raise InvalidInput(f"not an absolute path: {request.path!r}", field="path")
        with self._lock:
            started, calls = time.monotonic(), self.calls
            if not request.force and self.is_playing():
                raise PlayerBusy(
                    f"{self.title} {self.name!r} is playing video; sync deferred", player=self.name
                )
            remote = self.mapper.to_remote(request.path)
            result = self._sync(request, remote)
            return replace(result, calls=self.calls - calls, seconds=time.monotonic() - started)

    def notify(self, title: str, message: str) -> None:
        """Show an on-screen message (players without the capability ignore it)."""
        return None

    def close(self) -> None:
        """Release connections."""
        return None

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
