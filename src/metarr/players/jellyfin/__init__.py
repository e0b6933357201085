"""The Jellyfin player plug-in: tell the server which folder changed; it rescans it."""

from __future__ import annotations

from metarr.players.base import PlayerType, SyncKind
from metarr.players.http import TokenHttpPlayer
from metarr.players.jellyfin.client import DELETED, MODIFIED, JellyfinClient


class JellyfinPlayer(TokenHttpPlayer[JellyfinClient]):
    """Jellyfin 10.x (and Emby): `POST /Library/Media/Updated` with the mapped folder."""

    type = PlayerType.JELLYFIN
    title = "Jellyfin"
    client_class = JellyfinClient

    def _rescan(self, folder: str, kind: SyncKind) -> str | None:
        self.client.media_updated([folder], DELETED if kind is SyncKind.REMOVE else MODIFIED)
        return None
