"""The movie page's artwork controls over HTTP: use, block, upload, lock and unlock a type."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image

from metarr.bootstrap import Container
from metarr.db import candidate_store
from metarr.storage.cache import ContentCache
from tests.web.test_schedule_ui import UI


def png(width: int, height: int, colour: tuple[int, int, int]) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(out, format="PNG")
    return out.getvalue()


@pytest.fixture
def posters(container: Container, movie_id: int) -> list[str]:
    """Two poster candidates already in the cache (so picking one needs no network)."""
    cache = ContentCache(Path(container.settings.data_dir) / "cache")
    urls = []
    rows = []
    for n, colour in enumerate([(200, 10, 10), (10, 10, 200)]):
        stored = cache.put_bytes(png(200, 300, colour), "png")
        url = f"https://image.tmdb.invalid/p{n}.png"
        urls.append(url)
        rows.append(
            {
                "type": "poster",
                "url": url,
                "provider": "tmdb",
                "width": 200,
                "height": 300,
                "language": "en",
                "votes": 5 - n,
                "vote_average": 5.0,
                "score": 80.0 - n,
                "sha256": stored.sha256,
            }
        )
    with container.db.session() as s:
        candidate_store.upsert_candidates(s.connection(), movie_id, rows)
    return urls


def selected(container: Container, movie_id: int, kind: str = "poster") -> list[str]:
    t = container.enrichment.asset_type(movie_id, kind)
    return [v.url for v in t.selected]


def test_page_shows_controls(ui: UI, movie_id: int, posters: list[str]) -> None:
    html = ui.get(f"/movies/{movie_id}").text
    assert f'hx-post="/movies/{movie_id}/art/poster/select"' in html
    assert f'hx-post="/movies/{movie_id}/art/poster/block"' in html
    assert f'hx-post="/movies/{movie_id}/art/poster/upload"' in html
    assert f'hx-post="/movies/{movie_id}/art/poster/lock"' in html
    assert posters[1] in html


def test_use_selects_and_locks(
    ui: UI,
    container: Container,
    movie_id: int,
    posters: list[str],
) -> None:
    response = ui.post(f"/movies/{movie_id}/art/poster/select", {"url": posters[1]})
    assert response.status_code == 200
    assert selected(container, movie_id) == [posters[1]]
    assert container.enrichment.asset_type(movie_id, "poster").locked
    html = response.text
    assert html.lstrip().startswith('<div class="art-type" id="art-poster">')
    assert "selected by user" in html and "Unlock" in html and "type is locked" in html
    history = container.edit.history(movie_id, limit=20)
    assert any(c.kind == "asset" and c.target == "poster" for c in history)


def test_block_drops_a_selection(
    ui: UI,
    container: Container,
    movie_id: int,
    posters: list[str],
) -> None:
    ui.post(f"/movies/{movie_id}/art/poster/select", {"url": posters[0]})
    response = ui.post(f"/movies/{movie_id}/art/poster/block", {"url": posters[0]})
    assert response.status_code == 200
    assert selected(container, movie_id) == []
    blocked = [c for c in container.enrichment.asset_type(movie_id, "poster").candidates]
    assert [c.blocked for c in blocked if c.url == posters[0]] == [True]
    assert "badge err" in response.text


def test_lock_and_unlock_type(
    ui: UI,
    container: Container,
    movie_id: int,
    posters: list[str],
) -> None:
    assert ui.post(f"/movies/{movie_id}/art/poster/lock").status_code == 200
    assert container.enrichment.asset_type(movie_id, "poster").locked
    response = ui.post(f"/movies/{movie_id}/art/poster/unlock")
    assert response.status_code == 200
    assert not container.enrichment.asset_type(movie_id, "poster").locked
    assert "Lock</button>" in response.text


def test_upload_selects_the_image(ui: UI, container: Container, movie_id: int) -> None:
    data = png(400, 600, (0, 150, 0))
    response = ui.client.post(
        f"/movies/{movie_id}/art/poster/upload",
        data={"csrf_token": ui.csrf},
        files={"file": ("mine.png", data, "image/png")},
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 200, response.text
    t = container.enrichment.asset_type(movie_id, "poster")
    assert t.locked and len(t.selected) == 1 and t.selected[0].provider == "user"
    cache = ContentCache(Path(container.settings.data_dir) / "cache")
    stored = t.selected[0].sha256
    assert stored is not None and cache.exists(stored)
    assert "Uploaded mine.png" in response.text


def test_bad_upload_is_refused_inline(ui: UI, container: Container, movie_id: int) -> None:
    response = ui.client.post(
        f"/movies/{movie_id}/art/poster/upload",
        data={"csrf_token": ui.csrf},
        files={"file": ("evil.png", b"not an image at all", "image/png")},
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 422
    assert 'role="alert"' in response.text
    assert selected(container, movie_id) == []
    missing = ui.client.post(
        f"/movies/{movie_id}/art/poster/upload",
        data={"csrf_token": ui.csrf},
        headers={"HX-Request": "true"},
    )
    assert missing.status_code == 422 and "choose an image file" in missing.text


def test_unknown_candidate_type_and_movie(ui: UI, movie_id: int, posters: list[str]) -> None:
    gone = ui.post(f"/movies/{movie_id}/art/poster/select", {"url": "https://x.invalid/none"})
    assert gone.status_code == 404
    assert ui.post(f"/movies/{movie_id}/art/bogus/lock").status_code in (404, 422)
    assert ui.post("/movies/999999/art/poster/lock").status_code == 404


def test_csrf_is_required(ui: UI, container: Container, movie_id: int, posters: list[str]) -> None:
    response = ui.post(f"/movies/{movie_id}/art/poster/select", {"url": posters[0]}, token="bad")
    assert response.status_code == 403
    assert selected(container, movie_id) == []
