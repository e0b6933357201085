"""The library page's schedule panel over HTTP: render, save, inline errors, run now, CSRF.

Plus one browser check (marked `web`) of the panel and the webhooks page.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from metarr.api.app import create_app
from metarr.bootstrap import Container
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
        response = form_log_in(client, key, "/libraries")
        assert response.status_code == 303, response.text
        self.csrf = csrf_of(client.get("/libraries").text)

    def get(self, path: str, *, htmx: bool = False) -> httpx.Response:
        return self.client.get(path, headers=HTMX if htmx else {})

    def post(
        self,
        path: str,
        data: dict[str, str] | None = None,
        *,
        htmx: bool = True,
        token: str | None = None,
    ) -> httpx.Response:
        form = {"csrf_token": self.csrf if token is None else token, **(data or {})}
        return self.client.post(
            path, data=form, headers=HTMX if htmx else {}, follow_redirects=False
        )


@pytest.fixture
def ui(container: Container) -> Iterator[UI]:
    """Logged in; no workers and no scheduler, so queued jobs stay queued."""
    app = create_app(container, close_on_shutdown=False, start_workers=False, start_scheduler=False)
    with TestClient(app) as tc:
        yield UI(tc, container.api_key)


@pytest.fixture
def library_id(container: Container, tmp_path: Path) -> int:
    root = tmp_path / "films"
    root.mkdir()
    return container.libraries.create(name="Films", kind="movies", path=str(root)).id


def full_form(container: Container, library_id: int, **changes: str) -> dict[str, str]:
    """The panel's form as a browser sends it: stored values, then `changes`.

    A key `<task>.enabled` with value "" means the box is unchecked (not sent).
    """
    form: dict[str, str] = {}
    for task, sched in container.schedules.get(library_id).tasks.items():
        form[f"{task}.present"] = "1"
        form[f"{task}.interval_hours"] = str(sched.interval_hours)
        if sched.enabled:
            form[f"{task}.enabled"] = "on"
    for key, value in changes.items():
        name = key.replace("__", ".")
        if value == "" and name.endswith(".enabled"):
            form.pop(name, None)
        else:
            form[name] = value
    return form


def task_row(html: str, task: str) -> str:
    match = re.search(rf'<tr id="task-{task}".*?</tr>', html, re.DOTALL)
    assert match, f"task {task} is not in the panel"
    return match.group(0)


def test_panel_renders_the_defaults(ui: UI, library_id: int) -> None:
    page = ui.get(f"/libraries/{library_id}")
    assert page.status_code == 200
    html = page.text
    assert 'id="schedule"' in html and ">Schedule</h2>" in html
    scan = task_row(html, "file_scan")
    assert 'name="file_scan.interval_hours" value="6"' in scan
    assert "checked" not in scan  # file scans are off by default
    assert "Never" in scan and "Off" in scan
    assert f'hx-post="/libraries/{library_id}/schedule/file_scan/run"' in scan
    provider = task_row(html, "provider_update")
    assert 'value="168"' in provider and "checked" in provider
    assert f'hx-post="/libraries/{library_id}/schedule/provider_update/run"' in provider
    verification = task_row(html, "verification")
    assert 'value="24"' in verification and "checked" in verification
    assert f'hx-post="/libraries/{library_id}/schedule/verification/run"' in verification
    assert not re.search(r"<button[^>]*disabled", verification)
    assert 'min="1" max="8760"' in scan
    # live refresh hooks
    assert f'data-library="{library_id}"' in html and "scan" in html

    fragment = ui.get(f"/libraries/{library_id}/schedule", htmx=True)
    assert fragment.status_code == 200
    assert fragment.text.lstrip().startswith('<section id="schedule"')
    assert "<html" not in fragment.text
    # without htmx the panel URL leads to the library page
    plain = ui.get(f"/libraries/{library_id}/schedule")
    assert plain.status_code == 200 and "<html" in plain.text


def test_save_round_trips(ui: UI, container: Container, library_id: int) -> None:
    form = full_form(
        container,
        library_id,
        file_scan__enabled="on",
        file_scan__interval_hours="12",
        cleanup__enabled="",
    )
    response = ui.post(f"/libraries/{library_id}/schedule", form)
    assert response.status_code == 200
    assert "Schedule saved." in response.text
    assert 'hx-swap-oob="beforeend:#toasts"' in response.text
    tasks = container.schedules.get(library_id).tasks
    assert tasks["file_scan"].enabled and tasks["file_scan"].interval_hours == 12
    assert tasks["file_scan"].next_run_at is not None
    assert not tasks["cleanup"].enabled
    assert tasks["verification"].enabled and tasks["verification"].interval_hours == 24
    scan = task_row(response.text, "file_scan")
    assert "checked" in scan and 'value="12"' in scan
    assert "Off" in task_row(response.text, "cleanup")
    # and the full page shows the same
    assert 'value="12"' in task_row(ui.get(f"/libraries/{library_id}").text, "file_scan")


def test_save_without_htmx_redirects(ui: UI, container: Container, library_id: int) -> None:
    form = full_form(container, library_id, verification__interval_hours="48")
    response = ui.post(f"/libraries/{library_id}/schedule", form, htmx=False)
    assert response.status_code == 303
    assert response.headers["location"] == f"/libraries/{library_id}#schedule"
    assert container.schedules.get(library_id).tasks["verification"].interval_hours == 48


@pytest.mark.parametrize(
    ("value", "message"),
    [("0", "between 1 and 8760"), ("9000", "between 1 and 8760"), ("x", "whole number")],
)
def test_invalid_interval_is_shown_inline(
    ui: UI, container: Container, library_id: int, value: str, message: str
) -> None:
    form = full_form(
        container,
        library_id,
        file_scan__enabled="on",
        verification__interval_hours="36",
        cleanup__interval_hours=value,
    )
    response = ui.post(f"/libraries/{library_id}/schedule", form)
    assert response.status_code == 422
    row = task_row(response.text, "cleanup")
    assert 'id="cleanup-interval-error"' in row and message in row
    assert 'aria-invalid="true"' in row
    assert f'value="{value}"' in row  # what was typed stays
    # the other typed values are kept too
    assert "checked" in task_row(response.text, "file_scan")
    assert 'value="36"' in task_row(response.text, "verification")
    assert "Schedule saved." not in response.text
    # nothing was saved (all or nothing)
    tasks = container.schedules.get(library_id).tasks
    assert not tasks["file_scan"].enabled
    assert tasks["verification"].interval_hours == 24
    assert tasks["cleanup"].interval_hours == 24

    plain = ui.post(f"/libraries/{library_id}/schedule", form, htmx=False)
    assert plain.status_code == 422
    assert "<html" in plain.text and 'id="cleanup-interval-error"' in plain.text


def test_run_now_queues_a_file_scan(ui: UI, container: Container, library_id: int) -> None:
    response = ui.post(f"/libraries/{library_id}/schedule/file_scan/run")
    assert response.status_code == 200
    match = re.search(r"Queued \(job (\d+)\)", response.text)
    assert match, response.text
    job = container.jobs.get(int(match.group(1)))
    assert job.type == "scan" and job.status.value == "queued"
    assert job.payload.get("library_id") == library_id
    scan = task_row(response.text, "file_scan")
    assert f'href="/activity#job-{job.id}"' in scan
    assert "queued" in scan
    assert container.schedules.get(library_id).tasks["file_scan"].last_job_id == job.id


def test_run_now_of_an_unavailable_task_is_refused_inline(
    ui: UI, container: Container, library_id: int
) -> None:
    before = container.jobs.stats().by_status
    runner = container.schedules._runners.pop("verification")  # a version without the handler
    try:
        page = ui.get(f"/libraries/{library_id}").text
        assert "this task has no handler in this version" in task_row(page, "verification")
        response = ui.post(f"/libraries/{library_id}/schedule/verification/run")
    finally:
        container.schedules._runners["verification"] = runner
    assert response.status_code == 409
    row = task_row(response.text, "verification")
    assert 'class="row-message err"' in row and "cannot run now" in row
    assert container.jobs.stats().by_status == before
    assert ui.post(f"/libraries/{library_id}/schedule/nonsense/run").status_code == 404
    assert ui.post("/libraries/999999/schedule/file_scan/run").status_code == 404
    assert ui.post("/libraries/999999/schedule", {"cleanup.interval_hours": "5"}).status_code == (
        404
    )


def test_csrf_is_enforced(ui: UI, container: Container, library_id: int) -> None:
    form = full_form(container, library_id, cleanup__interval_hours="5")
    assert ui.post(f"/libraries/{library_id}/schedule", form, token="nope").status_code == 403
    assert ui.post(f"/libraries/{library_id}/schedule", form, token="").status_code == 403
    assert container.schedules.get(library_id).tasks["cleanup"].interval_hours == 24
    run = ui.post(f"/libraries/{library_id}/schedule/file_scan/run", token="nope")
    assert run.status_code == 403
    assert container.schedules.get(library_id).tasks["file_scan"].last_job_id is None


def test_login_required(container: Container, library_id: int) -> None:
    app = create_app(container, close_on_shutdown=False, start_workers=False, start_scheduler=False)
    with TestClient(app) as tc:
        response = tc.get(f"/libraries/{library_id}/schedule", follow_redirects=False)
        assert response.status_code == 303
        assert "/login" in response.headers["location"]


# ---- the browser ------------------------------------------------------------


@pytest.mark.web
def test_browser_schedule_and_webhooks(
    live_server: Any, container: Container, tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    from tests.web.test_browser import DESKTOP, Console, chromium, log_in, shot

    root = tmp_path / "media"
    root.mkdir()
    library = container.libraries.create(name="Films", kind="movies", path=str(root))
    base = live_server.url
    console = Console()
    with chromium() as browser:
        page = console.watch(browser.new_page(viewport=DESKTOP))
        log_in(page, base, container.api_key)
        page.goto(f"{base}/libraries/{library.id}")
        panel = page.locator("#schedule")
        expect(panel).to_be_visible()
        shot(page, "schedule-defaults")

        # a refused interval comes back beside its field
        page.fill("#cleanup-interval", "0")
        panel.get_by_role("button", name="Save schedule").click()
        expect(page.locator("#cleanup-interval-error")).to_contain_text("between 1 and 8760")
        shot(page, "schedule-error")
        console.expected_status(422)
        page.fill("#cleanup-interval", "24")

        page.locator("#task-file_scan .switch").click()
        expect(page.locator("#file_scan-enabled")).to_be_checked()
        page.fill("#file_scan-interval", "12")
        panel.get_by_role("button", name="Save schedule").click()
        expect(page.locator(".toast", has_text="Schedule saved.")).to_be_visible()
        expect(page.locator("#file_scan-interval")).to_have_value("12")
        expect(page.locator("#file_scan-enabled")).to_be_checked()
        sched = container.schedules.get(library.id).tasks["file_scan"]
        assert sched.enabled and sched.interval_hours == 12

        page.locator("#task-file_scan").get_by_role("button", name="Run now").click()
        expect(page.locator(".toast", has_text=re.compile(r"Queued \(job \d+\)"))).to_be_visible()
        job_link = page.locator("#task-file_scan a", has_text="job #")
        expect(job_link).to_be_visible()
        shot(page, "schedule-queued")
        # the scan ends (workers run): the panel refreshes live to the final status
        expect(page.locator("#task-file_scan .badge", has_text="succeeded")).to_be_visible(
            timeout=20_000
        )
        shot(page, "schedule-after-run")
        expect(
            page.locator("#task-verification").get_by_role("button", name="Run now")
        ).to_be_enabled()

        # the webhooks page, after one recorded test call
        body = (
            Path(__file__).parents[1] / "fixtures/webhooks/radarr/radarr_test.json"
        ).read_bytes()
        sent = httpx.post(
            f"{base}/api/v1/webhooks/radarr",
            params={"apikey": container.api_key},
            content=body,
            headers={"Content-Type": "application/json"},
        )
        assert sent.status_code < 300, sent.text
        page.get_by_role("link", name="Webhooks").click()
        expect(page).to_have_url(f"{base}/webhooks")
        expect(page.locator("#webhook-events tbody tr")).to_have_count(1)
        assert container.api_key not in page.content()
        shot(page, "webhooks-page")
        page.fill("#mapping-from", "relative")
        page.fill("#mapping-to", str(root))
        page.get_by_role("button", name="Add mapping").click()
        expect(page.locator("#mapping-from-error")).to_contain_text("absolute")
        console.expected_status(422)
        page.fill("#mapping-from", "/movies")
        page.get_by_role("button", name="Add mapping").click()
        expect(page.locator("#mappings tbody tr")).to_have_count(1)
        shot(page, "webhooks-mapping")
        page.locator("#webhook-events a").first.click()
        expect(page.locator("pre.payload")).to_contain_text('"eventType": "Test"')
        shot(page, "webhooks-event")
        page.set_viewport_size({"width": 390, "height": 844})
        page.goto(f"{base}/libraries/{library.id}")
        shot(page, "schedule-phone")
    assert console.problems == []
