"""The activity page over HTTP: jobs and history, filters, cancel/retry, the log, the websocket."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from metarr.api.app import create_app
from metarr.bootstrap import Container
from metarr.jobs import Job
from tests.web.login import form_log_in

HTMX = {"HX-Request": "true"}
_CSRF_META = re.compile(r'<meta name="csrf-token" content="([^"]*)">')


def csrf_of(html: str) -> str:
    match = _CSRF_META.search(html)
    assert match, "page has no CSRF meta tag"
    return match.group(1)


class UI:
    """A test client logged in to the UI, posting forms with the session's CSRF token."""

    def __init__(self, client: TestClient, key: str) -> None:
        self.client = client
        response = form_log_in(client, key, "/activity")
        assert response.status_code == 303, response.text
        self.csrf = csrf_of(client.get("/activity").text)

    def get(self, path: str, *, htmx: bool = False, **headers: str) -> httpx.Response:
        return self.client.get(path, headers={**(HTMX if htmx else {}), **headers})

    def post(self, path: str, *, htmx: bool = False, token: str | None = None) -> httpx.Response:
        data = {"csrf_token": self.csrf if token is None else token}
        return self.client.post(
            path, data=data, headers=HTMX if htmx else {}, follow_redirects=False
        )


@pytest.fixture
def app_client(container: Container) -> Iterator[TestClient]:
    """The app without workers, so queued jobs stay queued."""
    app = create_app(container, close_on_shutdown=False, start_workers=False)
    with TestClient(app) as tc:
        yield tc


@pytest.fixture
def ui(app_client: TestClient, container: Container) -> UI:
    return UI(app_client, container.api_key)


@pytest.fixture
def library_id(container: Container, tmp_path: Path) -> int:
    root = tmp_path / "films"
    root.mkdir()
    return container.libraries.create(name="Films", kind="movies", path=str(root)).id


def make_job(
    container: Container,
    status: str,
    *,
    job_type: str = "publish",
    target: str = "library:1/",
    progress: float = 0.0,
    message: str | None = None,
    error: str = "disk full",
) -> Job:
    """A real job on the queue, driven to `status` the way a worker would."""
    queue = container.queue
    job = queue.enqueue(job_type, target, {}, dedupe=False, max_attempts=1)
    if status == "queued":
        return job
    claimed = queue.claim("test-worker", types=[job_type], lease_seconds=600)
    assert [c.id for c in claimed] == [job.id], "another job of this type was queued"
    running = claimed[0]
    if progress or message:
        updated = queue.set_progress(running, progress, message)
        assert updated is not None
        running = updated
    settled: Job | None = running
    if status == "succeeded":
        settled = queue.succeed(running, {"ok": True})
    elif status == "failed":
        settled = queue.fail(running, error)
    elif status == "cancelled":
        settled = queue.mark_cancelled(running)
    assert settled is not None and settled.status.value == status
    return settled


def row_of(html: str, job_id: int) -> str:
    match = re.search(rf'<tr id="job-{job_id}".*?</tr>', html, re.DOTALL)
    assert match, f"job {job_id} is not on the page"
    return match.group(0)


def job_ids(html: str) -> list[int]:
    return [int(n) for n in re.findall(r'<tr id="job-(\d+)"', html)]


def section(html: str, element_id: str) -> str:
    """The HTML from the element with `element_id` to the end of the page."""
    start = html.index(f'id="{element_id}"')
    return html[start:]


