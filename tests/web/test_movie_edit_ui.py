"""The movie page's editor over HTTP: fields, locks, reset, history, identify, images, CSRF.

Plus one browser check (marked `web`): edit the plot in Chromium.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from metarr.api.app import create_app
from metarr.bootstrap import Container
from metarr.storage.cache import ContentCache
from metarr.testing.library_builder import LibraryBuilder
from tests.web.test_schedule_ui import UI

PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 64


def field(container: Container, movie_id: int, name: str) -> dict[str, Any]:
    return container.browse.movie(movie_id).metadata[name]


def row(html: str, name: str) -> str:
    match = re.search(rf'<tr id="field-{name}".*?</tr>', html, re.DOTALL)
    assert match, f"no row for {name}"
    return match.group(0)


def test_page_shows_the_editor(ui: UI, movie_id: int) -> None:
    html = ui.get(f"/movies/{movie_id}").text
    plot = row(html, "plot")
    assert "<textarea" in plot and "A heist goes wrong." in plot
    assert f'hx-post="/movies/{movie_id}/fields/plot"' in plot
    assert 'aria-pressed="false"' in plot  # unlocked
    assert 'type="number"' in row(html, "year") and 'value="1995"' in row(html, "year")
    assert 'value="Drama"' in row(html, "genres")
    assert ">nfo</span>" in plot
    assert 'id="history"' in html and 'id="cast"' in html and "Vincent" in html
    assert "No artwork candidates yet — run Enrich" in html
    assert "Lock all" in html and "Unlock all" in html


def test_edit_plot_saves_and_locks(ui: UI, container: Container, movie_id: int) -> None:
    response = ui.post(f"/movies/{movie_id}/fields/plot", {"value": "A new plot."})
    assert response.status_code == 200
    saved = field(container, movie_id, "plot")
    assert saved["value"] == "A new plot." and saved["locked"] and saved["source"] == "user"
    html = response.text
    plot = row(html, "plot")
    assert 'aria-pressed="true"' in plot and "Reset" in plot
    # the history comes along out of band, with the change
    assert 'id="history"' in html and 'hx-swap-oob="outerHTML"' in html
    assert "A new plot." in html and "Saved plot." in html


def test_lists_and_numbers(ui: UI, container: Container, movie_id: int) -> None:
    ui.post(f"/movies/{movie_id}/fields/genres", {"value": "Crime, Thriller ,, Drama"})
    assert field(container, movie_id, "genres")["value"] == ["Crime", "Thriller", "Drama"]
    ui.post(f"/movies/{movie_id}/fields/runtime", {"value": "170"})
    assert field(container, movie_id, "runtime")["value"] == 170


@pytest.mark.parametrize("typed", ["1700", "nineteen"])
def test_invalid_year_is_shown_inline(
    ui: UI, container: Container, movie_id: int, typed: str
) -> None:
    response = ui.post(f"/movies/{movie_id}/fields/year", {"value": typed})
    assert response.status_code == 422
    year = row(response.text, "year")
    assert f'value="{typed}"' in year  # the typed value is kept
    assert 'class="field-error"' in year and 'aria-invalid="true"' in year
    assert field(container, movie_id, "year")["value"] == 1995
    assert not field(container, movie_id, "year")["locked"]


def test_lock_and_unlock_toggle(ui: UI, container: Container, movie_id: int) -> None:
    response = ui.post(f"/movies/{movie_id}/fields/title/lock")
    assert response.status_code == 200
    assert field(container, movie_id, "title")["locked"]
    assert f'hx-post="/movies/{movie_id}/fields/title/unlock"' in row(response.text, "title")
    response = ui.post(f"/movies/{movie_id}/fields/title/unlock")
    assert not field(container, movie_id, "title")["locked"]
    assert f'hx-post="/movies/{movie_id}/fields/title/lock"' in row(response.text, "title")
    ui.post(f"/movies/{movie_id}/lock-all")
    detail = container.browse.movie(movie_id)
    assert all(f["locked"] for f in detail.metadata.values())
    ui.post(f"/movies/{movie_id}/unlock-all")
    assert not any(f["locked"] for f in container.browse.movie(movie_id).metadata.values())


def test_cast_order_lock(ui: UI, container: Container, movie_id: int) -> None:
    response = ui.post(f"/movies/{movie_id}/cast-order/lock")
    assert response.status_code == 200
    assert f'hx-post="/movies/{movie_id}/cast-order/unlock"' in response.text
    assert any(
        c.target == "cast_order" and c.kind == "lock" for c in container.edit.history(movie_id)
    )


def test_reset_restores_the_provider_value(ui: UI, container: Container, movie_id: int) -> None:
    ui.post(f"/movies/{movie_id}/fields/plot", {"value": "Mine."})
    response = ui.post(f"/movies/{movie_id}/fields/plot/reset")
    assert response.status_code == 200
    plot = field(container, movie_id, "plot")
    assert plot["value"] == "A heist goes wrong." and not plot["locked"]
    assert "Reset</button>" not in row(response.text, "plot")


def test_history_and_revert(ui: UI, container: Container, movie_id: int) -> None:
    ui.post(f"/movies/{movie_id}/fields/tagline", {"value": "A Los Angeles crime saga"})
    html = ui.get(f"/movies/{movie_id}").text
    history = html[html.index('id="history"') :]
    assert "tagline" in history and "<ins>A Los Angeles crime saga</ins>" in history
    change = next(
        c for c in container.edit.history(movie_id) if c.target == "tagline" and c.kind == "field"
    )
    assert f"/history/{change.id}/revert" in history
    response = ui.post(f"/movies/{movie_id}/history/{change.id}/revert")
    assert response.status_code == 200
    assert field(container, movie_id, "tagline")["value"] is None
    assert "Reverted tagline." in response.text
    # lock changes cannot be reverted
    lock = next(c for c in container.edit.history(movie_id) if c.kind == "lock")
    assert ui.post(f"/movies/{movie_id}/history/{lock.id}/revert").status_code == 422
    assert ui.post(f"/movies/{movie_id}/history/999999/revert").status_code == 404


def test_rollback_to_a_change(ui: UI, container: Container, movie_id: int) -> None:
    first = container.edit.history(movie_id)[0]  # the scan's newest change
    ui.post(f"/movies/{movie_id}/fields/plot", {"value": "One."})
    ui.post(f"/movies/{movie_id}/fields/title", {"value": "Two"})
    response = ui.post(f"/movies/{movie_id}/history/{first.id}/rollback")
    assert response.status_code == 200
    assert "Rolled back 2 fields." in response.text
    assert field(container, movie_id, "plot")["value"] == "A heist goes wrong."
    assert field(container, movie_id, "title")["value"] == "Heat"


def test_long_history_values_fold(ui: UI, movie_id: int) -> None:
    ui.post(f"/movies/{movie_id}/fields/plot", {"value": "word " * 60})
    html = ui.get(f"/movies/{movie_id}").text
    assert '<details class="long-value">' in html[html.index('id="history"') :]


def test_identify_without_tmdb_says_so(ui: UI, movie_id: int) -> None:
    response = ui.get(f"/movies/{movie_id}/identify", htmx=True)
    assert response.status_code == 200
    assert "TMDB is not configured" in response.text
    assert 'id="identify-q"' in response.text and 'value="Heat"' in response.text
    searched = ui.client.get(
        f"/movies/{movie_id}/identify",
        params={"q": "Heat", "year": "1995"},
        headers={"HX-Request": "true"},
    )
    assert "TMDB is not configured" in searched.text
    bad_year = ui.client.get(f"/movies/{movie_id}/identify", params={"q": "Heat", "year": "x"})
    assert bad_year.status_code == 422 and "year must be" in bad_year.text


def test_use_this_identifies_and_queues(ui: UI, container: Container, movie_id: int) -> None:
    response = ui.post(f"/movies/{movie_id}/identify", {"tmdb": "949", "title": "Heat (1995)"})
    assert response.status_code == 200
    assert "Identified as Heat (1995) — enrichment queued" in response.text
    assert container.browse.movie(movie_id).summary.ids["tmdb"] == 949
    assert ui.post(f"/movies/{movie_id}/identify", {"tmdb": "abc"}).status_code == 422


def test_enrich_now_queues_a_job(ui: UI, movie_id: int) -> None:
    response = ui.post(f"/movies/{movie_id}/enrich")
    assert response.status_code == 202
    assert re.search(r"Enrichment queued \(job \d+\)", response.text)


def test_artwork_route(ui: UI, container: Container) -> None:
    stored = ContentCache(Path(container.settings.data_dir) / "cache").put_bytes(PNG, "png")
    assert stored.sha256 == hashlib.sha256(PNG).hexdigest()
    response = ui.get(f"/artwork/{stored.sha256}")
    assert response.status_code == 200
    assert response.content == PNG
    assert response.headers["content-type"] == "image/png"
    assert response.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert ui.get("/artwork/not-a-hash").status_code == 404
    assert ui.get("/artwork/" + "A" * 64).status_code == 404
    assert ui.get("/artwork/" + "0" * 64).status_code == 404  # well formed, not cached
    # login required
    app = create_app(container, close_on_shutdown=False, start_workers=False, start_scheduler=False)
    with TestClient(app) as anonymous:
        answer = anonymous.get(f"/artwork/{stored.sha256}", follow_redirects=False)
        assert answer.status_code == 303 and "/login" in answer.headers["location"]


def test_unknown_movie_and_field(ui: UI, movie_id: int) -> None:
    assert ui.post("/movies/999999/fields/plot", {"value": "x"}).status_code == 404
    assert ui.post(f"/movies/{movie_id}/fields/nonsense", {"value": "x"}).status_code == 404
    assert ui.post(f"/movies/{movie_id}/fields/cast", {"value": "x"}).status_code == 422
    bad_json = ui.post(f"/movies/{movie_id}/fields/ratings", {"value": "[{"})
    assert bad_json.status_code == 422 and "valid JSON" in bad_json.text
    assert '<details class="edit-json" open>' in bad_json.text


@pytest.mark.parametrize(
    "path",
    [
        "fields/plot",
        "fields/plot/lock",
        "fields/plot/reset",
        "lock-all",
        "cast-order/lock",
        "identify",
        "enrich",
    ],
)
def test_csrf_is_enforced(ui: UI, container: Container, movie_id: int, path: str) -> None:
    response = ui.post(f"/movies/{movie_id}/{path}", {"value": "Forged", "tmdb": "1"}, token="bad")
    assert response.status_code == 403
    assert field(container, movie_id, "plot")["value"] == "A heist goes wrong."
    assert not field(container, movie_id, "plot")["locked"]
    assert container.browse.movie(movie_id).summary.ids["tmdb"] is None


# ---- the browser ------------------------------------------------------------


@pytest.mark.web
def test_browser_edit_plot(live_server: Any, container: Container, tmp_path: Path) -> None:
    from playwright.sync_api import expect

    from tests.web.test_browser import DESKTOP, Console, chromium, log_in

    root = tmp_path / "films"
    LibraryBuilder(root).movie("Heat", 1995, plot="A heist goes wrong.", actors=[("Al", "Vincent")])
    library = container.libraries.create(name="Films", kind="movies", path=str(root))
    container.scans.run(container.scans.create(library.id)[0].id)
    from metarr.services.browse import MovieQuery

    movie = container.browse.movies(MovieQuery()).items[0]
    shots = Path("/tmp/metarr-shots")
    base = live_server.url
    console = Console()
    with chromium() as browser:
        page = console.watch(browser.new_page(viewport=DESKTOP))
        log_in(page, base, container.api_key)
        page.goto(f"{base}/movies/{movie.id}")
        plot_row = page.locator("#field-plot")
        expect(plot_row.locator(".lock-toggle")).to_have_attribute("aria-pressed", "false")
        page.screenshot(path=str(shots / "movie-edit-before.png"), full_page=True)

        page.fill("#input-plot", "Cops and robbers in Los Angeles.")
        plot_row.get_by_role("button", name="Save").click()
        expect(page.locator("#field-plot .lock-toggle")).to_have_attribute("aria-pressed", "true")
        expect(page.locator("#field-plot .lock-toggle")).to_have_class(re.compile(r"\blocked\b"))
        expect(page.locator(".toast", has_text="Saved plot.")).to_be_visible()
        expect(page.locator("#history ins", has_text="Cops and robbers")).to_be_visible()
        assert container.browse.movie(movie.id).metadata["plot"]["locked"]
        page.locator("#field-plot").scroll_into_view_if_needed()
        page.screenshot(path=str(shots / "movie-edit-saved.png"), full_page=True)

        # a refused year stays in the box with the error beside it
        page.fill("#input-year", "1700")
        page.locator("#field-year").get_by_role("button", name="Save").click()
        expect(page.locator("#input-year-error")).to_contain_text("between 1870 and 2200")
        expect(page.locator("#input-year")).to_have_value("1700")
        console.expected_status(422)

        # the identify panel explains that TMDB has no key
        page.get_by_role("button", name="Identify…").click()
        expect(page.locator("#identify-panel .alert")).to_contain_text("TMDB is not configured")
        page.screenshot(path=str(shots / "movie-edit-identify.png"), full_page=True)

        page.get_by_role("button", name="Enrich now").click()
        expect(page.locator(".toast", has_text="Enrichment queued")).to_be_visible()
        page.screenshot(path=str(shots / "movie-edit-history.png"), full_page=True)
    assert console.problems == []
