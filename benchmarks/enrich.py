"""Enrichment benchmark: a generated library enriched through the real job handlers.

One command, makes its own data:

    .venv/bin/python benchmarks/enrich.py [--movies 1000] [--rate 40] [--concurrency 8]

1. The fake provider server (`metarr.testing.fake_providers`) runs in a child process
   on 127.0.0.1 (so its image rendering does not compete with us for the GIL), TMDB
   limited to `--rate` requests/s (429 + Retry-After above it), fanart.tv and OMDb
   to `--fanart-rate`/`--omdb-rate` (generous by default).
2. `--movies` movies are written with the sample builder, every one with a TMDB id
   in its NFO, and scanned inline (`container.scans.run`).
3. One `enrich` job per movie runs on a `Worker` (`--concurrency` threads) with the
   real `EnrichmentService` handlers; the providers are configured like bootstrap
   builds them (file response cache) with the same rate limits as the server.
4. A provider update of the unchanged library, when a `provider_update` job type is
   registered (otherwise the row says "not available yet").

Numbers come from the fake's request log, the job table and the content cache. The
worker threads' time is broken down per enrichment step (wrappers installed in this
process only) so a low request rate can be explained. Prints a Markdown table with
the targets beside each row and removes everything it made.
"""

from __future__ import annotations

import argparse
import contextlib
import contextvars
import functools
import json
import multiprocessing
import os
import platform
import re
import shutil
import tempfile
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from metarr.bootstrap import Container
    from metarr.jobs import Registry, Worker
    from metarr.services.enrichment import EnrichmentService

FIXTURES = Path(__file__).resolve().parents[1] / "tests" / "fixtures"
HEADSHOT_PATH = re.compile(r"/gp\d+_\d+_")  # the fake's generated profile images
STALL_SECONDS = 120.0  # no job finished for this long: give up
POLL = 0.25


# -- the fake provider server, in its own process ---------------------------------------


def fake_child(conn: Connection, fixtures: str) -> None:
    """Serve the fake providers; answer commands from the parent over `conn`."""
    from metarr.testing.fake_providers import FakeProviderServer

    with FakeProviderServer(Path(fixtures) if fixtures else None) as fake:
        conn.send(
            {
                "url": fake.url,
                "tmdb_base_url": fake.tmdb_base_url,
                "fanart_base_url": fake.fanart_base_url,
                "omdb_base_url": fake.omdb_base_url,
                "tmdb_key": fake.tmdb_key,
                "fanart_key": fake.fanart_key,
                "omdb_key": fake.omdb_key,
            }
        )
        knobs = {"tmdb": fake.tmdb, "fanart": fake.fanart, "omdb": fake.omdb}
        while True:
            try:
                command, *args = conn.recv()
            except EOFError:
                return
            if command == "limit":
                service, rate, window = args
                knobs[service].rate_limit, knobs[service].window = rate, window
                knobs[service].hits.clear()
                conn.send(None)
            elif command == "changed_ids":
                fake.changed_ids = args[0]
                conn.send(None)
            elif command == "clear":
                fake.clear_requests()
                conn.send(None)
            elif command == "log":
                conn.send([(r.service, r.path, r.status, r.at) for r in fake.requests])
            else:  # "stop"
                conn.send(None)
                return


@dataclass(frozen=True, slots=True)
class Req:
    """One request the fake received."""

    service: str
    path: str
    status: int
    at: float  # CLOCK_MONOTONIC of the fake process (system-wide on Linux)


class FakeProcess:
    """The fake provider server in a child process, driven over a pipe."""

    def __init__(self) -> None:
        ctx = multiprocessing.get_context("spawn")
        self._conn, child_conn = ctx.Pipe()
        fixtures = str(FIXTURES) if FIXTURES.is_dir() else ""
        self._proc = ctx.Process(target=fake_child, args=(child_conn, fixtures), daemon=True)
        self._proc.start()
        child_conn.close()
        if not self._conn.poll(60):
            raise RuntimeError("the fake provider server did not start within 60 s")
        self.info: dict[str, str] = self._conn.recv()

    def _call(self, *command: Any) -> Any:
        self._conn.send(command)
        if not self._conn.poll(60):
            raise RuntimeError(f"the fake provider server did not answer {command[0]!r}")
        return self._conn.recv()

    def limit(self, service: str, rate: int | None, window: float = 1.0) -> None:
        """`rate` requests per `window` seconds for `service` (None: unlimited)."""
        self._call("limit", service, rate, window)

    def changed_ids(self, ids: list[int] | None) -> None:
        """What TMDB's /movie/changes reports (None: the recorded list)."""
        self._call("changed_ids", ids)

    def clear(self) -> None:
        """Forget the request log."""
        self._call("clear")

    def log(self) -> list[Req]:
        """Every request since the last clear."""
        return [Req(*row) for row in self._call("log")]

    @property
    def pid(self) -> int:
        """The child's pid."""
        return int(self._proc.pid or 0)

    def stop(self) -> None:
        """Stop the server and its process."""
        with contextlib.suppress(Exception):
            if self._proc.is_alive():
                self._call("stop")
        self._proc.join(10)
        if self._proc.is_alive():
            self._proc.kill()
            self._proc.join(5)
        self._conn.close()