def test_activity_page_shows_running_queued_and_finished_jobs(
    ui: UI, container: Container, library_id: int
) -> None:
    scan = container.scans.submit(library_id)
    running = make_job(
        container,
        "running",
        job_type="enrich",
        target=f"library:{library_id}/Heat (1995)",
        progress=0.4,
        message="enriching: 2/5",
    )
    done = make_job(container, "succeeded", target=f"library:{library_id}/")
    failed = make_job(container, "failed", job_type="verify", error="ValueError: the disk is gone")
    cancelled = make_job(container, "cancelled", job_type="cleanup")

    response = ui.get("/activity")
    assert response.status_code == 200
    html = response.text
    assert '<a href="/activity" class="active" aria-current="page">' in html
    assert '<script src="/static/js/live.js' in html
    assert 'id="live"' in html and "data-live" in html
    assert container.api_key not in html  # the websocket uses the session, never the key

    running_panel = html[html.index('id="running"') : html.index('id="history"')]
    assert job_ids(running_panel) == [running.id, scan.job_id]
    row = row_of(html, running.id)
    assert f'data-job-progress="{running.id}"' in row and 'value="0.4"' in row
    assert "enriching: 2/5" in row
    assert "Films / Heat (1995)" in row
    assert f'action="/activity/jobs/{running.id}/cancel"' in row
    queued_row = row_of(html, scan.job_id or 0)
    assert "waiting" in queued_row and "/cancel" in queued_row and "/retry" not in queued_row
    assert 'data-stat="queued">1<' in html and 'data-stat="running">1<' in html
    assert 'data-stat="failed">1<' in html and 'data-stat="succeeded">1<' in html

    history = section(html, "history")
    assert job_ids(history) == [cancelled.id, failed.id, done.id]
    assert "ValueError: the disk is gone" in row_of(history, failed.id)
    assert f"/activity/jobs/{failed.id}/retry" in history
    assert f"/activity/jobs/{cancelled.id}/retry" in history
    assert f"/activity/jobs/{done.id}/retry" not in history
    assert "/cancel" not in row_of(history, done.id)

    # htmx refreshes of the running panel get just that panel
    fragment = ui.get("/activity/running", htmx=True)
    assert fragment.status_code == 200
    assert fragment.text.lstrip().startswith("{#") is False
    assert '<section id="running"' in fragment.text and "<html" not in fragment.text
    assert 'hx-trigger="metarr-jobs from:body"' in fragment.text


def test_long_errors_fold_away(ui: UI, container: Container) -> None:
    trace = "Traceback (most recent call last):\n" + "  File x, line 1\n" * 30 + "OSError: gone"
    failed = make_job(container, "failed", error=trace)
    row = row_of(ui.get("/activity").text, failed.id)
    assert "<details" in row and "<summary>Traceback (most recent call last):</summary>" in row
    assert "OSError: gone" in row


