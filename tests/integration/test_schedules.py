"""Library schedules on real SQLite and PostgreSQL: API, validation, scheduler ticks, results."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from fastapi.testclient import TestClient

from metarr.api.app import create_app
from metarr.db.tables import Base
from metarr.db.tables_schedules import LibraryScheduleRow
from metarr.jobs import JobRow, JobStatus, ManualClock, Queue
from metarr.jobs.scheduler import Scheduler
from metarr.services.libraries import LibraryChanges
from metarr.services.schedules import ScheduleService, TaskRunner

if TYPE_CHECKING:
    from metarr.bootstrap import Container

T0 = datetime(2024, 1, 1, tzinfo=UTC)
HOUR = 3600.0


@dataclass
class Env:
    """Everything a test drives: the HTTP client, the service, the scheduler and the clock."""

    client: httpx.Client
    service: ScheduleService
    scheduler: Scheduler
    queue: Queue
    clock: ManualClock
    library_id: int

    def url(self, suffix: str = "", library_id: int | None = None) -> str:
        lib = self.library_id if library_id is None else library_id
        return f"/api/v1/libraries/{lib}/schedule{suffix}"

    def schedule(self) -> dict[str, Any]:
        resp = self.client.get(self.url())
        assert resp.status_code == 200, resp.text
        body: dict[str, Any] = resp.json()
        return body

    def jobs(self, job_type: str) -> list[int]:
        page, _ = self.queue.list_jobs(type=job_type, limit=100)
        return sorted(job.id for job in page)

    def finish(self, job_id: int, *, error: str | None = None) -> None:
        (job,) = self.queue.claim("test-worker")
        assert job.id == job_id
        if error is None:
            self.queue.succeed(job, {"ok": True})
        else:
            self.queue.fail(job, error)


@pytest.fixture
def env(container: Container, tmp_path: Path) -> Iterator[Env]:
    tables = [JobRow.__table__, LibraryScheduleRow.__table__]
    Base.metadata.create_all(container.db.engine, tables=tables)  # type: ignore[arg-type]
    clock = ManualClock(T0)
    queue = Queue(container.db, clock=clock)

    def runner(job_type: str) -> TaskRunner:
        def run(library_id: int, trigger: str) -> int:
            return queue.enqueue(job_type, f"library:{library_id}", {"trigger": trigger}).id

        return run

    # provider_update and cleanup have no runner yet: they must show as unavailable.
    service = ScheduleService(
        container.db,
        queue,
        task_runners={"file_scan": runner("scan"), "verification": runner("verify")},
        clock=clock,
    )
    scheduler = Scheduler(service, queue, clock=clock)
    service.attach(scheduler)
    container.schedules, container.scheduler = service, scheduler
    media = tmp_path / "movies"
    media.mkdir()
    library = container.libraries.create(name="Movies", kind="movies", path=str(media))

    # No in-process workers: the tests finish jobs themselves, on the manual clock.
    app = create_app(container, close_on_shutdown=False, start_workers=False, start_scheduler=False)
    with TestClient(app, headers={"X-Api-Key": container.api_key}) as client:
        yield Env(client, service, scheduler, queue, clock, library.id)
    scheduler.stop()
    queue.close()


def _problem(resp: httpx.Response, status: int) -> dict[str, Any]:
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = resp.json()
    return body


def _at(hours: float) -> str:
    return (T0 + timedelta(hours=hours)).isoformat().replace("+00:00", "Z")


def _same_time(value: str | None, hours: float) -> bool:
    assert value is not None
    return datetime.fromisoformat(value.replace("Z", "+00:00")) == T0 + timedelta(hours=hours)


def test_defaults_are_shown_for_a_new_library(env: Env) -> None:
    body = env.schedule()
    assert body["library_id"] == env.library_id
    tasks = body["tasks"]
    assert list(tasks) == ["file_scan", "provider_update", "verification", "cleanup"]
    expected = {
        "file_scan": (False, 6, None, True, "scan"),
        "provider_update": (True, 168, 168, False, "provider_update"),
        "verification": (True, 24, 24, True, "verify"),
        "cleanup": (True, 24, 24, False, "cleanup"),
    }
    for task, (enabled, hours, next_in, available, job_type) in expected.items():
        t = tasks[task]
        assert t["enabled"] is enabled, task
        assert t["interval_hours"] == hours
        assert t["available"] is available
        assert t["job_type"] == job_type
        assert t["last_run_at"] is None
        assert t["last_result"] is None
        assert t["last_job_id"] is None
        if next_in is None:
            assert t["next_run_at"] is None
        else:
            assert _same_time(t["next_run_at"], next_in)
    assert env.schedule() == body  # looking again changes nothing


@pytest.mark.parametrize(
    ("tasks", "field"),
    [
        ({"file_scan": {"interval_hours": 0}}, "file_scan.interval_hours"),
        ({"file_scan": {"interval_hours": 8761}}, "file_scan.interval_hours"),
        ({"file_scan": {"interval_hours": 6.5}}, "file_scan.interval_hours"),
        ({"file_scan": {"interval_hours": "6"}}, "file_scan.interval_hours"),
        ({"file_scan": {"interval_hours": True}}, "file_scan.interval_hours"),
        ({"file_scan": {"enabled": "yes"}}, "file_scan.enabled"),
        ({"file_scan": {"interval": 6}}, "file_scan.interval"),
        ({"file_scan": 6}, "file_scan"),
        ({"thumbnails": {"enabled": True}}, "thumbnails"),
        # a valid change next to an invalid one: nothing is written
        (
            {
                "file_scan": {"enabled": True, "interval_hours": 2},
                "cleanup": {"interval_hours": 9000},
            },
            "cleanup.interval_hours",
        ),
    ],
)
def test_invalid_put_names_the_field_and_writes_nothing(
    env: Env, tasks: dict[str, Any], field: str
) -> None:
    before = env.schedule()
    body = _problem(env.client.put(env.url(), json={"tasks": tasks}), 422)
    assert body["code"] == "invalid_input"
    assert [e["field"] for e in body["errors"]] == [field]
    assert env.schedule() == before


def test_put_then_get_round_trip(env: Env) -> None:
    env.clock.advance(2 * HOUR)
    resp = env.client.put(
        env.url(),
        json={
            "tasks": {
                "file_scan": {"enabled": True, "interval_hours": 12},
                "cleanup": {"enabled": False},
                "verification": {"interval_hours": 48},
            }
        },
    )
    assert resp.status_code == 200, resp.text
    tasks = resp.json()["tasks"]
    assert tasks["file_scan"]["enabled"] is True
    assert tasks["file_scan"]["interval_hours"] == 12
    assert _same_time(tasks["file_scan"]["next_run_at"], 2 + 12)  # never ran: from now
    assert tasks["cleanup"]["enabled"] is False
    assert tasks["cleanup"]["next_run_at"] is None
    assert tasks["verification"]["interval_hours"] == 48
    assert _same_time(tasks["verification"]["next_run_at"], 2 + 48)
    assert tasks["provider_update"]["interval_hours"] == 168  # untouched
    body = env.schedule()
    assert body["tasks"] == tasks

    # What GET returned can be PUT back as is: read-only fields are ignored.
    again = env.client.put(env.url(), json=body)
    assert again.status_code == 200, again.text
    assert again.json() == body


def test_due_file_scan_is_enqueued_once_per_interval(env: Env) -> None:
    put = env.client.put(env.url(), json={"tasks": {"file_scan": {"enabled": True}}})
    assert put.status_code == 200, put.text
    assert env.scheduler.tick() == []
    assert env.jobs("scan") == []

    env.clock.advance(6 * HOUR)
    (first,) = env.scheduler.tick()
    assert env.jobs("scan") == [first]
    assert env.scheduler.tick() == []  # not due again at the same moment
    assert env.queue.get(first).payload == {"trigger": "schedule"}
    task = env.schedule()["tasks"]["file_scan"]
    assert task["last_job_id"] == first
    assert _same_time(task["last_run_at"], 6)
    assert _same_time(task["next_run_at"], 12)

    env.finish(first)
    env.clock.advance(6 * HOUR)
    (second,) = env.scheduler.tick()
    assert second != first
    assert env.jobs("scan") == [first, second]

    # Still queued at the next slot: the queue's dedupe returns the same job.
    env.clock.advance(6 * HOUR)
    assert env.scheduler.tick() == [second]
    assert env.jobs("scan") == [first, second]


def test_disabled_and_unavailable_tasks_never_run(env: Env) -> None:
    env.client.put(env.url(), json={"tasks": {"verification": {"enabled": False}}})
    for _ in range(10):
        env.clock.advance(50 * HOUR)
        env.scheduler.tick()
    for job_type in ("scan", "verify", "provider_update", "cleanup"):
        assert env.jobs(job_type) == [], job_type
    tasks = env.schedule()["tasks"]
    assert tasks["provider_update"]["available"] is False
    assert tasks["provider_update"]["last_run_at"] is None
    assert tasks["cleanup"]["last_run_at"] is None


def test_available_daily_task_runs_and_disabled_library_pauses(
    env: Env, container: Container
) -> None:
    assert env.scheduler.tick() == []  # the first look creates the rows: due in one interval
    env.clock.advance(24 * HOUR)
    (job_id,) = env.scheduler.tick()
    assert env.jobs("verify") == [job_id]

    container.libraries.update(env.library_id, LibraryChanges(enabled=False))
    env.finish(job_id)
    env.clock.advance(48 * HOUR)
    assert env.scheduler.tick() == []
    assert env.schedule()["library_enabled"] is False
    assert env.jobs("verify") == [job_id]


def test_run_now(env: Env) -> None:
    env.clock.advance(3 * HOUR)
    resp = env.client.post(env.url("/file_scan/run"))
    assert resp.status_code == 202, resp.text
    body = resp.json()
    assert body["task"] == "file_scan"
    assert env.jobs("scan") == [body["job_id"]]
    assert env.queue.get(body["job_id"]).payload == {"trigger": "manual"}
    task = env.schedule()["tasks"]["file_scan"]
    assert task["last_job_id"] == body["job_id"]
    assert _same_time(task["last_run_at"], 3)
    assert task["next_run_at"] is None  # file_scan is still disabled

    resp = env.client.post(env.url("/verification/run"))
    assert resp.status_code == 202
    task = env.schedule()["tasks"]["verification"]
    assert _same_time(task["next_run_at"], 3 + 24)

    problem = _problem(env.client.post(env.url("/cleanup/run")), 409)
    assert "cleanup" in problem["detail"]
    assert env.jobs("cleanup") == []
    _problem(env.client.post(env.url("/thumbnails/run")), 404)


def test_unknown_library_is_404(env: Env) -> None:
    _problem(env.client.get(env.url(library_id=999)), 404)
    _problem(env.client.put(env.url(library_id=999), json={"tasks": {}}), 404)
    _problem(env.client.post(env.url("/file_scan/run", library_id=999)), 404)
    mismatch = env.client.put(env.url(), json={"library_id": 999, "tasks": {}})
    assert [e["field"] for e in _problem(mismatch, 422)["errors"]] == ["library_id"]


def test_last_result_reflects_the_finished_job(env: Env) -> None:
    env.client.put(env.url(), json={"tasks": {"file_scan": {"enabled": True}}})
    env.clock.advance(6 * HOUR)
    (job_id,) = env.scheduler.tick()
    result = env.schedule()["tasks"]["file_scan"]["last_result"]
    assert result["status"] == "queued"
    assert result["job_id"] == job_id

    env.finish(job_id, error="OSError: library folder is gone")
    env.scheduler.tick()  # records it
    with env.service.db.session() as s:
        row = s.query(LibraryScheduleRow).filter_by(task="file_scan").one()
        assert row.last_result is not None
        assert row.last_result["status"] == JobStatus.FAILED.value
    result = env.schedule()["tasks"]["file_scan"]["last_result"]
    assert result["status"] == "failed"
    assert result["job_id"] == job_id
    assert result["message"] == "OSError: library folder is gone"

    env.clock.advance(6 * HOUR)
    (second,) = env.scheduler.tick()
    env.finish(second)
    env.scheduler.tick()
    result = env.schedule()["tasks"]["file_scan"]["last_result"]
    assert (result["status"], result["job_id"]) == ("succeeded", second)


def test_scheduler_status_endpoint(env: Env) -> None:
    body = env.client.get("/api/v1/scheduler").json()
    assert body["running"] is False
    assert body["last_tick_at"] is None
    assert [lib["library_id"] for lib in body["libraries"]] == [env.library_id]

    env.scheduler.tick()
    env.scheduler.start()
    body = env.client.get("/api/v1/scheduler").json()
    assert body["running"] is True
    assert _same_time(body["last_tick_at"], 0)
    assert _same_time(body["next_wake_at"], 24)  # verification, the earliest available
    assert body["libraries"][0]["tasks"]["verification"]["available"] is True
    env.scheduler.stop()
    assert env.client.get("/api/v1/scheduler").json()["running"] is False


def test_rows_go_with_their_library(env: Env, container: Container) -> None:
    env.schedule()
    container.libraries.delete(env.library_id)
    with env.service.db.session() as s:
        assert s.query(LibraryScheduleRow).count() == 0
    assert env.client.get("/api/v1/scheduler").json()["libraries"] == []
