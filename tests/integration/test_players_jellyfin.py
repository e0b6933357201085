"""The Jellyfin player against a fake Jellyfin on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from metarr.jobs.retry import is_dependency_failure, is_retryable
from metarr.players.base import (
    PlayerAuthFailed,
    PlayerBusy,
    PlayerConfig,
    PlayerUnavailable,
    SyncAction,
    SyncKind,
    SyncRequest,
)
from metarr.players.jellyfin import JellyfinPlayer
from metarr.players.registry import default_registry
from metarr.testing.fake_players import FakeJellyfinServer

MOVIE = "/srv/movies/Heat (1995)/Heat (1995).mkv"


@pytest.fixture
def jellyfin() -> Iterator[FakeJellyfinServer]:
    with FakeJellyfinServer() as fake:
        yield fake


def config(fake: FakeJellyfinServer, **extra: object) -> PlayerConfig:
    values: dict[str, object] = {
        "name": "living room",
        "type": "jellyfin",
        "host": "127.0.0.1",
        "port": fake.port,
        "token": fake.token,
        "timeout": 5,
        "path_mappings": [{"from": "/srv/movies", "to": "/media/movies"}],
    }
    values.update(extra)
    return PlayerConfig.model_validate(values)


def test_connection_test_sends_the_token(jellyfin: FakeJellyfinServer) -> None:
    with default_registry().build(config(jellyfin)) as player:
        assert isinstance(player, JellyfinPlayer)
        info = player.test()
    assert (info.name, info.version) == ("Fake Jellyfin", "10.9.11")
    request = jellyfin.requests[-1]
    assert request.path == "/System/Info"
    assert f'Token="{jellyfin.token}"' in request.headers["authorization"]
    assert request.headers["authorization"].startswith('MediaBrowser Client="Metarr"')
    assert request.headers["x-emby-token"] == jellyfin.token


@pytest.mark.parametrize("token", ["wrong-token", None])
def test_a_bad_or_missing_token_is_an_auth_failure_not_retried(
    jellyfin: FakeJellyfinServer, token: str | None
) -> None:
    with (
        JellyfinPlayer(config(jellyfin, token=token)) as player,
        pytest.raises(PlayerAuthFailed) as err,
    ):
        player.test()
    assert not is_retryable(err.value)
    assert "living room" in str(err.value) and "token" in str(err.value)
    assert "wrong-token" not in str(err.value)


def test_update_posts_the_mapped_movie_folder(jellyfin: FakeJellyfinServer) -> None:
    with JellyfinPlayer(config(jellyfin)) as player:
        result = player.sync(SyncRequest(MOVIE))
        removed = player.sync(SyncRequest(MOVIE, SyncKind.REMOVE))
    assert result.action is SyncAction.REQUESTED
    assert result.remote_path == "/media/movies/Heat (1995)"
    assert result.rule is not None and result.rule.to_path == "/media/movies"
    assert result.calls == 2  # sessions + media updated
    assert jellyfin.updates == [
        {"Updates": [{"Path": "/media/movies/Heat (1995)", "UpdateType": "Modified"}]},
        {"Updates": [{"Path": "/media/movies/Heat (1995)", "UpdateType": "Deleted"}]},
    ]
    assert removed.action is SyncAction.REQUESTED


def test_windows_server_gets_backslash_paths(jellyfin: FakeJellyfinServer) -> None:
    mappings = [{"from": "/srv/movies", "to": "D:\\Media\\Movies"}]
    with JellyfinPlayer(config(jellyfin, path_mappings=mappings)) as player:
        player.sync(SyncRequest(MOVIE))
    assert jellyfin.updates[-1]["Updates"][0]["Path"] == "D:\\Media\\Movies\\Heat (1995)"


def test_playing_video_defers_the_sync_unless_forced(jellyfin: FakeJellyfinServer) -> None:
    jellyfin.play("Heat", "/media/movies/Heat (1995)/Heat (1995).mkv")
    with JellyfinPlayer(config(jellyfin)) as player:
        assert player.is_playing()
        playing = player.now_playing()
        assert playing[0].title == "Heat" and playing[0].media_type == "video"
        with pytest.raises(PlayerBusy) as err:
            player.sync(SyncRequest(MOVIE))
        assert is_retryable(err.value) and not is_dependency_failure(err.value)
        assert jellyfin.updates == []
        assert player.sync(SyncRequest(MOVIE, force=True)).action is SyncAction.REQUESTED
        jellyfin.stop_playing()
        jellyfin.play("Song", "/music/a.flac", media_type="Audio")
        assert not player.is_playing()  # music does not block
        player.sync(SyncRequest(MOVIE))
    assert len(jellyfin.updates) == 2


def test_server_errors_and_a_stopped_server_are_retryable(jellyfin: FakeJellyfinServer) -> None:
    player = JellyfinPlayer(config(jellyfin))
    try:
        jellyfin.fail(1, 503)
        with pytest.raises(PlayerUnavailable) as err:
            player.test()
        assert is_retryable(err.value) and is_dependency_failure(err.value)
        assert player.test().version == "10.9.11"
        jellyfin.stop()
        with pytest.raises(PlayerUnavailable) as err:
            player.sync(SyncRequest(MOVIE))
        assert "unreachable" in str(err.value)
    finally:
        player.close()


def test_invalid_body_is_rejected_by_the_fake_like_jellyfin(jellyfin: FakeJellyfinServer) -> None:
    # the fake validates what Metarr sends, so a regression in the body shape shows up
    import httpx

    answer = httpx.post(
        jellyfin.url + "/Library/Media/Updated",
        json={"Updates": [{"path": "/x"}]},
        headers={"X-Emby-Token": jellyfin.token},
    )
    assert answer.status_code == 400
