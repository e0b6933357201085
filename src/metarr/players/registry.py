"""The player registry: plug-in classes by type; builds a player from its config."""

from __future__ import annotations

import httpx

from metarr.players.base import Player, PlayerConfig, PlayerType
from metarr.players.jellyfin import JellyfinPlayer
from metarr.players.kodi import KodiPlayer
from metarr.players.plex import PlexPlayer


class PlayerRegistry:
    """Known player classes by type."""

    def __init__(self) -> None:
        self._classes: dict[PlayerType, type[Player]] = {}

    def register(self, cls: type[Player]) -> type[Player]:
        """Add a player class (usable as a decorator)."""
        if cls.type in self._classes:
            raise ValueError(f"player type {cls.type.value!r} is already registered")
        self._classes[cls.type] = cls
        return cls

    def types(self) -> tuple[PlayerType, ...]:
        """Registered types, in registration order."""
        return tuple(self._classes)

    def get(self, player_type: PlayerType | str) -> type[Player]:
        """The class for `player_type`."""
        try:
            return self._classes[PlayerType(player_type)]
        except (KeyError, ValueError):
            raise KeyError(f"unknown player type {player_type!r}") from None

    def build(
        self, config: PlayerConfig, *, transport: httpx.BaseTransport | None = None
    ) -> Player:
        """A player for `config` (close it when done)."""
        return self.get(config.type)(config, transport=transport)


def default_registry() -> PlayerRegistry:
    """Kodi, Jellyfin and Plex - one line per player."""
    registry = PlayerRegistry()
    registry.register(KodiPlayer)
    registry.register(JellyfinPlayer)
    registry.register(PlexPlayer)
    return registry
