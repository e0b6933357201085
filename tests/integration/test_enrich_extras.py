"""Collection art, trailers, cached NFO texts, cache GC and concurrent downloads, end to end.

Everything runs through the real job handlers against the fake providers on 127.0.0.1,
on SQLite and PostgreSQL (the `env` fixture of test_enrich).
"""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from PIL import Image
from sqlalchemy import event, select

from metarr.db import enrich_store
from metarr.db.cache_refs import referenced_hashes
from metarr.db.tables import HistoryRow
from metarr.domain.fields import FieldChange
from metarr.jobs import JobStatus, Worker
from metarr.pipeline.enrich import Enricher
from metarr.storage.cache import TEMP_PREFIX, ContentCache
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

# Generated movies whose id is a multiple of 4 belong to collection 5_000_000 + id // 100.
IN_COLLECTION = (1004, 1008, 1012)
COLLECTION = 5_000_010
OLD = time.time() - 3 * 86_400


def _enrich_all(env: Env) -> None:
    env.service.enqueue_library(env.library_id)
    env.drain()


def _selected(env: Env, movie_id: int) -> dict[str, list[str]]:
    return {t.type: [str(v.sha256) for v in t.selected] for t in env.service.assets(movie_id)}


def _results(env: Env, movie_id: int, job_type: str = "artwork") -> list[dict[str, Any]]:
    jobs = [j for j in env.jobs(job_type) if j.payload.get("movie_id") == movie_id]
    return [j.result or {} for j in sorted(jobs, key=lambda j: j.id)]


def test_collection_art_is_fetched_once_per_collection_and_shared(env: Env) -> None:
    for n, tmdb in enumerate(IN_COLLECTION):
        env.builder.movie(f"Part {n}", 2001 + n, tmdb=tmdb, artwork=())
    env.scan()
    first, second, third = (env.movie_id(f"Part {n} ({2001 + n})") for n in range(3))
    env.fake.clear_requests()
    # the first two through the jobs; the third later, by a fresh enricher (a new process)
    for movie in (first, second):
        env.service.enqueue_movie(movie)
    env.drain()

    [request] = env.fake.requests_to("tmdb", "/3/collection/")
    assert request.path == f"/3/collection/{COLLECTION}"
    assert "images" in request.query["append_to_response"]
    for movie_tmdb in IN_COLLECTION[:2]:  # the budget: at most 2 TMDB requests a movie
        assert len(env.fake.requests_to("tmdb", f"/3/movie/{movie_tmdb}")) == 1
    assert env.fields(first)["set"][0]["tmdb"] == COLLECTION

    a, b = _selected(env, first), _selected(env, second)
    for kind in ("set.poster", "set.fanart"):
        assert len(a[kind]) == 1 and a[kind] == b[kind], kind
        assert cached_file(env.data_dir, a[kind][0]).is_file()
    assert a["poster"] != b["poster"]  # the movies' own art is their own
    set_images = [r for r in env.fake.requests_to("images") if f"/gc{COLLECTION}" in r.path]
    assert len(set_images) == 2  # one poster, one fanart: downloaded once for both movies

    # a fresh enricher (empty memory) reuses the cached files by URL
    enricher = Enricher(
        env.container.db, env.service.providers, env.runtime, ContentCache(env.data_dir / "cache")
    )
    try:
        env.fake.clear_requests()
        result = enricher.enrich(third)
        art = enricher.artwork.run(third)
    finally:
        enricher.close()
    assert result.action == "enriched" and art.action == "cached"
    assert _selected(env, third)["set.poster"] == a["set.poster"]
    assert not [r for r in env.fake.requests_to("images") if f"/gc{COLLECTION}" in r.path]

    # the API lists the collection's types with the movie's own, a person may pick one
    with api(env) as client:
        body = client.get(f"/api/v1/movies/{first}/assets").json()["types"]
        assert body["set.poster"]["selected"][0]["sha256"] == a["set.poster"][0]
        other = next(c for c in body["set.poster"]["candidates"] if not c["selected"])
        picked = client.post(
            f"/api/v1/movies/{first}/assets/set.poster/select", json={"url": other["url"]}
        )
        assert picked.status_code == 200, picked.text
        assert picked.json()["locked"] is True

    # re-enrichment asks TMDB for nothing and downloads nothing
    env.fake.clear_requests()
    _enrich_all(env)
    assert env.fake.requests_to("tmdb") == []
    assert env.fake.requests_to("images") == []
    assert _selected(env, first)["set.poster"] != a["set.poster"]  # the person's pick stays


