"""A person's artwork choices, change-driven provider updates and cast headshots, end to end."""

from __future__ import annotations

import copy
import io
from datetime import UTC, datetime, timedelta

import pytest
from PIL import Image
from sqlalchemy import select, update

from metarr.db.tables import HistoryRow, LockRow, MovieRow
from metarr.db.tables_assets import AssetCandidateRow
from metarr.domain.errors import NotFound
from metarr.jobs import JobStatus
from metarr.jobs.tables import JobRow
from metarr.testing.fake_providers import generate_movie
from tests.integration.test_enrich import (  # fixtures are used by name
    GENERATED,
    Env,
    api,
    cached_file,
    env,
    fake,
    templates,
)

__all__ = ["env", "fake", "templates"]


def _poster_bytes(fmt: str = "JPEG") -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (400, 600), (180, 40, 40)).save(out, fmt)
    return out.getvalue()


def _locks(env: Env, movie_id: int) -> set[str]:
    with env.container.db.session() as s:
        return set(s.scalars(select(LockRow.target).where(LockRow.movie_id == movie_id)))


def _user_asset_history(env: Env, movie_id: int) -> list[tuple[str, object, object]]:
    with env.container.db.session() as s:
        rows = s.execute(
            select(HistoryRow.target, HistoryRow.old, HistoryRow.new).where(
                HistoryRow.movie_id == movie_id,
                HistoryRow.kind == "asset",
                HistoryRow.source == "user",
            )
        ).all()
    return [(r.target, r.old, r.new) for r in rows]


def _enrich_all(env: Env) -> None:
    env.service.enqueue_library(env.library_id)
    env.drain()


def test_select_upload_block_and_lock(env: Env) -> None:
    env.builder.movie("Picked", 2001, tmdb=GENERATED, artwork=())
    env.builder.movie("Uploaded", 2002, tmdb=GENERATED + 1, artwork=())
    env.builder.movie("Blocked", 2003, tmdb=GENERATED + 2, artwork=())
    env.scan()
    picked = env.movie_id("Picked (2001)")
    uploaded = env.movie_id("Uploaded (2002)")
    blocked = env.movie_id("Blocked (2003)")
    _enrich_all(env)
    client = api(env)
    with client:
        # a person picks a candidate that is not the best one
        posters = client.get(f"/api/v1/movies/{picked}/assets").json()["types"]["poster"]
        assert len(posters["candidates"]) >= 2 and posters["candidates"][0]["selected"]
        choice = next(c for c in posters["candidates"][1:] if not c["rejected"])["url"]
        body = client.post(
            f"/api/v1/movies/{picked}/assets/poster/select", json={"url": choice}
        ).json()
        assert body["locked"] is True
        [selected] = body["selected"]
        assert selected["url"] == choice and selected["selected_by"] == "user"
        assert cached_file(env.data_dir, selected["sha256"]).is_file()
        assert "asset:poster" in _locks(env, picked)
        assert [t for t, _, _ in _user_asset_history(env, picked)] == ["poster"]

        # errors: unknown type, movie, URL
        assert (
            client.post(
                f"/api/v1/movies/{picked}/assets/sticker/select", json={"url": choice}
            ).status_code
            == 422
        )
        assert (
            client.post(
                "/api/v1/movies/999999/assets/poster/select", json={"url": choice}
            ).status_code
            == 404
        )
        assert (
            client.post(
                f"/api/v1/movies/{picked}/assets/poster/select", json={"url": "http://nope/x.jpg"}
            ).status_code
            == 404
        )

        # an upload: validated, cached, selected and locked; garbage is refused, nothing cached
        image = _poster_bytes()
        response = client.post(
            f"/api/v1/movies/{uploaded}/assets/poster/upload",
            files={"file": ("mine.jpg", image, "image/jpeg")},
        )
        assert response.status_code == 200, response.text
        body = response.json()
        [mine] = body["selected"]
        assert body["locked"] and mine["provider"] == "user" and mine["selected_by"] == "user"
        assert cached_file(env.data_dir, mine["sha256"]).read_bytes() == image
        files_before = env.service.cache.stats().files
        bad = client.post(
            f"/api/v1/movies/{uploaded}/assets/poster/upload",
            files={"file": ("x.jpg", b"not an image at all", "image/jpeg")},
        )
        assert bad.status_code == 422
        assert bad.headers["content-type"].startswith("application/problem+json")
        assert env.service.cache.stats().files == files_before

        # block the auto-selected poster: dropped now, another one chosen on the next enrich
        posters = client.get(f"/api/v1/movies/{blocked}/assets").json()["types"]["poster"]
        [auto] = posters["selected"]
        assert auto["selected_by"] == "auto"
        body = client.post(
            f"/api/v1/movies/{blocked}/assets/poster/block", json={"url": auto["url"]}
        ).json()
        assert body["selected"] == [] and body["locked"] is False

        # lock / unlock by hand
        assert client.post(f"/api/v1/movies/{blocked}/assets/fanart/lock").json()["locked"]
        assert not client.post(f"/api/v1/movies/{blocked}/assets/fanart/unlock").json()["locked"]

    env.fake.clear_requests()
    _enrich_all(env)
    picks = {t.type: t for t in env.service.assets(picked)}
    assert [v.url for v in picks["poster"].selected] == [choice]  # the person's pick stays
    ups = {t.type: t for t in env.service.assets(uploaded)}
    assert [v.sha256 for v in ups["poster"].selected] == [mine["sha256"]]
    again = {t.type: t for t in env.service.assets(blocked)}
    [replacement] = again["poster"].selected
    assert replacement.url != auto["url"] and replacement.selected_by == "auto"
    assert next(c for c in again["poster"].candidates if c.url == auto["url"]).blocked


