"""Radarr/Sonarr webhooks through the HTTP API, on SQLite and PostgreSQL.

Payloads are the recorded ones in tests/fixtures/webhooks/ (copies of the shared
fixtures; provenance in /work/shared/fixtures/README.md): zulip's Radarr v3 /
Sonarr v3 captures plus constructed current-shape Test events.
"""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import func, select

from metarr.api.app import create_app
from metarr.bootstrap import Container
from metarr.db.tables import MediaFileRow, MovieRow, ScanRunRow
from metarr.db.tables_events import ActivityRow, ManagerPathMappingRow, WebhookEventRow
from metarr.services.browse import MovieQuery
from metarr.testing.library_builder import LibraryBuilder

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "webhooks"
RADARR_ROOT = "/home36/adbtech/media/Movies"  # where the recorded Radarr kept its movies
KEY = {"X-Api-Key": "test-key"}
EVENT_TABLES = [ActivityRow.__table__, WebhookEventRow.__table__, ManagerPathMappingRow.__table__]


@pytest.fixture
def wired(container: Container) -> Container:
    """The container as bootstrap builds it (webhook and activity services wired)."""
    return container


@pytest.fixture
def api(wired: Container) -> Iterator[TestClient]:
    """The app as `metarr serve` runs it."""
    app = create_app(wired, close_on_shutdown=False)
    with TestClient(app) as tc:
        yield tc