# -- timing wrappers (this process only; nothing in the code base changes) --------------


class Timers:
    """Call counts and summed seconds per named step, from any thread or task."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.data: dict[str, list[float]] = {}

    def add(self, name: str, seconds: float) -> None:
        with self._lock:
            entry = self.data.setdefault(name, [0, 0.0])
            entry[0] += 1
            entry[1] += seconds

    def wrap(self, name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(fn)
        def timed(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                self.add(name, time.perf_counter() - start)

        return timed

    def wrap_async(self, name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(fn)
        async def timed(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return await fn(*args, **kwargs)
            finally:
                self.add(name, time.perf_counter() - start)

        return timed

    def get(self, name: str) -> tuple[int, float]:
        count, seconds = self.data.get(name, [0, 0.0])
        return int(count), seconds


_IN_IMAGE = contextvars.ContextVar("in_image_download", default=False)


def instrument(service: EnrichmentService, timers: Timers) -> None:
    """Time the steps of `Enricher.enrich` and the TMDB limiter waits (API vs images)."""
    import metarr.pipeline.enrich as enrich_module

    enricher = service.enricher
    for name in (
        "_fanart",
        "_omdb",
        "_cache_headshots",
        "_merge",
        "_select",
        "_download",
        "_cache_local",
    ):
        if hasattr(enricher, name):  # steps come and go as the code base grows
            setattr(enricher, name, timers.wrap(name.lstrip("_"), getattr(enricher, name)))
    service.handle_enrich = timers.wrap("handler", service.handle_enrich)  # type: ignore[method-assign]
    enricher.cache.put_bytes = timers.wrap("cache.put_bytes", enricher.cache.put_bytes)  # type: ignore[method-assign]
    enricher.cache.exists = timers.wrap("cache.exists", enricher.cache.exists)  # type: ignore[method-assign]
    for name in ("inspect_image", "perceptual_hash"):
        setattr(enrich_module, name, timers.wrap(name, getattr(enrich_module, name)))

    tmdb = service.providers.tmdb
    tmdb.movie_details = timers.wrap_async("tmdb.movie_details", tmdb.movie_details)  # type: ignore[method-assign]
    # TMDB details run through runtime.run: time the blocking call in the job thread too
    original_run = service.runtime.run

    def run(coro: Any, timeout: float | None = None) -> Any:
        name = getattr(getattr(coro, "cr_code", None), "co_name", "")
        start = time.perf_counter()
        try:
            return original_run(coro, timeout)
        finally:
            if name == "timed":  # our wrapped movie_details
                timers.add("details (job thread)", time.perf_counter() - start)

    service.runtime.run = run  # type: ignore[method-assign]

    fetcher = enricher.fetcher
    original_fetch = fetcher.fetch

    async def fetch(url: str, provider: str, max_bytes: int) -> bytes:
        _IN_IMAGE.set(True)  # this task only
        start = time.perf_counter()
        try:
            return await original_fetch(url, provider, max_bytes)
        finally:
            timers.add(f"fetch.{provider}", time.perf_counter() - start)

    fetcher.fetch = fetch  # type: ignore[method-assign]

    for provider in ("tmdb", "fanart", "omdb"):
        http = service.providers.get(provider).http
        limiter = http.limiter
        original_acquire = limiter.acquire

        async def acquire(
            sleep: Any = None, _orig: Any = original_acquire, _name: str = provider
        ) -> float:
            waited: float = await (_orig(sleep) if sleep is not None else _orig())
            kind = "image" if _IN_IMAGE.get() else "api"
            timers.add(f"limiter.{_name}.{kind}", waited)
            return waited

        limiter.acquire = acquire  # type: ignore[method-assign]


# -- the run -------------------------------------------------------------------------------


@dataclass
class Row:
    """One line of the result table."""

    name: str
    result: str
    target: str = "-"
    ok: bool | None = None
    notes: str = ""


def wait_for_jobs(container: Container, label: str, started: float) -> None:
    """Until no job is queued, scheduled for retry or running; progress every 5 s."""
    last_done, last_change, last_print = -1, time.monotonic(), 0.0
    while True:
        stats = container.queue.stats().by_status
        pending = sum(stats.get(s, 0) for s in ("queued", "retry_scheduled", "running"))
        done = sum(stats.get(s, 0) for s in ("succeeded", "failed", "cancelled"))
        now = time.monotonic()
        if pending == 0:
            return
        if done != last_done:
            last_done, last_change = done, now
        elif now - last_change > STALL_SECONDS:
            raise RuntimeError(f"{label}: no job finished for {STALL_SECONDS:.0f} s ({stats})")
        if now - last_print >= 5.0:
            last_print = now
            print(
                f"    {label}: {done} done, {pending} pending, "
                f"{time.perf_counter() - started:.0f} s",
                flush=True,
            )
        time.sleep(POLL)


def provider_update_entry(
    container: Container, service: EnrichmentService, registry: Registry
) -> tuple[str, Callable[[int], object]] | None:
    """How to start a provider update of a library, if the code base has one yet."""
    for name in (
        "enqueue_provider_update",
        "provider_update",
        "enqueue_update",
        "enqueue_refresh",
        "refresh_library",
    ):
        method = getattr(service, name, None)
        if callable(method):
            return f"EnrichmentService.{name}", method
    registered = set(registry.types) | set(container.registry.types)
    if "provider_update" in registered:
        if "provider_update" not in registry.types:
            spec = container.registry.get("provider_update")
            if spec is not None:
                registry.register(
                    "provider_update",
                    spec.handler,
                    needs=spec.needs,
                    max_attempts=spec.max_attempts,
                    timeout=spec.timeout,
                    priority=spec.priority,
                )

        def enqueue(library_id: int) -> object:
            return container.queue.enqueue(
                "provider_update", f"library:{library_id}/", {"library_id": library_id}
            )

        return "provider_update job", enqueue
    return None


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of process `pid` (all its threads)."""
    import psutil

    try:
        times = psutil.Process(pid).cpu_times()
    except psutil.Error:
        return 0.0
    return float(times.user + times.system)


