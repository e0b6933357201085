"""The publishing API on SQLite and PostgreSQL: publish, plan, settings, verification, the
recycle bin, problem+json errors, and Radarr's upgrade flow through the webhook."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from metarr.api.app import create_app
from metarr.bootstrap import Container
from metarr.db.tables import LockRow, MetadataFieldRow
from metarr.jobs.tables import JobRow
from metarr.nfo.reader import read_nfo
from metarr.testing.library_builder import LibraryBuilder
from tests.integration.publishing_env import (
    PublishEnv,
    ensure_sync_handler,
    image,
    sync_jobs,
    temp_leftovers,
    wait_jobs,
)

WEBHOOKS = Path(__file__).resolve().parents[1] / "fixtures" / "webhooks" / "radarr"
RADARR_ROOT = "/home36/adbtech/media/Movies"  # where the recorded Radarr kept its movies


@pytest.fixture(scope="module")
def templates(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("templates")


@pytest.fixture
def env(container: Container, tmp_path: Path, templates: Path) -> PublishEnv:
    root = (tmp_path / "library").resolve()
    root.mkdir()
    return PublishEnv(container, LibraryBuilder(root, templates_dir=templates), root)


@pytest.fixture
def api(container: Container) -> Iterator[TestClient]:
    """The app as `metarr serve` runs it (workers in the background)."""
    app = create_app(container, close_on_shutdown=False)
    with TestClient(app, headers={"X-Api-Key": container.api_key}) as tc:
        yield tc


def problem(resp: httpx.Response, status: int) -> dict[str, Any]:
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = resp.json()
    assert body["status"] == status
    return body


def accepted(resp: httpx.Response) -> list[int]:
    assert resp.status_code == 202, resp.text
    ids: list[int] = resp.json()["job_ids"]
    assert ids and all(isinstance(i, int) for i in ids)
    return ids


def enriched_movie(env: PublishEnv) -> int:
    env.builder.movie("Heat", 1995, tmdb=949, artwork=())
    env.create_library()
    env.scan()
    movie = env.movie_id("Heat (1995)")
    env.seed(movie, {"poster": [image((1, 2, 3))], "fanart": [image((4, 5, 6), (64, 36))]})
    return movie


def test_publish_plan_and_settings(api: TestClient, env: PublishEnv) -> None:
    movie = enriched_movie(env)

    plan = api.get(f"/api/v1/movies/{movie}/publish/plan").json()
    assert plan["summary"] == {"create": 2, "replace": 1, "remove": 0, "keep": 0}
    assert {e["path"]: e["action"] for e in plan["entries"]} == {
        "Heat (1995)/Heat (1995).nfo": "replace",  # the builder's NFO: not Metarr's
        "Heat (1995)/Heat (1995)-poster.jpg": "create",
        "Heat (1995)/Heat (1995)-fanart.jpg": "create",
    }
    assert not (env.root / "Heat (1995)" / "Heat (1995)-poster.jpg").exists()  # a dry run

    accepted(api.post(f"/api/v1/movies/{movie}/publish"))
    wait_jobs(env.container)
    plan = api.get(f"/api/v1/movies/{movie}/publish/plan").json()
    assert plan["summary"] == {"create": 0, "replace": 0, "remove": 0, "keep": 3}
    assert plan["profile"] == "kodi" and plan["skipped"] is None

    settings = api.get(f"/api/v1/libraries/{env.library_id}/publish-settings").json()
    assert settings == {
        "library_id": env.library_id,
        "profile": "kodi",
        "hardlinks": False,
        "verify_repair": True,
        "hardlinks_possible": True,
    }
    patched = api.patch(
        f"/api/v1/libraries/{env.library_id}/publish-settings",
        json={"profile": "jellyfin", "hardlinks": True},
    ).json()
    assert (patched["profile"], patched["hardlinks"], patched["verify_repair"]) == (
        "jellyfin",
        True,
        True,
    )
    [job] = accepted(api.post(f"/api/v1/libraries/{env.library_id}/publish", json={}))
    wait_jobs(env.container)
    assert api.get(f"/api/v1/jobs/{job}").json()["status"] == "succeeded"
    folder = env.root / "Heat (1995)"
    poster = folder / "poster.jpg"
    assert poster.exists() and not (folder / "Heat (1995)-poster.jpg").exists()
    cached = env.container.enrichment.cache.path_of(env.records()["Heat (1995)/poster.jpg"].sha256)
    assert poster.stat().st_ino == cached.stat().st_ino  # hard-linked from the cache
    assert temp_leftovers(env.root) == []


def test_verification_and_recycle_bin_api(api: TestClient, env: PublishEnv) -> None:
    movie = enriched_movie(env)
    accepted(api.post(f"/api/v1/movies/{movie}/publish"))
    wait_jobs(env.container)
    poster = env.root / "Heat (1995)" / "Heat (1995)-poster.jpg"
    poster.unlink()

    accepted(api.post(f"/api/v1/libraries/{env.library_id}/verify", json={"repair": False}))
    wait_jobs(env.container)
    [run] = api.get("/api/v1/verification", params={"library_id": env.library_id}).json()["runs"]
    assert [(f["kind"], f["repaired"]) for f in run["findings"]] == [("missing", False)]
    assert not poster.exists()
    accepted(api.post(f"/api/v1/movies/{movie}/verify"))
    wait_jobs(env.container)
    runs = api.get("/api/v1/verification", params={"movie_id": movie}).json()["runs"]
    assert runs[0]["findings"][0]["repaired"] is True
    assert runs[0]["findings"][0]["repair"] == "written again from the cache"
    assert poster.exists()

    page = api.get("/api/v1/recycle-bin", params={"library_id": env.library_id}).json()
    assert page["total"] == 1
    [entry] = page["items"]
    assert entry["reason"] == "replaced" and entry["rel_path"] == "Heat (1995)/Heat (1995).nfo"
    nfo = env.root / "Heat (1995)" / "Heat (1995).nfo"
    ours = nfo.read_bytes()
    restored = api.post(f"/api/v1/recycle-bin/{entry['id']}/restore")
    assert restored.status_code == 200, restored.text
    assert restored.json()["path"] == str(nfo)
    assert nfo.read_bytes() != ours and read_nfo(nfo.read_bytes()).ids.tmdb == 949
    page = api.get("/api/v1/recycle-bin").json()
    assert [i["reason"] for i in page["items"]] == ["restore"]  # Metarr's NFO, displaced
    gone = api.delete(f"/api/v1/recycle-bin/{page['items'][0]['id']}")
    assert gone.status_code == 204
    assert api.get("/api/v1/recycle-bin").json() == {"items": [], "total": 0}


def test_restore_into_an_unwritable_place_is_a_conflict(api: TestClient, env: PublishEnv) -> None:
    movie = enriched_movie(env)
    accepted(api.post(f"/api/v1/movies/{movie}/publish"))
    wait_jobs(env.container)
    nfo = env.root / "Heat (1995)" / "Heat (1995).nfo"
    [entry] = api.get("/api/v1/recycle-bin").json()["items"]  # the NFO publishing replaced
    assert entry["rel_path"] == "Heat (1995)/Heat (1995).nfo"
    # the movie's folder is now a file: the restore cannot create anything there
    shutil.rmtree(nfo.parent)
    nfo.parent.write_bytes(b"not a folder")
    body = problem(api.post(f"/api/v1/recycle-bin/{entry['id']}/restore"), 409)
    assert str(nfo) in body["detail"] and body["code"] == "conflict"
    assert nfo.parent.read_bytes() == b"not a folder"
    after = api.get("/api/v1/recycle-bin", params={"library_id": env.library_id}).json()
    assert entry["id"] in [i["id"] for i in after["items"]]  # still in the bin


def test_errors_are_problem_json(api: TestClient, env: PublishEnv) -> None:
    env.create_library()
    missing = 987654
    for method, url in [
        ("post", f"/api/v1/movies/{missing}/publish"),
        ("get", f"/api/v1/movies/{missing}/publish/plan"),
        ("post", f"/api/v1/movies/{missing}/verify"),
        ("post", f"/api/v1/libraries/{missing}/publish"),
        ("post", f"/api/v1/libraries/{missing}/verify"),
        ("get", f"/api/v1/libraries/{missing}/publish-settings"),
        ("post", f"/api/v1/recycle-bin/{missing}/restore"),
        ("delete", f"/api/v1/recycle-bin/{missing}"),
    ]:
        problem(getattr(api, method)(url), 404)
    for method, url, body in [
        ("post", "/api/v1/movies/0/publish", None),
        ("get", "/api/v1/movies/99999999999999999999/publish/plan", None),
        ("get", "/api/v1/recycle-bin?limit=0", None),
        ("get", "/api/v1/verification?library_id=-1", None),
        ("post", f"/api/v1/libraries/{env.library_id}/publish", {"unknown": 1}),
        ("post", f"/api/v1/libraries/{env.library_id}/verify", {"repair": "maybe"}),
        ("patch", f"/api/v1/libraries/{env.library_id}/publish-settings", {"profile": "plex"}),
        ("patch", f"/api/v1/libraries/{env.library_id}/publish-settings", {"colour": "red"}),
    ]:
        kwargs = {"json": body} if body is not None else {}
        problem(api.request(method.upper(), url, **kwargs), 422)
    problem(api.post("/api/v1/movies/1/publish", headers={"X-Api-Key": "wrong"}), 401)


def test_radarr_upgrade_republishes_under_the_new_name(api: TestClient, env: PublishEnv) -> None:
    """Download with isUpgrade -> rescan of the folder -> same movie, metadata, locks and cache
    -> published under the new basename, old names in the recycle bin -> sync follows."""
    folder = env.builder.movie("Greenland", 2020, nfo=False, artwork=())
    env.create_library(auto_enrich=False, auto_publish=True)
    ensure_sync_handler(env.container)
    mapping = api.post(
        "/api/v1/webhooks/path-mappings",
        json={"source": "radarr", "from_path": RADARR_ROOT, "to_path": str(env.root)},
    )
    assert mapping.status_code == 201, mapping.text
    recorded = json.loads((WEBHOOKS / "radarr_movie_imported_upgrade.json").read_text("utf-8"))
    first = {**recorded, "isUpgrade": False}
    del first["deletedFiles"]
    assert api.post("/api/v1/webhooks/radarr", json=first).status_code == 200
    wait_jobs(env.container)
    movie = env.movie_id("Greenland (2020)")
    # what enrichment would have left, plus a person's locked edit
    seeded = env.seed(
        movie,
        {"poster": [image((9, 9, 9))], "fanart": [image((8, 8, 8), (64, 36))]},
        cast=[("Gerard Butler", image((7, 7, 7), (30, 45)))],
    )
    env.container.edit.patch(movie, {"title": "Greenland", "plot": "A person's plot."})
    accepted(api.post(f"/api/v1/movies/{movie}/publish"))
    wait_jobs(env.container)
    old = {"Greenland (2020).nfo", "Greenland (2020)-poster.jpg", "Greenland (2020)-fanart.jpg"}
    assert old <= {p.name for p in folder.iterdir()}
    synced_before = len(sync_jobs(env.container))

    # Radarr replaces the 720p file with the 1080p one, then calls the webhook
    (folder / "Greenland (2020).mkv").unlink()
    env.builder.video(folder / "Greenland (2020) WEBRip-1080p.mkv")
    response = api.post("/api/v1/webhooks/radarr", json=recorded)
    assert response.status_code == 200 and "an upgrade" in response.json()["outcome"]
    wait_jobs(env.container)

    assert env.movie_id("Greenland (2020)") == movie  # the same movie
    base = "Greenland (2020) WEBRip-1080p"
    names = {p.name for p in folder.iterdir()}
    assert {f"{base}.nfo", f"{base}-poster.jpg", f"{base}-fanart.jpg", ".actors"} <= names
    headshot = folder / ".actors" / "Gerard_Butler.jpg"  # not named after the video: kept
    assert headshot.read_bytes() == env.cached(seeded.actors["Gerard Butler"])
    assert not old & names
    assert (folder / f"{base}-poster.jpg").read_bytes() == env.cached(seeded.art["poster"][0])
    doc = read_nfo((folder / f"{base}.nfo").read_bytes())
    assert (doc.info.title, doc.info.plot, doc.ids.tmdb) == (
        "Greenland",
        "A person's plot.",
        524047,
    )
    items = api.get("/api/v1/recycle-bin", params={"movie_id": movie}).json()["items"]
    removed = {i["rel_path"].split("/")[-1] for i in items if i["reason"] == "removed"}
    assert removed == old
    with env.container.db.session() as s:
        locks = set(s.scalars(select(LockRow.target).where(LockRow.movie_id == movie)))
        plot = s.scalar(
            select(MetadataFieldRow.value).where(
                MetadataFieldRow.movie_id == movie, MetadataFieldRow.field == "plot"
            )
        )
        publish_jobs = list(s.scalars(select(JobRow).where(JobRow.type == "publish")))
    assert {"title", "plot"} <= locks and plot == "A person's plot."
    assert publish_jobs[-1].target == f"library:{env.library_id}/Greenland (2020)"
    # the next phase was triggered, for exactly this movie
    assert sync_jobs(env.container)[synced_before:] == [
        {"library_id": env.library_id, "movie_ids": [movie]}
    ]
    assert temp_leftovers(env.root) == []