@pytest.fixture(scope="module")
def templates(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("templates")


@pytest.fixture
def lib_root(tmp_path: Path) -> Path:
    root = tmp_path / "library"
    root.mkdir()
    return root.resolve()


@pytest.fixture
def builder(lib_root: Path, templates: Path) -> LibraryBuilder:
    return LibraryBuilder(lib_root, templates_dir=templates)


def payload(name: str, **changes: Any) -> dict[str, Any]:
    source = "sonarr" if name.startswith("sonarr") else "radarr"
    data: dict[str, Any] = json.loads((FIXTURES / source / name).read_text(encoding="utf-8"))
    data.update(changes)
    return data


def post(api: TestClient, data: dict[str, Any], source: str = "radarr") -> dict[str, Any]:
    response = api.post(f"/api/v1/webhooks/{source}", json=data, headers=KEY)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def add_mapping(api: TestClient, to_path: Path, from_path: str = RADARR_ROOT) -> None:
    response = api.post(
        "/api/v1/webhooks/path-mappings",
        json={"source": "radarr", "from_path": from_path, "to_path": str(to_path)},
        headers=KEY,
    )
    assert response.status_code == 201, response.text


def activities(container: Container, kind: str | None = None) -> list[ActivityRow]:
    with container.db.session() as s:
        query = select(ActivityRow).order_by(ActivityRow.id)
        if kind is not None:
            query = query.where(ActivityRow.kind == kind)
        return list(s.scalars(query))


def event_count(container: Container) -> int:
    with container.db.session() as s:
        return int(s.scalar(select(func.count()).select_from(WebhookEventRow)) or 0)


def scan_count(container: Container) -> int:
    with container.db.session() as s:
        return int(s.scalar(select(func.count()).select_from(ScanRunRow)) or 0)


def movie_row(container: Container, movie_id: int) -> MovieRow:
    with container.db.session() as s:
        row = s.get(MovieRow, movie_id)
        assert row is not None
        return row


def full_scan(container: Container, library_id: int) -> None:
    run, _ = container.scans.create(library_id)
    assert container.scans.run(run.id).status == "succeeded"


# -- every recorded payload -------------------------------------------------------------

SCAN = ("processed", "webhook.received", "info")
SCANNED = {
    "radarr_movie_file_deleted.json",
    "radarr_movie_imported.json",
    "radarr_movie_imported_upgrade.json",
    "radarr_movie_renamed.json",
}
EXPECTED: dict[str, tuple[str, str, str]] = {
    "radarr_application_update.json": ("processed", "application.update", "info"),
    "radarr_health_check_error.json": ("processed", "health.issue", "error"),
    "radarr_health_check_warning.json": ("processed", "health.issue", "warning"),
    "radarr_movie_added.json": ("processed", "movie.added", "info"),
    # MovieDelete of a movie Metarr never scanned: nothing to mark deleted
    "radarr_movie_deleted.json": ("ignored", "movie.deleted", "warning"),
    "radarr_movie_file_deleted.json": SCAN,
    "radarr_movie_grabbed.json": ("processed", "download.grabbed", "info"),
    "radarr_movie_imported.json": SCAN,
    "radarr_movie_imported_upgrade.json": SCAN,
    "radarr_movie_renamed.json": SCAN,
    "radarr_test.json": ("processed", "webhook.received", "info"),
    "radarr_test_current_source.json": ("processed", "webhook.received", "info"),
    **{
        p.name: ("ignored", "webhook.received", "info")
        for p in sorted((FIXTURES / "sonarr").glob("*.json"))
    },
}


def test_expectations_cover_every_fixture() -> None:
    assert set(EXPECTED) == {p.name for p in FIXTURES.glob("*/*.json")}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_every_recorded_payload_is_accepted_and_stored(
    api: TestClient, wired: Container, lib_root: Path, name: str
) -> None:
    lib = wired.libraries.create(name="Movies", kind="movies", path=str(lib_root))
    add_mapping(api, lib_root)
    data = payload(name)
    folder = (data.get("movie") or {}).get("folderPath", "")
    if folder.startswith(RADARR_ROOT):  # the movie's folder exists on Metarr's side
        (lib_root / folder.rsplit("/", 1)[1]).mkdir()
    source = "sonarr" if name.startswith("sonarr") else "radarr"
    raw = (FIXTURES / source / name).read_bytes()

    response = api.post(
        f"/api/v1/webhooks/{source}",
        content=raw,
        headers={**KEY, "Content-Type": "application/json"},
    )

    assert response.status_code == 200, response.text
    body = response.json()
    status, kind, level = EXPECTED[name]
    assert body["status"] == status, body
    detail = api.get(f"/api/v1/webhooks/events/{body['id']}", headers=KEY).json()
    assert detail["source"] == source
    assert detail["event_type"] == data["eventType"]
    assert detail["raw_body"] == raw.decode("utf-8")
    assert detail["body_size"] == len(raw)
    assert detail["payload"] == data
    assert detail["status"] == status and detail["processed_at"] is not None
    assert detail["remote_addr"] == "testclient"
    assert detail["outcome"] == body["outcome"]
    # the scan a webhook queues records its own activity entry when it finishes
    entries = [a for a in activities(wired) if not a.kind.startswith("scan.")]
    assert [(a.kind, a.level) for a in entries] == [(kind, level)]
    assert entries[0].data is not None and entries[0].data["webhook_event_id"] == body["id"]
    if name in SCANNED:
        scope = folder.rsplit("/", 1)[1]
        [action] = body["actions"]
        assert action["action"] == "scan" and action["scope"] == scope
        assert action["library_id"] == lib.id
        run = wired.scans.get(action["scan_id"])
        assert (run.trigger, run.scope, run.library_id) == ("webhook", scope, lib.id)
        assert detail["scan_ids"] == [run.id]
        assert entries[0].library_id == lib.id
        wired.scans.wait_idle()
    else:
        assert scan_count(wired) == 0
    if source == "sonarr":
        assert "TV handling comes later" in body["outcome"]


# -- authentication ---------------------------------------------------------------------


def basic(user: str, password: str) -> dict[str, str]:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


def test_authentication(api: TestClient, wired: Container) -> None:
    data = payload("radarr_test.json")
    url = "/api/v1/webhooks/radarr"

    def refused(**kw: Any) -> None:
        response = api.post(url, json=data, **kw)
        assert response.status_code == 401, response.text
        assert response.headers["www-authenticate"] == 'Basic realm="metarr"'
        assert response.headers["content-type"].startswith("application/problem+json")
        assert response.json()["code"] == "authentication_failed"

    refused()
    refused(headers={"X-Api-Key": "wrong"})
    refused(params={"apikey": "wrong"})
    refused(headers=basic("radarr", "wrong"))
    refused(headers=basic("radarr", "s3cret"))  # no webhook credentials configured yet
    refused(headers={"Authorization": "Basic !!!not-base64"})
    refused(headers={"Authorization": "Bearer test-key"})
    assert event_count(wired) == 0

    assert api.post(url, json=data, headers=KEY).status_code == 200
    assert api.post(url, json=data, params={"apikey": "test-key"}).status_code == 200
    assert api.post(url, json=data, headers=basic("anyone", "test-key")).status_code == 200
    assert api.post(url, json=data, headers=basic("", "test-key")).status_code == 200

    wired.settings.webhook_username = "radarr"
    wired.settings.webhook_password = SecretStr("s3cret")
    assert api.post(url, json=data, headers=basic("radarr", "s3cret")).status_code == 200
    refused(headers=basic("radarr", "wrong"))
    refused(headers=basic("sonarr", "s3cret"))
    assert event_count(wired) == 5


def test_event_log_and_mappings_need_the_api_key(api: TestClient) -> None:
    for path in ("/api/v1/webhooks/events", "/api/v1/webhooks/path-mappings", "/api/v1/activity"):
        assert api.get(path).status_code == 401
        assert api.get(path, headers=basic("x", "test-key")).status_code == 401
        assert api.get(path, headers=KEY).status_code == 200


def test_unknown_source_is_404(api: TestClient, wired: Container) -> None:
    response = api.post("/api/v1/webhooks/plex", json=payload("radarr_test.json"), headers=KEY)
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("application/problem+json")
    assert event_count(wired) == 0


# -- refused bodies ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [b"{not json", b"", b"[]", b'"Test"', b'{"movie": {}}', b'{"eventType": "Test", "n": NaN}'],
)
def test_malformed_body_is_400_and_not_stored(
    api: TestClient, wired: Container, body: bytes
) -> None:
    response = api.post(
        "/api/v1/webhooks/radarr",
        content=body,
        headers={**KEY, "Content-Type": "application/json"},
    )
    assert response.status_code == 400
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["code"] == "invalid_payload"
    assert event_count(wired) == 0
    [entry] = activities(wired)
    assert (entry.kind, entry.level) == ("webhook.rejected", "warning")
    assert entry.message.startswith("Radarr webhook rejected")