def count_references(container: Container) -> tuple[int, int, int]:
    """References into the cache: (artwork candidate rows, cast headshots, distinct hashes)."""
    from sqlalchemy import text

    with container.db.engine.connect() as conn:
        art = [
            str(sha)
            for (sha,) in conn.execute(
                text("SELECT sha256 FROM asset_candidates WHERE sha256 IS NOT NULL")
            )
        ]
        casts = conn.execute(text("SELECT value FROM metadata_fields WHERE field = 'cast'")).all()
    heads: list[str] = []
    for (value,) in casts:
        cast = json.loads(value) if isinstance(value, str | bytes) else value
        heads += [
            str(a["thumb_sha256"])
            for a in cast or []
            if isinstance(a, dict) and a.get("thumb_sha256")
        ]
    return len(art), len(heads), len(set(art) | set(heads))


def run(args: argparse.Namespace, work: Path, rows: list[Row], timers: Timers) -> None:
    """Everything between building the data and printing the table."""
    from metarr.bootstrap import build
    from metarr.jobs import Breakers, Registry, Worker
    from metarr.providers import (
        FileResponseCache,
        ProviderConfig,
        ProviderDeps,
        ProviderRuntime,
        default_registry,
    )
    from metarr.services.enrichment import EnrichmentService
    from metarr.settings import Settings
    from metarr.storage.cache import ContentCache
    from metarr.testing.library_builder import LibraryBuilder

    n = args.movies
    print("... starting the fake provider server (child process)", flush=True)
    fake = FakeProcess()
    container: Container | None = None
    worker: Worker | None = None
    try:
        fake.limit("tmdb", args.rate)
        fake.limit("fanart", args.fanart_rate)
        fake.limit("omdb", args.omdb_rate)
        info = fake.info

        library = work / "library"
        library.mkdir(parents=True)
        t0 = time.perf_counter()
        LibraryBuilder(library).bulk(n, nfo_ratio=1.0)
        print(f"... built {n} movies in {time.perf_counter() - t0:.1f} s", flush=True)

        data_dir = work / "data"
        container = build(Settings(data_dir=data_dir, api_key="bench"))
        lib = container.libraries.create(name="Bench", kind="movies", path=str(library))
        scan, _ = container.scans.create(lib.id, trigger="benchmark")
        t0 = time.perf_counter()
        result = container.scans.run(scan.id)
        if result.status != "succeeded":
            raise RuntimeError(f"scan failed: {result.error}")
        print(f"... scanned in {time.perf_counter() - t0:.1f} s: {result.stats}", flush=True)

        # Providers as bootstrap builds them, pointed at the fake, limits equal to the server's.
        configs = {
            "tmdb": ProviderConfig.for_provider(
                "tmdb",
                api_key=info["tmdb_key"],
                base_url=info["tmdb_base_url"],
                rate_limit=float(args.rate),
            ),
            "fanart": ProviderConfig.for_provider(
                "fanart",
                api_key=info["fanart_key"],
                base_url=info["fanart_base_url"],
                rate_limit=float(args.fanart_rate),
            ),
            "omdb": ProviderConfig.for_provider(
                "omdb",
                api_key=info["omdb_key"],
                base_url=info["omdb_base_url"],
                rate_limit=float(args.omdb_rate),
            ),
        }
        providers = default_registry().build(
            configs, ProviderDeps(cache=FileResponseCache(data_dir / "provider-cache"))
        )
        runtime = ProviderRuntime()
        cache = ContentCache(data_dir / "cache")
        service = EnrichmentService(container.db, container.queue, providers, runtime, cache)
        old = container.enrichment
        old.close()
        old.runtime.run(old.providers.aclose())
        old.runtime.close()
        container.enrichment = service  # container.close() closes ours
        instrument(service, timers)
        registry = Registry()
        container.scans.register(registry)
        service.register(registry)
        update = provider_update_entry(container, service, registry)

        fake.clear()
        t0 = time.perf_counter()
        job_ids = service.enqueue_library(lib.id)
        enqueue_s = time.perf_counter() - t0
        print(f"... enqueued {len(job_ids)} jobs in {enqueue_s:.1f} s; enriching", flush=True)
        worker = Worker(
            container.db,
            registry,
            concurrency=args.concurrency,
            queue=container.queue,
            breakers=Breakers(),
        )
        cpu0 = cpu_seconds(os.getpid()), cpu_seconds(fake.pid)
        started = time.perf_counter()
        worker.start()
        wait_for_jobs(container, "enrich", started)
        wall = time.perf_counter() - started
        cpu1 = cpu_seconds(os.getpid()), cpu_seconds(fake.pid)
        log = fake.log()
        by_type = container.queue.stats().by_type.get("enrich", {})
        enrich_rows(args, rows, timers, log, wall, enqueue_s, by_type, len(job_ids))
        ours, theirs = cpu1[0] - cpu0[0], cpu1[1] - cpu0[1]
        cores = os.cpu_count() or 1
        rows.append(
            Row(
                "CPU during enrichment",
                f"{(ours + theirs) * 100 / (wall * cores):.0f} % of {cores} cores",
                "-",
                None,
                f"metarr side {ours:.0f} s ({ours * 1000 / n:.0f} ms per movie), fake server "
                f"(renders every image) {theirs:.0f} s, in {wall:.0f} s wall",
            )
        )

        cache_stats = cache.stats()
        art_refs, head_refs, distinct = count_references(container)
        refs = art_refs + head_refs
        ratio = refs / cache_stats.files if cache_stats.files else 0.0
        rows.append(
            Row(
                "Content cache",
                f"{cache_stats.files:,} files, {cache_stats.bytes / 2**20:,.1f} MB",
                "-",
                None,
                f"{cache_stats.bytes / max(n, 1) / 1024:,.0f} KB per movie",
            )
        )
        rows.append(
            Row(
                "Dedupe ratio (references / stored files)",
                f"{ratio:.3f}",
                "-",
                None,
                f"{art_refs:,} artwork rows + {head_refs:,} cast headshots reference "
                f"{distinct:,} distinct hashes, {cache_stats.files:,} files stored; the fake "
                "gives every generated movie its own images and cast (no person in two "
                "movies), so ~1.0 is expected: sharing is not exercised by this data",
            )
        )

        if update is None:
            rows.append(
                Row(
                    "Provider update, unchanged library",
                    "not available yet",
                    "<= 10 requests",
                    None,
                    "no provider_update job type registered and no EnrichmentService method",
                )
            )
        else:
            rows.append(provider_update(container, fake, update, lib.id))
        if args.requests_pass:
            worker.stop(timeout=30)
            worker = None
            rows.append(requests_only(args, container, fake, configs, lib.id, cache))
    finally:
        if worker is not None:
            worker.stop(timeout=30)
        if container is not None:
            container.close()
        fake.stop()


