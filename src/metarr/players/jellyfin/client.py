"""Jellyfin (and Emby) REST calls: server info, sessions, "media updated" notices.

Auth: the API key travels as `Authorization: MediaBrowser ..., Token="<key>"` (what
Jellyfin 10.8+ expects) and as `X-Emby-Token` (what Emby and older servers read).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

import httpx

from metarr.players.base import (
    NowPlaying,
    PlayerConfig,
    PlayerHttp,
    PlayerInfo,
    PlayerUnavailable,
)

TITLE = "Jellyfin"
CLIENT_VERSION = "0.1.0"

# Jellyfin's LibraryMonitor update types
CREATED, MODIFIED, DELETED = "Created", "Modified", "Deleted"


def auth_headers(config: PlayerConfig) -> dict[str, str]:
    """The token headers (empty without a token: the server will answer 401)."""
    if config.token is None:
        return {}
    token = config.token.get_secret_value()
    device = "metarr-" + hashlib.sha256(config.name.encode()).hexdigest()[:12]
    value = (
        f'MediaBrowser Client="Metarr", Device="Metarr", DeviceId="{device}", '
        f'Version="{CLIENT_VERSION}", Token="{token}"'
    )
    return {"Authorization": value, "X-Emby-Token": token}


class JellyfinClient:
    """The few Jellyfin endpoints Metarr needs; `calls` counts requests."""

    def __init__(self, config: PlayerConfig, *, transport: httpx.BaseTransport | None = None):
        self.config = config
        headers = {"Accept": "application/json", **auth_headers(config)}
        self.http = PlayerHttp(config, TITLE, headers=headers, transport=transport)

    @property
    def calls(self) -> int:
        """Requests sent so far."""
        return self.http.calls

    def system_info(self) -> PlayerInfo:
        """`GET /System/Info` (needs the token, so it proves the key works)."""
        data = self._object(self.http.json(self.http.get("/System/Info")), "/System/Info")
        return PlayerInfo(
            name=str(data.get("ServerName") or TITLE),
            version=str(data.get("Version") or "unknown"),
            api_version=None,
        )

    def sessions(self) -> list[NowPlaying]:
        """What the server's clients play now (`GET /Sessions`)."""
        data = self.http.json(self.http.get("/Sessions", params={"ActiveWithinSeconds": "960"}))
        if not isinstance(data, list):
            raise PlayerUnavailable(
                f"Jellyfin {self.config.name!r} answered /Sessions with a non-list",
                player=self.config.name,
            )
        playing: list[NowPlaying] = []
        for session in data:
            item = session.get("NowPlayingItem") if isinstance(session, dict) else None
            if not isinstance(item, dict):
                continue
            state = session.get("PlayState")
            playing.append(
                NowPlaying(
                    media_type=str(item.get("MediaType") or "unknown").lower(),
                    title=item.get("Name"),
                    path=item.get("Path"),
                    paused=isinstance(state, dict) and bool(state.get("IsPaused")),
                )
            )
        return playing

    def media_updated(self, paths: Sequence[str], update_type: str = MODIFIED) -> None:
        """`POST /Library/Media/Updated`: Jellyfin rescans what holds these paths."""
        body = {"Updates": [{"Path": path, "UpdateType": update_type} for path in paths]}
        self.http.request("POST", "/Library/Media/Updated", json=body)

    def close(self) -> None:
        """Close the connection pool."""
        self.http.close()

    def _object(self, data: Any, where: str) -> dict[str, Any]:
        if not isinstance(data, dict):
            raise PlayerUnavailable(
                f"Jellyfin {self.config.name!r} answered {where} with a non-object",
                player=self.config.name,
            )
        return data
