"""Identify and enrich through the real job handlers, against the fake providers on 127.0.0.1."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi import Depends
from fastapi.testclient import TestClient
from sqlalchemy import func, select, update

from metarr.api.app import API_PREFIX, create_app
from metarr.api.deps import require_api_key
from metarr.api.routers import enrichment as enrichment_router
from metarr.bootstrap import Container
from metarr.db.tables import ExternalIdRow, HistoryRow, MetadataFieldRow, MovieRow
from metarr.jobs import Backoff, Breakers, Job, JobStatus, Registry, RetryPolicy, Worker
from metarr.providers import (
    ProviderConfig,
    ProviderDeps,
    ProviderRuntime,
    ProviderState,
    default_registry,
)
from metarr.services.enrichment import EnrichmentService
from metarr.storage.cache import ContentCache
from metarr.testing.fake_providers import FakeProviderServer
from metarr.testing.library_builder import LibraryBuilder

FIXTURES = Path(__file__).parents[1] / "fixtures"
GENERATED = 1001


async def _no_sleep(_seconds: float) -> None:
    return None


@pytest.fixture(scope="module")
def templates(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("templates")


@pytest.fixture
def fake() -> Iterator[FakeProviderServer]:
    with FakeProviderServer(FIXTURES) as server:
        yield server


@dataclass
class Env:
    """Everything one test drives: container, service, worker, fake, library."""

    container: Container
    service: EnrichmentService
    worker: Worker
    fake: FakeProviderServer
    runtime: ProviderRuntime
    builder: LibraryBuilder
    library_id: int
    data_dir: Path

    def drain(self, rounds: int = 200) -> None:
        """Run jobs (retries included) until none is waiting."""
        for _ in range(rounds):
            ran = self.worker.run_until_empty()
            stats = self.container.queue.stats().by_status
            pending = stats.get(JobStatus.QUEUED, 0) + stats.get(JobStatus.RETRY_SCHEDULED, 0)
            if ran == 0 and pending == 0:
                return
            if ran == 0:
                time.sleep(0.02)
        raise AssertionError("jobs still pending")

    def scan(self) -> None:
        run = self.container.scans.submit(self.library_id)
        self.drain()
        assert self.container.scans.get(run.id).status == "succeeded"

    def movie_id(self, folder: str) -> int:
        with self.container.db.session() as s:
            found = s.scalar(select(MovieRow.id).where(MovieRow.folder == folder))
        assert found is not None, folder
        return found

    def fields(self, movie_id: int) -> dict[str, tuple[Any, str]]:
        with self.container.db.session() as s:
            rows = s.execute(
                select(
                    MetadataFieldRow.field, MetadataFieldRow.value, MetadataFieldRow.source
                ).where(MetadataFieldRow.movie_id == movie_id)
            ).all()
        return {r.field: (r.value, r.source) for r in rows}

    def ids(self, movie_id: int) -> dict[str, tuple[str, str]]:
        with self.container.db.session() as s:
            rows = s.execute(
                select(ExternalIdRow.provider, ExternalIdRow.value, ExternalIdRow.source).where(
                    ExternalIdRow.movie_id == movie_id
                )
            ).all()
        return {r.provider: (r.value, r.source) for r in rows}

    def status(self, movie_id: int) -> str:
        with self.container.db.session() as s:
            value = s.scalar(select(MovieRow.status).where(MovieRow.id == movie_id))
        assert value is not None
        return value

    def history_count(self) -> int:
        with self.container.db.session() as s:
            return int(s.scalar(select(func.count()).select_from(HistoryRow)) or 0)

    def jobs(self, job_type: str) -> list[Job]:
        jobs, _ = self.container.queue.list_jobs(type=job_type, limit=500)
        return jobs


def build_env(
    container: Container,
    fake: FakeProviderServer,
    root: Path,
    templates: Path,
    *,
    tmdb_retries: int = 3,
) -> tuple[Env, ProviderRuntime]:
    configs = {
        "tmdb": ProviderConfig.for_provider(
            "tmdb",
            api_key=fake.tmdb_key,
            base_url=fake.tmdb_base_url,
            max_retries=tmdb_retries,
        ),
        "fanart": ProviderConfig.for_provider(
            "fanart", api_key=fake.fanart_key, base_url=fake.fanart_base_url
        ),
        "omdb": ProviderConfig.for_provider(
            "omdb", api_key=fake.omdb_key, base_url=fake.omdb_base_url
        ),
    }
    providers = default_registry().build(configs, ProviderDeps(sleep=_no_sleep))
    runtime = ProviderRuntime()
    data_dir = Path(container.settings.data_dir)
    service = EnrichmentService(
        container.db, container.queue, providers, runtime, ContentCache(data_dir / "cache")
    )
    # The container's own service reads its providers from METARR_* (none here); this
    # one talks to the fake server: its handlers go in a registry of the test's worker.
    registry = Registry()
    container.scans.register(registry)
    service.register(registry)
    container.publishing.register(registry)  # the chain: enrich -> artwork -> publish
    service.after_enrich = container.publishing.after_enrich
    container.enrichment.close()
    container.enrichment = service  # the API routes use this one
    worker = Worker(
        container.db,
        registry,
        queue=container.queue,
        breakers=Breakers(),
        retry_policy=RetryPolicy(backoff=Backoff(base=0.01, max_delay=0.05, jitter=0.0)),
    )
    root.mkdir(exist_ok=True)
    library = container.libraries.create(name="Movies", kind="movies", path=str(root))
    env = Env(
        container, service, worker, fake, runtime, LibraryBuilder(root, templates), library.id,
        data_dir,
    )  # fmt: skip
    return env, runtime


@pytest.fixture
def env(
    container: Container, fake: FakeProviderServer, tmp_path: Path, templates: Path
) -> Iterator[Env]:
    built, runtime = build_env(container, fake, tmp_path / "library", templates)
    try:
        yield built
    finally:
        built.service.close()
        runtime.run(built.service.providers.aclose())
        runtime.close()


def api(env: Env) -> TestClient:
    app = create_app(
        env.container, close_on_shutdown=False, start_workers=False, start_scheduler=False
    )
    app.include_router(
        enrichment_router.router, prefix=API_PREFIX, dependencies=[Depends(require_api_key)]
    )
    return TestClient(app, headers={"X-Api-Key": env.container.api_key})


def cached_file(data_dir: Path, sha: str) -> Path:
    matches = list((data_dir / "cache" / sha[:2] / sha[2:4]).glob(f"{sha}.*"))
    assert len(matches) == 1, sha
    return matches[0]


def test_identify_enrich_cache_locks_and_idempotence(env: Env) -> None:
    b = env.builder
    b.movie("Fight Club", 1999, tmdb=550, imdb="tt0137523", artwork=("poster",))
    b.movie("Generated", 2001, tmdb=GENERATED, artwork=())
    b.movie("Fight Club", 1999, nfo=False, artwork=(), subdir="searched")
    b.movie("Florence Fight Club", nfo=False, artwork=())
    env.scan()
    recorded = env.movie_id("Fight Club (1999)")
    generated = env.movie_id("Generated (2001)")
    searched = env.movie_id("searched/Fight Club (1999)")
    ambiguous = env.movie_id("Florence Fight Club")
    env.fake.clear_requests()

    job_ids = env.service.enqueue_library(env.library_id)
    assert len(job_ids) == 4
    env.drain()

    # identification: an exact title + year is accepted, an ambiguous one waits for review
    assert env.ids(searched)["tmdb"] == ("550", "provider")
    assert env.status(searched) == "identified"
    assert env.status(ambiguous) == "needs_review"
    assert "tmdb" not in env.ids(ambiguous)

    # metadata from TMDB, with provenance
    fields = env.fields(recorded)
    assert fields["tagline"][1] == "tmdb"
    assert fields["plot"][1] == "tmdb"
    assert fields["certification"] == ("R", "tmdb")
    cast = fields["cast"][0]
    assert cast[0]["name"] == "Edward Norton" and cast[0]["order"] == 0
    assert cast[0]["role"] and cast[0]["thumb"].startswith(env.fake.url)
    assert [a["order"] for a in cast] == sorted(a["order"] for a in cast)
    ratings = {r["source"]: r for r in fields["ratings"][0]}
    assert {"themoviedb", "imdb", "tomatometerallcritics", "metacritic"} <= set(ratings)
    assert ratings["imdb"]["value"] == 8.8 and ratings["metacritic"]["max"] == 100
    assert env.ids(generated)["imdb"][1] == "provider"
    with env.container.db.session() as s:
        sources = set(s.scalars(select(HistoryRow.source).where(HistoryRow.movie_id == recorded)))
    assert {"tmdb", "omdb"} <= sources

    # request budget: one TMDB details request per movie, /configuration once
    assert len(env.fake.requests_to("tmdb", "/3/movie/550")) == 1
    assert len(env.fake.requests_to("tmdb", f"/3/movie/{GENERATED}")) == 1
    assert len(env.fake.requests_to("tmdb", "/3/configuration")) == 1
    details = env.fake.requests_to("tmdb", "/3/movie/550")[0]
    assert "credits" in details.query["append_to_response"]

    # artwork: candidates with scores, the best selected and in the cache
    client = api(env)
    with client:
        body = client.get(f"/api/v1/movies/{recorded}/assets").json()
    types = body["types"]
    assert {"poster", "fanart", "clearlogo"} <= set(types)
    assert all(0 <= c["score"] <= 100 for c in types["poster"]["candidates"])
    providers = {c["provider"] for t in types.values() for c in t["candidates"]}
    assert {"tmdb", "fanart", "local"} <= providers
    for kind in ("poster", "fanart"):
        selected = types[kind]["selected"]
        assert 1 <= len(selected) <= (1 if kind == "poster" else 3)
        for pick in selected:
            path = cached_file(env.data_dir, pick["sha256"])
            assert path.suffix == ".jpg"
            assert hashlib.sha256(path.read_bytes()).hexdigest() == pick["sha256"]
    best_poster = types["poster"]["candidates"][0]
    assert best_poster["selected"] and best_poster["provider"] == "tmdb"
    local = [c for c in types["poster"]["candidates"] if c["provider"] == "local"]
    assert local and cached_file(env.data_dir, local[0]["sha256"]).is_file()

    # a second run changes nothing and downloads nothing
    history = env.history_count()
    env.fake.clear_requests()
    env.service.enqueue_library(env.library_id)
    env.drain()
    assert env.history_count() == history
    assert env.fake.requests_to("images") == []
    assert env.fake.requests_to("tmdb") == []

    # a person's edit is locked and survives re-enrichment
    env.container.edit.patch(recorded, {"plot": "My own plot."})
    env.service.enqueue_movie(recorded)
    env.drain()
    assert env.fields(recorded)["plot"] == ("My own plot.", "user")

    # the ambiguous movie: candidates, then a person's identification
    with client:
        found = client.get(f"/api/v1/movies/{ambiguous}/candidates").json()["items"]
        assert {c["tmdb"] for c in found[:2]} == {323667, 104782}
        searched_now = client.get(
            f"/api/v1/movies/{ambiguous}/candidates", params={"q": "Fight Club", "year": 1999}
        ).json()["items"]
        assert searched_now[0]["tmdb"] == 550
        response = client.post(f"/api/v1/movies/{ambiguous}/identify", json={"tmdb": GENERATED + 1})
        assert response.status_code == 202
        assert len(response.json()["job_ids"]) == 1
        assert (
            client.post(f"/api/v1/movies/{ambiguous}/identify", json={"tmdb": 0}).status_code == 422
        )
    env.drain()
    assert env.ids(ambiguous)["tmdb"] == (str(GENERATED + 1), "user")
    assert env.status(ambiguous) == "identified"
    assert env.fields(ambiguous)["title"][1] == "tmdb"

    # a person re-identifies: provider data is replaced, locked fields stay
    env.container.edit.patch(generated, {"tagline": "Mine."})
    old_title = env.fields(generated)["title"][0]
    with client:
        assert (
            client.post(f"/api/v1/movies/{generated}/identify", json={"tmdb": 2002}).status_code
            == 202
        )
        assert client.post(f"/api/v1/libraries/{env.library_id}/enrich").status_code == 202
        assert client.post("/api/v1/movies/999999/enrich").status_code == 404
    env.drain()
    fields = env.fields(generated)
    assert fields["tagline"] == ("Mine.", "user")
    assert fields["title"][0] != old_title and fields["title"][0].endswith("2002")


def test_provider_401_fails_without_retry(env: Env) -> None:
    env.builder.movie("Generated", 2001, tmdb=GENERATED, artwork=())
    env.scan()
    env.fake.tmdb.valid_keys = set()
    env.service.enqueue_library(env.library_id)
    env.drain()
    [job] = env.jobs("enrich")
    assert job.status == JobStatus.FAILED and job.attempts == 1
    statuses = {s.name: s for s in env.service.providers.statuses()}
    assert statuses["tmdb"].state is ProviderState.KEY_INVALID


def test_5xx_burst_retries_and_succeeds(
    container: Container, fake: FakeProviderServer, tmp_path: Path, templates: Path
) -> None:
    env, runtime = build_env(container, fake, tmp_path / "library", templates, tmdb_retries=1)
    try:
        env.builder.movie("Generated", 2001, tmdb=GENERATED, artwork=())
        env.scan()
        fake.tmdb.fail(3)  # attempt 1: 2 requests fail; attempt 2: 1 fails, then success
        env.service.enqueue_library(env.library_id)
        env.drain()
        [job] = env.jobs("enrich")
        assert job.status == JobStatus.SUCCEEDED and job.attempts == 2
        movie = env.movie_id("Generated (2001)")
        assert env.fields(movie)["plot"][1] == "tmdb"
    finally:
        env.service.close()
        runtime.run(env.service.providers.aclose())
        runtime.close()


def test_locked_asset_type_and_unmonitored_movie(env: Env) -> None:
    env.builder.movie("Generated", 2001, tmdb=GENERATED, artwork=())
    env.builder.movie("Quiet", 2003, tmdb=GENERATED + 7, artwork=())
    env.scan()
    locked = env.movie_id("Generated (2001)")
    quiet = env.movie_id("Quiet (2003)")
    env.container.edit.lock(locked, ["asset:poster"])
    with env.container.db.session() as s:
        s.execute(update(MovieRow).where(MovieRow.id == quiet).values(monitored=False))
    env.fake.clear_requests()
    env.service.enqueue_library(env.library_id)
    env.service.enqueue_movie(quiet)
    env.drain()
    types = {t.type: t for t in env.service.assets(locked)}
    assert types["poster"].locked and types["poster"].selected == ()
    assert types["poster"].candidates  # candidates are still stored and scored
    assert types["fanart"].selected
    assert env.fake.requests_to("tmdb", f"/3/movie/{GENERATED + 7}") == []
    [skipped] = [j for j in env.jobs("enrich") if j.payload.get("movie_id") == quiet]
    assert skipped.result is not None and skipped.result["reason"].startswith("unmonitored")
    assert "tagline" not in env.fields(quiet)
