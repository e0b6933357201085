"""Scans run as jobs: the jobs API, cancel/retry, and live events over the WebSocket."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from metarr.api.app import create_app
from metarr.bootstrap import Container
from metarr.testing.library_builder import LibraryBuilder
from tests.conftest import wait_scan


@pytest.fixture(scope="module")
def templates(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("templates")


def _library(client: httpx.Client, root: Path) -> int:
    resp = client.post("/api/v1/libraries", json={"name": "M", "path": str(root)})
    assert resp.status_code == 201, resp.text
    lib_id: int = resp.json()["id"]
    return lib_id


def test_scan_is_a_job(client: httpx.Client, tmp_path: Path, templates: Path) -> None:
    root = tmp_path / "lib"
    LibraryBuilder(root, templates_dir=templates).bulk(3)
    lib_id = _library(client, root)
    scan = client.post(f"/api/v1/libraries/{lib_id}/scan").json()
    assert scan["job_id"] is not None
    assert wait_scan(client, scan["id"])["status"] == "succeeded"
    job = client.get(f"/api/v1/jobs/{scan['job_id']}").json()
    assert job["type"] == "scan" and job["target"] == f"library:{lib_id}/"
    deadline = time.monotonic() + 10
    while job["status"] != "succeeded" and time.monotonic() < deadline:
        time.sleep(0.05)
        job = client.get(f"/api/v1/jobs/{scan['job_id']}").json()
    assert job["status"] == "succeeded" and job["attempts"] == 1
    assert job["result"]["stats"]["added"] == 3

    page = client.get("/api/v1/jobs", params={"library_id": lib_id, "type": "scan"}).json()
    assert page["total"] == 1 and page["items"][0]["id"] == scan["job_id"]
    assert client.get("/api/v1/jobs", params={"library_id": lib_id + 100}).json()["total"] == 0
    stats = client.get("/api/v1/jobs/stats").json()
    assert stats["by_status"].get("succeeded", 0) >= 1
    bad = client.get("/api/v1/jobs", params={"status": "bogus"})
    assert bad.status_code == 422
    assert client.get("/api/v1/jobs/99999").status_code == 404
    # a finished job cannot be cancelled; it can be retried only when failed or cancelled
    assert client.post(f"/api/v1/jobs/{scan['job_id']}/cancel").status_code == 409
    assert client.post(f"/api/v1/jobs/{scan['job_id']}/retry").status_code == 409


def test_queued_scan_dedupes_and_cancels(container: Container, tmp_path: Path) -> None:
    root = tmp_path / "lib"
    root.mkdir()
    lib = container.libraries.create(name="M", kind="movies", path=str(root))
    app = create_app(container, close_on_shutdown=False, start_workers=False)  # nothing runs
    with TestClient(app, headers={"X-Api-Key": container.api_key}) as client:
        first = client.post(f"/api/v1/libraries/{lib.id}/scan").json()
        second = client.post(f"/api/v1/libraries/{lib.id}/scan").json()
        assert first["id"] == second["id"] and first["job_id"] == second["job_id"]
        job = client.post(f"/api/v1/jobs/{first['job_id']}/cancel").json()
        assert job["status"] == "cancelled"
        retried = client.post(f"/api/v1/jobs/{first['job_id']}/retry").json()
        assert retried["status"] == "queued"
        cancelled = client.post(f"/api/v1/scans/{first['id']}/cancel").json()
        assert cancelled["status"] == "cancelled"
        assert client.get(f"/api/v1/jobs/{first['job_id']}").json()["status"] == "cancelled"


def test_websocket_streams_scan_events(client: TestClient, tmp_path: Path, templates: Path) -> None:
    root = tmp_path / "lib"
    LibraryBuilder(root, templates_dir=templates).bulk(30)
    lib_id = _library(client, root)
    with client.websocket_connect("/api/v1/ws?apikey=test-key") as ws:
        hello = ws.receive_json()
        assert hello["type"] == "resync" and "stats" in hello and "ts" in hello
        scan = client.post(f"/api/v1/libraries/{lib_id}/scan").json()
        seen: list[dict[str, Any]] = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            event = ws.receive_json()
            seen.append(event)
            if event["type"] == "job.succeeded" and event["job"]["id"] == scan["job_id"]:
                break
        types = [e["type"] for e in seen]
        assert "job.created" in types and "job.started" in types
        assert (
            types.index("job.created") < types.index("job.started") < types.index("job.succeeded")
        )
        assert "scan.progress" in types and "library.changed" in types
        assert all("ts" in e for e in seen)
        ws.send_json({"type": "resync"})
        while True:
            event = ws.receive_json()
            if event["type"] == "resync":
                assert "running" in event and "queued" in event
                break


def test_websocket_requires_the_key(client: TestClient) -> None:
    from starlette.websockets import WebSocketDisconnect

    with (
        pytest.raises(WebSocketDisconnect) as info,
        client.websocket_connect("/api/v1/ws", headers={"X-Api-Key": "nope"}) as ws,
    ):
        ws.receive_json()
    assert info.value.code == 4401
    with client.websocket_connect("/api/v1/ws", headers={"X-Api-Key": "test-key"}) as ws:
        assert ws.receive_json()["type"] == "resync"


def test_schedule_run_now_with_the_real_wiring(
    client: TestClient, tmp_path: Path, templates: Path
) -> None:
    root = tmp_path / "lib"
    LibraryBuilder(root, templates_dir=templates).bulk(2)
    lib_id = _library(client, root)
    schedule = client.get(f"/api/v1/libraries/{lib_id}/schedule").json()
    assert schedule["tasks"]["file_scan"]["available"] is True
    assert schedule["tasks"]["cleanup"]["available"] is True
    assert schedule["tasks"]["file_scan"]["enabled"] is False  # off by default
    resp = client.post(f"/api/v1/libraries/{lib_id}/schedule/file_scan/run")
    assert resp.status_code == 202
    job_id = resp.json()["job_id"]
    deadline = time.monotonic() + 30
    while client.get(f"/api/v1/jobs/{job_id}").json()["status"] != "succeeded":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert client.get("/api/v1/movies", params={"library_id": lib_id}).json()["total"] == 2
    cleanup = client.post(f"/api/v1/libraries/{lib_id}/schedule/cleanup/run").json()
    deadline = time.monotonic() + 30
    while (job := client.get(f"/api/v1/jobs/{cleanup['job_id']}").json())["status"] != "succeeded":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    result = job["result"]
    assert (result["jobs_purged"], result["movies_purged"], result["recycle_purged"]) == (0, 0, 0)
    assert result["cache_files_removed"] == 0  # nothing in the cache is unreferenced and old
    overview = client.get("/api/v1/scheduler").json()
    assert overview["running"] is True


def test_item_changed_events(client: TestClient, tmp_path: Path, templates: Path) -> None:
    root = tmp_path / "lib"
    LibraryBuilder(root, templates_dir=templates).bulk(2)
    lib_id = _library(client, root)
    with client.websocket_connect("/api/v1/ws?apikey=test-key") as ws:
        assert ws.receive_json()["type"] == "resync"
        scan = client.post(f"/api/v1/libraries/{lib_id}/scan").json()
        ids: list[int] = []
        while len(ids) < 2:
            event = ws.receive_json()
            if event["type"] == "item.changed" and event["source"] == "scan":
                ids += event["ids"]
        assert wait_scan(client, scan["id"])["status"] == "succeeded"
        client.patch(f"/api/v1/movies/{ids[0]}", json={"plot": "Mine."})
        while True:
            event = ws.receive_json()
            if event["type"] == "item.changed" and event["source"] == "user":
                assert event["ids"] == [ids[0]]
                break