def _age(env: Env, movie_id: int, days: int) -> None:
    """Make the movie look as if no provider touched it for `days` days."""
    then = datetime.now(UTC) - timedelta(days=days)
    with env.container.db.session() as s:
        s.execute(update(HistoryRow).where(HistoryRow.movie_id == movie_id).values(at=then))
        s.execute(
            update(AssetCandidateRow)
            .where(AssetCandidateRow.movie_id == movie_id)
            .values(fetched_at=then)
        )
        s.execute(
            update(JobRow).where(JobRow.target == f"movie:{movie_id}").values(finished_at=then)
        )


def _provider_update(env: Env) -> dict[str, object]:
    # TMDB details sit in the providers' 7-day response cache; until `movie_details` can
    # bypass it for a refresh, emptying it stands in for that bypass (see the report).
    env.service.providers.tmdb.http.deps.cache.clear()
    job_id = env.service.schedule_runner(env.library_id, "schedule")
    env.drain()
    job = env.container.queue.get(job_id)
    assert job is not None and job.status == JobStatus.SUCCEEDED, job
    assert job.result is not None
    return job.result


def test_provider_update_is_change_driven(env: Env) -> None:
    env.builder.movie("One", 2001, tmdb=GENERATED, artwork=())
    env.builder.movie("Two", 2002, tmdb=GENERATED + 1, artwork=())
    env.builder.movie("Quiet", 2003, tmdb=GENERATED + 2, artwork=())
    env.scan()
    one, two, quiet = (env.movie_id(f) for f in ("One (2001)", "Two (2002)", "Quiet (2003)"))
    with env.container.db.session() as s:
        s.execute(update(MovieRow).where(MovieRow.id == quiet).values(monitored=False))
    _enrich_all(env)

    # an unchanged library: the changes list only
    env.fake.changed_ids = []
    env.fake.clear_requests()
    first = _provider_update(env)
    tmdb = env.fake.requests_to("tmdb")
    assert 1 <= len(tmdb) <= 3
    assert all(r.path == "/3/movie/changes" for r in tmdb)
    assert env.fake.requests_to("images") == []
    assert first["changed"] == [] and first["stale"] == [] and first["job_ids"] == []

    # TMDB changed one of ours (and the unmonitored one): that one is re-enriched, once
    env.fake.changed_ids = [GENERATED, GENERATED + 2, 4242]
    env.fake.clear_requests()
    second = _provider_update(env)
    assert second["since"] == first["checked_until"]  # picks up where the last one stopped
    assert second["changed"] == [one]
    assert len(env.fake.requests_to("tmdb", f"/3/movie/{GENERATED}")) == 1
    assert env.fake.requests_to("tmdb", f"/3/movie/{GENERATED + 1}") == []
    assert env.fake.requests_to("tmdb", f"/3/movie/{GENERATED + 2}") == []

    # nothing changed, but one movie is older than the force-refresh age
    _age(env, two, days=40)
    env.fake.changed_ids = []
    env.fake.clear_requests()
    third = _provider_update(env)
    assert third["stale"] == [two]
    assert len(env.fake.requests_to("tmdb", f"/3/movie/{GENERATED + 1}")) == 1
    assert env.fake.requests_to("tmdb", f"/3/movie/{GENERATED}") == []

    with pytest.raises(NotFound):
        env.service.schedule_runner(999999, "manual")


def test_headshots_cached_once_per_person(env: Env) -> None:
    other = GENERATED + 50
    shared = copy.deepcopy(env.fake.tmdb_movie(GENERATED))
    assert shared is not None
    star = dict(shared["credits"]["cast"][0])
    payload = generate_movie(other)
    payload["credits"]["cast"].append({**star, "order": len(payload["credits"]["cast"])})
    env.fake.movies[other] = payload
    env.builder.movie("First", 2001, tmdb=GENERATED, artwork=())
    env.builder.movie("Second", 2002, tmdb=other, artwork=())
    env.scan()
    first, second = env.movie_id("First (2001)"), env.movie_id("Second (2002)")
    _enrich_all(env)

    cast_a = env.fields(first)["cast"][0]
    cast_b = env.fields(second)["cast"][0]
    a = next(x for x in cast_a if x["name"] == star["name"] and x["thumb"])
    b = next(x for x in cast_b if x["name"] == star["name"] and x["thumb"])
    assert a["thumb"] == b["thumb"] and a["thumb_sha256"] == b["thumb_sha256"]
    assert cached_file(env.data_dir, a["thumb_sha256"]).is_file()
    profile = star["profile_path"]
    assert len([r for r in env.fake.requests_to("images") if r.path.endswith(profile)]) == 1
    assert all(x.get("thumb_sha256") for x in cast_a if x["thumb"])

    # a second run downloads no headshot again and rewrites nothing
    env.fake.clear_requests()
    history = env.history_count()
    _enrich_all(env)
    assert env.fake.requests_to("images") == []
    assert env.history_count() == history