def test_oversized_body_is_413_and_not_stored(api: TestClient, wired: Container) -> None:
    big = json.dumps({"eventType": "Test", "padding": "x" * 1_100_000}).encode()
    response = api.post(
        "/api/v1/webhooks/radarr", content=big, headers={**KEY, "Content-Type": "application/json"}
    )
    assert response.status_code == 413
    assert event_count(wired) == 0


def test_utf16_body_is_stored_as_text(api: TestClient, wired: Container) -> None:
    text = json.dumps({"eventType": "Grab", "movie": {"title": "Amélie", "year": 2001}})
    response = api.post(
        "/api/v1/webhooks/radarr",
        content=text.encode("utf-16"),
        headers={**KEY, "Content-Type": "application/json"},
    )
    assert response.status_code == 200, response.text
    detail = api.get(f"/api/v1/webhooks/events/{response.json()['id']}", headers=KEY).json()
    assert detail["raw_body"].lstrip("\ufeff") == text
    assert activities(wired)[0].message == "Radarr grabbed Amélie (2001)"


def test_openapi_documents_the_endpoints(api: TestClient) -> None:
    paths = api.get("/api/v1/openapi.json").json()["paths"]
    for source in ("radarr", "sonarr", "lidarr"):
        assert "post" in paths[f"/api/v1/webhooks/{source}"]
    assert "get" in paths["/api/v1/webhooks/events"]
    assert "get" in paths["/api/v1/webhooks/events/{event_id}"]
    assert {"get", "post"} <= set(paths["/api/v1/webhooks/path-mappings"])
    assert "delete" in paths["/api/v1/webhooks/path-mappings/{mapping_id}"]
    assert "get" in paths["/api/v1/activity"]


def test_unexpected_shape_is_stored_as_failed(api: TestClient, wired: Container) -> None:
    body = post(api, {"eventType": "Download", "movie": "not an object"})
    assert body["status"] == "failed"
    assert "movie" in body["outcome"]
    assert event_count(wired) == 1
    assert [a.kind for a in activities(wired)] == ["webhook.failed"]


def test_unknown_event_type_is_stored_and_ignored(api: TestClient, wired: Container) -> None:
    body = post(api, {"eventType": "SomethingNew", "instanceName": "Radarr"})
    assert body["status"] == "ignored" and body["actions"] == []
    body = post(api, {"eventType": "Download"}, source="lidarr")
    assert body["status"] == "ignored" and "Music handling comes later" in body["outcome"]
    assert event_count(wired) == 2


def test_nul_characters_survive_storage(api: TestClient, wired: Container) -> None:
    body = post(api, {"eventType": "Grab", "movie": {"title": "Nu\u0000ll", "year": 2001}})
    assert body["status"] == "processed"
    detail = api.get(f"/api/v1/webhooks/events/{body['id']}", headers=KEY).json()
    assert detail["payload"]["movie"]["title"] == "Nu\u0000ll"
    assert activities(wired)[0].message == "Radarr grabbed Null (2001)"


