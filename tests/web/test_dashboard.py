"""The dashboard at `/`: library completeness, the queue, players, recent activity."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import insert, select, update

from metarr.bootstrap import Container
from metarr.db.tables import MovieRow
from metarr.db.tables_assets import AssetCandidateRow
from metarr.db.tables_publish import PublishedMovieRow
from metarr.testing.fake_players import FakeJellyfinServer
from metarr.testing.library_builder import LibraryBuilder
from tests.web.test_schedule_ui import UI


def _library(container: Container, tmp_path: Path) -> tuple[int, dict[str, int]]:
    """Four movies: complete-ish, bare, art chosen by enrichment, deleted."""
    root = tmp_path / "films"
    b = LibraryBuilder(root)
    b.movie("Heat", 1995, tmdb=949, plot="A heist goes wrong.")  # poster + fanart files
    b.movie("Alien", 1979, nfo=False, artwork=())
    b.movie("Ronin", 1998, tmdb=8195, artwork=("fanart",))
    b.movie("Gone", 2001, tmdb=1, artwork=())
    lib = container.libraries.create(name="Films", kind="movies", path=str(root))
    container.scans.run(container.scans.create(lib.id)[0].id)
    with container.db.session() as s:
        ids = {str(r.title): int(r.id) for r in s.execute(select(MovieRow.id, MovieRow.title))}
        now = datetime.now(UTC)
        s.execute(update(MovieRow).where(MovieRow.id == ids["Gone"]).values(deleted_at=now))
        s.execute(
            insert(AssetCandidateRow).values(
                movie_id=ids["Ronin"],
                type="poster",
                url="https://image.tmdb.org/t/p/original/ronin.jpg",
                provider="tmdb",
                votes=1,
                score=1.0,
                blocked=False,
                selected=True,
                selected_by="auto",
                fetched_at=now,
            )
        )
        s.execute(
            insert(PublishedMovieRow).values(
                movie_id=ids["Heat"], fingerprint="f" * 64, files=3, published_at=now
            )
        )
    return lib.id, ids


def test_completeness_counts_live_movies_per_measure(container: Container, tmp_path: Path) -> None:
    library_id, _ids = _library(container, tmp_path)
    (tmp_path / "empty").mkdir()
    container.libraries.create(name="Empty", kind="movies", path=str(tmp_path / "empty"))
    [empty, films] = container.dashboard.completeness()  # by name
    assert (empty.name, empty.movies, empty.percent("plot"), empty.complete) == (
        "Empty",
        0,
        0,
        True,
    )
    assert films.library_id == library_id and films.movies == 3  # the deleted one is not
    assert films.counts == {
        "identified": 2,  # Heat and Ronin by their NFO ids
        "plot": 2,  # from their NFOs; Alien has none
        "poster": 2,  # Heat's file, Ronin's selected candidate
        "fanart": 2,
        "published": 1,
    }
    assert films.percent("poster") == 66 and films.percent("published") == 33
    assert not films.complete


def test_dashboard_page(ui: UI, container: Container, tmp_path: Path) -> None:
    library_id, _ids = _library(container, tmp_path)
    with FakeJellyfinServer() as jellyfin:
        container.players.create(
            {
                "name": "Den",
                "type": "jellyfin",
                "host": "127.0.0.1",
                "port": jellyfin.port,
                "token": jellyfin.token,
            }
        )
        page = ui.get("/")
        assert page.status_code == 200
        html = page.text
        # libraries and their completeness
        row = re.search(rf'<tr id="completeness-{library_id}">(.*?)</tr>', html, re.S)
        assert row is not None and "Films" in row.group(1)
        assert f'href="/movies?library={library_id}">3</a>' in row.group(1)
        assert re.search(r'data-measure="poster" title="2 of 3">\s*<meter[^>]*value="66"', html)
        # the queue tiles live.js updates, the player's live status, recent activity
        assert 'data-stat="running"' in html and 'id="running"' in html
        assert 'data-player-status="1"' in html and "Den" in html
        assert "/static/js/players.js" in html
        assert "Scan 1 succeeded" in html
        assert 'aria-current="page"' in html.split("Dashboard</span>")[0].rsplit("<li>", 1)[1]
        status = ui.get("/players/1/status", htmx=True).text
        assert "connected" in status


def test_dashboard_needs_a_login(container: Container) -> None:
    from fastapi.testclient import TestClient

    from metarr.api.app import create_app

    app = create_app(container, close_on_shutdown=False, start_workers=False, start_scheduler=False)
    with TestClient(app) as tc:
        response = tc.get("/", follow_redirects=False)
    assert response.status_code == 303 and "/login" in response.headers["location"]


def test_libraries_and_activity_panels_refresh_themselves(
    ui: UI, container: Container, tmp_path: Path
) -> None:
    html = ui.get("/").text
    for panel, url in (
        ("completeness", "/dashboard/libraries"),
        ("recent-activity", "/dashboard/activity"),
    ):
        tag = re.search(rf'<section class="panel" id="{panel}"[^>]*>', html)
        assert tag is not None and f'hx-get="{url}"' in tag.group(0)
        assert 'hx-trigger="metarr-history from:body' in tag.group(0)  # jobs finished (live.js)
    assert "No library yet" in ui.get("/dashboard/libraries", htmx=True).text
    assert "Nothing has happened yet" in ui.get("/dashboard/activity", htmx=True).text
    library_id, _ids = _library(container, tmp_path)  # a scan happens meanwhile
    libraries = ui.get("/dashboard/libraries", htmx=True).text
    assert f'id="completeness-{library_id}"' in libraries and "<html" not in libraries
    assert "Scan 1 succeeded" in ui.get("/dashboard/activity", htmx=True).text