def test_history_filters_and_pages(ui: UI, container: Container, tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    lib_a = container.libraries.create(name="A", kind="movies", path=str(tmp_path / "a")).id
    lib_b = container.libraries.create(name="B", kind="movies", path=str(tmp_path / "b")).id
    ok = [make_job(container, "succeeded", target=f"library:{lib_a}/") for _ in range(27)]
    bad = [
        make_job(container, "failed", job_type="verify", target=f"library:{lib_b}/")
        for _ in range(2)
    ]
    queued = make_job(container, "queued", job_type="cleanup", target=f"library:{lib_a}/")

    page = ui.get("/activity").text
    history = section(page, "history")
    assert "<strong>29</strong> finished jobs" in history
    assert job_ids(history) == [j.id for j in [*reversed(bad), *reversed(ok)]][:25]
    assert queued.id not in job_ids(history)  # still waiting: not history
    assert "Page 1 of 2" in history
    assert 'href="/activity?page=2"' in history

    second = ui.get("/activity?page=2", htmx=True)
    assert job_ids(second.text) == [j.id for j in reversed(ok[:4])]
    assert second.headers["HX-Push-Url"] == "/activity?page=2"
    assert "<html" not in second.text

    failed = ui.get("/activity?status=failed", htmx=True)
    assert job_ids(failed.text) == [bad[1].id, bad[0].id]
    assert failed.headers["HX-Push-Url"] == "/activity?status=failed"

    by_type = ui.get("/activity?type=publish&status=", htmx=True)
    assert len(job_ids(by_type.text)) == 25 and bad[0].id not in job_ids(by_type.text)
    assert by_type.headers["HX-Push-Url"] == "/activity?type=publish"

    by_library = ui.get(f"/activity?library={lib_b}", htmx=True)
    assert job_ids(by_library.text) == [bad[1].id, bad[0].id]

    nothing = ui.get(f"/activity?library={lib_b}&type=publish", htmx=True)
    assert job_ids(nothing.text) == []
    assert "No finished jobs match these filters." in nothing.text

    # the filters' selects keep their choice on a full page load
    full = ui.get(f"/activity?status=failed&library={lib_b}").text
    assert '<option value="failed" selected>' in full
    assert f'<option value="{lib_b}" selected>B</option>' in full
    assert job_ids(section(full, "history")) == [bad[1].id, bad[0].id]

    # nonsense in the query string is ignored, not an error
    lenient = ui.get("/activity?status=running&page=zero&library=x&type=%3Cb%3E")
    assert lenient.status_code == 200
    assert "<strong>29</strong> finished jobs" in lenient.text

    # a live refresh of the history does not touch the address bar
    refreshed = ui.get("/activity?status=failed", htmx=True, **{"HX-Trigger": "history"})
    assert "HX-Push-Url" not in refreshed.headers


def test_cancel_a_queued_job_then_retry_it(ui: UI, container: Container) -> None:
    job = make_job(container, "queued")

    cancelled = ui.post(f"/activity/jobs/{job.id}/cancel", htmx=True)
    assert cancelled.status_code == 200
    assert cancelled.text.lstrip().startswith(f'<tr id="job-{job.id}"')
    assert "Cancelled." in cancelled.text
    assert f"/activity/jobs/{job.id}/retry" in cancelled.text
    assert cancelled.headers["HX-Trigger"] == "metarr:changed"
    assert container.jobs.get(job.id).status.value == "cancelled"

    retried = ui.post(f"/activity/jobs/{job.id}/retry", htmx=True)
    assert retried.status_code == 200
    assert "Queued again." in retried.text
    assert f"/activity/jobs/{job.id}/cancel" in retried.text
    assert container.jobs.get(job.id).status.value == "queued"

    # without htmx: a redirect back to the page
    plain = ui.post(f"/activity/jobs/{job.id}/cancel")
    assert plain.status_code == 303 and plain.headers["location"] == "/activity"
    assert container.jobs.get(job.id).status.value == "cancelled"


def test_cancelling_a_running_job_asks_it_to_stop(ui: UI, container: Container) -> None:
    job = make_job(container, "running", progress=0.5)
    response = ui.post(f"/activity/jobs/{job.id}/cancel", htmx=True)
    assert response.status_code == 200
    assert "Asked to stop" in response.text
    assert "stopping" in response.text
    assert f"/activity/jobs/{job.id}/cancel" not in response.text  # asked once is enough
    stored = container.jobs.get(job.id)
    assert stored.status.value == "running" and stored.cancel_requested


def test_conflicts_are_shown_inline(ui: UI, container: Container) -> None:
    done = make_job(container, "succeeded")
    waiting = make_job(container, "queued", job_type="cleanup")

    response = ui.post(f"/activity/jobs/{done.id}/cancel", htmx=True)
    assert response.status_code == 409
    assert response.text.lstrip().startswith(f'<tr id="job-{done.id}"')
    assert f"Job {done.id} cannot be cancelled" in response.text
    assert 'class="row-message err" role="alert"' in response.text
    assert "HX-Trigger" not in response.headers

    response = ui.post(f"/activity/jobs/{waiting.id}/retry", htmx=True)
    assert response.status_code == 409
    assert f"Job {waiting.id} cannot be retried" in response.text
    assert container.jobs.get(waiting.id).status.value == "queued"

    page = ui.post(f"/activity/jobs/{done.id}/retry")
    assert page.status_code == 409
    assert '<div class="alert error" role="alert">' in page.text
    assert f"Job {done.id} cannot be retried" in page.text

    missing = ui.post("/activity/jobs/999999/cancel", htmx=True)
    assert missing.status_code == 404
    huge = ui.post(f"/activity/jobs/{2**70}/retry", htmx=True)
    assert huge.status_code == 404


def test_cancel_and_retry_need_the_csrf_token(ui: UI, container: Container) -> None:
    job = make_job(container, "queued")
    for token in ("", "forged"):
        response = ui.post(f"/activity/jobs/{job.id}/cancel", htmx=True, token=token)
        assert response.status_code == 403
    assert container.jobs.get(job.id).status.value == "queued"
    failed = make_job(container, "failed", job_type="verify")
    assert ui.post(f"/activity/jobs/{failed.id}/retry", token="").status_code == 403
    assert container.jobs.get(failed.id).status.value == "failed"


def test_activity_needs_a_login(app_client: TestClient, container: Container) -> None:
    response = app_client.get("/activity", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=/activity"
    job = make_job(container, "queued")
    post = app_client.post(f"/activity/jobs/{job.id}/cancel", follow_redirects=False)
    assert post.status_code == 303
    assert container.jobs.get(job.id).status.value == "queued"


def test_websocket_accepts_the_session_cookie(ui: UI, app_client: TestClient) -> None:
    with app_client.websocket_connect("/api/v1/ws") as ws:
        first: dict[str, Any] = ws.receive_json()
        assert first["type"] == "resync"
        ws.send_json({"type": "ping"})
        while ws.receive_json()["type"] != "pong":
            pass
    # a page of our own origin (what a browser sends) is fine too
    with app_client.websocket_connect("/api/v1/ws", headers={"Origin": "http://testserver"}) as ws:
        assert ws.receive_json()["type"] == "resync"


def test_websocket_refuses_without_a_session(app_client: TestClient, container: Container) -> None:
    with pytest.raises(WebSocketDisconnect) as refused, app_client.websocket_connect("/api/v1/ws"):
        pass
    assert refused.value.code == 4401

    UI(app_client, container.api_key)
    # another site's page must not ride on the browser's cookie
    with (
        pytest.raises(WebSocketDisconnect) as refused,
        app_client.websocket_connect("/api/v1/ws", headers={"Origin": "http://evil.example"}),
    ):
        pass
    assert refused.value.code == 4401

    # a tampered or logged-out cookie is no session
    app_client.cookies.set("metarr_session", "forged")
    with pytest.raises(WebSocketDisconnect) as refused, app_client.websocket_connect("/api/v1/ws"):
        pass
    assert refused.value.code == 4401


def test_activity_log_section(ui: UI, container: Container, library_id: int) -> None:
    log = container.activity
    log.record("scan.started", "Scan of Films started", library_id=library_id, job_id=7)
    log.record("scan.failed", "Scan of Films failed: <disk> gone", level="error")
    log.record("webhook.received", "Radarr says hello", level="warning")

    html = ui.get("/activity").text
    panel = section(html, "activity-log")
    assert "Activity log" in html
    assert "<strong>3</strong> entries" in panel
    assert "Scan of Films failed: &lt;disk&gt; gone" in panel
    assert f'<a href="/libraries/{library_id}">Films</a>' in panel
    assert '<span class="badge err">error</span>' in panel

    errors = ui.get("/activity/log?level=error", htmx=True)
    assert errors.status_code == 200
    assert "<strong>1</strong> entry" in errors.text and "failed" in errors.text
    assert errors.headers["HX-Push-Url"] == "/activity?level=error"

    webhooks = ui.get("/activity/log?kind=webhook&status=failed", htmx=True)
    assert "Radarr says hello" in webhooks.text and "Scan of Films" not in webhooks.text
    assert webhooks.headers["HX-Push-Url"] == "/activity?status=failed&kind=webhook"

    none = ui.get("/activity/log?kind=player", htmx=True)
    assert "No entries match these filters." in none.text


def test_library_page_scan_status_is_ready_for_live_updates(
    ui: UI, container: Container, library_id: int
) -> None:
    run = container.scans.submit(library_id)
    html = ui.get(f"/libraries/{library_id}").text
    status = html[html.index(f'id="scan-{library_id}"') :]
    assert f'data-live-scan="{run.id}"' in status
    assert 'hx-trigger="every 1s"' in status  # the fallback when events do not come
    assert "data-scan-bar" in status