# -- Radarr flows on a real library -----------------------------------------------------


def test_download_scans_only_that_folder_with_the_payload_ids(
    api: TestClient, wired: Container, builder: LibraryBuilder, lib_root: Path
) -> None:
    builder.movie("Batman v Superman: Dawn of Justice", 2016, nfo=False)
    builder.movie("Never Scanned", 2001, nfo=False)
    assert (lib_root / "Batman v Superman - Dawn of Justice (2016)").is_dir()
    lib = wired.libraries.create(name="Movies", kind="movies", path=str(lib_root))
    add_mapping(api, lib_root)
    data = payload("radarr_movie_imported.json")
    data["movie"]["folderPath"] = f"{RADARR_ROOT}/Batman v Superman - Dawn of Justice (2016)"

    body = post(api, data)
    assert body["status"] == "processed", body
    wired.scans.wait_idle()

    run = wired.scans.get(body["actions"][0]["scan_id"])
    assert run.status == "succeeded", run.error
    page = wired.browse.movies(MovieQuery(library_id=lib.id, limit=10))
    assert [m.title for m in page.items] == ["Batman v Superman - Dawn of Justice"]
    movie = wired.browse.movie(page.items[0].id)
    assert movie.summary.ids["tmdb"] == 209112
    assert movie.summary.ids["imdb"] == "tt2975590"
    assert movie.id_sources == {"tmdb": "webhook", "imdb": "webhook"}
    assert movie.summary.status == "identified"
    with wired.db.session() as s:
        paths = list(s.scalars(select(MediaFileRow.path)))
    assert paths and all(p.startswith("Batman v Superman - Dawn of Justice (2016)/") for p in paths)


def test_upgrade_keeps_the_movie_and_its_ids(
    api: TestClient, wired: Container, builder: LibraryBuilder, lib_root: Path
) -> None:
    folder = builder.movie("Greenland", 2020, nfo=False)
    wired.libraries.create(name="Movies", kind="movies", path=str(lib_root))
    add_mapping(api, lib_root)
    first = payload("radarr_movie_imported_upgrade.json", isUpgrade=False)
    del first["deletedFiles"]
    post(api, first)
    wired.scans.wait_idle()
    [movie] = wired.browse.movies(MovieQuery(limit=10)).items
    assert movie.ids["tmdb"] == 524047 and movie.ids["imdb"] == "tt7737786"

    # Radarr replaces the 720p file with the 1080p one, then calls the webhook
    (folder / "Greenland (2020).mkv").unlink()
    builder.video(folder / "Greenland (2020) WEBRip-1080p.mkv")
    body = post(api, payload("radarr_movie_imported_upgrade.json"))
    assert body["status"] == "processed"
    assert "an upgrade of Greenland (2020)" in body["outcome"]
    wired.scans.wait_idle()

    [after] = wired.browse.movies(MovieQuery(limit=10)).items
    assert after.id == movie.id
    assert after.ids == movie.ids
    detail = wired.browse.movie(after.id)
    videos = [f["path"] for f in detail.files if f["kind"] == "video"]
    assert videos == ["Greenland (2020)/Greenland (2020) WEBRip-1080p.mkv"]
    assert movie_row(wired, after.id).deleted_at is None


def test_movie_delete_soft_deletes(
    api: TestClient, wired: Container, builder: LibraryBuilder, lib_root: Path
) -> None:
    folder = builder.movie("Batman v Superman: Dawn of Justice", 2016, nfo=False)
    lib = wired.libraries.create(name="Movies", kind="movies", path=str(lib_root))
    full_scan(wired, lib.id)
    [movie] = wired.browse.movies(MovieQuery(limit=10)).items
    add_mapping(api, lib_root)
    data = payload("radarr_movie_deleted.json")
    data["movie"]["folderPath"] = f"{RADARR_ROOT}/{folder.name}"

    body = post(api, data)

    assert body["status"] == "processed", body
    assert body["actions"] == [
        {"action": "soft_delete", "library_id": lib.id, "movie_id": movie.id}
    ]
    assert movie_row(wired, movie.id).deleted_at is not None
    assert wired.browse.movies(MovieQuery(limit=10)).items == []
    assert any(folder.iterdir())  # files on disk untouched
    [entry] = activities(wired, "movie.deleted")
    assert (entry.movie_id, entry.library_id) == (movie.id, lib.id)
    assert scan_count(wired) == 1  # no scan: only the one above

    again = post(api, data)
    assert again["status"] == "ignored"
    assert "already deleted" in again["outcome"]


