"""The real provider clients against the fake TMDB / fanart.tv / OMDb on 127.0.0.1."""

from __future__ import annotations

import asyncio
import io
import logging
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image

from metarr.domain.errors import AuthenticationFailed, NotFound, ServiceUnavailable
from metarr.domain.media import ArtworkType, ExternalIds
from metarr.jobs.breaker import Breakers, BreakerState
from metarr.jobs.retry import Backoff
from metarr.providers import (
    FileResponseCache,
    MemoryResponseCache,
    Provider,
    ProviderConfig,
    ProviderDeps,
    ProviderDisabled,
    ProviderRuntime,
    ProviderState,
    ProviderUnavailable,
    default_registry,
)
from metarr.providers.fanart import FanartProvider
from metarr.providers.omdb import OmdbProvider
from metarr.providers.ratelimit import RateLimiters
from metarr.providers.settings import SEVEN_DAYS
from metarr.providers.tmdb import TmdbProvider
from metarr.testing.fake_providers import FakeProviderServer, generated_imdb_id

FIXTURES = Path(__file__).parents[1] / "fixtures"
DETAIL_APPENDS = {"credits", "images", "videos", "release_dates", "external_ids", "keywords"}


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class RecordingSleep:
    """asyncio.sleep that remembers how long it was asked to wait."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)
        await asyncio.sleep(seconds)


def fast_deps(**overrides: Any) -> ProviderDeps:
    """Deps with quick, jitter-free backoff and a recording sleep."""
    values: dict[str, Any] = {
        "backoff": Backoff(base=0.01, factor=2.0, max_delay=0.2, jitter=0.0),
        "sleep": RecordingSleep(),
    }
    values.update(overrides)
    return ProviderDeps(**values)


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeProviderServer]:
    with FakeProviderServer(FIXTURES) as server:
        yield server


@pytest.fixture(autouse=True)
def _fresh_fake(fake: FakeProviderServer) -> None:
    fake.reset()


@pytest.fixture
def runtime() -> Iterator[ProviderRuntime]:
    with ProviderRuntime() as rt:
        yield rt


Build = Callable[..., Any]


@pytest.fixture
def build(fake: FakeProviderServer, runtime: ProviderRuntime) -> Iterator[Build]:
    """Build a provider pointed at the fake (only the base URL differs from production)."""
    made: list[Provider] = []

    def _build(name: str, *, deps: ProviderDeps | None = None, **overrides: Any) -> Any:
        url, key = {
            "tmdb": (fake.tmdb_base_url, fake.tmdb_key),
            "fanart": (fake.fanart_base_url, fake.fanart_key),
            "omdb": (fake.omdb_base_url, fake.omdb_key),
        }[name]
        values: dict[str, Any] = {
            "api_key": key,
            "base_url": url,
            "rate_limit": 1000.0,
            "max_retries": 2,
        }
        values.update(overrides)
        provider = default_registry().get(name)(
            ProviderConfig.for_provider(name, **values), deps or fast_deps()
        )
        made.append(provider)
        return provider

    yield _build
    for provider in made:
        runtime.run(provider.aclose())


# -- the happy path -----------------------------------------------------------------------


def test_first_enrichment_is_one_details_request(
    fake: FakeProviderServer, runtime: ProviderRuntime, build: Build
) -> None:
    tmdb: TmdbProvider = build("tmdb")

    details = runtime.run(tmdb.enrich(ExternalIds(tmdb=550)))

    assert details.info.title == "Fight Club" and details.info.certification == "R"
    calls = fake.requests_to("tmdb")
    assert sorted(r.path for r in calls) == ["/3/configuration", "/3/movie/550"]
    movie_call = next(r for r in calls if r.path == "/3/movie/550")
    assert set(movie_call.query["append_to_response"].split(",")) == DETAIL_APPENDS
    # image URLs come from the fake's /configuration
    assert all(a.url.startswith(fake.image_base_url) for a in details.assets)
    assert details.cast[0].thumb is not None and details.cast[0].thumb.startswith(fake.url)
    # images were asked for in our language, English and "no text"
    assert {a.language for a in details.assets} <= {"en", None}

    fake.clear_requests()
    other = runtime.run(tmdb.enrich(ExternalIds(tmdb=1234)))
    assert [r.path for r in fake.requests_to("tmdb")] == ["/3/movie/1234"]  # config: once
    assert other.ids.imdb == generated_imdb_id(1234)
    assert other.info.cast and other.info.directors and other.info.certification

    fake.clear_requests()
    by_imdb = runtime.run(tmdb.enrich(ExternalIds(imdb=generated_imdb_id(77))))
    assert by_imdb.ids.tmdb == 77
    assert [r.path for r in fake.requests_to("tmdb")] == [
        f"/3/find/{generated_imdb_id(77)}",
        "/3/movie/77",
    ]


def test_search_find_collection_and_changes(
    fake: FakeProviderServer, runtime: ProviderRuntime, build: Build
) -> None:
    tmdb: TmdbProvider = build("tmdb", image_base_url="https://img.example/t/p/")

    hits = runtime.run(tmdb.search("Fight Club"))
    assert hits[0].tmdb == 550 and hits[0].poster_url is not None
    assert hits[0].poster_url.startswith("https://img.example/t/p/w342/")
    assert not fake.requests_to("tmdb", "/3/configuration")  # overridden image base

    (avatar,) = runtime.run(tmdb.find_by_imdb("tt0499549"))
    assert (avatar.tmdb, avatar.title) == (19995, "Avatar")
    assert runtime.run(tmdb.find_by_imdb("tt0000001")) == []

    collection = runtime.run(tmdb.collection(2794))
    assert collection.set.name == "The Chronicles of Riddick Collection"
    assert [p.tmdb for p in collection.parts] == [2787, 2789, 87421]

    fake.changed_ids = list(range(1, 251))
    fake.clear_requests()
    assert runtime.run(tmdb.changed_movie_ids()) == list(range(1, 251))
    assert len(fake.requests_to("tmdb", "/3/movie/changes")) == 3


def test_v4_read_token_is_sent_as_bearer(
    fake: FakeProviderServer, runtime: ProviderRuntime, build: Build
) -> None:
    tmdb: TmdbProvider = build("tmdb", api_key=fake.tmdb_token)
    runtime.run(tmdb.movie_details(550))
    (call, *_) = fake.requests_to("tmdb", "/3/movie/")
    assert call.bearer and "api_key" not in call.query and call.status == 200


def test_fanart_and_omdb(fake: FakeProviderServer, runtime: ProviderRuntime, build: Build) -> None:
    fanart: FanartProvider = build("fanart")
    omdb: OmdbProvider = build("omdb")

    art = runtime.run(fanart.movie_artwork(tmdb_id=120))
    assert {a.type for a in art} >= {ArtworkType.CLEARLOGO, ArtworkType.DISCART}
    assert all(a.url.startswith(fake.url) for a in art)
    generated = runtime.run(fanart.movie_artwork(imdb_id=generated_imdb_id(500)))
    assert all(a.provider == "fanart" for a in generated)

    ratings = runtime.run(omdb.ratings("tt0137523"))
    assert [r.source for r in ratings] == ["imdb", "tomatometerallcritics", "metacritic"]
    assert ratings[0].value == 8.8 and ratings[0].votes == 2455214
    assert runtime.run(omdb.ratings(generated_imdb_id(10)))[0].source == "imdb"


def test_image_bytes_have_the_claimed_dimensions(
    fake: FakeProviderServer, runtime: ProviderRuntime, build: Build
) -> None:
    tmdb: TmdbProvider = build("tmdb")
    fanart: FanartProvider = build("fanart")
    details = runtime.run(tmdb.movie_details(87421))
    poster = next(a for a in details.assets if a.type is ArtworkType.POSTER)
    logo = runtime.run(fanart.movie_artwork(tmdb_id=372058))[0]

    with httpx.Client() as client:
        for asset, fmt in ((poster, "JPEG"), (logo, "PNG")):
            response = client.get(asset.url)
            assert response.status_code == 200
            image = Image.open(io.BytesIO(response.content))
            assert image.format == fmt
            assert image.size == (asset.width, asset.height)
        small = client.get(poster.url.replace("/original/", "/w342/"))
        assert Image.open(io.BytesIO(small.content)).size[0] == 342


# -- errors -------------------------------------------------------------------------------


def test_bad_key_marks_the_provider_key_invalid_without_retry(
    fake: FakeProviderServer, runtime: ProviderRuntime, build: Build
) -> None:
    bad = "f" * 32
    tmdb: TmdbProvider = build("tmdb", api_key=bad, image_base_url="https://img.example/")

    with pytest.raises(AuthenticationFailed) as caught:
        runtime.run(tmdb.movie_details(550))
    message = str(caught.value)
    assert "Invalid API key" in message and "METARR_TMDB_API_KEY" in message
    assert bad not in message
    assert [r.status for r in fake.requests_to("tmdb")] == [401]  # no retry
    status = tmdb.status()
    assert status.state is ProviderState.KEY_INVALID and not status.usable

    with pytest.raises(AuthenticationFailed):
        runtime.run(tmdb.movie_details(551))
    assert len(fake.requests_to("tmdb")) == 1  # known bad: no more requests

    fanart: FanartProvider = build("fanart", api_key="nope")
    with pytest.raises(AuthenticationFailed):
        runtime.run(fanart.movie_artwork(tmdb_id=120))
    omdb: OmdbProvider = build("omdb", api_key="nope")
    with pytest.raises(AuthenticationFailed, match="Invalid API key"):
        runtime.run(omdb.ratings("tt0137523"))


def test_not_found(fake: FakeProviderServer, runtime: ProviderRuntime, build: Build) -> None:
    fake.missing_tmdb_ids.add(4242)
    fake.missing_fanart_ids.add(4243)
    tmdb: TmdbProvider = build("tmdb", image_base_url="https://img.example/")
    fanart: FanartProvider = build("fanart")
    omdb: OmdbProvider = build("omdb")

    with pytest.raises(NotFound):
        runtime.run(tmdb.movie_details(4242))
    assert [r.status for r in fake.requests_to("tmdb")] == [404]
    assert tmdb.status().state is ProviderState.OK
    with pytest.raises(NotFound):
        runtime.run(fanart.movie_artwork(tmdb_id=4243))
    with pytest.raises(NotFound):
        runtime.run(omdb.ratings("tt0000001"))  # OMDb says so with a 200


def test_429_retry_after_is_honoured(
    fake: FakeProviderServer, runtime: ProviderRuntime, build: Build
) -> None:
    fake.tmdb.rate_limit = 2  # per second; our client is allowed 1000/s here
    sleep = RecordingSleep()
    tmdb: TmdbProvider = build(
        "tmdb", deps=fast_deps(sleep=sleep), image_base_url="https://img.example/"
    )

    started = time.monotonic()
    titles = [runtime.run(tmdb.movie_details(i)).info.title for i in (10, 11, 12)]

    assert all(titles)
    statuses = [r.status for r in fake.requests_to("tmdb")]
    assert statuses.count(429) == 1 and statuses.count(200) == 3
    assert any(wait >= 1.0 for wait in sleep.waits)  # Retry-After: 1
    assert time.monotonic() - started >= 0.9


def test_5xx_burst_is_retried_with_backoff(
    fake: FakeProviderServer, runtime: ProviderRuntime, build: Build
) -> None:
    fake.tmdb.fail(2, status=502)
    sleep = RecordingSleep()
    tmdb: TmdbProvider = build(
        "tmdb", deps=fast_deps(sleep=sleep), max_retries=3, image_base_url="https://img.example/"
    )

    details = runtime.run(tmdb.movie_details(550))

    assert details.ids.tmdb == 550
    assert [r.status for r in fake.requests_to("tmdb")] == [502, 502, 200]
    assert sleep.waits == [pytest.approx(0.01), pytest.approx(0.02)]  # exponential
    assert tmdb.status().state is ProviderState.OK


def test_persistent_5xx_opens_the_breaker_then_a_probe_recovers(
    fake: FakeProviderServer, runtime: ProviderRuntime, build: Build
) -> None:
    clock = Clock()
    breakers = Breakers(failure_threshold=2, cooldown=30.0, clock=clock)
    tmdb: TmdbProvider = build(
        "tmdb",
        deps=fast_deps(breakers=breakers),
        max_retries=1,
        image_base_url="https://img.example/",
    )
    fake.tmdb.fail(1000)

    for _ in range(2):
        with pytest.raises(ServiceUnavailable, match="HTTP 503"):
            runtime.run(tmdb.movie_details(550))
    assert len(fake.requests_to("tmdb")) == 4  # 2 calls x (1 + 1 retry)
    assert breakers.get("tmdb.http").state() is BreakerState.OPEN
    assert tmdb.status().state is ProviderState.CIRCUIT_OPEN

    with pytest.raises(ProviderUnavailable) as fast:
        runtime.run(tmdb.movie_details(550))
    assert fast.value.retry_after == pytest.approx(30.0)
    assert len(fake.requests_to("tmdb")) == 4  # failed fast: no request

    clock.advance(31)
    fake.tmdb.fail(0)
    assert breakers.get("tmdb.http").state() is BreakerState.HALF_OPEN
    assert runtime.run(tmdb.movie_details(550)).ids.tmdb == 550  # the probe
    assert breakers.get("tmdb.http").state() is BreakerState.CLOSED
    assert tmdb.status().state is ProviderState.OK


def test_timeout_is_service_unavailable(
    fake: FakeProviderServer, runtime: ProviderRuntime, build: Build
) -> None:
    fake.tmdb.latency = 0.6
    tmdb: TmdbProvider = build(
        "tmdb", timeout=0.15, max_retries=1, image_base_url="https://img.example/"
    )

    started = time.monotonic()
    with pytest.raises(ServiceUnavailable, match="timed out"):
        runtime.run(tmdb.movie_details(550))
    assert time.monotonic() - started < 1.5
    assert len(fake.requests_to("tmdb")) == 2


def test_rate_limiter_keeps_every_thread_under_the_server_limit(
    fake: FakeProviderServer, runtime: ProviderRuntime, build: Build
) -> None:
    fake.tmdb.rate_limit = 20
    tmdb: TmdbProvider = build("tmdb", rate_limit=20.0, image_base_url="https://img.example/")

    async def batch(ids: range) -> list[str | None]:
        found = await asyncio.gather(*(tmdb.movie_details(i) for i in ids))
        return [d.info.title for d in found]

    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=3) as pool:  # sync callers on three job threads
        futures = [
            pool.submit(runtime.run, batch(range(n * 10 + 1, n * 10 + 11))) for n in range(3)
        ]
        titles = [t for f in futures for t in f.result()]
    elapsed = time.monotonic() - started

    assert len(titles) == 30 and all(titles)
    calls = fake.requests_to("tmdb")
    assert [r.status for r in calls].count(429) == 0
    assert len(calls) == 30
    assert elapsed >= 29 / 20  # paced, not bursted
    times = sorted(r.at for r in calls)
    assert all(sum(1 for u in times if t - 1.0 < u <= t) <= 20 for t in times)


def test_response_cache_hit_and_ttl_expiry(
    fake: FakeProviderServer, runtime: ProviderRuntime, build: Build
) -> None:
    clock = Clock()
    tmdb: TmdbProvider = build(
        "tmdb",
        deps=fast_deps(cache=MemoryResponseCache(clock=clock)),
        image_base_url="https://img.example/",
    )

    first = runtime.run(tmdb.movie_details(550))
    again = runtime.run(tmdb.movie_details(550))
    assert again.info == first.info
    assert len(fake.requests_to("tmdb", "/3/movie/550")) == 1

    clock.advance(SEVEN_DAYS - 1)
    runtime.run(tmdb.movie_details(550))
    assert len(fake.requests_to("tmdb", "/3/movie/550")) == 1
    clock.advance(2)
    runtime.run(tmdb.movie_details(550))
    assert len(fake.requests_to("tmdb", "/3/movie/550")) == 2

    runtime.run(tmdb.changed_movie_ids())
    runtime.run(tmdb.changed_movie_ids(max_pages=1))
    assert len(fake.requests_to("tmdb", "/3/movie/changes")) >= 2  # never cached


def test_file_cache_survives_a_new_client(
    tmp_path: Path, fake: FakeProviderServer, runtime: ProviderRuntime, build: Build
) -> None:
    clock = Clock()
    cache = FileResponseCache(tmp_path / "cache", clock=clock)
    for _ in range(2):  # two processes' worth of clients, one cache directory
        tmdb: TmdbProvider = build(
            "tmdb", deps=fast_deps(cache=cache), image_base_url="https://img.example/"
        )
        assert runtime.run(tmdb.movie_details(603)).ids.tmdb == 603
    assert len(fake.requests_to("tmdb", "/3/movie/603")) == 1
    assert fake.tmdb_key.encode() not in b"".join(
        p.read_bytes() for p in cache.root.rglob("*") if p.is_file()
    )

    clock.advance(SEVEN_DAYS + 1)
    assert cache.purge_expired() == 1
    cache.put("k" * 64, b"{}", 10)
    assert cache.get("k" * 64) == b"{}"
    clock.advance(11)
    assert cache.get("k" * 64) is None


def test_provider_without_key_is_disabled_with_a_clear_message(
    fake: FakeProviderServer, runtime: ProviderRuntime
) -> None:
    configs = {
        "tmdb": ProviderConfig.for_provider("tmdb", base_url=fake.tmdb_base_url),
        "fanart": ProviderConfig.from_env("fanart", {}),
        "omdb": ProviderConfig.for_provider(
            "omdb", api_key=fake.omdb_key, base_url=fake.omdb_base_url
        ),
    }
    providers = default_registry().build(configs, fast_deps())
    try:
        status = providers.tmdb.status()
        assert status.state is ProviderState.DISABLED
        assert status.message == (
            "tmdb has no API key: set one on the Providers page "
            "or in METARR_TMDB_API_KEY to enable it"
        )
        assert [p.name for p in providers.enabled()] == ["omdb"]

        with pytest.raises(ProviderDisabled, match="METARR_TMDB_API_KEY"):
            runtime.run(providers.tmdb.movie_details(550))
        with pytest.raises(AuthenticationFailed):  # "configure it", never retried
            runtime.run(providers.fanart.movie_artwork(tmdb_id=120))
        assert fake.requests == []
        assert runtime.run(providers.omdb.ratings("tt0137523"))
    finally:
        runtime.run(providers.aclose())


def test_keys_never_reach_logs_or_errors(
    fake: FakeProviderServer,
    runtime: ProviderRuntime,
    build: Build,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    # an earlier test may have run configure_logging, which quiets httpx to WARNING
    caplog.set_level(logging.DEBUG, logger="httpx")
    tmdb: TmdbProvider = build("tmdb", max_retries=1)
    omdb: OmdbProvider = build("omdb")
    runtime.run(tmdb.movie_details(550))
    runtime.run(omdb.ratings("tt0137523"))
    fake.tmdb.fail(5)
    with pytest.raises(ServiceUnavailable) as caught:
        runtime.run(tmdb.movie_details(551))

    assert "api_key=***" in caplog.text  # httpx logged the URL, redacted
    for secret in (fake.tmdb_key, fake.omdb_key):
        assert secret not in caplog.text
        assert secret not in str(caught.value)


def test_rate_limiter_schedule_is_shared_and_honours_pause() -> None:
    clock = Clock(0.0)
    limiters = RateLimiters(slack=0.0, clock=clock)
    limiter = limiters.get("tmdb", 10.0)
    assert limiters.get("tmdb", 10.0) is limiter  # every client of a provider shares it

    assert [round(limiter.reserve(), 3) for _ in range(3)] == [0.0, 0.1, 0.2]
    clock.advance(1.0)
    assert limiter.reserve() == 0.0  # idle time is not banked (burst 1)
    limiter.pause(2.0)  # Retry-After: 2
    assert limiter.reserve() == pytest.approx(2.0)
    assert limiters.get("tmdb", 20.0) is not limiter  # the rate was changed in settings