def provider_update(
    container: Container,
    fake: FakeProcess,
    update: tuple[str, Callable[[int], object]],
    library_id: int,
) -> Row:
    """Start a provider update of the unchanged library; count the requests it makes."""
    how, start_update = update
    fake.changed_ids([])  # TMDB reports no change
    fake.clear()
    print(f"... provider update of the unchanged library ({how})", flush=True)
    started = time.perf_counter()
    start_update(library_id)
    wait_for_jobs(container, "provider update", started)
    update_s = time.perf_counter() - started
    log = fake.log()
    per = {s: sum(1 for r in log if r.service == s) for s in sorted({r.service for r in log})}
    total = len(log)
    return Row(
        "Provider update, unchanged library",
        f"{total} requests",
        "<= 10 requests",
        total <= 10,
        f"{', '.join(f'{k} {v}' for k, v in per.items()) or 'none'}; {update_s:.1f} s; via {how}",
    )


def requests_only(
    args: argparse.Namespace,
    container: Container,
    fake: FakeProcess,
    configs: dict[str, Any],
    library_id: int,
    cache: Any,
) -> Row:
    """Diagnostic: every movie again with artwork selection and local caching stubbed out.

    Fresh providers (in-memory response cache, so every request goes out) and a fresh
    worker: what the request pipeline (TMDB details, fanart.tv list, OMDb, merge)
    achieves against the limit when image work is out of the picture.
    """
    from metarr.jobs import Breakers, Registry, Worker
    from metarr.providers import ProviderDeps, ProviderRuntime, default_registry
    from metarr.services.enrichment import EnrichmentService

    providers = default_registry().build(configs, ProviderDeps())
    runtime = ProviderRuntime()
    service = EnrichmentService(container.db, container.queue, providers, runtime, cache)
    service.enricher._select = lambda *_a, **_k: None  # type: ignore[method-assign]
    service.enricher._cache_local = lambda *_a, **_k: None  # type: ignore[method-assign]
    registry = Registry()
    service.register(registry)
    worker = Worker(
        container.db,
        registry,
        concurrency=args.concurrency,
        queue=container.queue,
        breakers=Breakers(),
    )
    try:
        job_ids = service.enqueue_library(library_id)
        fake.clear()
        print(f"... diagnostic: {len(job_ids)} movies again, artwork steps stubbed", flush=True)
        started = time.perf_counter()
        worker.start()
        wait_for_jobs(container, "requests only", started)
        wall = time.perf_counter() - started
    finally:
        worker.stop(timeout=30)
        service.close()
        runtime.run(providers.aclose())
        runtime.close()
    log = fake.log()
    tmdb = [r for r in log if r.service == "tmdb" and not r.path.startswith("/3/configuration")]
    share = len(tmdb) / wall * 100 / args.rate
    throttled = sum(1 for r in log if r.status == 429)
    return Row(
        "Diagnostic: TMDB rate, artwork steps stubbed",
        f"{len(tmdb) / wall:.1f}/s = {share:.0f} % of {args.rate}/s",
        ">= 85 %",
        None,
        f"{len(tmdb):,} TMDB requests in {wall:.1f} s ({args.movies / wall:.1f} movies/s), "
        f"{throttled} 429s; details + fanart.tv + OMDb + merge per movie, "
        f"no downloads (not a target row: shows the request pipeline alone)",
    )


