"""The webhooks page over HTTP: connection help, path mappings, the event log and its detail."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from metarr.api.app import create_app
from metarr.bootstrap import Container
from tests.web.test_schedule_ui import UI

FIXTURE = Path(__file__).parents[1] / "fixtures/webhooks/radarr/radarr_test.json"


@pytest.fixture
def ui(container: Container) -> Iterator[UI]:
    app = create_app(container, close_on_shutdown=False, start_workers=False, start_scheduler=False)
    with TestClient(app) as tc:
        yield UI(tc, container.api_key)


def send(ui: UI, key: str, body: bytes, source: str = "radarr") -> httpx.Response:
    return ui.client.post(
        f"/api/v1/webhooks/{source}",
        params={"apikey": key},
        content=body,
        headers={"Content-Type": "application/json"},
    )


def event_ids(html: str) -> list[int]:
    return [int(n) for n in re.findall(r'<tr id="webhook-event-(\d+)"', html)]


def test_page_explains_the_connection_without_the_api_key(ui: UI, container: Container) -> None:
    page = ui.get("/webhooks")
    assert page.status_code == 200
    html = page.text
    assert container.api_key not in html
    assert "http://testserver/api/v1/webhooks/radarr" in html
    assert "http://testserver/api/v1/webhooks/sonarr" in html
    assert "?apikey=" in html and "Password" in html
    assert 'href="/webhooks" class="active"' in html
    assert "No webhook calls received yet" in html
    assert "No path mappings" in html
    # the sidebar links here from every page
    assert 'href="/webhooks"' in ui.get("/libraries").text


def test_basic_auth_user_is_named_when_configured(container: Container) -> None:
    from pydantic import SecretStr

    object.__setattr__(container.settings, "webhook_username", "radarr-hook")
    object.__setattr__(container.settings, "webhook_password", SecretStr("s3cret-pass"))
    app = create_app(container, close_on_shutdown=False, start_workers=False, start_scheduler=False)
    with TestClient(app) as tc:
        html = UI(tc, container.api_key).get("/webhooks").text
    assert "radarr-hook" in html
    assert "s3cret-pass" not in html and container.api_key not in html


def test_mappings_add_and_delete_with_inline_errors(
    ui: UI, container: Container, tmp_path: Path
) -> None:
    target = tmp_path / "movies"
    target.mkdir()
    bad = ui.post(
        "/webhooks/mappings",
        {"source": "radarr", "from_path": "relative/path", "to_path": str(target)},
    )
    assert bad.status_code == 422
    assert 'id="mapping-from-error"' in bad.text and "absolute" in bad.text
    assert 'value="relative/path"' in bad.text  # typed values kept
    missing = ui.post(
        "/webhooks/mappings",
        {"source": "radarr", "from_path": "/movies", "to_path": str(tmp_path / "nope")},
    )
    assert missing.status_code == 422
    assert 'id="mapping-to-error"' in missing.text and "does not exist" in missing.text
    wrong_source = ui.post(
        "/webhooks/mappings",
        {"source": "plex", "from_path": "/movies", "to_path": str(target)},
    )
    assert wrong_source.status_code == 422 and 'id="mapping-source-error"' in wrong_source.text
    assert container.webhooks.mappings() == []

    added = ui.post(
        "/webhooks/mappings",
        {"source": "radarr", "from_path": "/movies", "to_path": str(target)},
    )
    assert added.status_code == 201
    assert 'hx-swap-oob="beforeend:#toasts"' in added.text
    [mapping] = container.webhooks.mappings()
    assert mapping.from_path == "/movies" and mapping.source == "radarr"
    assert f'id="mapping-{mapping.id}"' in added.text

    again = ui.post(
        "/webhooks/mappings",
        {"source": "radarr", "from_path": "/movies", "to_path": str(target)},
    )
    assert again.status_code == 409 and "already exists" in again.text

    assert f'id="mapping-{mapping.id}"' in ui.get("/webhooks").text
    assert ui.post(f"/webhooks/mappings/{mapping.id}/delete", token="bad").status_code == 403
    assert len(container.webhooks.mappings()) == 1
    deleted = ui.post(f"/webhooks/mappings/{mapping.id}/delete")
    assert deleted.status_code == 200 and "No path mappings" in deleted.text
    assert container.webhooks.mappings() == []
    assert ui.post(f"/webhooks/mappings/{mapping.id}/delete").status_code == 404

    plain = ui.post(
        "/webhooks/mappings",
        {"source": "radarr", "from_path": "/films", "to_path": str(target)},
        htmx=False,
    )
    assert plain.status_code == 303


def test_events_list_filters_and_detail(ui: UI, container: Container) -> None:
    key = container.api_key
    assert send(ui, key, FIXTURE.read_bytes()).status_code == 200
    sonarr = (FIXTURE.parents[1] / "sonarr/sonarr_test.json").read_bytes()
    assert send(ui, key, sonarr, "sonarr").status_code == 200
    grab = (FIXTURE.parent / "radarr_movie_grabbed.json").read_bytes()
    assert send(ui, key, grab).status_code == 200

    page = ui.get("/webhooks").text
    ids = event_ids(page)
    assert len(ids) == 3 and ids == sorted(ids, reverse=True)  # newest first
    first = re.search(rf'<tr id="webhook-event-{ids[-1]}".*?</tr>', page, re.DOTALL)
    assert first is not None
    row = first.group(0)
    assert "Radarr" in row and "<code>Test</code>" in row
    assert 'class="badge ok">processed<' in row
    assert key not in page

    only_sonarr = ui.get("/webhooks?source=sonarr", htmx=True)
    assert only_sonarr.status_code == 200 and "<html" not in only_sonarr.text
    assert len(event_ids(only_sonarr.text)) == 1 and "Sonarr" in only_sonarr.text
    assert only_sonarr.headers["HX-Push-Url"] == "/webhooks?source=sonarr"
    tests_only = ui.get("/webhooks?type=Test").text
    assert len(event_ids(tests_only)) == 2
    grabs = ui.get("/webhooks?source=radarr&type=Grab").text
    assert len(event_ids(grabs)) == 1
    none = ui.get("/webhooks?type=Nothing", htmx=True).text
    assert event_ids(none) == [] and "No webhook events match" in none
    # nonsense filters are dropped, not errors
    assert len(event_ids(ui.get("/webhooks?source=plex&page=abc").text)) == 3

    detail = ui.get(f"/webhooks/events/{ids[-1]}")
    assert detail.status_code == 200
    assert "&#34;eventType&#34;: &#34;Test&#34;" in detail.text or (
        "&quot;eventType&quot;: &quot;Test&quot;" in detail.text
    )
    assert ui.get("/webhooks/events/999999").status_code == 404
    assert ui.get("/webhooks/events/0").status_code == 404


def test_events_paginate(ui: UI, container: Container) -> None:
    body = FIXTURE.read_bytes()
    for _ in range(27):
        assert send(ui, container.api_key, body).status_code == 200
    first = ui.get("/webhooks").text
    assert len(event_ids(first)) == 25 and "Page 1 of 2" in first
    second = ui.get("/webhooks?page=2", htmx=True).text
    assert len(event_ids(second)) == 2 and "Page 2 of 2" in second
    assert set(event_ids(first)).isdisjoint(event_ids(second))


def test_detail_escapes_html_in_payloads(ui: UI, container: Container) -> None:
    payload = json.loads(FIXTURE.read_text())
    payload["movie"]["title"] = "<script>alert(1)</script><b>bold</b>"
    payload["eventType"] = "Test"
    response = send(ui, container.api_key, json.dumps(payload).encode())
    assert response.status_code == 200
    event_id = response.json()["id"]
    detail = ui.get(f"/webhooks/events/{event_id}").text
    assert "<script>alert(1)</script>" not in detail
    assert "<b>bold</b>" not in detail
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in detail
    assert '<pre class="payload">' in detail
    # a body that is not pretty-printable JSON is shown as received, escaped too
    assert container.api_key not in detail


def test_login_and_csrf_are_required(container: Container, tmp_path: Path) -> None:
    app = create_app(container, close_on_shutdown=False, start_workers=False, start_scheduler=False)
    with TestClient(app) as tc:
        page = tc.get("/webhooks", follow_redirects=False)
        assert page.status_code == 303 and "/login" in page.headers["location"]
        ui = UI(tc, container.api_key)
        refused = ui.post(
            "/webhooks/mappings",
            {"source": "radarr", "from_path": "/movies", "to_path": str(tmp_path)},
            token="",
        )
        assert refused.status_code == 403
        assert container.webhooks.mappings() == []
