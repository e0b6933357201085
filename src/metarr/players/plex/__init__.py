"""The Plex player plug-in: a partial scan of the item's folder in its library section."""

from __future__ import annotations

from metarr.players.base import PlayerType, SyncKind
from metarr.players.http import TokenHttpPlayer
from metarr.players.plex.client import PlexClient


class PlexPlayer(TokenHttpPlayer[PlexClient]):
    """Plex Media Server: `GET /library/sections/{id}/refresh?path=<mapped folder>`.

    A removed movie is handled the same way: Plex's partial scan of the folder
    notices that its files are gone.
    """

    type = PlayerType.PLEX
    title = "Plex"
    client_class = PlexClient

    def _rescan(self, folder: str, kind: SyncKind) -> str | None:
        section = self.client.section_for(folder)
        self.client.scan(section, folder)
        return section.key