def enrich_rows(
    args: argparse.Namespace,
    rows: list[Row],
    timers: Timers,
    log: list[Req],
    wall: float,
    enqueue_s: float,
    by_type: dict[str, int],
    jobs: int,
) -> None:
    """Rows about the enrichment run itself."""
    n = args.movies
    tmdb = [r for r in log if r.service == "tmdb" and not r.path.startswith("/3/configuration")]
    config = [r for r in log if r.service == "tmdb" and r.path.startswith("/3/configuration")]
    tmdb_images = [r for r in log if r.service == "images" and r.path.startswith("/t/p/")]
    headshots = [r for r in tmdb_images if HEADSHOT_PATH.search(r.path)]
    fanart_images = [r for r in log if r.service == "images" and r.path.startswith("/fanart-")]
    failed_jobs = by_type.get("failed", 0)
    ok_jobs = by_type.get("succeeded", 0)
    rows.append(
        Row(
            f"Enrichment wall time ({n} movies, {args.concurrency} threads)",
            f"{wall:.1f} s",
            "-",
            None if failed_jobs == 0 and ok_jobs == jobs else False,
            f"{ok_jobs} of {jobs} jobs succeeded, {failed_jobs} failed; "
            f"{n / wall:.1f} movies/s; enqueueing (not counted) {enqueue_s:.1f} s",
        )
    )
    per_movie = len(tmdb) / n
    paths: dict[str, int] = {}
    for r in tmdb:
        key = "/".join(r.path.split("/")[:3])
        paths[key] = paths.get(key, 0) + 1
    rows.append(
        Row(
            "TMDB requests per movie",
            f"{per_movie:.2f}",
            "<= 2",
            per_movie <= 2,
            f"{len(tmdb):,} requests ("
            + ", ".join(f"{k} {v}" for k, v in sorted(paths.items()))
            + f"), /configuration {len(config)} not counted",
        )
    )
    rate = len(tmdb) / wall
    share = rate * 100 / args.rate
    span = (tmdb[-1].at - tmdb[0].at) if len(tmdb) > 1 else 0.0
    slots = len(tmdb) + len(config) + len(tmdb_images)
    limiter_api = timers.get("limiter.tmdb.api")
    limiter_img = timers.get("limiter.tmdb.image")
    rows.append(
        Row(
            "Achieved TMDB request rate",
            f"{rate:.1f}/s = {share:.0f} % of {args.rate}/s",
            ">= 85 %",
            share >= 85,
            f"first-to-last request span {span:.1f} s; {len(tmdb_images):,} TMDB image "
            f"downloads besides ({slots / wall:.1f} requests/s to TMDB hosts in all); "
            f"limiter waits {limiter_api[1]:.0f} s (API, {limiter_api[0]} calls) + "
            f"{limiter_img[1]:.0f} s (images, {limiter_img[0]} calls: images are not "
            "API-limited) summed over tasks",
        )
    )
    tmdb_429 = sum(1 for r in log if r.service == "tmdb" and r.status == 429)
    other_429 = sum(1 for r in log if r.service != "tmdb" and r.status == 429)
    errors = sum(1 for r in log if r.status >= 500)
    rows.append(
        Row(
            "429s received (configured limit = server's)",
            f"{tmdb_429} from TMDB",
            "0",
            tmdb_429 == 0,
            f"{other_429} from fanart.tv/OMDb (limits {args.fanart_rate}/s, "
            f"{args.omdb_rate}/s); {errors} 5xx",
        )
    )
    rows.append(
        Row(
            "Images downloaded",
            f"{len(tmdb_images) + len(fanart_images):,}",
            "-",
            None,
            f"TMDB {len(tmdb_images):,} (of them {len(headshots):,} cast headshots), "
            f"fanart.tv {len(fanart_images):,}; "
            f"{(len(tmdb_images) + len(fanart_images)) / n:.1f} per movie; "
            f"{sum(1 for r in log if r.service == 'fanart')} fanart.tv API, "
            f"{sum(1 for r in log if r.service == 'omdb')} OMDb requests",
        )
    )