def test_movie_delete_finds_the_movie_by_tmdb_id(
    api: TestClient, wired: Container, builder: LibraryBuilder, lib_root: Path
) -> None:
    builder.movie("Dawn of Justice", 2016, tmdb=209112)  # named differently than in Radarr
    builder.movie("Bystander", 2016, tmdb=1)
    lib = wired.libraries.create(name="Movies", kind="movies", path=str(lib_root))
    full_scan(wired, lib.id)
    add_mapping(api, lib_root)

    body = post(api, payload("radarr_movie_deleted.json"))

    assert body["status"] == "processed", body
    remaining = wired.browse.movies(MovieQuery(limit=10)).items
    assert [m.title for m in remaining] == ["Bystander"]


def test_movie_file_delete(
    api: TestClient, wired: Container, builder: LibraryBuilder, lib_root: Path
) -> None:
    folder = builder.movie("Marley & Me", 2008, nfo=False)
    lib = wired.libraries.create(name="Movies", kind="movies", path=str(lib_root))
    full_scan(wired, lib.id)
    [movie] = wired.browse.movies(MovieQuery(limit=10)).items
    before = wired.browse.movie(movie.id)
    add_mapping(api, lib_root)

    # an upgrade deletes the old file first: nothing changes, nothing is scanned
    body = post(api, payload("radarr_movie_file_deleted.json", deleteReason="upgrade"))
    assert body["status"] == "ignored"
    assert "upgrade in progress, metadata kept" in body["outcome"]
    assert scan_count(wired) == 1
    assert wired.browse.movie(movie.id) == before

    # a file gone for another reason: the folder is rescanned, the movie marked gone
    (folder / "Marley & Me (2008).mkv").unlink()
    body = post(api, payload("radarr_movie_file_deleted.json"))
    assert body["status"] == "processed"
    assert "(missingFromDisk)" in body["outcome"]
    wired.scans.wait_idle()
    assert wired.scans.get(body["actions"][0]["scan_id"]).scope == "Marley & Me (2008)"
    assert movie_row(wired, movie.id).deleted_at is not None


def test_folder_outside_every_library_is_ignored_with_a_tip(
    api: TestClient, wired: Container, lib_root: Path
) -> None:
    wired.libraries.create(name="Movies", kind="movies", path=str(lib_root))
    body = post(api, payload("radarr_movie_imported.json"))
    assert body["status"] == "ignored"
    assert f"{RADARR_ROOT}/Batman v Superman- Dawn of Justice (2016)" in body["outcome"]
    assert "path mapping" in body["outcome"]
    assert scan_count(wired) == 0
    [entry] = activities(wired)
    assert entry.level == "warning"

    # mapped into the library, but the folder is not there (yet)
    add_mapping(api, lib_root)
    body = post(api, payload("radarr_movie_imported.json"))
    assert body["status"] == "ignored"
    assert "does not exist here" in body["outcome"]
    assert scan_count(wired) == 0


def test_disabled_library_is_not_scanned(api: TestClient, wired: Container, lib_root: Path) -> None:
    wired.libraries.create(name="Movies", kind="movies", path=str(lib_root), enabled=False)
    add_mapping(api, lib_root)
    (lib_root / "Greenland (2020)").mkdir()
    body = post(api, payload("radarr_movie_imported_upgrade.json"))
    assert body["status"] == "ignored"
    assert "disabled" in body["outcome"]
    assert scan_count(wired) == 0


def test_windows_radarr_paths(
    api: TestClient, wired: Container, builder: LibraryBuilder, lib_root: Path
) -> None:
    builder.movie("Greenland", 2020, nfo=False)
    lib = wired.libraries.create(name="Movies", kind="movies", path=str(lib_root))
    add_mapping(api, lib_root, from_path="D:\\Media\\Movies\\")
    data = payload("radarr_movie_imported_upgrade.json")
    data["movie"]["folderPath"] = "D:\\Media\\Movies\\Greenland (2020)"
    body = post(api, data)
    assert body["status"] == "processed", body
    assert body["actions"][0]["scope"] == "Greenland (2020)"
    assert body["actions"][0]["library_id"] == lib.id
    wired.scans.wait_idle()


# -- the event log and path mappings API ------------------------------------------------


