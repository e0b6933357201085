"""The Kodi player plug-in: JSON-RPC over HTTP, notifications over TCP."""

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
)
from metarr.players.kodi.client import KodiClient
from metarr.players.kodi.sync import KodiSync

_LISTED = (SyncAction.ADDED, SyncAction.REFRESHED)


class KodiPlayer(Player):
    """Kodi 12+ (tested against Kodi 20): targeted scan, refresh, remove, texture purge."""

    type = PlayerType.KODI
    title = "Kodi"
    capabilities = frozenset(PlayerCapability)

    def __init__(self, config: PlayerConfig, *, transport: httpx.BaseTransport | None = None):
        super().__init__(config, transport=transport)
        self.client = KodiClient(config, transport=transport)
        self.kodi = KodiSync(
            self.client,
            self.mapper,
            tcp_port=config.effective_tcp_port,
            scan_timeout=config.scan_timeout,
        )

    @property
    def calls(self) -> int:
        """JSON-RPC requests sent so far."""
        return self.kodi.calls

    def test(self) -> PlayerInfo:
        """JSONRPC.Version + Application.GetProperties."""
        version = self.kodi.version(refresh=True)
        return PlayerInfo(version.name, version.app or "unknown", version.api_text)

    def now_playing(self) -> list[NowPlaying]:
        """Kodi's active players."""
        return self.kodi.now_playing()

    def notify(self, title: str, message: str) -> None:
        """GUI.ShowNotification."""
        self.kodi.notify(title, message)

    def _sync(self, request: SyncRequest, remote: MappedPath[PathRule]) -> SyncResult:
        kodi = self.kodi
        movie = kodi.find_remote(remote.path)
        purged = 0
        if request.kind is SyncKind.REMOVE:
            if movie is None:
                action = SyncAction.ABSENT
            else:
                kodi.remove_movie(movie)
                action = SyncAction.REMOVED
        elif movie is None:
            movie = kodi.add_remote(remote.path)
            action = SyncAction.ADDED
        else:
            movie, purged = kodi.refresh_movie(movie)
            action = SyncAction.REFRESHED
        if self.config.notify:
            what = request.title or remote.path
            kodi.notify("Metarr", f"{action.value.capitalize()}: {what}")
        return SyncResult(
            player=self.name,
            action=action,
            remote_path=remote.path,
            rule=remote.rule,
            item_id=str(movie.movieid) if movie is not None and action in _LISTED else None,
            textures_purged=purged,
        )

    def close(self) -> None:
        """Close the HTTP pool."""
        self.client.close()
