"""The Plex player plug-in: a partial scan of the item's folder in its library section."""

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
    SyncRequest,
    SyncResult,
    movie_folder,
)
from metarr.players.plex.client import PlexClient


class PlexPlayer(Player):
    """Plex Media Server: `GET /library/sections/{id}/refresh?path=<mapped folder>`.

    A removed movie is handled the same way: Plex's partial scan of the folder
    notices that its files are gone.
    """

    type = PlayerType.PLEX
    title = "Plex"
    capabilities = frozenset({PlayerCapability.SCAN_FOLDER, PlayerCapability.NOW_PLAYING})

    def __init__(self, config: PlayerConfig, *, transport: httpx.BaseTransport | None = None):
        super().__init__(config, transport=transport)
        self.client = PlexClient(config, transport=transport)

    @property
    def calls(self) -> int:
        """Requests sent so far."""
        return self.client.calls

    def test(self) -> PlayerInfo:
        """`GET /` with the token."""
        return self.client.server_info()

    def now_playing(self) -> list[NowPlaying]:
        """Sessions with something playing."""
        return self.client.sessions()

    def _sync(self, request: SyncRequest, remote: MappedPath[PathRule]) -> SyncResult:
        folder = movie_folder(remote.path)
        section = self.client.section_for(folder)
        self.client.scan(section, folder)
        return SyncResult(self.name, SyncAction.REQUESTED, folder, remote.rule, item_id=section.key)

    def close(self) -> None:
        """Close the HTTP pool."""
        self.client.close()
