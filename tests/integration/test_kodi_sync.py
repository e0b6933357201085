"""Metarr's own job path against the session's real, headless Kodi: scan -> publish (NFO and
artwork into the library) -> the `sync` job the phase chain queues -> Kodi.

1. a published movie appears with the NFO's title, year, plot, uniqueids, poster and fanart;
2. a new plot and another poster, published: Kodi shows both (texture cache purged),
   without a library-wide scan;
3. a Radarr MovieDelete webhook removes it from Kodi;
4. the same when Kodi sees the library through a symlink, with a path mapping;
5. while Kodi plays video the sync is deferred, and runs once playback stops;
6. with Kodi stopped the sync is deferred by the breaker, and completes after a restart.

SQLite only (the job path is the same on PostgreSQL; the API tests cover both), one Kodi
for the whole session (tests/integration/kodi_fixtures.py).
"""

from __future__ import annotations

import io
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from PIL import Image

from metarr.api.app import create_app
from metarr.bootstrap import Container, build
from metarr.jobs import JobStatus
from metarr.jobs.tables import JobRow
from metarr.players.kodi import KodiPlayer
from metarr.players.kodi.schemas import image_url
from metarr.settings import Settings
from metarr.testing.kodi import KodiPeer, tiny_video
from metarr.testing.library_builder import LibraryBuilder
from tests.integration.kodi_fixtures import Session
from tests.integration.publishing_env import PublishEnv, image
from tests.integration.test_webhooks import RADARR_ROOT, add_mapping, payload, post

RED, GREEN, BLUE = (220, 20, 20), (20, 200, 20), (20, 20, 220)

# one Kodi per test process: under xdist these all run on the same worker
pytestmark = pytest.mark.xdist_group("kodi")


@pytest.fixture
def container(tmp_path: Path) -> Iterator[Container]:
    """SQLite only: the Kodi side is what these tests are about."""
    settings = Settings(
        data_dir=tmp_path / "data",
        database_url=f"sqlite:///{tmp_path / 'metarr.db'}",
        api_key="test-key",
        rate_limit_per_minute=100_000,
        scan_probe_workers=2,
    )
    c = build(settings)
    c.players.breakers.cooldown = 0.5  # Kodi found down is tried again soon
    c.player_sync.busy_retry = 30.0  # playback ends sooner in these tests: resumed by the monitor
    try:
        yield c
    finally:
        c.close()


@dataclass
class KodiEnv:
    """A Metarr library Kodi sees (directly or through a symlink) and a Kodi player for it."""

    env: PublishEnv
    kodi: KodiPeer
    kodi_root: Path  # the library as Kodi sees it
    player: KodiPlayer
    sent: list[tuple[str, Any]]

    @property
    def container(self) -> Container:
        return self.env.container

    def kodi_file(self, name: str) -> str:
        return str(self.kodi_root / name / f"{name}.mkv")

    def listed(self) -> dict[str, dict[str, Any]]:
        props = ["title", "year", "plot", "uniqueid", "art", "file"]
        return {str(m["file"]): m for m in self.kodi.movies(props)}

    def add_movie(self, title: str, year: int, tmdb: int, imdb: str, plot: str) -> int:
        self.env.builder.movie(title, year, tmdb=tmdb, imdb=imdb, plot=plot, artwork=())
        self.env.scan()
        movie = self.env.movie_id(f"{title} ({year})")
        self.env.seed(movie, {"poster": [image(RED)], "fanart": [image(GREEN, (64, 36))]})
        return movie

    def publish(self, movie_id: int) -> None:
        """Publish through the queue; the chain queues the sync; run everything."""
        self.sent.clear()
        self.container.publishing.enqueue_movie(movie_id)
        self.env.drain()

    def scans(self) -> list[Any]:
        return [params for method, params in self.sent if method == "VideoLibrary.Scan"]


def sync_jobs(container: Container) -> list[JobRow]:
    from sqlalchemy import select

    with container.db.session() as s:
        rows = list(s.scalars(select(JobRow).where(JobRow.type == "sync").order_by(JobRow.id)))
        for row in rows:
            s.expunge(row)
        return rows


