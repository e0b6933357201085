"""Plex Media Server REST calls (plain httpx, JSON answers): identity, library
sections, partial scans, sessions. The token travels as `X-Plex-Token`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from metarr.domain import pathmap
from metarr.players.base import NowPlaying, PlayerInfo, PlayerRejected
from metarr.players.http import TokenHttpClient, client_id

TITLE = "Plex"
_MEDIA_TYPES = {"movie": "video", "episode": "video", "clip": "video", "track": "audio"}


@dataclass(frozen=True, slots=True)
class PlexSection:
    """A library section and the folders it holds."""

    key: str
    title: str
    type: str  # movie | show | artist | photo
    locations: tuple[str, ...]


class PlexClient(TokenHttpClient):
    """The few Plex endpoints Metarr needs."""

    title = TITLE

    def auth_headers(self) -> dict[str, str]:
        """Metarr's identity and the token (left out without one: the server answers 401)."""
        headers = {"X-Plex-Product": "Metarr", "X-Plex-Client-Identifier": client_id(self.config)}
        if self.config.token is not None:
            headers["X-Plex-Token"] = self.config.token.get_secret_value()
        return headers

    def server_info(self) -> PlayerInfo:
        """`GET /` (needs the token, so it proves the token works)."""
        data = self._container("/")
        return PlayerInfo(
            name=str(data.get("friendlyName") or TITLE),
            version=str(data.get("version") or "unknown"),
        )

    def sections(self) -> list[PlexSection]:
        """`GET /library/sections`."""
        data = self._container("/library/sections")
        sections: list[PlexSection] = []
        for item in data.get("Directory") or []:
            if not isinstance(item, dict) or item.get("key") is None:
                continue
            locations = tuple(
                str(loc["path"])
                for loc in item.get("Location") or []
                if isinstance(loc, dict) and loc.get("path")
            )
            sections.append(
                PlexSection(
                    str(item["key"]), str(item.get("title") or ""), str(item.get("type")), locations
                )
            )
        return sections

    def section_for(self, folder: str) -> PlexSection:
        """The section whose location holds `folder` (longest location; movies first)."""
        best: tuple[int, bool, PlexSection] | None = None
        target = pathmap.split_path(folder)
        for section in self.sections():
            for location in section.locations:
                length = pathmap.prefix_length(pathmap.split_path(location), target)
                if length is None:
                    continue
                rank = (length, section.type == "movie")
                if best is None or rank > best[:2]:
                    best = (length, section.type == "movie", section)
        if best is None:
            raise PlayerRejected(
                f"no Plex library section of {self.config.name!r} holds {folder}; "
                "check the player's path mappings",
                player=self.config.name,
            )
        return best[2]

    def scan(self, section: PlexSection, folder: str) -> None:
        """Partial scan: `GET /library/sections/{key}/refresh?path=<folder>`."""
        self.http.get(f"/library/sections/{section.key}/refresh", params={"path": folder})

    def sessions(self) -> list[NowPlaying]:
        """`GET /status/sessions`."""
        data = self._container("/status/sessions")
        playing: list[NowPlaying] = []
        for item in data.get("Metadata") or []:
            if not isinstance(item, dict):
                continue
            player = item.get("Player")
            state = player.get("state") if isinstance(player, dict) else None
            parts = [
                part.get("file")
                for media in item.get("Media") or []
                if isinstance(media, dict)
                for part in media.get("Part") or []
                if isinstance(part, dict)
            ]
            playing.append(
                NowPlaying(
                    media_type=_MEDIA_TYPES.get(str(item.get("type")), str(item.get("type"))),
                    title=item.get("title"),
                    path=parts[0] if parts else None,
                    paused=state == "paused",
                )
            )
        return playing

    def _container(self, path: str) -> dict[str, Any]:
        data = self.get_json(path)
        container = data.get("MediaContainer") if isinstance(data, dict) else None
        if not isinstance(container, dict):
            raise self.malformed(path, "without a MediaContainer")
        return container
