"""Enrichment benchmark: a generated library enriched through the real job handlers.

One command, makes its own data:

    .venv/bin/python benchmarks/enrich.py [--movies 1000] [--rate 40] [--concurrency 8]

1. The fake provider server (`metarr.testing.fake_providers`) runs in a child process
   on 127.0.0.1 (so it does not compete with us for the GIL), TMDB limited to `--rate`
   requests/s (429 + Retry-After above it), fanart.tv and OMDb to
   `--fanart-rate`/`--omdb-rate` (generous by default).
2. `--movies` movies are written with the sample builder, every one with a TMDB id in
   its NFO, and scanned inline (`container.scans.run`). The fake draws its images
   before the timed run (`FakeProviderServer.warm`): an image host serves stored
   files, drawing them is the fake's cost, not Metarr's.
3. One `enrich` job per movie (`EnrichmentService.enqueue_library`) runs on a `Worker`
   with `--concurrency` threads (default 8, set explicitly; `METARR_WORKERS` or
   `metarr worker --concurrency N` in production: the metadata phase is bound by the
   TMDB limit from 2 threads, the product's default, on an idle machine; more threads
   shorten the artwork tail) with the real `EnrichmentService` handlers: each `enrich`
   job queues its movie's lower-priority `artwork` job, so the run has two phases:
   the metadata phase (until the last `enrich` job finished: every TMDB request is
   made in it) and the artwork tail (until every artwork job finished: all images
   downloaded, checked, selected and cached). The providers are configured like
   bootstrap builds them (file response cache) with the same limits as the server.
4. A provider update of the unchanged library (`EnrichmentService.provider_update`).

Times come from the job table (worker start to the last `finished_at`), requests from
the fake's log, sizes from the content cache. The job threads' time is broken down per
step (wrappers installed in this process only). Prints a Markdown table with the
targets beside each row and removes everything it made.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import json
import multiprocessing
import os
import platform
import re
import tempfile
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from multiprocessing.connection import Connection
from pathlib import Path
from typing import TYPE_CHECKING, Any

from _common import Row, print_report, remove_work

if TYPE_CHECKING:
    from metarr.bootstrap import Container
    from metarr.services.enrichment import EnrichmentService

FIXTURES = Path(__file__).resolve().parents[1] / "tests" / "fixtures"
HEADSHOT_PATH = re.compile(r"/gp\d+_\d+_")  # the fake's generated profile images
STALL_SECONDS = 120.0  # no job finished for this long: give up
POLL = 0.1
METADATA_TYPES = ("identify", "enrich")
PENDING = ("queued", "retry_scheduled", "running")
DONE = ("succeeded", "failed", "cancelled")


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
            elif command == "warm":
                conn.send(fake.warm(args[0]))
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

    def warm(self, tmdb_ids: list[int]) -> int:
        """Draw the movies' pictures before timing (see FakeProviderServer.warm)."""
        self._conn.send(("warm", tmdb_ids))
        if not self._conn.poll(600):
            raise RuntimeError("the fake provider server did not finish warming up")
        return int(self._conn.recv())

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


