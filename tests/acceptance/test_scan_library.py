"""End to end: a generated library scanned through the real HTTP API of a live server."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest

from metarr.testing.library_builder import LibraryBuilder
from tests.conftest import LiveServer


@pytest.fixture(scope="module")
def templates(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("templates")


def _wait(api: httpx.Client, scan_id: int) -> dict[str, object]:
    deadline = time.monotonic() + 120
    seen_running = False
    while time.monotonic() < deadline:
        body: dict[str, object] = api.get(f"/api/v1/scans/{scan_id}").json()
        seen_running |= body["status"] == "running"
        if body["status"] in ("succeeded", "failed", "cancelled"):
            return body
        time.sleep(0.02)
    raise AssertionError("scan did not finish")


def test_scan_generated_library_through_the_api(
    live_server: LiveServer, tmp_path: Path, templates: Path
) -> None:
    root = tmp_path / "Movies"
    b = LibraryBuilder(root, templates_dir=templates)
    b.bulk(40, nfo_ratio=0.75, subs_every=4, trailer_every=5, seed=3)
    b.movie("The Matrix", 1999, tmdb=603, imdb="tt0133093", kind="hdr10", subtitles=["en"])
    b.movie("Heat", 1995, nfo=False, folder_tag="{tmdb-949}")
    b.movie("Clash", 2001, nfo="conflict", tmdb=12)
    b.movie("Blu", 2010, disc="bluray", tmdb=66)

    with httpx.Client(
        base_url=live_server.url, headers={"X-Api-Key": live_server.container.api_key}, timeout=30
    ) as api:
        assert api.get("/api/v1/health").json()["status"] == "ok"
        resp = api.post(
            "/api/v1/libraries", json={"name": "Movies", "kind": "movies", "path": str(root)}
        )
        assert resp.status_code == 201, resp.text
        lib_id = resp.json()["id"]
        assert "x-request-id" in resp.headers

        resp = api.post(f"/api/v1/libraries/{lib_id}/scan")
        assert resp.status_code == 202
        scan_id = resp.json()["id"]
        assert resp.json()["status"] in ("queued", "running", "succeeded")
        done = _wait(api, scan_id)
        assert done["status"] == "succeeded", done
        stats = done["stats"]
        assert isinstance(stats, dict)
        assert stats["movies"] == 44 and stats["added"] == 44 and stats["probe_failed"] == 0

        page = api.get("/api/v1/movies", params={"library_id": lib_id, "limit": 500}).json()
        assert page["total"] == 44
        item = page["items"][0]
        assert set(item) >= {"id", "library_id", "title", "year", "status", "ids"}
        assert set(item["ids"]) == {"tmdb", "imdb", "tvdb"}
        statuses = {m["status"] for m in page["items"]}
        assert statuses == {"identified", "unidentified", "needs_review"}

        review = api.get("/api/v1/movies", params={"status": "needs_review"}).json()
        assert [m["title"] for m in review["items"]] == ["Clash"]
        unidentified = api.get("/api/v1/movies", params={"status": "unidentified"}).json()
        assert unidentified["total"] == 10  # the 25 % of the bulk without NFO
        assert api.get("/api/v1/movies", params={"q": "matrix"}).json()["total"] == 1
        assert api.get("/api/v1/movies", params={"limit": 5, "offset": 40}).json()["items"][0]

        matrix_id = api.get("/api/v1/movies", params={"q": "matrix"}).json()["items"][0]["id"]
        matrix = api.get(f"/api/v1/movies/{matrix_id}").json()
        assert matrix["ids"] == {"tmdb": 603, "imdb": "tt0133093", "tvdb": None}
        assert matrix["path"] == "The Matrix (1999)" and matrix["disc"] is None
        files = {f["path"]: f for f in matrix["files"]}
        main = files["The Matrix (1999)/The Matrix (1999).mkv"]
        assert main["kind"] == "video" and main["role"] == "main"
        assert files["The Matrix (1999)/The Matrix (1999).en.srt"]["language"] == "en"
        assert files["The Matrix (1999)/The Matrix (1999)-poster.jpg"]["role"] == "poster"
        video = next(s for s in matrix["streams"] if s["kind"] == "video")
        assert video["codec"] == "hevc" and video["hdr"] == "HDR10"
        assert matrix["metadata"]["title"] == {
            "value": "The Matrix",
            "source": "nfo",
            "updated_at": matrix["metadata"]["title"]["updated_at"],
            "locked": False,
        }

        heat = api.get("/api/v1/movies", params={"q": "heat"}).json()["items"][0]
        assert heat["ids"]["tmdb"] == 949 and heat["status"] == "identified"
        blu_id = api.get("/api/v1/movies", params={"q": "blu"}).json()["items"][0]["id"]
        assert api.get(f"/api/v1/movies/{blu_id}").json()["disc"] == "bluray"

        # a rescan with nothing changed touches nothing
        again = _wait(api, api.post(f"/api/v1/libraries/{lib_id}/scan").json()["id"])
        assert again["stats"]["unchanged"] == 44  # type: ignore[index]

        missing = api.get("/api/v1/movies/999999")
        assert missing.status_code == 404
        assert missing.headers["content-type"].startswith("application/problem+json")
        bad = api.get("/api/v1/movies", params={"status": "bogus"})
        assert bad.status_code == 422 and bad.json()["errors"][0]["field"].endswith("status")