def test_event_log_listing(api: TestClient, wired: Container) -> None:
    for name in ("radarr_test.json", "radarr_movie_grabbed.json", "radarr_test.json"):
        post(api, payload(name))
    post(api, payload("sonarr_test.json"), source="sonarr")

    page = api.get("/api/v1/webhooks/events", headers=KEY).json()
    assert page["total"] == 4
    assert [e["event_type"] for e in page["items"]] == ["Test", "Test", "Grab", "Test"]
    assert "raw_body" not in page["items"][0]
    radarr_tests = api.get(
        "/api/v1/webhooks/events",
        params={"source": "radarr", "event_type": "Test", "limit": 1, "offset": 1},
        headers=KEY,
    ).json()
    assert radarr_tests["total"] == 2 and len(radarr_tests["items"]) == 1
    assert radarr_tests["items"][0]["id"] == page["items"][3]["id"]
    ignored = api.get("/api/v1/webhooks/events?status=ignored", headers=KEY).json()
    assert [e["source"] for e in ignored["items"]] == ["sonarr"]

    assert api.get("/api/v1/webhooks/events/999999", headers=KEY).status_code == 404
    bad = api.get("/api/v1/webhooks/events?source=plex", headers=KEY)
    assert bad.status_code == 422
    assert api.get("/api/v1/webhooks/events?status=nope", headers=KEY).status_code == 422
    assert api.get("/api/v1/webhooks/events?limit=0", headers=KEY).status_code == 422


def test_path_mapping_api(api: TestClient, tmp_path: Path) -> None:
    target = tmp_path / "movies"
    target.mkdir()
    url = "/api/v1/webhooks/path-mappings"
    created = api.post(
        url,
        json={"source": "radarr", "from_path": "D:\\Movies\\", "to_path": str(target)},
        headers=KEY,
    )
    assert created.status_code == 201, created.text
    mapping = created.json()
    assert mapping["from_path"] == "D:/Movies"
    assert mapping["to_path"] == str(target.resolve())
    api.post(
        url,
        json={"source": "sonarr", "from_path": "/tv", "to_path": str(target)},
        headers=KEY,
    ).raise_for_status()
    assert len(api.get(url, headers=KEY).json()) == 2
    assert [m["source"] for m in api.get(url, params={"source": "sonarr"}, headers=KEY).json()] == [
        "sonarr"
    ]

    duplicate = api.post(
        url,
        json={"source": "radarr", "from_path": "D:/Movies", "to_path": str(target)},
        headers=KEY,
    )
    assert duplicate.status_code == 409

    a_file = tmp_path / "file.txt"
    a_file.write_text("x")

    def invalid(body: dict[str, str], field: str) -> None:
        response = api.post(url, json={"source": "radarr", **body}, headers=KEY)
        assert response.status_code == 422, response.text
        assert response.headers["content-type"].startswith("application/problem+json")
        fields = [e["field"] for e in response.json()["errors"]]
        assert any(f.endswith(field) for f in fields), fields

    ok_to = str(target)
    invalid({"from_path": "movies/relative", "to_path": ok_to}, "from_path")
    invalid({"from_path": "/data/\u0000x", "to_path": ok_to}, "from_path")
    invalid({"from_path": "/data", "to_path": "relative/path"}, "to_path")
    invalid({"from_path": "/data", "to_path": str(target) + "\u0000"}, "to_path")
    invalid({"from_path": "/data", "to_path": str(tmp_path / "missing")}, "to_path")
    invalid({"from_path": "/data", "to_path": str(a_file)}, "to_path")
    invalid({"from_path": "", "to_path": ok_to}, "from_path")
    response = api.post(
        url, json={"source": "plex", "from_path": "/data", "to_path": ok_to}, headers=KEY
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"].endswith("source")

    assert api.delete(f"{url}/{mapping['id']}", headers=KEY).status_code == 204
    assert api.delete(f"{url}/{mapping['id']}", headers=KEY).status_code == 404
    assert [m["source"] for m in api.get(url, headers=KEY).json()] == ["sonarr"]


def test_mapping_to_a_symlink_resolves_like_library_roots(
    api: TestClient, wired: Container, lib_root: Path, tmp_path: Path
) -> None:
    link = tmp_path / "link"
    os.symlink(lib_root, link)
    wired.libraries.create(name="Movies", kind="movies", path=str(link))
    add_mapping(api, link)
    (lib_root / "Greenland (2020)").mkdir()
    body = post(api, payload("radarr_movie_imported_upgrade.json"))
    assert body["status"] == "processed", body
    wired.scans.wait_idle()