def test_best_youtube_trailer_with_provenance_and_locks(env: Env) -> None:
    env.builder.movie("Generated", 2001, tmdb=GENERATED, artwork=())
    env.builder.movie("Locked", 2005, tmdb=GENERATED + 4, artwork=())
    env.scan()
    movie, locked = env.movie_id("Generated (2001)"), env.movie_id("Locked (2005)")
    mine = "plugin://plugin.video.youtube/play/?video_id=myOwnTrail"
    env.container.edit.patch(locked, {"trailer": mine})
    _enrich_all(env)

    url = f"plugin://plugin.video.youtube/play/?video_id=gen{GENERATED:08d}"
    assert env.fields(movie)["trailer"] == (url, "tmdb")
    with env.container.db.session() as s:
        sources = set(
            s.scalars(
                select(HistoryRow.source).where(
                    HistoryRow.movie_id == movie, HistoryRow.target == "trailer"
                )
            )
        )
    assert sources == {"tmdb"}
    assert env.fields(locked)["trailer"] == (mine, "user")

    # a refresh with new provider data still leaves the person's trailer alone
    env.service.enqueue_movie(locked)
    env.drain()
    assert env.fields(locked)["trailer"] == (mine, "user")


def test_nfo_text_is_cached_by_hash_hidden_and_kept(env: Env) -> None:
    folder = env.builder.movie("Generated", 2001, tmdb=GENERATED, artwork=("poster",))
    env.scan()
    movie = env.movie_id("Generated (2001)")
    _enrich_all(env)

    value, source = env.fields(movie)["nfo_sha256"]
    assert source == "nfo"
    [(rel, sha)] = value.items()
    nfo = env.builder.root / rel
    assert nfo.parent == folder and nfo.suffix == ".nfo"
    assert cached_file(env.data_dir, sha).read_bytes() == nfo.read_bytes()
    with api(env) as client:
        body = client.get(f"/api/v1/movies/{movie}").json()
    assert "nfo_sha256" not in body["metadata"]  # bookkeeping, not an editable field
    assert body["metadata"]["title"]["value"]

    # a second enrichment reads nothing new: same hash, local artwork not read again
    _enrich_all(env)
    assert env.fields(movie)["nfo_sha256"] == (value, "nfo")
    assert _results(env, movie)[-1]["local_cached"] == 0

    # the NFO changes: the new text is cached too, the field follows
    nfo.write_text(nfo.read_text(encoding="utf-8").replace("</movie>", "<!-- x --></movie>"))
    env.scan()
    _enrich_all(env)
    new_value, _ = env.fields(movie)["nfo_sha256"]
    assert new_value[rel] != sha
    assert cached_file(env.data_dir, new_value[rel]).read_bytes() == nfo.read_bytes()

    # the downloader deletes it: nothing is lost, the cached text stays referenced
    nfo.unlink()
    env.scan()
    _enrich_all(env)
    assert env.fields(movie)["nfo_sha256"][0] == new_value
    result = env.container.enrichment.cache.gc(
        enrich_refs(env), timedelta(0), datetime.now(UTC) + timedelta(days=1)
    )
    assert result.files == 1  # only the first NFO text, no longer referenced
    assert cached_file(env.data_dir, new_value[rel]).is_file()


def enrich_refs(env: Env) -> set[str]:
    with env.container.db.engine.connect() as conn:
        return referenced_hashes(conn)


def test_local_artwork_is_cached_again_only_when_it_changed(env: Env) -> None:
    folder = env.builder.movie("Generated", 2001, tmdb=GENERATED, artwork=("poster",))
    env.scan()
    movie = env.movie_id("Generated (2001)")
    _enrich_all(env)
    _enrich_all(env)
    first, second = _results(env, movie)
    assert (first["local_cached"], second["local_cached"]) == (1, 0)
    before = {c.url: c.sha256 for t in env.service.assets(movie) for c in t.candidates}

    poster = next(folder.glob("*-poster.jpg"))
    Image.new("RGB", (300, 450), (10, 200, 30)).save(poster, "JPEG")
    env.scan()
    _enrich_all(env)
    assert _results(env, movie)[-1]["local_cached"] == 1
    after = {c.url: c.sha256 for t in env.service.assets(movie) for c in t.candidates}
    url = f"local:{poster.relative_to(env.builder.root).as_posix()}"
    assert before[url] != after[url]
    assert cached_file(env.data_dir, str(after[url])).read_bytes() == poster.read_bytes()