def print_table(rows: list[Row]) -> None:
    """A Markdown table, columns padded (notes unpadded)."""
    head = ("measurement", "result", "target", "ok", "notes")
    cells = [
        (r.name, r.result, r.target, {True: "yes", False: "NO", None: "-"}[r.ok], r.notes)
        for r in rows
    ]
    widths = [max(len(c[i]) for c in [head, *cells]) for i in range(4)]

    def line(values: tuple[str, ...]) -> str:
        padded = [v.ljust(w) for v, w in zip(values, widths, strict=False)]
        return "| " + " | ".join([*padded, values[4]]) + " |"

    print(line(head))
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|---|")
    for c in cells:
        print(line(c))


def print_profile(timers: Timers, wall: float, concurrency: int) -> None:
    """Where the job threads' time went (steps nest as indented)."""
    handler_n, handler_s = timers.get("handler")
    if not handler_n:
        return
    capacity = wall * concurrency
    steps = (
        ("handler (enrich job)", "handler", 0),
        ("TMDB details (job thread waits)", "details (job thread)", 1),
        ("fanart.tv artwork list", "fanart", 1),
        ("OMDb ratings", "omdb", 1),
        ("cast headshots", "cache_headshots", 1),
        ("merge (DB transaction)", "merge", 1),
        ("select artwork", "select", 1),
        ("download (job thread waits)", "download", 2),
        ("inspect_image", "inspect_image", 2),
        ("perceptual_hash", "perceptual_hash", 2),
        ("cache.put_bytes", "cache.put_bytes", 2),
        ("cache local artwork", "cache_local", 1),
        ("-- on the providers' loop (overlapping) --", "", 0),
        ("tmdb.movie_details coroutine", "tmdb.movie_details", 1),
        ("TMDB limiter wait, API", "limiter.tmdb.api", 2),
        ("image fetch, TMDB", "fetch.tmdb", 1),
        ("TMDB limiter wait, images", "limiter.tmdb.image", 2),
        ("image fetch, fanart.tv", "fetch.fanart", 1),
        ("fanart.tv limiter wait, images", "limiter.fanart.image", 2),
    )
    print()
    print(
        f"Where the {concurrency} job threads' time went ({capacity:.0f} thread-seconds "
        f"in {wall:.1f} s; handler busy {handler_s * 100 / capacity:.0f} %):"
    )
    print()
    print("| step | calls | total s | % of handler time | mean ms |")
    print("|---|---|---|---|---|")
    for label, key, depth in steps:
        if not key:
            print(f"| {label} | | | | |")
            continue
        count, seconds = timers.get(key)
        if not count:
            continue
        print(
            f"| {'&nbsp;&nbsp;' * depth}{label} | {count:,} | {seconds:,.1f} | "
            f"{seconds * 100 / handler_s:.0f} % | {seconds * 1000 / count:,.1f} |"
        )


