"""Jellyfin (and Emby) REST calls: server info, sessions, "media updated" notices.

Auth: the API key travels as `Authorization: MediaBrowser ..., Token="<key>"` (what
Jellyfin 10.8+ expects) and as `X-Emby-Token` (what Emby and older servers read).
"""

from __future__ import annotations

from collections.abc import Sequence

from metarr.players.base import NowPlaying, PlayerInfo
from metarr.players.http import TokenHttpClient, client_id

TITLE = "Jellyfin"
CLIENT_VERSION = "0.1.0"

# Jellyfin's LibraryMonitor update types
CREATED, MODIFIED, DELETED = "Created", "Modified", "Deleted"


class JellyfinClient(TokenHttpClient):
    """The few Jellyfin endpoints Metarr needs."""

    title = TITLE

    def auth_headers(self) -> dict[str, str]:
        """The token headers (empty without a token: the server will answer 401)."""
        if self.config.token is None:
            return {}
        token = self.config.token.get_secret_value()
        value = (
            f'MediaBrowser Client="Metarr", Device="Metarr", DeviceId="{client_id(self.config)}", '
            f'Version="{CLIENT_VERSION}", Token="{token}"'
        )
        return {"Authorization": value, "X-Emby-Token": token}

    def server_info(self) -> PlayerInfo:
        """`GET /System/Info` (needs the token, so it proves the key works)."""
        data = self.get_json("/System/Info")
        if not isinstance(data, dict):
            raise self.malformed("/System/Info", "with a non-object")
        return PlayerInfo(
            name=str(data.get("ServerName") or TITLE),
            version=str(data.get("Version") or "unknown"),
            api_version=None,
        )

    def sessions(self) -> list[NowPlaying]:
        """What the server's clients play now (`GET /Sessions`)."""
        data = self.get_json("/Sessions", params={"ActiveWithinSeconds": "960"})
        if not isinstance(data, list):
            raise self.malformed("/Sessions", "with a non-list")
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
