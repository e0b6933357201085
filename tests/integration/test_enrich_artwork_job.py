"""The `artwork` job: queued by `enrich` below it, deduplicated, and followed by publishing.

Real job handlers against the fake providers on 127.0.0.1, on SQLite and PostgreSQL
(the `env` fixture of test_enrich).
"""

from __future__ import annotations

import hashlib
from typing import Any

import pytest
from sqlalchemy import event, update

from metarr.db.tables import MovieRow
from metarr.jobs import Job, JobStatus, Priority
from metarr.jobs.tables import JobRow
from metarr.services.enrichment import ARTWORK_JOB, ENRICH_JOB, movie_target
from metarr.services.libraries import LibraryChanges
from tests.integration.test_enrich import (  # fixtures are used by name
    GENERATED,
    Env,
    env,
    fake,
    templates,
)

__all__ = ["env", "fake", "templates"]


def _jobs(env: Env, job_type: str, movie_id: int | None = None) -> list[Job]:
    found = [
        j for j in env.jobs(job_type) if movie_id is None or j.payload.get("movie_id") == movie_id
    ]
    return sorted(found, key=lambda j: j.id)


def _selected(env: Env, movie_id: int, kind: str) -> list[str]:
    [t] = [t for t in env.service.assets(movie_id) if t.type == kind]
    return [str(v.sha256) for v in t.selected]


def test_enrich_does_metadata_and_queues_artwork_below_it(env: Env) -> None:
    for n in range(3):
        env.builder.movie(f"Movie {n}", 2001 + n, tmdb=GENERATED + n, artwork=())
    env.scan()
    movies = [env.movie_id(f"Movie {n} ({2001 + n})") for n in range(3)]
    env.fake.clear_requests()
    env.service.enqueue_library(env.library_id)

    # one enrich job: metadata and candidates, no image downloaded, artwork queued lower
    assert env.worker.run_until_empty(max_jobs=1) == 1
    [first] = [j for j in _jobs(env, ENRICH_JOB) if j.status == JobStatus.SUCCEEDED]
    movie = int(first.payload["movie_id"])
    assert env.fields(movie)["plot"][1] == "tmdb"
    assert env.fake.requests_to("images") == []
    assert all(not t.selected for t in env.service.assets(movie))
    [art] = _jobs(env, ARTWORK_JOB, movie)
    assert first.result is not None and first.result["artwork_job_id"] == art.id
    assert art.status == JobStatus.QUEUED and art.parent_id == first.id
    assert art.target == movie_target(movie)
    assert art.priority > first.priority and art.priority >= Priority.LOW

    # every enrich job runs before any artwork job
    env.drain()
    enrich_done = max(j.finished_at for j in _jobs(env, ENRICH_JOB) if j.finished_at)
    arts = _jobs(env, ARTWORK_JOB)
    assert sorted(int(j.payload["movie_id"]) for j in arts) == sorted(movies)
    assert all(j.status == JobStatus.SUCCEEDED for j in arts)
    assert all(j.started_at is not None and j.started_at >= enrich_done for j in arts)

    # the artwork job selected and cached the art, and recorded the cast's headshots
    for movie in movies:
        [result] = [j.result for j in _jobs(env, ARTWORK_JOB, movie)]
        assert result is not None and result["action"] == "cached"
        assert result["downloads"] >= 2 and result["headshots"] >= 1
        assert _selected(env, movie, "poster") and _selected(env, movie, "fanart")
        cast = env.fields(movie)["cast"][0]
        assert all(a.get("thumb_sha256") for a in cast if a.get("thumb"))


def test_a_pending_artwork_job_is_not_queued_twice(env: Env) -> None:
    env.builder.movie("Generated", 2001, tmdb=GENERATED, artwork=())
    env.scan()
    movie = env.movie_id("Generated (2001)")
    for _ in range(2):
        env.service.enqueue_movie(movie)
        assert env.worker.run_until_empty(max_jobs=1) == 1  # the enrich job only
    first, second = _jobs(env, ENRICH_JOB, movie)
    [art] = _jobs(env, ARTWORK_JOB, movie)
    assert first.result is not None and second.result is not None
    assert first.result["artwork_job_id"] == second.result["artwork_job_id"] == art.id
    env.drain()
    assert [j.status for j in _jobs(env, ARTWORK_JOB, movie)] == [JobStatus.SUCCEEDED]

    # a re-enrichment with nothing new still checks the artwork, and downloads nothing
    env.fake.clear_requests()
    env.service.enqueue_movie(movie)
    env.drain()
    last = _jobs(env, ARTWORK_JOB, movie)[-1]
    assert last.status == JobStatus.SUCCEEDED and last.id != art.id
    assert last.result is not None and last.result["downloads"] == 0
    assert env.fake.requests_to("images") == []