def main() -> None:
    """Build, scan, enrich, update; print the table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--movies", type=int, default=1000)
    parser.add_argument("--rate", type=int, default=40, help="TMDB requests/s (server = client)")
    parser.add_argument("--fanart-rate", type=int, default=500, help="fanart.tv requests/s")
    parser.add_argument("--omdb-rate", type=int, default=500, help="OMDb requests/s")
    parser.add_argument("--concurrency", type=int, default=8, help="worker threads")
    parser.add_argument(
        "--no-requests-pass",
        dest="requests_pass",
        action="store_false",
        help="skip the diagnostic pass with the artwork steps stubbed out",
    )
    parser.add_argument("--keep", action="store_true", help="keep the work dir")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="metarr-bench-enrich-"))
    rows: list[Row] = []
    timers = Timers()
    load_before = os.getloadavg()
    started = time.perf_counter()
    failed = False
    try:
        run(args, work, rows, timers)
    except Exception as exc:
        traceback.print_exc()
        failed = True
        rows.append(Row("benchmark", "failed", ok=False, notes=f"{type(exc).__name__}: {exc}"))
    finally:
        if args.keep:
            print(f"work dir kept: {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)

    print()
    print(
        f"movies: {args.movies}, TMDB limit {args.rate}/s, worker threads: {args.concurrency}, "
        f"CPU cores: {os.cpu_count()}, Python {platform.python_version()}, "
        f"total {time.perf_counter() - started:.0f} s"
    )
    load_after = os.getloadavg()
    print(
        "load average: before "
        + ", ".join(f"{x:.2f}" for x in load_before)
        + "; after "
        + ", ".join(f"{x:.2f}" for x in load_after)
    )
    print()
    print_table(rows)
    wall = next((r for r in rows if r.name.startswith("Enrichment wall time")), None)
    if wall is not None:
        print_profile(timers, float(wall.result.split()[0]), args.concurrency)
    if failed or any(r.ok is False for r in rows):
        raise SystemExit(1)


if __name__ == "__main__":
    main()
