"""The Jellyfin player plug-in: tell the server which folder changed; it rescans it."""

from __future__ import annotations

import httpx

from metarr.domain.pathmap import MappedPath, PathRule
from metarr.players.base import (
    NowPlaying,
    Player,
    PlayerCapability,
    PlayerConfig,
    PlayerInfo,
    PlayerType,
    SyncAction,
    SyncKind,
    SyncRequest,
    SyncResult,
    movie_folder,
)
from metarr.players.jellyfin.client import DELETED, MODIFIED, JellyfinClient


class JellyfinPlayer(Player):
    """Jellyfin 10.x (and Emby): `POST /Library/Media/Updated` with the mapped folder."""

    type = PlayerType.JELLYFIN
    title = "Jellyfin"
    capabilities = frozenset({PlayerCapability.SCAN_FOLDER, PlayerCapability.NOW_PLAYING})

    def __init__(self, config: PlayerConfig, *, transport: httpx.BaseTransport | None = None):
        super().__init__(config, transport=transport)
        self.client = JellyfinClient(config, transport=transport)

    @property
    def calls(self) -> int:
        """Requests sent so far."""
        return self.client.calls

    def test(self) -> PlayerInfo:
        """`GET /System/Info` with the token."""
        return self.client.system_info()

    def now_playing(self) -> list[NowPlaying]:
        """Sessions with something playing."""
        return self.client.sessions()

    def _sync(self, request: SyncRequest, remote: MappedPath[PathRule]) -> SyncResult:
        folder = movie_folder(remote.path)
        removed = request.kind is SyncKind.REMOVE
        self.client.media_updated([folder], DELETED if removed else MODIFIED)
        return SyncResult(self.name, SyncAction.REQUESTED, folder, remote.rule)

    def close(self) -> None:
        """Close the HTTP pool."""
        self.client.close()