def test_scheduled_cleanup_collects_unreferenced_cache_files(env: Env) -> None:
    env.builder.movie("Generated", 2001, tmdb=GENERATED, artwork=("poster",))
    env.scan()
    movie = env.movie_id("Generated (2001)")
    _enrich_all(env)
    cache = ContentCache(env.data_dir / "cache")
    referenced = enrich_refs(env)
    cast = env.fields(movie)["cast"][0]
    heads = {a["thumb_sha256"] for a in cast if a.get("thumb_sha256")}
    nfo = set(env.fields(movie)["nfo_sha256"][0].values())
    picked = {s for shas in _selected(env, movie).values() for s in shas}
    assert heads and nfo and picked and heads | nfo | picked <= referenced

    orphan = cache.put_bytes(b"nobody refers to me", "jpg")
    fresh = cache.put_bytes(b"put a moment ago, reference not committed yet", "jpg")
    temp = cache.root / f"{TEMP_PREFIX}crashed"
    temp.write_bytes(b"half")
    for path in [*cache.root.rglob("*.*"), temp]:
        if path.is_file() and path != fresh.path:
            os.utime(path, (OLD, OLD))  # everything else is old: only references protect it

    run = env.container.schedules.run_now(env.library_id, "cleanup")
    worker = Worker(env.container.db, env.container.registry, queue=env.container.queue)
    worker.run_until_empty()
    job = env.container.queue.get(run.job_id)
    assert job.status == JobStatus.SUCCEEDED, job
    result = job.result or {}
    assert result["cache_files_removed"] == 1
    assert result["cache_bytes_freed"] == orphan.size
    assert result["cache_temp_removed"] == 1
    assert result["cache_referenced"] == len(referenced)
    assert not orphan.path.exists() and not temp.exists() and fresh.path.exists()
    for sha in referenced:
        assert cache.exists(sha), sha


def test_downloads_of_one_movie_overlap(env: Env) -> None:
    env.builder.movie("Generated", 2001, tmdb=GENERATED, artwork=())
    env.scan()
    latency = 0.5
    env.fake.image_latency = latency
    env.fake.clear_requests()
    started = time.monotonic()
    _enrich_all(env)
    elapsed = time.monotonic() - started
    images = sorted(r.at for r in env.fake.requests_to("images"))
    assert len(images) >= 8
    # several in flight at once: many arrive within one answer's latency of each other
    busiest = max(sum(1 for t in images if s <= t < s + latency) for s in images)
    assert busiest >= 4, images
    # one after another they would take len(images) * latency at least
    assert elapsed < len(images) * latency * 0.6, (elapsed, len(images))


def test_field_changes_are_written_in_a_fixed_number_of_statements(env: Env) -> None:
    env.builder.movie("Generated", 2001, tmdb=GENERATED, artwork=())
    env.scan()
    movie = env.movie_id("Generated (2001)")
    statements: list[str] = []

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    engine = env.container.db.engine
    now = datetime.now(UTC)
    with env.container.db.session() as s:
        conn = s.connection()
        current = enrich_store.load_fields_and_locks(conn, [movie])[0][movie]
        changes = [FieldChange(name, current.get(name), f"new {name}") for name in FIELDS]
        event.listen(engine, "before_cursor_execute", count)
        try:
            written = enrich_store.apply_field_changes(conn, movie, changes, "tmdb", now)
        finally:
            event.remove(engine, "before_cursor_execute", count)
    assert written == len(FIELDS)
    assert len(statements) <= 4, statements
    values = {k: v for k, (v, _) in env.fields(movie).items()}
    assert all(values[name] == f"new {name}" for name in FIELDS)
    with env.container.db.session() as s:
        history = s.scalars(
            select(HistoryRow.target).where(
                HistoryRow.movie_id == movie, HistoryRow.source == "tmdb"
            )
        ).all()
    assert sorted(history) == sorted(FIELDS)


FIELDS = ("title", "plot", "tagline", "outline", "sort_title", "certification", "premiered")
