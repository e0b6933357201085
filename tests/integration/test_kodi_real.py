"""The Kodi player against a real headless Kodi 20 (one per session, Xvfb + llvmpipe).

Skipped only when Kodi cannot be installed here (the reason is printed with -ra).
"""

from __future__ import annotations

import io
import os
import shutil
import socket
import time
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from metarr.jobs.retry import is_dependency_failure, is_retryable
from metarr.players.base import (
    PlayerAuthFailed,
    PlayerBusy,
    PlayerUnavailable,
    SyncAction,
    SyncKind,
    SyncNotVerified,
    SyncRequest,
)
from metarr.players.kodi import KodiPlayer
from metarr.players.kodi.notifications import KodiConnection
from metarr.players.kodi.schemas import KodiFeature, image_url
from metarr.testing.kodi import KodiPeer, tiny_video
from tests.integration.kodi_fixtures import Session

RED, BLUE, GREEN = (220, 20, 20), (20, 20, 220), (20, 200, 20)

# one Kodi per test process: under xdist these all run on the same worker
pytestmark = pytest.mark.xdist_group("kodi")


def write_nfo(path: Path, title: str, year: int, plot: str, tmdb: int, imdb: str) -> None:
    movie = ET.Element("movie")
    ET.SubElement(movie, "title").text = title
    ET.SubElement(movie, "year").text = str(year)
    ET.SubElement(movie, "plot").text = plot
    ET.SubElement(movie, "uniqueid", type="tmdb", default="true").text = str(tmdb)
    ET.SubElement(movie, "uniqueid", type="imdb").text = imdb
    ET.ElementTree(movie).write(path, encoding="UTF-8", xml_declaration=True)


def write_image(path: Path, color: tuple[int, int, int], size: tuple[int, int]) -> None:
    Image.new("RGB", size, color).save(path, "JPEG", quality=95)


