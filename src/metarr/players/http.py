"""Media servers reached over a token-authenticated REST API (Jellyfin, Plex): the client
and plug-in bases they share. Each player's package keeps its own endpoints, headers and
how it asks for a rescan.
"""

from __future__ import annotations

import hashlib
from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import Any, ClassVar, Generic, TypeVar

import httpx

from metarr.domain.pathmap import MappedPath, PathRule
from metarr.players.base import (
    NowPlaying,
    Player,
    PlayerCapability,
    PlayerConfig,
    PlayerHttp,
    PlayerInfo,
    PlayerUnavailable,
    SyncAction,
    SyncKind,
    SyncRequest,
    SyncResult,
    movie_folder,
)


def client_id(config: PlayerConfig) -> str:
    """A stable id for Metarr as this player's client (the server lists it as a device)."""
    return "metarr-" + hashlib.sha256(config.name.encode()).hexdigest()[:12]


class TokenHttpClient(ABC):
    """JSON over `PlayerHttp` with the server's token headers; `calls` counts requests.

    Subclasses set `title` and implement `auth_headers()` (empty without a token: the
    server answers 401), `server_info()` (an authenticated call) and `sessions()`.
    """

    title: ClassVar[str]

    def __init__(self, config: PlayerConfig, *, transport: httpx.BaseTransport | None = None):
        self.config = config
        headers = {"Accept": "application/json", **self.auth_headers()}
        self.http = PlayerHttp(config, self.title, headers=headers, transport=transport)

    @abstractmethod
    def auth_headers(self) -> dict[str, str]:
        """The headers that identify Metarr and carry the token."""

    @abstractmethod
    def server_info(self) -> PlayerInfo:
        """The server's name and version (needs the token, so it proves the token works)."""

    @abstractmethod
    def sessions(self) -> list[NowPlaying]:
        """What the server's clients play now."""

    @property
    def calls(self) -> int:
        """Requests sent so far."""
        return self.http.calls

    def get_json(self, path: str, *, params: Mapping[str, str] | None = None) -> Any:
        """The JSON answer of `GET path`."""
        return self.http.json(self.http.get(path, params=params))

    def malformed(self, path: str, what: str) -> PlayerUnavailable:
        """The error for an answer of the wrong shape (`what`: "with a non-list", ...)."""
        name = self.config.name
        return PlayerUnavailable(f"{self.title} {name!r} answered {path} {what}", player=name)

    def close(self) -> None:
        """Close the connection pool."""
        self.http.close()


ClientT = TypeVar("ClientT", bound=TokenHttpClient)


class TokenHttpPlayer(Player, Generic[ClientT]):
    """A media server that is told which folder changed and rescans it on its own.

    Subclasses set `type`, `title` and `client_class`, and implement `_rescan()`; the
    connection test, now playing and closing go through the client.
    """

    capabilities = frozenset({PlayerCapability.SCAN_FOLDER, PlayerCapability.NOW_PLAYING})
    client_class: type[ClientT]

    def __init__(self, config: PlayerConfig, *, transport: httpx.BaseTransport | None = None):
        super().__init__(config, transport=transport)
        self.client = self.client_class(config, transport=transport)

    @abstractmethod
    def _rescan(self, folder: str, kind: SyncKind) -> str | None:
        """Ask the server to rescan `folder` (its own path); returns its id for it, if any."""

    @property
    def calls(self) -> int:
        """Requests sent so far."""
        return self.client.calls

    def test(self) -> PlayerInfo:
        """The server's identity, asked with the token."""
        return self.client.server_info()

    def now_playing(self) -> list[NowPlaying]:
        """Sessions with something playing."""
        return self.client.sessions()

    def _sync(self, request: SyncRequest, remote: MappedPath[PathRule]) -> SyncResult:
        folder = movie_folder(remote.path)
        item_id = self._rescan(folder, request.kind)
        return SyncResult(self.name, SyncAction.REQUESTED, folder, remote.rule, item_id=item_id)

    def close(self) -> None:
        """Close the HTTP pool."""
        self.client.close()
