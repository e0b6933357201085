"""Provider settings in the database, through the service and the API, on both backends,
against the fake TMDB / fanart.tv / OMDb on 127.0.0.1 and the container's own wiring."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from metarr.bootstrap import Container, build
from metarr.db.tables import MetadataFieldRow, MovieRow
from metarr.db.tables_assets import AssetCandidateRow
from metarr.jobs import Backoff, Breakers, JobStatus, RetryPolicy, Worker
from metarr.providers import ProviderDeps, ProviderRuntime, default_registry
from metarr.services.providers import ProviderSettingsService
from metarr.settings import Settings
from metarr.testing.fake_providers import FakeProviderServer
from metarr.testing.library_builder import LibraryBuilder

FIXTURES = Path(__file__).parents[1] / "fixtures"
NFO_PLOT = "The plot as the NFO file tells it."


@pytest.fixture
def fake() -> Iterator[FakeProviderServer]:
    with FakeProviderServer(FIXTURES) as server:
        yield server


def point_at(container: Container, fake: FakeProviderServer) -> None:
    """Every provider configured (in the database) to talk to the fake server."""
    svc = container.providers
    svc.update("tmdb", {"api_key": fake.tmdb_key, "base_url": fake.tmdb_base_url})
    svc.update("fanart", {"api_key": fake.fanart_key, "base_url": fake.fanart_base_url})
    svc.update("omdb", {"api_key": fake.omdb_key, "base_url": fake.omdb_base_url})


def problem(response: httpx.Response, status: int) -> dict[str, object]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, object] = response.json()
    return body


# -- service ------------------------------------------------------------------------------


def test_update_applies_at_once_and_survives_a_rebuild(
    container: Container, settings: Settings, fake: FakeProviderServer
) -> None:
    svc = container.providers
    running = container.enrichment.providers
    assert svc.get("tmdb").state == "no_key"
    old = running.tmdb

    view = svc.update(
        "tmdb",
        {
            "api_key": fake.tmdb_key,
            "base_url": fake.tmdb_base_url,
            "language": "de-DE",
            "rate_limit": 12,
            "certification_country": "de",
        },
    )
    assert view.state == "ok"
    assert view.settings.has_key and view.settings.key_last4 == fake.tmdb_key[-4:]
    assert view.settings.key_source == "db" and view.settings.sources["language"] == "db"
    assert (view.settings.language, view.settings.certification_country) == ("de-DE", "DE")
    # the running set has a new TMDB with the new settings: no restart needed
    assert running.tmdb is not old
    assert running.tmdb.config.key == fake.tmdb_key
    assert running.tmdb.config.rate_limit == 12
    assert running.tmdb.status().usable
    # and it works: the enrichment service's providers talk to the fake now
    assert container.enrichment.runtime.run(running.tmdb.movie_details(550)).info.title

    # nothing saved when any value is refused
    with pytest.raises(Exception, match="rate_limit"):
        svc.update("tmdb", {"language": "fr-FR", "rate_limit": 0})
    assert svc.get("tmdb").settings.language == "de-DE"

    # a fresh container on the same database starts with the saved settings
    second = build(settings)
    try:
        again = second.providers.get("tmdb")
        assert again.state == "ok" and again.settings.language == "de-DE"
        assert second.enrichment.providers.tmdb.config.key == fake.tmdb_key
        assert second.enrichment.providers.tmdb.config.base_url == fake.tmdb_base_url
    finally:
        second.close()

    # clearing an override: the default applies again
    cleared = svc.update("tmdb", {"language": None, "rate_limit": None})
    assert cleared.settings.language == "en-US" and cleared.settings.rate_limit == 40.0
    assert cleared.settings.sources["language"] == "default"


def test_environment_keys_work_until_the_database_has_one(
    container: Container, fake: FakeProviderServer
) -> None:
    environ = {
        "METARR_FANART_API_KEY": fake.fanart_key,
        "METARR_FANART_BASE_URL": fake.fanart_base_url,
    }
    runtime = ProviderRuntime()
    svc = ProviderSettingsService(
        container.db, default_registry(), ProviderDeps(), runtime, environ=environ
    )
    try:
        providers = svc.build()
        view = svc.get("fanart")
        assert view.state == "ok" and view.settings.key_source == "env"
        assert providers.fanart.config.key == fake.fanart_key
        assert svc.test_key("fanart").ok

        svc.update("fanart", {"api_key": "db-key-that-is-wrong"})
        assert svc.get("fanart").settings.key_source == "db"
        assert providers.fanart.config.key == "db-key-that-is-wrong"  # the database wins
        result = svc.test_key("fanart")
        assert not result.ok and result.state == "key_invalid"

        svc.update("fanart", {"api_key": None})  # removed: the env key applies again
        assert providers.fanart.config.key == fake.fanart_key
        assert svc.get("fanart").state == "ok"
    finally:
        svc.close()
        runtime.run(svc.providers.aclose())
        runtime.close()


def test_settings_saved_by_another_process_are_picked_up(
    container: Container, settings: Settings, fake: FakeProviderServer
) -> None:
    other = build(settings)  # stands in for `metarr worker`
    try:
        point_at(container, fake)
        container.providers.set_asset_limits({"fanart": 2})
        assert other.enrichment.providers.tmdb.status().state.value == "disabled"
        other.providers.sync()
        tmdb = other.enrichment.providers.tmdb
        assert tmdb.config.key == fake.tmdb_key
        assert other.enrichment.enricher.options.limits["fanart"] == 2
        other.providers.sync()  # nothing changed since: nothing is rebuilt
        assert other.enrichment.providers.tmdb is tmdb
    finally:
        other.close()


def test_key_test_good_bad_and_429s_counted(
    container: Container, settings: Settings, fake: FakeProviderServer
) -> None:
    svc = container.providers
    point_at(container, fake)
    good = svc.test_key("tmdb")
    assert good.ok and good.error is None and good.latency_ms is not None
    assert fake.requests_to("tmdb", "/3/configuration")

    # a key typed in but not saved is only tested
    typed = svc.test_key("tmdb", "f" * 32)
    assert not typed.ok and typed.error is not None and typed.error.startswith("key invalid")
    assert svc.get("tmdb").state == "ok"  # the saved key was not the one refused

    # the saved key goes bad: the provider is marked, and a good test clears the mark
    fake.tmdb.valid_keys = {"another"}
    bad = svc.test_key("tmdb")
    assert not bad.ok and "key invalid" in (bad.error or "") and bad.state == "key_invalid"
    view = svc.get("tmdb")
    assert view.state == "key_invalid" and "refused the API key" in (view.message or "")
    assert not container.enrichment.providers.tmdb.status().usable
    fake.reset()
    assert svc.test_key("tmdb").ok
    assert svc.get("tmdb").state == "ok"

    # the fake allows 1 request per 30 s: the second test gets a 429
    fake.tmdb.rate_limit, fake.tmdb.window = 1, 30.0
    assert svc.test_key("tmdb").ok
    limited = svc.test_key("tmdb")
    assert not limited.ok and "rate limiting" in (limited.error or "")
    stats = svc.get("tmdb").stats_24h
    assert stats["rate_limited"] == 1
    assert stats["requests"] == 6 and stats["errors"] == 2  # 2 refused keys

    # the counts are in the database: another process sees them
    other = build(settings)
    try:
        seen = other.providers.get("tmdb").stats_24h
        assert seen["rate_limited"] == 1 and seen["requests"] == 6
    finally:
        other.close()


# -- API ----------------------------------------------------------------------------------


def test_api_never_returns_a_key(client: httpx.Client, fake: FakeProviderServer) -> None:
    listed = client.get("/api/v1/providers")
    assert listed.status_code == 200
    assert [p["name"] for p in listed.json()] == ["tmdb", "fanart", "omdb"]
    assert {p["state"] for p in listed.json()} == {"no_key"}

    patched = client.patch(
        "/api/v1/providers/omdb",
        json={"api_key": "omdb-secret-key-1234", "base_url": fake.omdb_base_url},
    )
    assert patched.status_code == 200, patched.text
    body = patched.json()
    assert body["settings"]["has_key"] and body["settings"]["key_last4"] == "1234"
    for response in (
        patched,
        client.get("/api/v1/providers/omdb"),
        client.get("/api/v1/providers"),
        client.get("/api/v1/health"),
    ):
        assert "omdb-secret-key" not in response.text
    # short keys: not even the last 4 characters
    short = client.patch("/api/v1/providers/omdb", json={"api_key": fake.omdb_key}).json()
    assert short["settings"]["has_key"] and short["settings"]["key_last4"] is None

    tested = client.post("/api/v1/providers/omdb/test")
    assert tested.status_code == 200 and tested.json()["ok"] is True
    bad = client.post("/api/v1/providers/omdb/test", json={"api_key": "nope"}).json()
    assert bad["ok"] is False and bad["error"].startswith("key invalid")
    assert "nope" not in bad["error"]


def test_api_refusals_are_problems(client: httpx.Client) -> None:
    assert problem(client.get("/api/v1/providers/imdb"), 404)["code"] == "not_found"
    problem(client.patch("/api/v1/providers/imdb", json={"enabled": False}), 404)
    problem(client.post("/api/v1/providers/imdb/test"), 404)
    refused = problem(client.patch("/api/v1/providers/tmdb", json={"rate_limit": -1}), 422)
    assert refused["errors"] == [
        {
            "field": "rate_limit",
            "message": "rate_limit must be above 0 and at most 1000 per second",
            "code": "invalid_input",
        }
    ]
    problem(client.patch("/api/v1/providers/tmdb", json={"api_key": ""}), 422)
    problem(client.patch("/api/v1/providers/tmdb", json={"base_url": "file:///etc"}), 422)
    problem(client.patch("/api/v1/providers/tmdb", json={"timeout": 3}), 422)
    problem(client.patch("/api/v1/providers/tmdb", json={"enabled": "maybe"}), 422)
    problem(client.put("/api/v1/providers/priorities", json={"fields": {"plot": ["x"]}}), 422)
    problem(client.put("/api/v1/providers/priorities", json={"plot": ["nfo"]}), 422)
    problem(client.put("/api/v1/providers/asset-limits", json={"limits": {"fanart": 99}}), 422)
    problem(client.put("/api/v1/providers/asset-limits", json={"limits": {"nope": 1}}), 422)
    assert client.get("/api/v1/providers/tmdb").json()["settings"]["rate_limit"] == 40.0
    assert client.get("/api/v1/providers/asset-limits").json()["overrides"] == {}
    problem(client.get("/api/v1/providers", headers={"X-Api-Key": "wrong"}), 401)


def test_api_priorities_and_limits_round_trip(client: httpx.Client) -> None:
    got = client.get("/api/v1/providers/priorities").json()
    assert got["sources"] == ["tmdb", "nfo"] and got["fields"]["plot"] == ["tmdb", "nfo"]
    assert "ratings" not in got["fields"] and got["overrides"] == {}
    put = client.put(
        "/api/v1/providers/priorities",
        json={"fields": {"plot": ["nfo", "tmdb"], "title": ["tmdb", "nfo"]}},
    ).json()
    assert put["overrides"] == {"plot": ["nfo", "tmdb"]}  # the default order is no override
    assert put["fields"]["plot"] == ["nfo", "tmdb"]

    limits = client.get("/api/v1/providers/asset-limits").json()
    assert limits["limits"]["fanart"] == 3 and limits["defaults"]["poster"] == 1
    put_limits = client.put(
        "/api/v1/providers/asset-limits", json={"limits": {"fanart": 1, "poster": 1}}
    ).json()
    assert put_limits["overrides"] == {"fanart": 1} and put_limits["limits"]["fanart"] == 1
    assert client.get("/api/v1/providers/asset-limits").json()["overrides"] == {"fanart": 1}


# -- enrichment uses the settings ---------------------------------------------------------


def drain(container: Container, worker: Worker) -> None:
    for _ in range(300):
        ran = worker.run_until_empty()
        stats = container.queue.stats().by_status
        waiting = stats.get(JobStatus.QUEUED, 0) + stats.get(JobStatus.RETRY_SCHEDULED, 0)
        if ran == 0 and waiting == 0:
            return
        if ran == 0:
            time.sleep(0.02)
    raise AssertionError("jobs still pending")


def test_priorities_and_limits_steer_enrichment(
    container: Container, fake: FakeProviderServer, tmp_path: Path
) -> None:
    root = tmp_path / "library"
    root.mkdir()
    builder = LibraryBuilder(root, tmp_path / "templates")
    builder.movie("Fight Club", 1999, tmdb=550, imdb="tt0137523", artwork=(), plot=NFO_PLOT)
    library = container.libraries.create(name="Movies", kind="movies", path=str(root))
    worker = Worker(
        container.db,
        container.registry,
        queue=container.queue,
        breakers=Breakers(),
        retry_policy=RetryPolicy(backoff=Backoff(base=0.01, max_delay=0.05, jitter=0.0)),
    )
    container.scans.submit(library.id)
    drain(container, worker)
    with container.db.session() as s:
        movie_id = s.scalar(select(MovieRow.id).where(MovieRow.library_id == library.id))
    assert movie_id is not None

    def field(name: str) -> tuple[object, str]:
        with container.db.session() as s:
            row = s.execute(
                select(MetadataFieldRow.value, MetadataFieldRow.source).where(
                    MetadataFieldRow.movie_id == movie_id, MetadataFieldRow.field == name
                )
            ).one()
        return row.value, row.source

    def fanarts_selected() -> int:
        with container.db.session() as s:
            rows = s.scalars(
                select(AssetCandidateRow.id).where(
                    AssetCandidateRow.movie_id == movie_id,
                    AssetCandidateRow.type == "fanart",
                    AssetCandidateRow.selected.is_(True),
                )
            ).all()
        return len(rows)

    assert field("plot") == (NFO_PLOT, "nfo")

    # the NFO outranks TMDB for the plot; one fanart only
    point_at(container, fake)
    container.providers.set_priorities({"plot": ["nfo", "tmdb"]})
    container.providers.set_asset_limits({"fanart": 1})
    container.enrichment.enqueue_movie(movie_id)
    drain(container, worker)
    assert field("plot") == (NFO_PLOT, "nfo")
    assert field("tagline")[1] == "tmdb"  # fields without a priority: TMDB as before
    assert fanarts_selected() == 1

    # back to the default order (TMDB first) and two fanarts: TMDB's plot wins now
    container.providers.set_priorities({})
    container.providers.set_asset_limits({"fanart": 2})
    container.enrichment.enqueue_movie(movie_id)
    drain(container, worker)
    plot, source = field("plot")
    assert source == "tmdb" and plot != NFO_PLOT
    assert fanarts_selected() == 2

    # the NFO first again: TMDB does not take the plot back (nor does it give it up)
    container.providers.set_priorities({"plot": ["nfo", "tmdb"]})
    container.enrichment.enqueue_movie(movie_id)
    drain(container, worker)
    assert field("plot") == (plot, "tmdb")