def color_of(data: bytes) -> tuple[int, int, int]:
    with Image.open(io.BytesIO(data)) as image:
        pixel = image.convert("RGB").getpixel((image.width // 2, image.height // 2))
    assert isinstance(pixel, tuple)
    return pixel[0], pixel[1], pixel[2]


def close_to(a: tuple[int, int, int], b: tuple[int, int, int]) -> bool:
    return all(abs(x - y) < 40 for x, y in zip(a, b, strict=True))


def make_movie(
    root: Path, session: Session, title: str, year: int, plot: str, tmdb: int, imdb: str
) -> Path:
    """`Title (Year)/Title (Year).mkv` + NFO + poster.jpg + fanart.jpg; returns the video."""
    name = f"{title} ({year})"
    folder = root / name
    folder.mkdir(parents=True)
    video = folder / f"{name}.mkv"
    shutil.copyfile(session.video, video)
    write_nfo(folder / f"{name}.nfo", title, year, plot, tmdb, imdb)
    write_image(folder / "poster.jpg", RED, (40, 60))
    write_image(folder / "fanart.jpg", GREEN, (64, 36))
    return video


def spy(player: KodiPlayer) -> list[tuple[str, Any]]:
    """Record the JSON-RPC calls the player sends over HTTP."""
    sent: list[tuple[str, Any]] = []
    call = player.kodi.client.call

    def recording(method: str, params: Any = None) -> Any:
        sent.append((method, params))
        return call(method, params)

    player.kodi.client.call = recording  # type: ignore[method-assign]
    return sent


def listed(kodi: KodiPeer) -> dict[str, dict[str, object]]:
    return {str(m["file"]): m for m in kodi.movies()}


def test_connection_version_and_notification(kodi: KodiPeer) -> None:
    with KodiPlayer(kodi.config()) as player:
        info = player.test()
        assert info.api_version is not None and info.api_version.startswith("13.")
        assert info.version.startswith("20.")
        assert player.kodi.version().features == frozenset(KodiFeature)
        player.notify("Metarr", "connection test")
        assert not player.is_playing()
    # the TCP port answers calls too, with notifications kept aside
    with KodiConnection("127.0.0.1", kodi.tcp_port, timeout=10) as tcp:
        assert tcp.call("JSONRPC.Ping") == "pong"


def test_a_new_movie_appears_after_a_scan_of_exactly_its_folder(
    kodi_session: Session, kodi: KodiPeer
) -> None:
    started = time.monotonic()
    video = make_movie(
        kodi.movies_dir, kodi_session, "The Matrix", 1999, "A hacker learns.", 603, "tt0133093"
    )
    # a second new folder that nobody asked to sync must stay out of Kodi
    other = make_movie(kodi.movies_dir, kodi_session, "Unsynced", 2001, "No.", 1, "tt0000001")
    with KodiPlayer(kodi.config(notify=True)) as player:
        sent = spy(player)
        result = player.sync(SyncRequest(str(video), title="The Matrix"))
    kodi_session.timings["add"] = time.monotonic() - started
    # exactly one scan, of the movie's own folder: never the library
    scans = [params for method, params in sent if method == "VideoLibrary.Scan"]
    assert scans == [{"directory": f"{video.parent}/", "showdialogs": False}]
    assert tuple(m for m, _ in sent if m in ("Files.GetDirectory", "VideoLibrary.Scan")) == (
        "Files.GetDirectory",
        "VideoLibrary.Scan",
    )
    assert sent[-1][0] == "GUI.ShowNotification"
    assert result.action is SyncAction.ADDED
    assert result.remote_path == str(video) and result.rule is None
    assert result.calls <= 8, result  # 2 of them detect the version, once per player
    movies = listed(kodi)
    assert str(other) not in movies
    movie = movies[str(video)]
    assert str(movie["movieid"]) == result.item_id
    assert (movie["title"], movie["year"], movie["plot"]) == (
        "The Matrix",
        1999,
        "A hacker learns.",
    )
    assert movie["uniqueid"] == {"tmdb": "603", "imdb": "tt0133093"}
    art = movie["art"]
    assert isinstance(art, dict)
    assert art["poster"] == image_url(str(video.parent / "poster.jpg"))
    assert art["fanart"] == image_url(str(video.parent / "fanart.jpg"))


def test_refresh_rereads_the_nfo_and_purges_stale_textures(
    kodi_session: Session, kodi: KodiPeer
) -> None:
    video = make_movie(kodi.movies_dir, kodi_session, "Heat", 1995, "Old plot.", 949, "tt0113277")
    folder = video.parent
    with KodiPlayer(kodi.config()) as player:
        assert player.sync(SyncRequest(str(video))).action is SyncAction.ADDED
        before = listed(kodi)[str(video)]
        poster = image_url(str(folder / "poster.jpg"))
        # someone looked at the poster: Kodi has it in its texture cache now
        assert close_to(color_of(kodi.cache_image(poster)), RED)
        assert kodi.textures(poster)
        # Metarr publishes a new plot and another poster (same file name)
        write_nfo(folder / "Heat (1995).nfo", "Heat", 1995, "New plot.", 949, "tt0113277")
        write_image(folder / "poster.jpg", BLUE, (40, 60))
        started = time.monotonic()
        result = player.sync(SyncRequest(str(video)))
        kodi_session.timings["refresh"] = time.monotonic() - started
    assert result.action is SyncAction.REFRESHED
    assert result.textures_purged >= 1
    assert result.calls <= 10, result
    after = listed(kodi)[str(video)]
    assert after["plot"] == "New plot."
    assert str(after["movieid"]) == result.item_id  # the id may change; we re-found it
    before_art, after_art = before["art"], after["art"]
    assert isinstance(before_art, dict) and isinstance(after_art, dict)
    assert after_art["poster"] == before_art["poster"] == poster  # same URL, new picture
    # what Kodi shows now is the new poster, not the cached one (the stale texture is
    # gone; Kodi may cache the art again in the background, from the new file)
    assert close_to(color_of(kodi.cache_image(poster)), BLUE)


def test_removal_and_removing_twice(kodi_session: Session, kodi: KodiPeer) -> None:
    video = make_movie(kodi.movies_dir, kodi_session, "Alien", 1979, "In space.", 348, "tt0078748")
    with KodiPlayer(kodi.config()) as player:
        player.sync(SyncRequest(str(video)))
        assert str(video) in listed(kodi)
        gone = player.sync(SyncRequest(str(video), SyncKind.REMOVE))
        again = player.sync(SyncRequest(str(video), SyncKind.REMOVE))
    assert gone.action is SyncAction.REMOVED and gone.item_id is None
    assert again.action is SyncAction.ABSENT
    assert str(video) not in listed(kodi)


def test_kodi_sees_the_library_under_another_path(
    kodi_session: Session, kodi: KodiPeer, tmp_path: Path
) -> None:
    view = tmp_path / "metarr-view"  # Metarr's path to the same folder as Kodi's source
    view.symlink_to(kodi.movies_dir, target_is_directory=True)
    video = make_movie(view, kodi_session, "Brazil", 1985, "Paperwork.", 68, "tt0088846")
    kodi_file = str(kodi.movies_dir / "Brazil (1985)" / "Brazil (1985).mkv")
    # without a mapping Kodi is asked about a path it does not know
    with KodiPlayer(kodi.config()) as unmapped, pytest.raises(SyncNotVerified):
        unmapped.sync(SyncRequest(str(video)))
    mapping = {str(view): str(kodi.movies_dir)}
    with KodiPlayer(kodi.config(mappings=mapping)) as player:
        added = player.sync(SyncRequest(str(video)))
        assert added.action is SyncAction.ADDED
        assert added.remote_path == kodi_file
        assert added.rule is not None and added.rule.from_path == str(view)
        # Kodi's answers map back to Metarr's path
        found = player.kodi.find_movie(str(video))
        assert found is not None and found.file == kodi_file
        assert player.kodi.local_path(found) == str(video)
        write_nfo(video.with_suffix(".nfo"), "Brazil", 1985, "More paperwork.", 68, "tt0088846")
        assert player.sync(SyncRequest(str(video))).action is SyncAction.REFRESHED
        assert listed(kodi)[kodi_file]["plot"] == "More paperwork."
        assert player.sync(SyncRequest(str(video), SyncKind.REMOVE)).action is SyncAction.REMOVED
    assert kodi_file not in listed(kodi)


def test_without_the_tcp_port_it_polls(kodi_session: Session, kodi: KodiPeer) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = s.getsockname()[1]
    video = make_movie(kodi.movies_dir, kodi_session, "Ronin", 1998, "Cases.", 8195, "tt0122690")
    with KodiPlayer(kodi.config(tcp_port=dead)) as player:
        assert player.sync(SyncRequest(str(video))).action is SyncAction.ADDED
        write_nfo(video.with_suffix(".nfo"), "Ronin", 1998, "Which case?", 8195, "tt0122690")
        assert player.sync(SyncRequest(str(video))).action is SyncAction.REFRESHED
    assert listed(kodi)[str(video)]["plot"] == "Which case?"


def test_playing_video_defers_the_sync(
    kodi_session: Session, kodi: KodiPeer, tmp_path: Path
) -> None:
    clip = tiny_video(tmp_path / "clip.mkv", 60)
    video = make_movie(kodi.movies_dir, kodi_session, "Jaws", 1975, "A shark.", 578, "tt0073195")
    with KodiPlayer(kodi.config()) as player:
        kodi.rpc("Player.Open", {"item": {"file": str(clip)}})
        try:
            deadline = time.monotonic() + 15
            while not player.is_playing():
                assert time.monotonic() < deadline, "Kodi did not start playing"
                time.sleep(0.1)
            with pytest.raises(PlayerBusy) as err:
                player.sync(SyncRequest(str(video)))
            assert is_retryable(err.value) and not is_dependency_failure(err.value)
            assert str(video) not in listed(kodi)
            forced = player.sync(SyncRequest(str(video), force=True))
            assert forced.action is SyncAction.ADDED
        finally:
            for active in kodi.rpc("Player.GetActivePlayers"):
                kodi.rpc("Player.Stop", {"playerid": active["playerid"]})
        deadline = time.monotonic() + 15
        while player.is_playing():
            assert time.monotonic() < deadline, "Kodi did not stop playing"
            time.sleep(0.1)


def test_basic_auth(kodi: KodiPeer) -> None:
    kodi.enable_auth("kodi", "s3cret-pw")  # stays on for the rest of the session
    with KodiPlayer(kodi.config(username=None, password=None)) as anonymous:
        with pytest.raises(PlayerAuthFailed) as err:
            anonymous.test()
        assert not is_retryable(err.value)
    with KodiPlayer(kodi.config(password="wrong")) as wrong, pytest.raises(PlayerAuthFailed):
        wrong.test()
    with KodiPlayer(kodi.config()) as player:
        assert player.test().version.startswith("20.")


def test_stopped_kodi_is_unavailable(kodi_session: Session, kodi: KodiPeer) -> None:
    # last in the file: Kodi stays down (a later test would restart it)
    with KodiPlayer(kodi.config()) as player:
        assert player.test().api_version
        started = time.monotonic()
        kodi.stop()
        kodi_session.timings["stop"] = time.monotonic() - started
        with pytest.raises(PlayerUnavailable) as err:
            player.test()
        assert is_retryable(err.value) and is_dependency_failure(err.value)
        with pytest.raises(PlayerUnavailable):
            player.sync(SyncRequest(os.fspath(kodi.movies_dir / "X (2000)" / "X (2000).mkv")))
