"""The Plex player against a fake Plex Media Server on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from metarr.jobs.retry import is_retryable
from metarr.players.base import (
    PlayerAuthFailed,
    PlayerBusy,
    PlayerConfig,
    PlayerRejected,
    PlayerUnavailable,
    SyncAction,
    SyncKind,
    SyncRequest,
)
from metarr.players.plex import PlexPlayer
from metarr.testing.fake_players import FakePlexServer, PlexLibrary

SECTIONS = [
    PlexLibrary("1", "Movies", "movie", ["/data/movies"]),
    PlexLibrary("2", "Movies 4K", "movie", ["/data/movies-4k", "/nas/uhd"]),
    PlexLibrary("3", "Home videos", "movie", ["/data"]),
    PlexLibrary("4", "Music", "artist", ["/music"]),
]


@pytest.fixture
def plex() -> Iterator[FakePlexServer]:
    with FakePlexServer(sections=SECTIONS) as fake:
        yield fake


def config(fake: FakePlexServer, **extra: object) -> PlayerConfig:
    values: dict[str, object] = {
        "name": "plex",
        "type": "plex",
        "host": "127.0.0.1",
        "port": fake.port,
        "token": fake.token,
        "timeout": 5,
        "path_mappings": [
            {"from": "/srv/movies", "to": "/data/movies"},
            {"from": "/srv/uhd", "to": "/data/movies-4k"},
        ],
    }
    values.update(extra)
    return PlayerConfig.model_validate(values)


def test_connection_test(plex: FakePlexServer) -> None:
    with PlexPlayer(config(plex)) as player:
        info = player.test()
    assert (info.name, info.version) == ("Fake Plex", plex.version)
    request = plex.requests[-1]
    assert request.path == "/"
    assert request.headers["x-plex-token"] == plex.token
    assert request.headers["accept"] == "application/json"


def test_bad_token(plex: FakePlexServer) -> None:
    with PlexPlayer(config(plex, token="nope")) as player, pytest.raises(PlayerAuthFailed) as err:
        player.test()
    assert not is_retryable(err.value)


def test_partial_scan_of_the_mapped_folder_in_the_right_section(plex: FakePlexServer) -> None:
    with PlexPlayer(config(plex)) as player:
        hd = player.sync(SyncRequest("/srv/movies/Heat (1995)/Heat (1995).mkv"))
        uhd = player.sync(SyncRequest("/srv/uhd/Heat (1995)/Heat (1995).mkv"))
        gone = player.sync(SyncRequest("/srv/movies/Old (1990)/Old (1990).avi", SyncKind.REMOVE))
    # /data/movies-4k is not inside /data/movies; the deepest location wins over /data
    assert plex.scans == [
        ("1", "/data/movies/Heat (1995)"),
        ("2", "/data/movies-4k/Heat (1995)"),
        ("1", "/data/movies/Old (1990)"),
    ]
    assert hd.action is SyncAction.REQUESTED and hd.item_id == "1"
    assert uhd.remote_path == "/data/movies-4k/Heat (1995)" and uhd.item_id == "2"
    assert gone.action is SyncAction.REQUESTED
    assert hd.calls == 3  # sessions, sections, refresh


def test_disc_structures_scan_the_movie_folder(plex: FakePlexServer) -> None:
    with PlexPlayer(config(plex)) as player:
        player.sync(SyncRequest("/srv/movies/Alien (1979)/BDMV/index.bdmv"))
        player.sync(SyncRequest("/srv/movies/Brazil (1985)/VIDEO_TS/VIDEO_TS.IFO"))
    assert [path for _, path in plex.scans] == [
        "/data/movies/Alien (1979)",
        "/data/movies/Brazil (1985)",
    ]


def test_a_path_outside_every_section_is_rejected_with_advice(plex: FakePlexServer) -> None:
    with PlexPlayer(config(plex, path_mappings=[])) as player, pytest.raises(PlayerRejected) as err:
        player.sync(SyncRequest("/srv/movies/Heat (1995)/Heat (1995).mkv"))
    assert "path mappings" in str(err.value)
    assert plex.scans == []


def test_sessions_defer_the_sync(plex: FakePlexServer) -> None:
    plex.play("Heat", "/data/movies/Heat (1995)/Heat (1995).mkv", paused=True)
    with PlexPlayer(config(plex)) as player:
        playing = player.now_playing()
        assert playing[0].media_type == "video" and playing[0].paused
        assert playing[0].path == "/data/movies/Heat (1995)/Heat (1995).mkv"
        with pytest.raises(PlayerBusy):
            player.sync(SyncRequest("/srv/movies/Heat (1995)/Heat (1995).mkv"))
        plex.stop_playing()
        plex.play("Song", "/music/a.flac", kind="track")
        player.sync(SyncRequest("/srv/movies/Heat (1995)/Heat (1995).mkv"))
    assert len(plex.scans) == 1


def test_server_down(plex: FakePlexServer) -> None:
    player = PlexPlayer(config(plex))
    try:
        plex.fail(1, 500)
        with pytest.raises(PlayerUnavailable):
            player.test()
        plex.stop()
        with pytest.raises(PlayerUnavailable):
            player.test()
    finally:
        player.close()
