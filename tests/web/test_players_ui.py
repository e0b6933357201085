"""The Players page over HTTP (add with a test before save, status, settings, groups, path
test, CSRF), the movie page's sync section and the library switch; and in Chromium (add a
Jellyfin player against the fake server after a connection test, then test a path)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from metarr.bootstrap import Container
from metarr.testing.fake_players import JELLYFIN_TOKEN, FakeJellyfinServer
from tests.web.test_schedule_ui import UI

SHOTS = Path("/tmp/shots")


@pytest.fixture
def jellyfin() -> Iterator[FakeJellyfinServer]:
    with FakeJellyfinServer() as server:
        yield server


def add_form(server: FakeJellyfinServer, **changes: str) -> dict[str, str]:
    form = {
        "type": "jellyfin",
        "name": "Den",
        "host": "127.0.0.1",
        "port": str(server.port),
        "token": server.token,
        "from.0": "/srv/movies",
        "to.0": "/media/movies",
    }
    form.update(changes)
    return form


def test_page_type_forms_and_nav(ui: UI) -> None:
    page = ui.get("/players")
    assert page.status_code == 200
    assert re.search(r'<a href="/players"\s+class="active" aria-current="page"', page.text)
    assert 'hx-get="/players/new?type=kodi"' in page.text and "No player yet" in page.text
    kodi = ui.get("/players/new?type=kodi", htmx=True).text
    assert 'name="port" type="number" min="1" max="65535" value="8080"' in kodi
    assert 'name="tcp_port"' in kodi and 'value="9090"' in kodi and 'name="password"' in kodi
    jelly = ui.get("/players/new?type=jellyfin", htmx=True).text
    assert 'value="8096"' in jelly and 'name="token"' in jelly and 'name="password"' not in jelly
    assert 'value="32400"' in ui.get("/players/new?type=plex", htmx=True).text


def test_add_tests_first_and_never_shows_the_token(
    ui: UI, container: Container, jellyfin: FakeJellyfinServer
) -> None:
    tested = ui.post("/players/test-new", add_form(jellyfin))
    assert "Connected:" in tested.text and "10.9.11" in tested.text
    assert container.players.list() == []  # a test saves nothing
    wrong = ui.post("/players", add_form(jellyfin, token="bad-token"))
    assert wrong.status_code == 422
    assert "connection test failed" in wrong.text and "bad-token" not in wrong.text
    assert container.players.list() == []
    added = ui.post("/players", add_form(jellyfin))
    assert added.status_code == 201, added.text
    assert "Den added." in added.text and JELLYFIN_TOKEN not in added.text
    [player] = container.players.list()
    assert player.path_mappings == [{"from": "/srv/movies", "to": "/media/movies"}]
    page = ui.get("/players").text
    assert f'id="player-{player.id}"' in page and JELLYFIN_TOKEN not in page
    status = ui.get(f"/players/{player.id}/status", htmx=True).text
    assert 'data-state="connected"' in status and "idle" in status
    jellyfin.play("Heat", "/media/movies/Heat (1995)/Heat (1995).mkv")
    container.player_monitor.check_all()
    assert "▶ Heat" in ui.get("/players").text
    # CSRF is required
    assert ui.post("/players", add_form(jellyfin, name="X"), token="nope").status_code == 403


def test_settings_groups_path_test_and_delete(
    ui: UI, container: Container, jellyfin: FakeJellyfinServer
) -> None:
    ui.post("/players", add_form(jellyfin))
    [player] = container.players.list()
    saved = ui.post(
        f"/players/{player.id}/settings",
        {"from.0": "/srv/movies", "to.0": "smb://nas/movies", "group": "Shared", "enabled": "on"},
    )
    assert saved.status_code == 200 and "Den saved." in saved.text
    assert container.players.get(player.id).group == "Shared"
    refused = ui.post(f"/players/{player.id}/settings", {"from.0": "relative", "to.0": "/x"})
    assert refused.status_code == 422 and "absolute path" in refused.text
    groups = ui.post("/player-groups", {"name": "Upstairs"})
    assert "Upstairs" in groups.text and "Shared" in groups.text
    path = ui.post(
        "/path-mappings/test",
        {"player_id": str(player.id), "path": "/srv/movies/Heat (1995)/Heat.mkv"},
    )
    assert "smb://nas/movies/Heat (1995)/Heat.mkv" in path.text and "rule:" in path.text
    bad = ui.post("/path-mappings/test", {"player_id": str(player.id), "path": "x"})
    assert bad.status_code == 422 and "absolute path" in bad.text
    gone = ui.post(f"/players/{player.id}/delete")
    assert "Den removed." in gone.text and container.players.list() == []


def test_movie_section_sync_now_and_library_switch(
    ui: UI, container: Container, jellyfin: FakeJellyfinServer, movie_id: int
) -> None:
    page = ui.get(f"/movies/{movie_id}").text
    assert f'hx-get="/movies/{movie_id}/players"' in page
    empty = ui.get(f"/movies/{movie_id}/players", htmx=True).text
    assert "No player shows this library" in empty and "disabled" in empty
    ui.post("/players", add_form(jellyfin))
    queued = ui.post(f"/movies/{movie_id}/sync")
    assert "Sync queued (1 job)." in queued.text
    library_id = container.libraries.list()[0].id
    assert 'name="auto_sync"' in ui.get(f"/libraries/{library_id}").text
    off = ui.post(f"/libraries/{library_id}/auto-sync", {})
    assert off.status_code == 200 and container.libraries.get(library_id).auto_sync is False
    ui.post(f"/libraries/{library_id}/auto-sync", {"auto_sync": "on"})
    assert container.libraries.get(library_id).auto_sync is True


@pytest.mark.web
def test_browser_add_a_jellyfin_player_and_test_a_path(
    live_server: Any, container: Container, jellyfin: FakeJellyfinServer
) -> None:
    from playwright.sync_api import expect

    from tests.web.test_browser import DESKTOP, Console, chromium, log_in

    base = live_server.url
    console = Console()
    SHOTS.mkdir(parents=True, exist_ok=True)
    with chromium() as browser:
        page = console.watch(browser.new_page(viewport=DESKTOP))
        log_in(page, base, container.api_key)
        page.get_by_role("link", name="Players").click()
        expect(page).to_have_url(f"{base}/players")
        page.get_by_role("button", name="Jellyfin").click()
        expect(page.locator("#player-port")).to_have_value("8096")
        page.fill("#player-name", "Den")
        page.fill("#player-host", "127.0.0.1")
        page.fill("#player-port", str(jellyfin.port))
        page.fill("#player-token", "not-the-key")
        page.get_by_role("button", name="Test connection").click()
        expect(page.locator("#player-test-new")).to_contain_text("Test failed")
        page.fill("#player-token", jellyfin.token)
        page.get_by_role("button", name="Test connection").click()
        expect(page.locator("#player-test-new")).to_contain_text("Connected: Fake Jellyfin 10.9.11")
        page.fill("input[name='from.0']", "/srv/movies")
        page.fill("input[name='to.0']", "smb://nas/movies")
        page.locator("#add-player").screenshot(path=str(SHOTS / "players-add-form.png"))
        page.get_by_role("button", name="Save", exact=True).click()
        expect(page.locator(".toast", has_text="Den added.")).to_be_visible()
        card = page.locator(".player-card", has_text="Den")
        expect(card.locator("[data-state]")).to_have_attribute("data-state", "connected")
        expect(page.locator("#player-token")).to_have_count(0)  # the form starts over

        # live status: the page follows player.activity events
        jellyfin.play("Heat", "smb://nas/movies/Heat (1995)/Heat (1995).mkv")
        container.player_monitor.check_all()
        expect(card.locator(".now-playing")).to_have_text("▶ Heat")

        page.select_option("#path-test-player", label="Den")
        page.fill("#path-test-path", "/srv/movies/Heat (1995)/Heat (1995).mkv")
        page.get_by_role("button", name="Test path").click()
        expect(page.locator("[data-path-output]")).to_have_text(
            "smb://nas/movies/Heat (1995)/Heat (1995).mkv"
        )
        expect(page.locator("[data-path-rule]")).to_contain_text("/srv/movies")
        page.screenshot(path=str(SHOTS / "players.png"), full_page=True)
        page.set_viewport_size({"width": 390, "height": 844})
        page.screenshot(path=str(SHOTS / "players-phone.png"), full_page=True)
    assert console.problems == [], console.problems
