"""Players through the HTTP API and the `sync` job, on SQLite and PostgreSQL, against the
fake Jellyfin and Plex servers on 127.0.0.1: write-only credentials, validation, connection
tests before save, groups, path-mapping tests, status, sync jobs (deferred while a player
is down or playing, failover in a group), removal after a Radarr MovieDelete."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from metarr.api.app import create_app
from metarr.bootstrap import Container
from metarr.db.advisory import AdvisoryLock
from metarr.db.tables_players import PlayerRow
from metarr.jobs import JobStatus, Worker
from metarr.jobs.tables import JobRow
from metarr.services.browse import MovieQuery
from metarr.testing.fake_players import (
    JELLYFIN_TOKEN,
    PLEX_TOKEN,
    FakeJellyfinServer,
    FakePlexServer,
    PlexLibrary,
)
from metarr.testing.library_builder import LibraryBuilder
from tests.integration.test_webhooks import RADARR_ROOT, add_mapping, payload, post

KEY = {"X-Api-Key": "test-key"}
PLAYER_VIEW = "/srv/jellyfin/movies"  # where the players see the library


@pytest.fixture
def api(container: Container) -> Iterator[TestClient]:
    """The API without background workers: jobs run when a test says so."""
    container.players.breakers.cooldown = 0.2  # a player found down is retried soon
    app = create_app(container, close_on_shutdown=False, start_workers=False, start_scheduler=False)
    with TestClient(app, headers=KEY) as tc:
        yield tc


@pytest.fixture
def jellyfin() -> Iterator[FakeJellyfinServer]:
    with FakeJellyfinServer() as server:
        yield server


@pytest.fixture
def plex() -> Iterator[FakePlexServer]:
    sections = [
        PlexLibrary("1", "Music", "artist", ["/srv"]),
        PlexLibrary("2", "Movies", "movie", [PLAYER_VIEW]),
    ]
    with FakePlexServer(sections=sections) as server:
        yield server


@pytest.fixture
def library(container: Container, tmp_path: Path) -> tuple[int, Path]:
    """A scanned library of two movies; returns its id and root."""
    root = (tmp_path / "movies").resolve()
    builder = LibraryBuilder(root)
    builder.movie("Heat", 1995, tmdb=949)
    builder.movie("Alien", 1979, tmdb=348)
    lib = container.libraries.create(name="Movies", kind="movies", path=str(root))
    container.scans.run(container.scans.create(lib.id)[0].id)
    return lib.id, root


def movie_id(container: Container, title: str) -> int:
    items = container.browse.movies(MovieQuery(limit=50)).items
    return next(m.id for m in items if m.title == title)


def jellyfin_body(
    server: FakeJellyfinServer, root: Path | None = None, **extra: Any
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": "Living room",
        "type": "jellyfin",
        "host": "127.0.0.1",
        "port": server.port,
        "token": server.token,
    }
    if root is not None:
        body["path_mappings"] = [{"from": str(root), "to": PLAYER_VIEW}]
    body.update(extra)
    return body


def run_jobs(container: Container) -> int:
    return Worker(container.db, container.registry, queue=container.queue).run_until_empty()


def job(container: Container, job_id: int) -> JobRow:
    with container.db.session() as s:
        row = s.get(JobRow, job_id)
        assert row is not None
        s.expunge(row)
        return row


# -- CRUD, secrets, validation ------------------------------------------------------------


def test_create_list_patch_delete_never_return_the_token(
    api: TestClient, container: Container, jellyfin: FakeJellyfinServer, library: tuple[int, Path]
) -> None:
    library_id, root = library
    created = api.post(
        "/api/v1/players", json=jellyfin_body(jellyfin, root, library_ids=[library_id])
    )
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["has_token"] is True and body["has_password"] is False
    assert body["effective_port"] == jellyfin.port and body["library_ids"] == [library_id]
    assert body["path_mappings"] == [{"from": str(root), "to": PLAYER_VIEW}]
    # the connection test ran before the save
    assert [r.path for r in jellyfin.requests] == ["/System/Info"]
    player_id = body["id"]
    for response in (
        created,
        api.get("/api/v1/players"),
        api.get(f"/api/v1/players/{player_id}"),
        api.patch(f"/api/v1/players/{player_id}", json={"notify": True}),
    ):
        assert response.status_code in (200, 201), response.text
        assert JELLYFIN_TOKEN not in response.text
        assert "token" not in {k for k in _keys(response.json())} - {"has_token"}
    with container.db.session() as s:
        assert s.scalar(select(PlayerRow.secret)) == JELLYFIN_TOKEN  # kept for use
    # renamed without touching the connection: no new test
    jellyfin.clear()
    renamed = api.patch(f"/api/v1/players/{player_id}", json={"name": "Den"})
    assert renamed.json()["name"] == "Den" and jellyfin.requests == []
    # a new token is tested before it is saved
    refused = api.patch(f"/api/v1/players/{player_id}", json={"token": "nope"})
    assert refused.status_code == 422
    assert refused.json()["code"] == "connection_test_failed"
    assert api.get(f"/api/v1/players/{player_id}").json()["has_token"] is True
    with container.db.session() as s:
        assert s.scalar(select(PlayerRow.secret)) == JELLYFIN_TOKEN
    assert api.delete(f"/api/v1/players/{player_id}").status_code == 204
    assert api.get(f"/api/v1/players/{player_id}").status_code == 404
    assert api.get("/api/v1/players").json() == []


def _keys(data: Any) -> Iterator[str]:
    if isinstance(data, dict):
        for key, value in data.items():
            yield key
            yield from _keys(value)
    elif isinstance(data, list):
        for item in data:
            yield from _keys(item)


def test_a_failed_connection_test_is_a_422_and_saves_nothing(
    api: TestClient, jellyfin: FakeJellyfinServer
) -> None:
    wrong = api.post("/api/v1/players", json=jellyfin_body(jellyfin, token="wrong-token"))
    assert wrong.status_code == 422
    assert wrong.headers["content-type"].startswith("application/problem+json")
    problem = wrong.json()
    assert problem["code"] == "connection_test_failed"
    assert "refused the credentials" in problem["detail"] and "wrong-token" not in wrong.text
    assert api.get("/api/v1/players").json() == []
    offline = jellyfin_body(jellyfin)
    jellyfin.stop()
    down = api.post("/api/v1/players", json=offline)
    assert down.status_code == 422 and "unreachable" in down.json()["detail"]
    skipped = api.post("/api/v1/players", params={"skip_test": "true"}, json=offline)
    assert skipped.status_code == 201, skipped.text


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"host": "http://tv.local"}, "host"),
        ({"type": "vlc"}, "type"),
        ({"port": 70000}, "port"),
        ({"path_mappings": [{"from": "relative/path", "to": "/x"}]}, "path_mappings"),
        (
            {"path_mappings": [{"from": "/a", "to": "/x"}, {"from": "/a/", "to": "/y"}]},
            "path_mappings",
        ),
        ({"library_ids": [999]}, "library_ids"),
        ({"password": "pw"}, "password"),
        ({"name": ""}, "name"),
    ],
)
def test_validation_422s(
    api: TestClient, jellyfin: FakeJellyfinServer, change: dict[str, Any], field: str
) -> None:
    response = api.post(
        "/api/v1/players", params={"skip_test": "true"}, json=jellyfin_body(jellyfin, **change)
    )
    assert response.status_code == 422, response.text
    problem = response.json()
    assert problem["status"] == 422
    assert field in json.dumps(problem), problem
    assert api.get("/api/v1/players").json() == []


def test_kodi_takes_a_password_not_a_token(api: TestClient) -> None:
    body = {"name": "Kodi", "type": "kodi", "host": "127.0.0.1", "token": "x"}
    response = api.post("/api/v1/players", params={"skip_test": "true"}, json=body)
    assert response.status_code == 422 and "password" in response.json()["detail"]
    body = {
        "name": "Kodi",
        "type": "kodi",
        "host": "127.0.0.1",
        "username": "kodi",
        "password": "pw",
    }
    saved = api.post("/api/v1/players", params={"skip_test": "true"}, json=body).json()
    assert saved["has_password"] is True and saved["effective_port"] == 8080
    assert saved["username"] == "kodi" and "pw" not in json.dumps(saved)


def test_test_endpoint_and_status(
    api: TestClient, jellyfin: FakeJellyfinServer, library: tuple[int, Path]
) -> None:
    player = api.post("/api/v1/players", json=jellyfin_body(jellyfin)).json()
    ok = api.post(f"/api/v1/players/{player['id']}/test").json()
    assert ok == {
        "ok": True,
        "version": "10.9.11",
        "error": None,
        "server": "Fake Jellyfin",
        "api_version": None,
    }
    jellyfin.play("Heat", f"{PLAYER_VIEW}/Heat (1995)/Heat (1995).mkv")
    status = api.get(f"/api/v1/players/{player['id']}/status").json()
    assert status["connected"] is True and status["version"] == "10.9.11"
    assert status["playing"] == [
        {
            "media_type": "video",
            "title": "Heat",
            "path": f"{PLAYER_VIEW}/Heat (1995)/Heat (1995).mkv",
            "paused": False,
        }
    ]
    jellyfin.valid_tokens = {"rotated"}
    failed = api.post(f"/api/v1/players/{player['id']}/test").json()
    assert failed["ok"] is False and "refused the credentials" in failed["error"]
    down = api.get(f"/api/v1/players/{player['id']}/status").json()
    assert down["connected"] is False and down["error"]


def test_groups(api: TestClient, jellyfin: FakeJellyfinServer) -> None:
    made = api.post("/api/v1/player-groups", json={"name": "Kodi MySQL"})
    assert made.status_code == 201
    assert api.post("/api/v1/player-groups", json={"name": "Kodi MySQL"}).status_code == 409
    assert api.post("/api/v1/player-groups", json={"name": ""}).status_code == 422
    first = api.post("/api/v1/players", json=jellyfin_body(jellyfin, group="Kodi MySQL")).json()
    second = api.post(
        "/api/v1/players", json=jellyfin_body(jellyfin, name="Bedroom", group="New group")
    ).json()
    assert first["group"] == "Kodi MySQL" and second["group"] == "New group"
    groups = {g["name"]: g for g in api.get("/api/v1/player-groups").json()}
    assert groups["Kodi MySQL"]["members"] == ["Living room"]
    assert groups["New group"]["members"] == ["Bedroom"]
    api.patch(f"/api/v1/players/{second['id']}", json={"group": "Kodi MySQL"})
    groups = {g["name"]: g for g in api.get("/api/v1/player-groups").json()}
    assert groups["Kodi MySQL"]["members"] == ["Living room", "Bedroom"]
    assert api.delete(f"/api/v1/player-groups/{groups['Kodi MySQL']['id']}").status_code == 204
    assert api.get(f"/api/v1/players/{first['id']}").json()["group"] is None


def test_path_mapping_test_endpoint(api: TestClient, jellyfin: FakeJellyfinServer) -> None:
    mappings = [
        {"from": "/data/movies", "to": "smb://nas/movies"},
        {"from": "/data/movies/4k", "to": "D:\\UHD"},
    ]
    player = api.post("/api/v1/players", json=jellyfin_body(jellyfin, path_mappings=mappings))
    player_id = player.json()["id"]

    def test(**body: Any) -> dict[str, Any]:
        response = api.post("/api/v1/path-mappings/test", json=body)
        assert response.status_code == 200, response.text
        result: dict[str, Any] = response.json()
        return result

    heat = test(path="/data/movies/Heat (1995)/Heat (1995).mkv", player_id=player_id)
    assert heat["output"] == "smb://nas/movies/Heat (1995)/Heat (1995).mkv"
    assert heat["rule"] == mappings[0] and heat["mapped"] is True
    uhd = test(path="/data/movies/4k/Dune (2021)/Dune.mkv", player_id=player_id)
    assert uhd["output"] == "D:\\UHD\\Dune (2021)\\Dune.mkv" and uhd["rule"] == mappings[1]
    other = test(path="/data/movies-4k/Dune.mkv", player_id=player_id)  # whole components
    assert other["mapped"] is False and other["rule"] is None
    assert other["output"] == "/data/movies-4k/Dune.mkv"
    back = test(
        path="SMB://NAS/Movies/Heat (1995)/x.mkv", player_id=player_id, direction="from_player"
    )
    assert back["output"] == "/data/movies/Heat (1995)/x.mkv"
    unsaved = test(path="/a/b/c", mappings=[{"from": "/a", "to": "/mnt/a"}])
    assert unsaved["output"] == "/mnt/a/b/c"
    for body, field in (
        ({"path": "relative/x", "player_id": player_id}, "path"),
        ({"path": "/x"}, "player_id"),
        ({"path": "/x", "mappings": [{"from": "x", "to": "/y"}]}, "path_mappings"),
    ):
        response = api.post("/api/v1/path-mappings/test", json=body)
        assert response.status_code == 422 and field in response.text, response.text
    assert (
        api.post("/api/v1/path-mappings/test", json={"path": "/x", "player_id": 99}).status_code
        == 404
    )


def test_library_auto_sync_switch(api: TestClient, library: tuple[int, Path]) -> None:
    library_id, _root = library
    assert api.get(f"/api/v1/libraries/{library_id}").json()["auto_sync"] is True
    changed = api.patch(f"/api/v1/libraries/{library_id}", json={"auto_sync": False})
    assert changed.status_code == 200 and changed.json()["auto_sync"] is False
    assert api.get(f"/api/v1/libraries/{library_id}").json()["auto_sync"] is False


# -- sync jobs -----------------------------------------------------------------------------


def test_sync_now_tells_jellyfin_and_plex_the_mapped_folder(
    api: TestClient,
    container: Container,
    jellyfin: FakeJellyfinServer,
    plex: FakePlexServer,
    library: tuple[int, Path],
) -> None:
    _library_id, root = library
    heat = movie_id(container, "Heat")
    assert api.post(f"/api/v1/movies/{heat}/sync").status_code == 409  # no player yet
    api.post("/api/v1/players", json=jellyfin_body(jellyfin, root))
    plex_body = {
        "name": "Plex",
        "type": "plex",
        "host": "127.0.0.1",
        "port": plex.port,
        "token": PLEX_TOKEN,
        "path_mappings": [{"from": str(root), "to": PLAYER_VIEW}],
    }
    assert api.post("/api/v1/players", json=plex_body).status_code == 201
    jellyfin.clear()
    plex.clear()

    accepted = api.post(f"/api/v1/movies/{heat}/sync")
    assert accepted.status_code == 202
    job_ids = accepted.json()["job_ids"]
    assert len(job_ids) == 2
    # asked twice before it ran: the queue keeps one job per player
    assert api.post(f"/api/v1/movies/{heat}/sync").json()["job_ids"] == job_ids
    assert run_jobs(container) == 2

    folder = f"{PLAYER_VIEW}/Heat (1995)"
    assert jellyfin.updates == [{"Updates": [{"Path": folder, "UpdateType": "Modified"}]}]
    assert plex.scans == [("2", folder)]
    for job_id in job_ids:
        row = job(container, job_id)
        assert row.status == JobStatus.SUCCEEDED and row.target.startswith("players:player:")
        assert row.result is not None and row.result["action"] == "requested"
        assert row.result["remote_path"] == folder
        assert row.result["rule"] == {"from": str(root), "to": PLAYER_VIEW}
    states = api.get(f"/api/v1/movies/{heat}/sync").json()
    assert {s["label"] for s in states} == {"Living room", "Plex"}
    assert all(s["status"] == "ok" and s["last_sync_at"] for s in states)
    assert api.get("/api/v1/movies/999999/sync").status_code == 404
    assert api.post("/api/v1/movies/999999/sync").status_code == 404


def test_a_player_down_defers_without_using_attempts_then_completes(
    api: TestClient, container: Container, jellyfin: FakeJellyfinServer, library: tuple[int, Path]
) -> None:
    _library_id, root = library
    api.post("/api/v1/players", json=jellyfin_body(jellyfin, root))
    port = jellyfin.port
    jellyfin.stop()
    [job_id] = api.post(f"/api/v1/movies/{movie_id(container, 'Heat')}/sync").json()["job_ids"]

    for _ in range(3):  # down: deferred each time, the breaker keeps it from trying again
        run_jobs(container)
        row = job(container, job_id)
        assert row.status == JobStatus.RETRY_SCHEDULED
        assert row.attempts == 0 and row.last_error is None
        assert row.progress_message is not None and "deferred" in row.progress_message
        time.sleep(0.25)
    [state] = api.get(f"/api/v1/movies/{movie_id(container, 'Heat')}/sync").json()
    assert state["status"] == "deferred" and "unreachable" in state["error"]

    with FakeJellyfinServer(port=port) as back:
        time.sleep(0.25)  # the breaker's cool-down
        run_jobs(container)
        row = job(container, job_id)
        assert row.status == JobStatus.SUCCEEDED and row.attempts == 1
        assert back.updates == [
            {"Updates": [{"Path": f"{PLAYER_VIEW}/Heat (1995)", "UpdateType": "Modified"}]}
        ]


def test_a_playing_player_is_not_disturbed(
    api: TestClient, container: Container, jellyfin: FakeJellyfinServer, library: tuple[int, Path]
) -> None:
    _library_id, root = library
    player = api.post("/api/v1/players", json=jellyfin_body(jellyfin, root)).json()
    jellyfin.play("Alien", f"{PLAYER_VIEW}/Alien (1979)/Alien (1979).mkv")
    heat = movie_id(container, "Heat")
    [job_id] = api.post(f"/api/v1/movies/{heat}/sync").json()["job_ids"]
    run_jobs(container)
    row = job(container, job_id)
    assert row.status == JobStatus.RETRY_SCHEDULED and row.attempts == 0
    assert "playing video" in (row.progress_message or "")
    assert jellyfin.updates == []
    # playback stops: the status check notices and resumes the job at once
    jellyfin.stop_playing()
    container.player_monitor.check_all()
    assert api.get(f"/api/v1/players/{player['id']}/status").json()["playing"] == []
    assert run_jobs(container) == 1
    assert job(container, job_id).status == JobStatus.SUCCEEDED
    assert len(jellyfin.updates) == 1
    # a player that may be disturbed is synced while playing
    api.patch(f"/api/v1/players/{player['id']}", json={"ignore_playing": True})
    jellyfin.play("Alien", f"{PLAYER_VIEW}/Alien (1979)/Alien (1979).mkv")
    api.post(f"/api/v1/movies/{heat}/sync")
    assert run_jobs(container) == 1 and len(jellyfin.updates) == 2


def test_in_a_group_the_first_healthy_member_syncs(
    api: TestClient, container: Container, library: tuple[int, Path]
) -> None:
    _library_id, root = library
    with FakeJellyfinServer() as first, FakeJellyfinServer() as second:
        api.post("/api/v1/players", json=jellyfin_body(first, root, name="A", group="shared"))
        api.post("/api/v1/players", json=jellyfin_body(second, root, name="B", group="shared"))
        heat = movie_id(container, "Heat")
        [job_id] = api.post(f"/api/v1/movies/{heat}/sync").json()["job_ids"]  # one per group
        assert job(container, job_id).target.startswith("players:group:")
        run_jobs(container)
        assert len(first.updates) == 1 and second.updates == []  # the first did the work
        first.fail(5)  # A fails (HTTP 503): B takes over
        [job_id] = api.post(f"/api/v1/movies/{heat}/sync").json()["job_ids"]
        run_jobs(container)
        row = job(container, job_id)
        assert row.status == JobStatus.SUCCEEDED and row.result is not None
        assert row.result["player"] == "B" and len(second.updates) == 1
        [state] = api.get(f"/api/v1/movies/{heat}/sync").json()
        assert state["label"] == "group shared" and state["status"] == "ok"
        # both down: deferred, nothing lost
        first.stop()
        second.stop()
        [job_id] = api.post(f"/api/v1/movies/{heat}/sync").json()["job_ids"]
        run_jobs(container)
        assert job(container, job_id).status == JobStatus.RETRY_SCHEDULED


def test_radarr_movie_delete_removes_the_movie_from_the_players(
    api: TestClient, container: Container, jellyfin: FakeJellyfinServer, library: tuple[int, Path]
) -> None:
    _library_id, root = library
    api.post("/api/v1/players", json=jellyfin_body(jellyfin, root))
    heat = movie_id(container, "Heat")
    add_mapping(api, root)
    data = payload("radarr_movie_deleted.json")
    data["movie"]["folderPath"] = f"{RADARR_ROOT}/Heat (1995)"
    body = post(api, data)
    assert body["status"] == "processed", body
    [action] = body["actions"]
    assert action["movie_id"] == heat and len(action["sync_job_ids"]) == 1
    assert run_jobs(container) == 1
    assert jellyfin.updates == [
        {"Updates": [{"Path": f"{PLAYER_VIEW}/Heat (1995)", "UpdateType": "Deleted"}]}
    ]
    [state] = api.get(f"/api/v1/movies/{heat}/sync").json()
    assert state["status"] == "ok" and state["action"] == "requested"


def test_after_publishing_a_library_job_fans_out_per_movie_and_player(
    api: TestClient, container: Container, jellyfin: FakeJellyfinServer, library: tuple[int, Path]
) -> None:
    library_id, root = library
    api.post("/api/v1/players", json=jellyfin_body(jellyfin, root))
    heat, alien = movie_id(container, "Heat"), movie_id(container, "Alien")
    # what publishing enqueues through chain.py when it changed files
    chained = container.queue.enqueue(
        "sync", f"library:{library_id}/", {"library_id": library_id, "movie_ids": [heat, alien]}
    )
    run_jobs(container)
    row = job(container, chained.id)
    assert row.status == JobStatus.SUCCEEDED and row.result is not None
    assert row.result["movies"] == 2 and len(row.result["job_ids"]) == 2
    assert sorted(u["Updates"][0]["Path"] for u in jellyfin.updates) == [
        f"{PLAYER_VIEW}/Alien (1979)",
        f"{PLAYER_VIEW}/Heat (1995)",
    ]
    # switched off for the library: nothing is sent
    api.patch(f"/api/v1/libraries/{library_id}", json={"auto_sync": False})
    off = container.queue.enqueue(
        "sync", f"library:{library_id}/", {"library_id": library_id, "movie_ids": [heat]}
    )
    run_jobs(container)
    assert job(container, off.id).result == {
        "skipped": "player sync is switched off for this library"
    }
    assert len(jellyfin.updates) == 2


def test_a_sync_waits_for_another_process_syncing_the_same_player(
    api: TestClient, container: Container, jellyfin: FakeJellyfinServer, library: tuple[int, Path]
) -> None:
    """On PostgreSQL another `metarr worker` process holding the player's lock defers the
    job (no second request goes to the player); SQLite has no worker processes."""
    _library_id, root = library
    player = api.post("/api/v1/players", json=jellyfin_body(jellyfin, root)).json()
    container.player_sync.lock_wait = 0.2
    heat = movie_id(container, "Heat")
    other = AdvisoryLock(container.db, player["id"])  # what the other process holds
    assert other.acquire()
    try:
        [job_id] = api.post(f"/api/v1/movies/{heat}/sync").json()["job_ids"]
        run_jobs(container)
        row = job(container, job_id)
        if container.db.backend == "postgresql":
            assert row.status == JobStatus.RETRY_SCHEDULED and row.attempts == 0
            assert "another process" in (row.progress_message or "")
            assert jellyfin.updates == []
            assert not AdvisoryLock(container.db, player["id"]).acquire(timeout=0.1)
        else:
            assert row.status == JobStatus.SUCCEEDED and len(jellyfin.updates) == 1
    finally:
        other.release()
    if container.db.backend == "postgresql":
        container.players.resume(f"player:{player['id']}")
        assert run_jobs(container) == 1
        assert job(container, job_id).status == JobStatus.SUCCEEDED
        assert len(jellyfin.updates) == 1
