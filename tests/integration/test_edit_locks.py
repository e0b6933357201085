"""A person's edits: PATCH locks the field, automation never overwrites it, history and undo."""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from metarr.bootstrap import Container
from metarr.db import scan_store
from metarr.db.scan_store import MovieWrite
from metarr.db.tables import MovieRow
from metarr.domain.fields import automated_changes
from metarr.services.browse import MovieQuery
from metarr.testing.library_builder import LibraryBuilder
from tests.conftest import wait_scan


@pytest.fixture(scope="module")
def templates(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("templates")


def _scanned_movie(client: httpx.Client, root: Path, templates: Path) -> tuple[int, int, Path]:
    b = LibraryBuilder(root, templates_dir=templates)
    folder = b.movie("The Matrix", 1999, tmdb=603, imdb="tt0133093", plot="Original plot.")
    lib = client.post("/api/v1/libraries", json={"name": "M", "path": str(root)}).json()
    scan = client.post(f"/api/v1/libraries/{lib['id']}/scan").json()
    assert wait_scan(client, scan["id"])["status"] == "succeeded"
    movie = client.get("/api/v1/movies").json()["items"][0]
    return lib["id"], movie["id"], folder


def _rescan(client: httpx.Client, lib_id: int) -> None:
    scan = client.post(f"/api/v1/libraries/{lib_id}/scan").json()
    assert wait_scan(client, scan["id"])["status"] == "succeeded"


def test_edit_survives_a_rescan_with_a_changed_nfo(
    client: httpx.Client, tmp_path: Path, templates: Path
) -> None:
    lib_id, movie_id, folder = _scanned_movie(client, tmp_path / "lib", templates)
    before = client.get(f"/api/v1/movies/{movie_id}").json()["metadata"]
    assert before["plot"]["value"] == "Original plot." and before["plot"]["source"] == "nfo"

    resp = client.patch(
        f"/api/v1/movies/{movie_id}", json={"plot": "My plot.", "genres": ["Action", "Sci-Fi"]}
    )
    assert resp.status_code == 200, resp.text
    meta = resp.json()["metadata"]
    assert meta["plot"]["value"] == "My plot." and meta["plot"]["source"] == "user"
    assert meta["plot"]["locked"] is True and meta["genres"]["locked"] is True
    assert meta["title"]["locked"] is False

    nfo = folder / "The Matrix (1999).nfo"
    text = nfo.read_text(encoding="utf-8")
    text = text.replace("Original plot.", "NFO rewrite.").replace("The Matrix<", "Matrix, The<")
    nfo.write_text(text, encoding="utf-8")
    os.utime(nfo, ns=(1, time.time_ns() + 10**9))
    _rescan(client, lib_id)
    meta = client.get(f"/api/v1/movies/{movie_id}").json()["metadata"]
    assert meta["plot"]["value"] == "My plot."  # locked: the NFO did not win
    assert meta["genres"]["value"] == ["Action", "Sci-Fi"]
    assert meta["title"]["value"] == "Matrix, The"  # unlocked fields follow the NFO

    history = client.get(f"/api/v1/movies/{movie_id}/history").json()
    kinds = [(h["source"], h["kind"], h["target"]) for h in history]
    assert ("user", "field", "plot") in kinds and ("user", "lock", "plot") in kinds
    assert ("nfo", "field", "title") in kinds
    plot_edit = next(
        h
        for h in history
        if h["kind"] == "field" and h["target"] == "plot" and h["source"] == "user"
    )
    assert plot_edit["old"] == "Original plot." and plot_edit["new"] == "My plot."

    # reset: unlock and take back the last automated value
    meta = client.post(f"/api/v1/movies/{movie_id}/reset", json={"field": "plot"}).json()
    assert meta["metadata"]["plot"]["locked"] is False
    assert meta["metadata"]["plot"]["value"] == "Original plot."
    # revert one change (comes back as a locked edit)
    meta = client.post(f"/api/v1/movies/{movie_id}/history/{plot_edit['id']}/revert").json()
    assert meta["metadata"]["plot"]["value"] == "Original plot."


def test_lock_unlock_and_validation(client: httpx.Client, tmp_path: Path, templates: Path) -> None:
    _, movie_id, _ = _scanned_movie(client, tmp_path / "lib", templates)
    meta = client.post(
        f"/api/v1/movies/{movie_id}/lock", json={"targets": ["title", "asset:poster", "cast_order"]}
    ).json()["metadata"]
    assert meta["title"]["locked"] is True
    meta = client.post(f"/api/v1/movies/{movie_id}/unlock", json={"targets": ["title"]}).json()
    assert meta["metadata"]["title"]["locked"] is False
    meta = client.post(f"/api/v1/movies/{movie_id}/lock", json={"targets": ["all"]}).json()
    assert all(f["locked"] for f in meta["metadata"].values())

    for body, field in [
        ({"nonsense": 1}, "nonsense"),
        ({"year": "1999"}, "year"),
        ({"year": 1200}, "year"),
        ({"premiered": "31/03/1999"}, "premiered"),
        ({"cast": [{"role": "Neo"}]}, "cast"),
        ({"genres": "Action"}, "genres"),
    ]:
        resp = client.patch(f"/api/v1/movies/{movie_id}", json=body)
        assert resp.status_code == 422, (body, resp.text)
        assert resp.json()["errors"][0]["field"] == field
    bad = client.post(f"/api/v1/movies/{movie_id}/lock", json={"targets": ["asset:nope"]})
    assert bad.status_code == 422
    assert client.patch("/api/v1/movies/999999", json={"plot": "x"}).status_code == 404


def test_rollback_to_a_point_in_time(client: httpx.Client, tmp_path: Path, templates: Path) -> None:
    _, movie_id, _ = _scanned_movie(client, tmp_path / "lib", templates)
    client.patch(f"/api/v1/movies/{movie_id}", json={"plot": "First."})
    time.sleep(0.05)
    mark = datetime.now(UTC).isoformat()
    time.sleep(0.05)
    client.patch(f"/api/v1/movies/{movie_id}", json={"plot": "Second.", "tagline": "New"})
    meta = client.post(f"/api/v1/movies/{movie_id}/rollback", json={"to": mark}).json()
    assert meta["metadata"]["plot"]["value"] == "First."
    assert meta["metadata"]["tagline"]["value"] is None


FIELDS = ["plot", "tagline", "outline"]
values = st.one_of(st.none(), st.text(max_size=8))
ops = st.lists(
    st.one_of(
        st.tuples(st.just("user"), st.sampled_from(FIELDS), st.text(min_size=1, max_size=8)),
        st.tuples(st.just("auto"), st.sampled_from(FIELDS), values),
    ),
    min_size=1,
    max_size=12,
)


@settings(
    max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(sequence=ops)
def test_property_locked_fields_keep_the_users_value(
    container: Container, tmp_path: Path, sequence: list[tuple[str, str, Any]]
) -> None:
    """Under any mix of automated updates and user edits, a locked field keeps the user's
    value, and automation never replaces a value with an empty one."""
    root = tmp_path / f"lib{time.monotonic_ns()}"
    root.mkdir()
    lib = container.libraries.create(name=root.name, kind="movies", path=str(root))
    now = datetime.now(UTC)
    with container.db.engine.begin() as conn:
        write = MovieWrite(
            None,
            {"key": "m", "folder": "m", "basename": "m", "disc": None, "title": "M", "year": None,
             "sort_key": "m", "status": "unidentified", "review_reason": None,
             "parsed_title": "M", "parsed_year": None, "parse_key": None, "artwork": "",
             "deleted_at": None},
            [], {}, [],
        )  # fmt: skip
        scan_store.write_movies(conn, lib.id, [write], now)
    movie_id = write.movie_id
    assert movie_id is not None
    user_value: dict[str, str] = {}
    for who, field, value in sequence:
        if who == "user":
            container.edit.patch(movie_id, {field: value})
            user_value[field] = value.strip() or None  # type: ignore[assignment]
        else:
            with container.db.engine.begin() as conn:
                current, locks = scan_store.load_fields_and_locks(conn, [movie_id])
                before = dict(current.get(movie_id, {}))
                changes = automated_changes(before, {field: value}, locks.get(movie_id, set()))
                scan_store.write_movies(
                    conn, lib.id,
                    [MovieWrite(movie_id, {}, [], {}, changes, field_source="nfo")], now,
                )  # fmt: skip
            after = container.browse.movie(movie_id).metadata[field]["value"]
            if before.get(field) not in (None, "") and value in (None, ""):
                assert after == before[field]  # never erased
        detail = container.browse.movie(movie_id)
        for f, v in user_value.items():
            assert detail.metadata[f]["locked"] is True
            assert detail.metadata[f]["value"] == v


def test_edits_keep_the_list_columns_in_step(
    container: Container, tmp_path: Path, templates: Path
) -> None:
    root = tmp_path / "lib"
    LibraryBuilder(root, templates_dir=templates).movie("The Matrix", 1999, tmdb=603)
    lib = container.libraries.create(name="M", kind="movies", path=str(root))
    run, _ = container.scans.create(lib.id)
    assert container.scans.run(run.id).status == "succeeded"

    def columns() -> tuple[str | None, int | None, str]:
        with container.db.session() as s:
            row = s.scalars(select(MovieRow)).one()
            return row.title, row.year, row.sort_key

    movie_id = container.browse.movies(MovieQuery()).items[0].id
    assert columns() == ("The Matrix", 1999, "matrix")
    container.edit.patch(movie_id, {"sort_title": "Matrix 1", "title": "The Matrix (Remaster)"})
    assert columns() == ("The Matrix (Remaster)", 1999, "matrix 1")
    container.edit.patch(movie_id, {"year": None, "premiered": "2001-05-04"})
    assert columns() == ("The Matrix (Remaster)", 2001, "matrix 1")  # the premiered year
    container.edit.reset(movie_id, "sort_title")
    container.edit.patch(movie_id, {"title": None, "premiered": None})
    assert columns() == ("The Matrix", 1999, "matrix")  # back to the NFO / parsed name