def color_of(data: bytes) -> tuple[int, int, int]:
    with Image.open(io.BytesIO(data)) as img:
        pixel = img.convert("RGB").getpixel((img.width // 2, img.height // 2))
    assert isinstance(pixel, tuple)
    return pixel[0], pixel[1], pixel[2]


def close_to(a: tuple[int, int, int], b: tuple[int, int, int]) -> bool:
    return all(abs(x - y) < 40 for x, y in zip(a, b, strict=True))


def make_env(
    container: Container, kodi: KodiPeer, tmp_path: Path, name: str, *, symlink: bool = False
) -> KodiEnv:
    """A library under Kodi's source (or outside it, seen by Kodi through a symlink)."""
    if symlink:
        root = (tmp_path / "outside" / name).resolve()
        root.mkdir(parents=True)
        kodi_root = kodi.movies_dir / name
        kodi_root.symlink_to(root, target_is_directory=True)
        mappings = [{"from": str(root), "to": str(kodi_root)}]
    else:
        root = kodi_root = kodi.movies_dir / name
        root.mkdir()
        mappings = []
    env = PublishEnv(container, LibraryBuilder(root, templates_dir=tmp_path / "tpl"), root)
    env.create_library()
    config = kodi.config()
    body: dict[str, Any] = {
        "name": "Kodi",
        "type": "kodi",
        "host": "127.0.0.1",
        "port": kodi.http_port,
        "tcp_port": kodi.tcp_port,
        "path_mappings": mappings,
    }
    if config.username:
        body["username"] = config.username
        body["password"] = config.password.get_secret_value() if config.password else ""
    view = container.players.create(body)  # connection test first, as the API does
    player = container.players.player(container.players.stored(view.id))
    assert isinstance(player, KodiPlayer)
    sent: list[tuple[str, Any]] = []
    call = player.kodi.client.call

    def recording(method: str, params: Any = None) -> Any:
        sent.append((method, params))
        return call(method, params)

    player.kodi.client.call = recording  # type: ignore[method-assign]
    return KodiEnv(env, kodi, kodi_root, player, sent)


@pytest.mark.parametrize("view", ["same-path", "symlink"])
def test_publish_change_and_delete_reach_kodi(
    kodi_session: Session, kodi: KodiPeer, container: Container, tmp_path: Path, view: str
) -> None:
    started = time.monotonic()
    k = make_env(container, kodi, tmp_path, f"lib-{view}", symlink=view == "symlink")
    name = "Heat (1995)"
    movie = k.add_movie("Heat", 1995, 949, "tt0113277", "A heist goes wrong.")

    # 1. published by Metarr -> the chain's sync job -> Kodi lists it, as published
    k.publish(movie)
    [chained, own] = sync_jobs(container)
    assert chained.target.startswith("library:") and chained.status == JobStatus.SUCCEEDED
    assert own.target == f"players:player:1/movie:{movie}"
    assert own.status == JobStatus.SUCCEEDED and own.result is not None
    assert own.result["action"] == "added" and own.result["remote_path"] == k.kodi_file(name)
    if view == "symlink":
        assert own.result["rule"] == {"from": str(k.env.root), "to": str(k.kodi_root)}
    folder = k.kodi_root / name
    assert k.scans() == [{"directory": f"{folder}/", "showdialogs": False}]
    found = k.listed()[k.kodi_file(name)]
    assert (found["title"], found["year"], found["plot"]) == ("Heat", 1995, "A heist goes wrong.")
    assert found["uniqueid"] == {"tmdb": "949", "imdb": "tt0113277"}
    poster = image_url(str(folder / f"{name}-poster.jpg"))
    assert found["art"]["poster"] == poster
    assert found["art"]["fanart"] == image_url(str(folder / f"{name}-fanart.jpg"))
    # Kodi's web server serves images only from inside its sources (symlinks resolved),
    # so the texture cache is primed and checked where Kodi sees the real folder
    textures = view == "same-path"
    if textures:
        assert close_to(color_of(kodi.cache_image(poster)), RED)  # now in Kodi's texture cache
        assert kodi.textures(poster)

    # a second chained sync of the same publish (a folded publish picked up twice) is a
    # no-op without a single call to Kodi; "sync now" still asks Kodi
    k.sent.clear()
    container.queue.enqueue(
        "sync",
        f"library:{k.env.library_id}/",
        {"library_id": k.env.library_id, "movie_ids": [movie]},
    )
    k.env.drain()
    again = sync_jobs(container)[-1]
    assert again.status == JobStatus.SUCCEEDED and again.result is not None
    assert again.result["skipped"] == "already synced since the last publish"
    assert k.sent == []
    container.player_sync.sync_movie(movie)
    k.env.drain()
    manual = sync_jobs(container)[-1]
    assert manual.result is not None and manual.result["action"] == "refreshed"

    # 2. a person edits the plot and picks another poster; published -> Kodi shows both
    k.env.set_field(movie, "plot", "Two crews, one city.")
    k.env.seed(movie, {"poster": [image(BLUE)], "fanart": [image(GREEN, (64, 36))]})
    k.publish(movie)
    changed = sync_jobs(container)[-1]
    assert changed.status == JobStatus.SUCCEEDED and changed.result is not None
    assert changed.result["action"] == "refreshed"
    assert k.scans() == []  # a refresh of the one movie: no scan at all, least of all the library
    assert (
        "VideoLibrary.RefreshMovie",
        {"movieid": found["movieid"], "ignorenfo": False},
    ) in k.sent
    now = k.listed()[k.kodi_file(name)]
    assert now["plot"] == "Two crews, one city." and now["art"]["poster"] == poster
    if textures:
        assert changed.result["textures_purged"] >= 1
        # the stale texture is gone: Kodi shows the new poster (a refresh may have Kodi
        # cache the art again in the background, from the file as published now)
        assert close_to(color_of(kodi.cache_image(poster)), BLUE)
    states = {s.scope: s for s, _label in container.player_sync.states(movie)}
    assert states["player:1"].status == "ok" and states["player:1"].action == "refreshed"

    # 3. Radarr deletes the movie -> MovieDelete webhook -> removed from Kodi
    app = create_app(container, close_on_shutdown=False, start_workers=False, start_scheduler=False)
    with TestClient(app) as api:
        add_mapping(api, k.env.root)
        data = payload("radarr_movie_deleted.json")
        data["movie"]["folderPath"] = f"{RADARR_ROOT}/{name}"
        body = post(api, data)
    assert body["status"] == "processed" and body["actions"][0]["sync_job_ids"]
    k.sent.clear()
    k.env.drain()
    removed = sync_jobs(container)[-1]
    assert removed.status == JobStatus.SUCCEEDED and removed.result is not None
    assert removed.result["action"] == "removed"
    assert k.kodi_file(name) not in k.listed()
    assert k.scans() == []
    kodi_session.timings[f"scenarios-1-3-{view}"] = time.monotonic() - started


def test_playing_kodi_defers_the_sync_until_playback_stops(
    kodi_session: Session, kodi: KodiPeer, container: Container, tmp_path: Path
) -> None:
    k = make_env(container, kodi, tmp_path, "lib-playing")
    movie = k.add_movie("Jaws", 1975, 578, "tt0073195", "A shark.")
    k.publish(movie)
    name = "Jaws (1975)"
    assert k.listed()[k.kodi_file(name)]["plot"] == "A shark."
    clip = tiny_video(tmp_path / "clip.mkv", 60)
    kodi.rpc("Player.Open", {"item": {"file": str(clip)}})
    try:
        deadline = time.monotonic() + 15
        while not kodi.rpc("Player.GetActivePlayers"):
            assert time.monotonic() < deadline, "Kodi did not start playing"
            time.sleep(0.1)
        container.player_monitor.check_all()  # the dashboard shows what plays
        assert container.player_monitor.latest(1) is not None
        assert container.player_monitor.latest(1).playing_video  # type: ignore[union-attr]
        k.env.set_field(movie, "plot", "A bigger boat.")
        k.publish(movie)
        waiting = sync_jobs(container)[-1]
        assert waiting.status == JobStatus.RETRY_SCHEDULED and waiting.attempts == 0
        assert "playing video" in (waiting.progress_message or "")
        assert k.listed()[k.kodi_file(name)]["plot"] == "A shark."  # not disturbed
    finally:
        for active in kodi.rpc("Player.GetActivePlayers"):
            kodi.rpc("Player.Stop", {"playerid": active["playerid"]})
    deadline = time.monotonic() + 15
    while kodi.rpc("Player.GetActivePlayers"):
        assert time.monotonic() < deadline, "Kodi did not stop playing"
        time.sleep(0.1)
    container.player_monitor.check_all()  # sees playback stop: the waiting job resumes
    k.env.drain()
    done = sync_jobs(container)[-1]
    assert done.id == waiting.id and done.status == JobStatus.SUCCEEDED
    assert k.listed()[k.kodi_file(name)]["plot"] == "A bigger boat."


def test_stopped_kodi_defers_the_sync_until_it_is_back(
    kodi_session: Session, kodi: KodiPeer, container: Container, tmp_path: Path
) -> None:
    # last in this file: it restarts Kodi (a fresh profile, an empty library)
    k = make_env(container, kodi, tmp_path, "lib-stopped")
    movie = k.add_movie("Alien", 1979, 348, "tt0078748", "In space.")
    started = time.monotonic()
    kodi.stop()
    k.publish(movie)
    waiting = sync_jobs(container)[-1]
    assert waiting.status == JobStatus.RETRY_SCHEDULED and waiting.attempts == 0
    assert "unreachable" in (waiting.progress_message or "")
    k.env.drain()  # still down, still waiting: no attempt used
    assert sync_jobs(container)[-1].attempts == 0
    [state] = [s for s, _ in container.player_sync.states(movie)]
    assert state.status == "deferred"
    kodi.start(kodi.http_port)
    time.sleep(0.6)  # the breaker's cool-down: the next run probes Kodi
    k.env.drain()
    done = sync_jobs(container)[-1]
    assert done.id == waiting.id and done.status == JobStatus.SUCCEEDED
    assert done.attempts == 1 and done.result is not None and done.result["action"] == "added"
    found = k.listed()[k.kodi_file("Alien (1979)")]
    assert found["title"] == "Alien" and found["plot"] == "In space."
    kodi_session.timings["down-and-back"] = time.monotonic() - started