def instrument(service: EnrichmentService, timers: Timers) -> None:
    """Time the job handlers, the steps inside them and the TMDB limiter waits."""
    enricher = service.enricher
    artwork = enricher.artwork
    service.handle_enrich = timers.wrap("enrich handler", service.handle_enrich)  # type: ignore[method-assign]
    service.handle_artwork = timers.wrap("artwork handler", service.handle_artwork)  # type: ignore[method-assign]
    enricher._merge = timers.wrap("merge", enricher._merge)  # type: ignore[method-assign]
    enricher._provide = timers.wrap_async("provide", enricher._provide)  # type: ignore[method-assign]
    artwork._plan = timers.wrap("artwork plan", artwork._plan)  # type: ignore[method-assign]
    artwork._fetch_all = timers.wrap_async("artwork fetch", artwork._fetch_all)  # type: ignore[method-assign]
    artwork._record = timers.wrap("artwork record", artwork._record)  # type: ignore[method-assign]
    artwork.cache_local = timers.wrap("cache_local", artwork.cache_local)  # type: ignore[method-assign]
    limiter = service.providers.tmdb.http.limiter
    original_acquire = limiter.acquire

    async def acquire(*args: Any, **kwargs: Any) -> float:
        waited: float = await original_acquire(*args, **kwargs)
        timers.add("TMDB limiter wait", waited)
        return waited

    limiter.acquire = acquire  # type: ignore[method-assign]


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of process `pid` (all its threads)."""
    import psutil

    try:
        times = psutil.Process(pid).cpu_times()
    except psutil.Error:
        return 0.0
    return float(times.user + times.system)


def count_references(container: Container) -> tuple[int, int, int, int]:
    """References into the cache: (artwork rows, cast headshots, NFO texts, distinct hashes)."""
    from sqlalchemy import text

    from metarr.db.cache_refs import referenced_hashes

    with container.db.engine.connect() as conn:
        art = conn.execute(
            text("SELECT count(*) FROM asset_candidates WHERE sha256 IS NOT NULL")
        ).scalar_one()
        rows = conn.execute(
            text("SELECT field, value FROM metadata_fields WHERE field IN ('cast', 'nfo_sha256')")
        ).all()
        distinct = len(referenced_hashes(conn))
    heads = nfos = 0
    for field, value in rows:
        value = json.loads(value) if isinstance(value, str | bytes) else value
        if field == "cast":
            heads += sum(1 for a in value or [] if isinstance(a, dict) and a.get("thumb_sha256"))
        elif isinstance(value, dict):
            nfos += len(value)
    return int(art), heads, nfos, distinct


# -- the run -------------------------------------------------------------------------------


def wait_for(
    container: Container, label: str, types: tuple[str, ...] | None, started: float
) -> None:
    """Until no job (of `types`) is queued, scheduled for retry or running; progress every 5 s."""
    last_done, last_change, last_print = -1, time.monotonic(), 0.0
    while True:
        by_type = container.queue.stats().by_type
        counts: dict[str, int] = {}
        for job_type, statuses in by_type.items():
            if types is None or job_type in types:
                for status, count in statuses.items():
                    counts[status] = counts.get(status, 0) + count
        pending = sum(counts.get(s, 0) for s in PENDING)
        done = sum(counts.get(s, 0) for s in DONE)
        now = time.monotonic()
        if pending == 0:
            return
        if done != last_done:
            last_done, last_change = done, now
        elif now - last_change > STALL_SECONDS:
            raise RuntimeError(f"{label}: no job finished for {STALL_SECONDS:.0f} s ({counts})")
        if now - last_print >= 5.0:
            last_print = now
            print(
                f"    {label}: {done} done, {pending} pending, "
                f"{time.perf_counter() - started:.0f} s",
                flush=True,
            )
        time.sleep(POLL)


def last_finished(container: Container, types: tuple[str, ...] | None) -> datetime:
    """When the last job (of `types`) finished, from the job table (UTC)."""
    from sqlalchemy import func, select

    from metarr.jobs.tables import JobRow

    query = select(func.max(JobRow.finished_at))
    if types is not None:
        query = query.where(JobRow.type.in_(types))
    with container.db.session() as s:
        value = s.scalar(query)
    if value is None:
        raise RuntimeError("no job finished")
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


@dataclass
class Phase:
    """Wall time and CPU of one phase of the run."""

    wall: float
    ours: float  # CPU seconds of this process
    theirs: float  # CPU seconds of the fake server's process
    ended: float = 0.0  # time.monotonic() when its end was seen


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
        t0 = time.perf_counter()
        # the ids LibraryBuilder.bulk gives; an image CDN serves stored files, the fake
        # draws them: drawn now, so the timed run measures Metarr, not the fake's Pillow
        warmed = fake.warm([100_000 + i for i in range(n)])
        print(f"... fake images drawn ({warmed} paths) in {time.perf_counter() - t0:.1f} s")

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
            name: ProviderConfig.for_provider(
                name,
                api_key=info[f"{name}_key"],
                base_url=info[f"{name}_base_url"],
                rate_limit=float(rate),
            )
            for name, rate in (
                ("tmdb", args.rate),
                ("fanart", args.fanart_rate),
                ("omdb", args.omdb_rate),
            )
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
        if args.timers:
            instrument(service, timers)
        registry = Registry()
        container.scans.register(registry)
        service.register(registry)  # identify, enrich, artwork, provider_update

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
        started_at = datetime.now(UTC)
        started = time.perf_counter()
        worker.start()
        wait_for(container, "metadata", METADATA_TYPES, started)
        metadata_seen = time.monotonic()  # the fake's clock too (CLOCK_MONOTONIC)
        cpu1 = cpu_seconds(os.getpid()), cpu_seconds(fake.pid)
        wait_for(container, "artwork", None, started)
        cpu2 = cpu_seconds(os.getpid()), cpu_seconds(fake.pid)
        meta_end = last_finished(container, METADATA_TYPES)
        all_end = last_finished(container, None)
        metadata = Phase(
            (meta_end - started_at).total_seconds(),
            cpu1[0] - cpu0[0],
            cpu1[1] - cpu0[1],
            metadata_seen,
        )
        whole = Phase((all_end - started_at).total_seconds(), cpu2[0] - cpu0[0], cpu2[1] - cpu0[1])
        log = fake.log()
        by_type = container.queue.stats().by_type
        enrich_rows(args, rows, log, metadata, whole, enqueue_s, by_type, len(job_ids), timers)

        cache_stats = cache.stats()
        art_refs, head_refs, nfo_refs, distinct = count_references(container)
        refs = art_refs + head_refs + nfo_refs
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
                f"{art_refs:,} artwork rows + {head_refs:,} cast headshots + {nfo_refs:,} NFO "
                f"texts reference {distinct:,} distinct hashes, {cache_stats.files:,} files "
                "stored; the fake gives every generated movie its own images and cast (no "
                "person in two movies), so sharing is only collection art (set.poster, "
                "set.fanart shared by the movies of a collection)",
            )
        )
        rows.append(provider_update(container, fake, service, lib.id))
    finally:
        if worker is not None:
            worker.stop(timeout=30)
        if container is not None:
            container.close()
        fake.stop()


def provider_update(
    container: Container, fake: FakeProcess, service: EnrichmentService, library_id: int
) -> Row:
    """A provider update of the unchanged library: the requests it makes."""
    fake.changed_ids([])  # TMDB reports no change
    fake.clear()
    print("... provider update of the unchanged library", flush=True)
    started = time.perf_counter()
    service.provider_update(library_id, trigger="benchmark")
    wait_for(container, "provider update", None, started)
    update_s = time.perf_counter() - started
    log = fake.log()
    per = {s: sum(1 for r in log if r.service == s) for s in sorted({r.service for r in log})}
    total = len(log)
    return Row(
        "Provider update, unchanged library",
        f"{total} requests",
        "<= 10 requests",
        total <= 10,
        f"{', '.join(f'{k} {v}' for k, v in per.items()) or 'none'}; {update_s:.1f} s",
    )


def enrich_rows(
    args: argparse.Namespace,
    rows: list[Row],
    log: list[Req],
    metadata: Phase,
    whole: Phase,
    enqueue_s: float,
    by_type: dict[str, dict[str, int]],
    jobs: int,
    timers: Timers,
) -> None:
    """Rows about the enrichment run itself."""
    n = args.movies
    cores = os.cpu_count() or 1
    api = [r for r in log if r.service == "tmdb"]
    config = [r for r in api if r.path.startswith("/3/configuration")]
    tmdb = [r for r in api if not r.path.startswith("/3/configuration")]
    tmdb_images = [r for r in log if r.service == "images" and r.path.startswith("/t/p/")]
    headshots = [r for r in tmdb_images if HEADSHOT_PATH.search(r.path)]
    fanart_images = [r for r in log if r.service == "images" and r.path.startswith("/fanart-")]
    enrich = by_type.get("enrich", {})
    artwork = by_type.get("artwork", {})
    ok = enrich.get("succeeded", 0) == jobs and artwork.get("succeeded", 0) == jobs
    failed = sum(by_type.get(t, {}).get("failed", 0) for t in ("enrich", "artwork"))
    busy = (metadata.ours + metadata.theirs) * 100 / (metadata.wall * cores)
    rows.append(
        Row(
            f"Metadata phase wall time ({n} movies, {args.concurrency} worker threads)",
            f"{metadata.wall:.1f} s",
            "-",
            None if ok else False,
            f"worker start to the last `enrich` job finished: {n / metadata.wall:.1f} movies/s; "
            f"{enrich.get('succeeded', 0)} of {jobs} enrich jobs succeeded; CPU: Metarr "
            f"{metadata.ours:.0f} s ({metadata.ours * 1000 / n:.0f} ms per movie), fake server "
            f"{metadata.theirs:.0f} s, = {busy:.0f} % "
            f"of {cores} cores; enqueueing before it (not counted) {enqueue_s:.1f} s",
        )
    )
    rows.append(
        Row(
            "Whole run wall time (until all artwork is cached)",
            f"{whole.wall:.1f} s",
            "-",
            None if ok else False,
            f"{artwork.get('succeeded', 0)} of {jobs} artwork jobs succeeded, {failed} jobs "
            f"failed; artwork tail after the metadata phase {whole.wall - metadata.wall:.1f} s; "
            f"CPU: Metarr {whole.ours:.0f} s, fake server {whole.theirs:.0f} s",
        )
    )
    per_movie = len(tmdb) / n
    paths: dict[str, int] = {}
    for r in tmdb:
        key = "/".join(r.path.split("/")[:3])
        paths[key] = paths.get(key, 0) + 1
    rows.append(
        Row(
            "TMDB API requests per movie",
            f"{per_movie:.2f}",
            "<= 2",
            per_movie <= 2,
            f"{len(tmdb):,} requests ("
            + ", ".join(f"{k} {v}" for k, v in sorted(paths.items()))
            + f"), plus /configuration {len(config)} per process",
        )
    )
    rate = len(api) / metadata.wall
    share = rate * 100 / args.rate
    span = (api[-1].at - api[0].at) if len(api) > 1 else 0.0
    late = sum(1 for r in api if r.at > metadata.ended)
    waited = timers.get("TMDB limiter wait")
    rows.append(
        Row(
            "Achieved TMDB request rate, metadata phase",
            f"{rate:.1f}/s = {share:.0f} % of {args.rate}/s",
            ">= 85 %",
            share >= 85,
            f"{len(api):,} TMDB API requests (all of them, /configuration included) / metadata "
            f"phase wall time; first-to-last request span {span:.1f} s "
            f"({len(api) / max(span, 1e-9):.1f}/s); {late} TMDB API requests after it; "
            + (
                f"client limiter waits {waited[1]:.0f} s summed over {waited[0]:,} requests; "
                if waited[0]
                else ""
            )
            + "image downloads are not API requests (image hosts are not rate limited)",
        )
    )
    tmdb_429 = sum(1 for r in api if r.status == 429)
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


def print_profile(timers: Timers, metadata_wall: float, concurrency: int) -> None:
    """Where the job threads' time went (steps nest as indented)."""
    steps = (
        ("enrich job (metadata)", "enrich handler", 0),
        ("providers (job thread waits for the loop)", "provide", 1),
        ("merge: fields, history, candidates (one transaction)", "merge", 1),
        ("artwork job", "artwork handler", 0),
        ("plan (one transaction)", "artwork plan", 1),
        ("downloads, checks, cache writes (on the loop and the image pool)", "artwork fetch", 1),
        ("record selections and headshots (one transaction)", "artwork record", 1),
        ("local artwork + NFO into the cache", "cache_local", 1),
    )
    if not timers.get("enrich handler")[0]:
        return
    print()
    print(
        f"Where the {concurrency} job threads' time went (summed over threads; the metadata "
        f"phase lasted {metadata_wall:.1f} s = {metadata_wall * concurrency:.0f} thread-seconds):"
    )
    print()
    print("| step | calls | total s | mean ms |")
    print("|---|---|---|---|")
    for label, key, depth in steps:
        count, seconds = timers.get(key)
        if count:
            print(
                f"| {'&nbsp;&nbsp;' * depth}{label} | {count:,} | {seconds:,.1f} | "
                f"{seconds * 1000 / count:,.1f} |"
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
        "--no-timers",
        dest="timers",
        action="store_false",
        help="do not wrap the steps with timers (for profiling without them)",
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
        remove_work(work, args.keep)

    print_report(
        f"movies: {args.movies}, TMDB limit {args.rate}/s, worker threads: {args.concurrency}, "
        f"CPU cores: {os.cpu_count()}, Python {platform.python_version()}, "
        f"total {time.perf_counter() - started:.0f} s",
        load_before,
        rows,
    )
    wall = next((r for r in rows if r.name.startswith("Metadata phase wall time")), None)
    if wall is not None:
        print_profile(timers, float(wall.result.split()[0]), args.concurrency)
    if failed or any(r.ok is False for r in rows):
        raise SystemExit(1)


if __name__ == "__main__":
    main()
