"""Player config, registry and the HTTP error translation shared by every player."""

from __future__ import annotations

import socket

import httpx
import pytest
from pydantic import ValidationError

from metarr.domain.errors import InvalidInput
from metarr.jobs.retry import is_dependency_failure, is_retryable
from metarr.players.base import (
    PlayerConfig,
    PlayerRejected,
    PlayerType,
    PlayerUnavailable,
    SyncRequest,
    movie_folder,
)
from metarr.players.jellyfin import JellyfinPlayer
from metarr.players.kodi import KodiPlayer
from metarr.players.plex import PlexPlayer
from metarr.players.registry import PlayerRegistry, default_registry
from metarr.testing.fake_players import FakeJellyfinServer


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


def test_registry_builds_each_type() -> None:
    registry = default_registry()
    assert registry.types() == (PlayerType.KODI, PlayerType.JELLYFIN, PlayerType.PLEX)
    for kind, cls in (("kodi", KodiPlayer), ("jellyfin", JellyfinPlayer), ("plex", PlexPlayer)):
        config = PlayerConfig.model_validate({"name": kind, "type": kind, "host": "127.0.0.1"})
        with registry.build(config) as player:
            assert type(player) is cls
            assert player.name == kind
    with pytest.raises(KeyError):
        registry.get("vlc")
    with pytest.raises(ValueError, match="already registered"):
        registry.register(KodiPlayer)
    with pytest.raises(ValueError, match="needs a 'kodi' config"):
        KodiPlayer(PlayerConfig(name="x", type=PlayerType.PLEX, host="h"))
    assert PlayerRegistry().types() == ()


def test_config_defaults_urls_and_secrets() -> None:
    config = PlayerConfig.model_validate(
        {
            "name": "Living room",
            "type": "kodi",
            "host": " 192.168.1.20 ",
            "username": "kodi",
            "password": "hunter2",
            "path_mappings": [{"from": "/srv/movies", "to": "smb://nas/movies"}],
        }
    )
    assert config.base_url == "http://192.168.1.20:8080"
    assert config.effective_tcp_port == 9090
    assert "hunter2" not in repr(config) and "hunter2" not in str(config.model_dump())
    assert config.mapper().to_remote("/srv/movies/X/X.mkv").path == "smb://nas/movies/X/X.mkv"
    v6 = PlayerConfig(name="j", type=PlayerType.JELLYFIN, host="::1", https=True, base_path="/jf/")
    assert v6.base_url == "https://[::1]:8096/jf"
    plex = PlayerConfig(name="p", type=PlayerType.PLEX, host="plex.local")
    assert plex.base_url == "http://plex.local:32400"


@pytest.mark.parametrize(
    "bad",
    [
        {"host": "http://kodi:8080"},
        {"host": "kodi/jsonrpc"},
        {"host": ""},
        {"port": 0},
        {"type": "vlc"},
        {"base_path": "jellyfin"},
        {"path_mappings": [{"from": "movies", "to": "/x"}]},
        {"path_mappings": [{"from": "/srv", "to": "C:relative"}]},
        {"unknown": 1},
    ],
)
def test_invalid_config_is_refused(bad: dict[str, object]) -> None:
    values: dict[str, object] = {"name": "k", "type": "kodi", "host": "kodi.local", **bad}
    with pytest.raises(ValidationError):
        PlayerConfig.model_validate(values)


def test_unreachable_player_is_unavailable_and_retryable() -> None:
    config = PlayerConfig(
        name="gone", type=PlayerType.JELLYFIN, host="127.0.0.1", port=closed_port(), timeout=2
    )
    with JellyfinPlayer(config) as player, pytest.raises(PlayerUnavailable) as err:
        player.test()
    assert is_retryable(err.value) and is_dependency_failure(err.value)
    assert "gone" in str(err.value) and err.value.player == "gone"


def test_relative_sync_paths_are_refused() -> None:
    config = PlayerConfig(name="p", type=PlayerType.PLEX, host="127.0.0.1", port=closed_port())
    with PlexPlayer(config) as player, pytest.raises(InvalidInput):
        player.sync(SyncRequest("movies/X/X.mkv"))


def test_unexpected_4xx_is_rejected_and_secrets_are_redacted() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        token = request.headers["X-Emby-Token"]
        return httpx.Response(400, text=f"bad request for token {token}")

    config = PlayerConfig(name="j", type=PlayerType.JELLYFIN, host="jf", token="s3cr3t-token")
    player = JellyfinPlayer(config, transport=httpx.MockTransport(handler))
    with player, pytest.raises(PlayerRejected) as err:
        player.test()
    assert err.value.remote_code == 400
    assert "s3cr3t-token" not in str(err.value) and "***" in str(err.value)
    assert not is_retryable(err.value)


def test_non_json_answer_is_unavailable() -> None:
    with FakeJellyfinServer() as fake:
        config = PlayerConfig(
            name="j", type=PlayerType.JELLYFIN, host="127.0.0.1", port=fake.port, token=fake.token
        )
        fake.route = lambda *a: (200, "<html>proxy login</html>", "text/html")  # type: ignore[method-assign]
        with JellyfinPlayer(config) as player, pytest.raises(PlayerUnavailable, match="not JSON"):
            player.test()


def test_movie_folder() -> None:
    assert movie_folder("/m/X (2000)/X (2000).mkv") == "/m/X (2000)"
    assert movie_folder("/m/X (2000)/BDMV/index.bdmv") == "/m/X (2000)"
    assert movie_folder("D:\\M\\X\\video_ts\\VIDEO_TS.IFO") == "D:\\M\\X"