def test_publishing_follows_the_artwork_job(env: Env) -> None:
    folder = env.builder.movie("Generated", 2001, tmdb=GENERATED, artwork=())
    env.builder.movie("Quiet", 2003, tmdb=GENERATED + 7, artwork=())
    env.container.libraries.update(
        env.library_id, LibraryChanges(auto_publish=True, auto_sync=False)
    )
    env.scan()
    before = {j.id for j in env.jobs("publish")}  # the scan's own chain step, already run
    movie = env.movie_id("Generated (2001)")
    quiet = env.movie_id("Quiet (2003)")
    with env.container.db.session() as s:
        s.execute(update(MovieRow).where(MovieRow.id == quiet).values(monitored=False))

    env.service.enqueue_movie(movie)
    env.service.enqueue_movie(quiet)
    env.drain()

    [enrich] = _jobs(env, ENRICH_JOB, movie)
    [art] = _jobs(env, ARTWORK_JOB, movie)
    publish = [j for j in env.jobs("publish") if j.id not in before]
    by_movie = {int(j.payload["movie_id"]): j for j in publish}
    assert set(by_movie) == {movie, quiet}
    # the enriched movie: enrich -> artwork -> publish, never enrich -> publish
    assert enrich.result is not None and "next_job_id" not in enrich.result
    assert art.result is not None and art.result["next_job_id"] == by_movie[movie].id
    assert by_movie[movie].parent_id == art.id
    published_at, art_done = by_movie[movie].started_at, art.finished_at
    assert published_at is not None and art_done is not None and published_at >= art_done
    assert by_movie[movie].status == JobStatus.SUCCEEDED
    # what was published is the art the artwork job selected
    published = {
        hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.rglob("*") if p.is_file()
    }
    for kind in ("poster", "fanart"):
        picks = _selected(env, movie, kind)
        assert picks and set(picks) <= published, kind
    heads = {a["thumb_sha256"] for a in env.fields(movie)["cast"][0] if a.get("thumb_sha256")}
    assert heads and heads <= published  # the cast's headshots, cached by the artwork job

    # a movie the enrichment skipped (unmonitored) has no artwork job: published at once
    [skipped] = _jobs(env, ENRICH_JOB, quiet)
    assert skipped.result is not None and skipped.result["action"] == "skipped"
    assert _jobs(env, ARTWORK_JOB, quiet) == []
    assert skipped.result["next_job_id"] == by_movie[quiet].id
    assert by_movie[quiet].parent_id == skipped.id


def test_an_artwork_job_that_fails_for_good_still_publishes_the_metadata(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    env.builder.movie("Generated", 2001, tmdb=GENERATED, artwork=())
    env.container.libraries.update(
        env.library_id, LibraryChanges(auto_publish=True, auto_sync=False)
    )
    env.scan()
    movie = env.movie_id("Generated (2001)")
    before = {j.id for j in env.jobs("publish")}

    def broken(*_args: Any, **_kwargs: Any) -> Any:
        raise RuntimeError("the image cache disk is gone")

    monkeypatch.setattr(env.service.enricher.artwork, "run", broken)
    env.service.enqueue_movie(movie)
    assert env.worker.run_until_empty(max_jobs=1) == 1  # enrich
    [art] = _jobs(env, ARTWORK_JOB, movie)
    with env.container.db.session() as s:  # the last attempt
        s.execute(update(JobRow).where(JobRow.id == art.id).values(max_attempts=1))
    env.drain()

    [art] = _jobs(env, ARTWORK_JOB, movie)
    assert art.status == JobStatus.FAILED and "cache disk" in (art.last_error or "")
    [publish] = [j for j in env.jobs("publish") if j.id not in before]
    assert publish.parent_id == art.id and publish.status == JobStatus.SUCCEEDED
    assert env.fields(movie)["plot"][1] == "tmdb"  # and that metadata is what went out
    nfo = next(env.builder.root.rglob("*.nfo")).read_text(encoding="utf-8")
    assert env.fields(movie)["plot"][0] in nfo


def test_the_metadata_step_runs_a_fixed_number_of_statements(env: Env) -> None:
    env.builder.movie("Generated", 2001, tmdb=GENERATED, artwork=())
    env.scan()
    movie = env.movie_id("Generated (2001)")
    statements: list[str] = []

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    engine = env.container.db.engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        first = env.service.enricher.enrich(movie)
        first_statements, statements[:] = list(statements), []
        again = env.service.enricher.enrich(movie)
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert first.action == again.action == "enriched"
    # dozens of fields, history rows and candidates, yet a handful of statements
    assert first.fields_changed >= 15 and first.candidates_added >= 10
    assert len(first_statements) <= 11, first_statements
    # nothing changed: read the movie, its fields, locks and candidates; write nothing
    assert again.fields_changed == 0 and again.candidates_added == 0
    assert len(statements) <= 5, statements
    assert not [s for s in statements if s.lstrip().upper().startswith(("INSERT", "UPDATE"))]
