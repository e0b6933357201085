"""The activity log: recording never fails its caller, listing filters and pages, the API."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from metarr.api.app import create_app
from metarr.bootstrap import Container
from metarr.domain.errors import InvalidInput
from metarr.services.activity import ActivityService

KEY = {"X-Api-Key": "test-key"}


@pytest.fixture
def activity(container: Container) -> ActivityService:
    """The activity service as bootstrap wires it."""
    return container.activity


@pytest.fixture
def api(container: Container, activity: ActivityService) -> Iterator[TestClient]:
    app = create_app(container, close_on_shutdown=False)
    with TestClient(app) as tc:
        yield tc


@pytest.fixture
def library_id(container: Container, tmp_path: Path) -> int:
    root = tmp_path / "lib"
    root.mkdir()
    return container.libraries.create(name="Movies", kind="movies", path=str(root)).id


def test_record_and_list(activity: ActivityService, library_id: int) -> None:
    first = activity.record("scan.started", "Scan of Movies started", library_id=library_id)
    second = activity.record(
        "scan.failed", "Scan of Movies failed: disk gone", level="error", library_id=library_id
    )
    third = activity.record(
        "webhook.received", "Radarr test notification received", data={"webhook_event_id": 7}
    )
    assert 0 < first < second < third

    items, total = activity.list()
    assert total == 3
    assert [a.id for a in items] == [third, second, first]  # newest first
    assert items[0].data == {"webhook_event_id": 7}
    assert items[1].level == "error" and items[1].library_id == library_id
    assert items[2].data == {} and items[2].movie_id is None and items[2].job_id is None

    assert [a.id for a in activity.list(kind="scan.failed")[0]] == [second]
    assert [a.id for a in activity.list(kind="scan")[0]] == [second, first]  # kind family
    assert activity.list(kind="sca")[1] == 0
    assert [a.id for a in activity.list(level="error")[0]] == [second]
    assert [a.id for a in activity.list(library_id=library_id)[0]] == [second, first]
    page, total = activity.list(limit=1, offset=1)
    assert [a.id for a in page] == [second] and total == 3
    assert activity.list(since=datetime.now(UTC) - timedelta(minutes=5))[1] == 3
    assert activity.list(since=datetime.now(UTC) + timedelta(minutes=5))[1] == 0


def test_underscore_in_a_kind_family_is_literal(activity: ActivityService) -> None:
    activity.record("manual_interaction", "Radarr needs a decision")
    activity.record("manualXinteraction.other", "not the same family")
    assert [a.kind for a in activity.list(kind="manual_interaction")[0]] == ["manual_interaction"]


def test_record_never_raises(activity: ActivityService, caplog: pytest.LogCaptureFixture) -> None:
    # a library that does not exist breaks the foreign key; data that is not JSON breaks too
    assert activity.record("scan.started", "x", library_id=999_999) == 0
    assert activity.record("scan.started", "x", data={"bad": object()}) == 0
    assert "could not record activity" in caplog.text
    # unknown levels are kept as info; long messages are cut, not refused
    entry_id = activity.record("health.issue", "y" * 10_000, level="critical")
    [entry] = activity.list()[0]
    assert entry.id == entry_id and entry.level == "info" and len(entry.message) == 2000


def test_list_validates(activity: ActivityService) -> None:
    with pytest.raises(InvalidInput) as exc:
        activity.list(level="fatal")
    assert exc.value.field == "level"
    with pytest.raises(InvalidInput):
        activity.list(limit=0)
    with pytest.raises(InvalidInput):
        activity.list(offset=-1)


def test_history_outlives_its_library(
    container: Container, activity: ActivityService, library_id: int
) -> None:
    entry_id = activity.record("scan.finished", "done", library_id=library_id)
    container.libraries.delete(library_id)
    [entry] = activity.list()[0]
    assert entry.id == entry_id and entry.library_id is None


def test_activity_api(api: TestClient, activity: ActivityService, library_id: int) -> None:
    activity.record("scan.started", "started", library_id=library_id)
    activity.record("health.issue", "No download client", level="warning")
    activity.record("job.failed", "enrich failed", level="error", job_id=12)

    assert api.get("/api/v1/activity").status_code == 401
    assert api.get("/api/v1/activity", headers={"X-Api-Key": "nope"}).status_code == 401

    body = api.get("/api/v1/activity", headers=KEY).json()
    assert body["total"] == 3
    assert [i["kind"] for i in body["items"]] == ["job.failed", "health.issue", "scan.started"]
    assert body["items"][0]["job_id"] == 12
    assert set(body["items"][0]) == {
        "id", "created_at", "kind", "level", "message", "library_id", "movie_id", "job_id", "data"
    }  # fmt: skip

    def kinds(**params: object) -> list[str]:
        response = api.get("/api/v1/activity", params=params, headers=KEY)
        assert response.status_code == 200, response.text
        return [i["kind"] for i in response.json()["items"]]

    assert kinds(kind="health.issue") == ["health.issue"]
    assert kinds(level="error") == ["job.failed"]
    assert kinds(library_id=library_id) == ["scan.started"]
    assert kinds(limit=1, offset=2) == ["scan.started"]
    for bad in ({"level": "fatal"}, {"limit": 0}, {"limit": 501}, {"offset": -1}):
        response = api.get("/api/v1/activity", params=bad, headers=KEY)
        assert response.status_code == 422
        assert response.headers["content-type"].startswith("application/problem+json")


def test_scans_and_failed_jobs_leave_activity(container: Container, tmp_path: Path) -> None:
    """A scan records started/finished with counts; a failing job records its reason."""
    import time

    root = tmp_path / "lib"
    root.mkdir()
    (root / "Film (2000)").mkdir()
    (root / "Film (2000)" / "Film (2000).mkv").write_bytes(b"not really a video")
    lib = container.libraries.create(name="Acts", kind="movies", path=str(root))

    def boom(_ctx: object) -> None:
        raise InvalidInput("bad payload for the test")

    container.registry.register("explode", boom, max_attempts=1)
    container.start_workers(2)
    run = container.scans.submit(lib.id)
    container.queue.enqueue("explode", f"library:{lib.id}/")
    container.scans.wait_idle()
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        kinds = {a.kind for a in container.activity.list(library_id=lib.id)[0]}
        if {"scan.started", "scan.finished", "job.failed"} <= kinds:
            break
        time.sleep(0.05)
    items, _ = container.activity.list(library_id=lib.id)
    by_kind = {a.kind: a for a in items}
    assert "1 added" in by_kind["scan.finished"].message
    assert by_kind["scan.started"].job_id == run.job_id
    assert "bad payload for the test" in by_kind["job.failed"].message
    assert by_kind["job.failed"].level == "error"
