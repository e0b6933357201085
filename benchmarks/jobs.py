"""Job queue benchmark: no-op throughput, idle wake-up latency and idle CPU.

One command, makes its own data and its own throwaway PostgreSQL 15 cluster:

    .venv/bin/python benchmarks/jobs.py [--jobs 20000] [--idle-seconds 30]

1. SQLite, the in-process `Worker` (`--concurrency` threads, as `metarr serve` runs
   it, with the event bus attached): jobs/s from worker start to the last job
   succeeded; enqueueing the jobs beforehand is timed separately.
2. PostgreSQL, 1 and 4 worker *processes* (this script re-run as `--worker URL CONC`,
   a `Worker` with a no-op handler): steady-state jobs/s between 10 % and 90 % done,
   and CPU per job of the worker processes and of the cluster's server processes.
3. Enqueue-to-start latency of idle workers, p50/p99 over `--latency-jobs` jobs, each
   enqueued after a short pause: SQLite in-process, PostgreSQL in-process (local
   wake-up) and PostgreSQL from another process (LISTEN/NOTIFY).
4. Idle CPU of a real `metarr serve` (SQLite, empty queue, default settings: workers
   and scheduler running) over `--idle-seconds`, children included.

Everything it starts (cluster, worker processes, server, temp dirs) is removed on
exit, also on Ctrl-C or failure. Prints a table with the targets next to each row.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import os
import platform
import queue as stdlib_queue
import random
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import psutil

from _common import Row, print_report, remove_work

if TYPE_CHECKING:
    from metarr.db.engine import Database
    from metarr.jobs import JobContext, Registry
    from metarr.testing.postgres import PostgresCluster

UNFINISHED = "SELECT 1 FROM jobs WHERE status IN ('queued', 'retry_scheduled', 'running') LIMIT 1"
REPORT_EVERY = 0.05  # seconds between progress lines of a worker process
POLL = 0.02  # seconds between the parent's progress checks
TEMPLATE_DB = "filled"  # PostgreSQL: migrated and filled once, copied for each run
STALL_SECONDS = 60.0  # no progress for this long: give up


def now_ns() -> int:
    """CLOCK_MONOTONIC in ns: one system-wide clock, comparable between processes."""
    return time.clock_gettime_ns(time.CLOCK_MONOTONIC)


def pct(values: list[float], p: float) -> float:
    """The p-th percentile (nearest rank) of `values`."""
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * p // 100))  # ceil
    return ordered[int(rank) - 1]


# -- database helpers ------------------------------------------------------------------


def open_db(url: str, *, migrate_db: bool = False) -> Database:
    """An engine on `url` (migrated to the newest schema when asked), as bootstrap builds it."""
    from metarr.db import migrate
    from metarr.db.engine import Database, create_db_engine

    db = Database(create_db_engine(url))
    db.wait_until_ready()
    if migrate_db:
        migrate.upgrade(db.engine)
    return db


def fill(db: Database, n: int, prefix: str = "noop") -> float:
    """Enqueue `n` no-op jobs (1,000 per transaction, deduplicated as usual); seconds taken."""
    from metarr.jobs import JobRequest, Queue

    queue = Queue(db)
    start = time.perf_counter()
    for first in range(0, n, 1000):
        queue.enqueue_many(
            [JobRequest("noop", f"{prefix}:{i}") for i in range(first, min(n, first + 1000))]
        )
    return time.perf_counter() - start


class Finished:
    """A cheap check (index seek, own connection, fresh snapshot each time) that no job is left."""

    def __init__(self, db: Database) -> None:
        from sqlalchemy import text

        self._conn = db.engine.connect()
        self._statement = text(UNFINISHED)

    def __call__(self) -> bool:
        try:
            return self._conn.execute(self._statement).first() is None
        finally:
            self._conn.rollback()  # never hold a snapshot (SQLite WAL, PostgreSQL MVCC)

    def close(self) -> None:
        """Give the connection back."""
        self._conn.close()


def verify(db: Database, n: int) -> str:
    """'' when exactly `n` jobs succeeded, each on its first attempt; else what is wrong."""
    from sqlalchemy import text

    with db.engine.connect() as conn:
        rows = conn.execute(
            text("SELECT status, COUNT(*), MAX(attempts) FROM jobs GROUP BY status")
        ).all()
    counts = {status: (int(count), int(attempts)) for status, count, attempts in rows}
    ok = counts.get("succeeded", (0, 0))
    if set(counts) == {"succeeded"} and ok[0] == n and ok[1] == 1:
        return ""
    return f"unexpected final state {counts}"


def noop_registry(on_noop: Callable[[], None], on_ping: Callable[[JobContext], None]) -> Registry:
    """`noop` (throughput) and `ping` (latency) job types."""
    from metarr.jobs import Registry

    registry = Registry()
    registry.register("noop", lambda _ctx: on_noop())
    registry.register("ping", on_ping)
    return registry


# -- CPU accounting --------------------------------------------------------------------


def cpu_tree(pid: int) -> dict[int, float]:
    """CPU seconds (user + system) of `pid` and its live descendants, by pid.

    The root's `children_*` times (descendants already reaped) are added under key -1.
    """
    out: dict[int, float] = {}
    try:
        root = psutil.Process(pid)
        procs = [root, *root.children(recursive=True)]
        times = root.cpu_times()
        out[-1] = times.children_user + times.children_system
    except psutil.Error:
        return out
    for proc in procs:
        with contextlib.suppress(psutil.Error):
            times = proc.cpu_times()
            out[proc.pid] = times.user + times.system
    return out


def cpu_delta(before: dict[int, float], after: dict[int, float]) -> float:
    """CPU seconds spent between two `cpu_tree` snapshots (processes born since count fully)."""
    return sum(value - before.get(pid, 0.0) for pid, value in after.items())


def postmaster_pid(cluster: PostgresCluster) -> int:
    """The pid of our cluster's server (not any other `postgres` process on the machine)."""
    return int((cluster.data / "postmaster.pid").read_text().split()[0])


def context_switches(pid: int) -> int:
    """Context switches of every thread of `pid` (Linux; 0 when /proc is unavailable)."""
    total = 0
    with contextlib.suppress(OSError):
        for status in Path(f"/proc/{pid}/task").glob("*/status"):
            with contextlib.suppress(OSError):
                for line in status.read_text().splitlines():
                    if line.startswith(("voluntary_ctxt_switches", "nonvoluntary_ctxt_switches")):
                        total += int(line.split()[1])
    return total


# -- worker processes ------------------------------------------------------------------


def worker_child(url: str, concurrency: int) -> None:
    """`--worker URL CONC`: a Worker with no-op handlers, as `metarr worker` runs one.

    Protocol on stdout: `ready` once imported and connected; after `go` on stdin the
    worker starts, then `done <count>` lines report how many no-op handlers ran and
    `started <job id> <ns>` when a `ping` handler starts. EOF on stdin stops it.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent stops us by closing stdin
    from metarr.jobs import Queue, Wakeup, Worker
    from metarr.services.events import EventBus

    out_lock = threading.Lock()

    def say(line: str) -> None:
        with out_lock:
            sys.stdout.write(line + "\n")
            sys.stdout.flush()

    counter = itertools.count(1)
    done = [0]

    def noop() -> None:
        done[0] = next(counter)  # atomic under the GIL

    def ping(ctx: JobContext) -> None:
        started = now_ns()
        say(f"started {ctx.job.id} {started}")

    db = open_db(url)
    registry = noop_registry(noop, ping)
    queue = Queue(db, registry=registry, wakeup=Wakeup(), on_event=EventBus().publish_job)
    worker = Worker(db, registry, concurrency=concurrency, queue=queue)
    say("ready")
    if sys.stdin.readline().strip() != "go":
        return
    stop = threading.Event()

    def report() -> None:
        last = 0
        while not stop.wait(REPORT_EVERY):
            if done[0] != last:
                last = done[0]
                say(f"done {last}")

    reporter = threading.Thread(target=report, daemon=True)
    worker.start()
    reporter.start()
    try:
        sys.stdin.read()
    finally:
        worker.stop(timeout=10)
        stop.set()
        reporter.join()
        db.dispose()


@dataclass
class WorkerProcesses:
    """`procs` child worker processes and the lines they print."""

    url: str
    procs: int
    concurrency: int
    children: list[subprocess.Popen[str]] = field(default_factory=list)
    lines: stdlib_queue.Queue[tuple[int, str]] = field(default_factory=stdlib_queue.Queue)
    done: list[int] = field(default_factory=list)

    def start(self, timeout: float = 60.0) -> None:
        """Spawn the processes and wait until each is imported and connected."""
        for index in range(self.procs):
            child = subprocess.Popen(
                [sys.executable, __file__, "--worker", self.url, str(self.concurrency)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
                start_new_session=True,  # Ctrl-C reaches only us; we stop them
            )
            self.children.append(child)
            threading.Thread(target=self._read, args=(index, child), daemon=True).start()
        self.done = [0] * self.procs
        ready = 0
        deadline = time.monotonic() + timeout
        while ready < self.procs:
            _, line = self.expect(deadline - time.monotonic())
            if line == "ready":
                ready += 1

    def _read(self, index: int, child: subprocess.Popen[str]) -> None:
        assert child.stdout is not None
        for line in child.stdout:
            self.lines.put((index, line.strip()))
        self.lines.put((index, "exit"))

    def next_line(self, timeout: float) -> tuple[int, str] | None:
        """The next line of any child (None after `timeout` s); raises when a child died."""
        try:
            index, line = self.lines.get(timeout=max(0.0, timeout))
        except stdlib_queue.Empty:
            return None
        if line == "exit":
            code = self.children[index].wait()
            raise RuntimeError(f"worker process {index} exited early (code {code})")
        if line.startswith("done "):
            self.done[index] = int(line.split()[1])
        return index, line

    def expect(self, timeout: float) -> tuple[int, str]:
        """The next line of any child; raises when none comes within `timeout` s."""
        got = self.next_line(timeout)
        if got is None:
            raise RuntimeError(f"worker processes silent for {timeout:.0f} s")
        return got

    def pump(self, timeout: float) -> None:
        """Consume lines for up to `timeout` seconds (keeps `done` current)."""
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0 and self.next_line(left) is not None:
            pass

    def go(self) -> None:
        """Start the workers in every process at once."""
        for child in self.children:
            assert child.stdin is not None
            child.stdin.write("go\n")
            child.stdin.flush()

    def cpu(self) -> dict[int, float]:
        """CPU snapshot of the worker processes."""
        snapshot: dict[int, float] = {}
        for child in self.children:
            snapshot.update(cpu_tree(child.pid))
        snapshot.pop(-1, None)
        return snapshot

    def stop(self) -> None:
        """Close their stdin (graceful stop); kill what is still alive after 20 s."""
        for child in self.children:
            with contextlib.suppress(OSError):
                assert child.stdin is not None
                child.stdin.close()
        deadline = time.monotonic() + 20
        for child in self.children:
            try:
                child.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
        self.children.clear()


# -- measurements ----------------------------------------------------------------------


def sqlite_throughput(work: Path, n: int, concurrency: int) -> Row:
    """No-op jobs/s of the in-process Worker on SQLite, start to all succeeded."""
    from metarr.jobs import Queue, Wakeup, Worker
    from metarr.services.events import EventBus

    name = f"SQLite, in-process Worker x{concurrency}: no-op jobs/s"
    db = open_db(f"sqlite:///{work / 'throughput.db'}", migrate_db=True)
    try:
        enqueue_s = fill(db, n)
        counter = itertools.count(1)
        ran = [0]
        marks: dict[str, tuple[float, int]] = {}

        def noop() -> None:
            ran[0] = next(counter)

        registry = noop_registry(noop, lambda _ctx: None)
        queue = Queue(db, registry=registry, wakeup=Wakeup(), on_event=EventBus().publish_job)
        worker = Worker(db, registry, concurrency=concurrency, queue=queue)
        finished = Finished(db)
        cpu0 = time.process_time()
        start = time.perf_counter()
        worker.start()
        try:
            last, last_change = 0, start
            while not (ran[0] >= n and finished()):
                time.sleep(POLL)
                now, count = time.perf_counter(), ran[0]
                for label, fraction in (("lo", 0.1), ("hi", 0.9)):
                    if label not in marks and count >= n * fraction:
                        marks[label] = (now, count)
                if count != last:
                    last, last_change = count, now
                elif now - last_change > STALL_SECONDS:
                    raise RuntimeError(f"stalled at {count} of {n} jobs")
            wall = time.perf_counter() - start
            cpu = time.process_time() - cpu0
        finally:
            worker.stop(timeout=10)
            finished.close()
        problem = verify(db, n)
    finally:
        db.dispose()
    rate = n / wall
    (t_lo, c_lo), (t_hi, c_hi) = marks["lo"], marks["hi"]
    steady = (c_hi - c_lo) / (t_hi - t_lo)
    notes = (
        f"all {n} succeeded in {wall:.1f} s; steady 10-90 %: {steady:,.0f}/s; "
        f"CPU {cpu * 1e3 / n:.2f} ms/job; enqueue (not counted) {n / enqueue_s:,.0f} jobs/s "
        f"({enqueue_s:.1f} s)"
    )
    if problem:
        notes += f"; {problem}"
    return Row(name, f"{rate:,.0f} jobs/s", ">= 500 jobs/s", rate >= 500 and not problem, notes)


def pg_admin(cluster: PostgresCluster, statement: str) -> None:
    """Run `statement` (CREATE/DROP DATABASE: our own names only) on the cluster."""
    import psycopg

    dsn = f"host=127.0.0.1 port={cluster.port} user={cluster.user} dbname=postgres"
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(statement)


def pg_prepare(cluster: PostgresCluster, n: int) -> float:
    """A migrated database TEMPLATE_DB holding `n` queued no-op jobs; seconds to enqueue."""
    from sqlalchemy import text

    db = open_db(cluster.create_database(TEMPLATE_DB), migrate_db=True)
    try:
        enqueue_s = fill(db, n)
        with db.engine.begin() as conn:
            conn.execute(text("ANALYZE jobs"))  # as autovacuum would have by now
    finally:
        db.dispose()
    return enqueue_s


def pg_throughput(
    cluster: PostgresCluster, n: int, procs: int, concurrency: int, enqueue_s: float
) -> Row:
    """Steady-state no-op jobs/s of `procs` worker processes on PostgreSQL, CPU per job.

    Each run gets a fresh copy of the pre-filled template database (enqueued once).
    """
    name = f"PostgreSQL, {procs} worker process{'es' if procs > 1 else ''} x{concurrency}"
    dbname = f"throughput_{procs}"
    pg_admin(cluster, f'CREATE DATABASE "{dbname}" TEMPLATE "{TEMPLATE_DB}"')
    url = cluster.url(dbname)
    db = open_db(url)
    workers = WorkerProcesses(url, procs, concurrency)
    try:
        workers.start()
        postmaster = postmaster_pid(cluster)
        finished = Finished(db)
        marks: dict[str, tuple[float, int, dict[int, float], dict[int, float]]] = {}
        start = time.perf_counter()
        workers.go()
        last, last_change = 0, start
        while True:
            workers.pump(POLL)
            now, count = time.perf_counter(), sum(workers.done)
            for label, fraction in (("lo", 0.1), ("hi", 0.9)):
                if label not in marks and count >= n * fraction:
                    marks[label] = (now, count, workers.cpu(), cpu_tree(postmaster))
            if count >= n and finished():
                break
            if count != last:
                last, last_change = count, now
            elif now - last_change > STALL_SECONDS:
                raise RuntimeError(f"stalled at {count} of {n} jobs")
        wall = time.perf_counter() - start
        finished.close()
        workers.stop()
        problem = verify(db, n)
    finally:
        workers.stop()  # no-op when already stopped
        db.dispose()
    with contextlib.suppress(Exception):  # no autovacuum of it during the next run
        pg_admin(cluster, f'DROP DATABASE "{dbname}" WITH (FORCE)')
    t_lo, c_lo, w_lo, p_lo = marks["lo"]
    t_hi, c_hi, w_hi, p_hi = marks["hi"]
    jobs = c_hi - c_lo
    steady = jobs / (t_hi - t_lo)
    worker_ms = cpu_delta(w_lo, w_hi) * 1e3 / jobs
    postgres_ms = cpu_delta(p_lo, p_hi) * 1e3 / jobs
    notes = (
        f"CPU/job: workers {worker_ms:.2f} ms, postgres {postgres_ms:.2f} ms; "
        f"all {n} succeeded {wall:.1f} s after start ({n / wall:,.0f}/s); "
        f"enqueue (once, not counted) {n / enqueue_s:,.0f} jobs/s"
    )
    if problem:
        notes += f"; {problem}"
    if procs >= 4:
        return Row(
            name, f"{steady:,.0f} jobs/s", ">= 1,000 jobs/s", steady >= 1000 and not problem, notes
        )
    return Row(name, f"{steady:,.0f} jobs/s", "-", None if not problem else False, notes)


def _latency_row(name: str, latencies: list[float], enqueue_ms: list[float]) -> Row:
    p50, p99 = pct(latencies, 50), pct(latencies, 99)
    notes = (
        f"{len(latencies)} jobs; max {max(latencies):.1f} ms; the enqueue call itself "
        f"(commit included) p50 {pct(enqueue_ms, 50):.1f} ms"
    )
    return Row(name, f"p50 {p50:.1f} ms, p99 {p99:.1f} ms", "p50 <= 20 ms", p50 <= 20, notes)


def _pause() -> None:
    time.sleep(random.uniform(0.01, 0.03))  # let the worker go back to sleep


def latency_in_process(url: str, jobs: int, concurrency: int, label: str) -> Row:
    """Enqueue-to-handler-start latency with the Worker in this process (local wake-up)."""
    from metarr.jobs import Queue, Wakeup, Worker
    from metarr.services.events import EventBus

    db = open_db(url, migrate_db=True)
    started: dict[int, int] = {}
    ran = threading.Event()

    def ping(ctx: JobContext) -> None:
        started[ctx.job.id] = now_ns()
        ran.set()

    registry = noop_registry(lambda: None, ping)
    queue = Queue(db, registry=registry, wakeup=Wakeup(), on_event=EventBus().publish_job)
    worker = Worker(db, registry, concurrency=concurrency, queue=queue)
    latencies: list[float] = []
    enqueue_ms: list[float] = []
    worker.start()
    try:
        time.sleep(0.5)
        for i in range(jobs):
            _pause()
            ran.clear()
            t0 = now_ns()
            job = queue.enqueue("ping", f"ping:{label}:{i}")
            t1 = now_ns()
            if not ran.wait(10):
                raise RuntimeError(f"job {job.id} did not start within 10 s")
            latencies.append((started[job.id] - t0) / 1e6)
            enqueue_ms.append((t1 - t0) / 1e6)
    finally:
        worker.stop(timeout=10)
        db.dispose()
    return _latency_row(f"Idle latency, {label}", latencies, enqueue_ms)


def latency_cross_process(url: str, jobs: int, concurrency: int) -> Row:
    """Enqueue here, a worker process starts the job after LISTEN/NOTIFY."""
    from metarr.jobs import Queue

    db = open_db(url, migrate_db=True)
    workers = WorkerProcesses(url, 1, concurrency)
    latencies: list[float] = []
    enqueue_ms: list[float] = []
    try:
        queue = Queue(db)  # its own engine and no shared Wakeup: only NOTIFY reaches them
        workers.start()
        workers.go()
        time.sleep(0.5)
        for i in range(jobs):
            _pause()
            t0 = now_ns()
            job = queue.enqueue("ping", f"ping:notify:{i}")
            t1 = now_ns()
            while True:
                _, line = workers.expect(10.0)
                if line.startswith("started "):
                    _, job_id, ns = line.split()
                    if int(job_id) == job.id:
                        break
            latencies.append((int(ns) - t0) / 1e6)
            enqueue_ms.append((t1 - t0) / 1e6)
    finally:
        workers.stop()
        db.dispose()
    return _latency_row(
        "Idle latency, PostgreSQL, NOTIFY from another process", latencies, enqueue_ms
    )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@contextlib.contextmanager
def serve(work: Path) -> Iterator[subprocess.Popen[bytes]]:
    """A real `metarr serve` on SQLite with default settings, until the context ends."""
    data = work / "serve-data"
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("METARR_")}
    env["METARR_DATA_DIR"] = str(data)
    log = open(work / "serve.log", "wb")  # noqa: SIM115 - closed below
    server = subprocess.Popen(
        [sys.executable, "-m", "metarr.cli", "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            if server.poll() is not None:
                raise RuntimeError(f"metarr serve exited with {server.returncode}, see serve.log")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/health", timeout=2):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError("metarr serve not healthy after 60 s") from None
                time.sleep(0.2)
        yield server
    finally:
        if server.poll() is None:
            server.send_signal(signal.SIGINT)
            try:
                server.wait(20)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
        log.close()


def idle_cpu(work: Path, seconds: float) -> Row:
    """CPU % (of one core) of an idle `metarr serve` over `seconds`."""
    from metarr.settings import Settings

    with serve(work) as server:
        time.sleep(2.0)  # start-up work (first scheduler tick, first claims) is not idle
        before, switches0, t0 = cpu_tree(server.pid), context_switches(server.pid), time.monotonic()
        time.sleep(seconds)
        after, switches1 = cpu_tree(server.pid), context_switches(server.pid)
        wall = time.monotonic() - t0
        threads = psutil.Process(server.pid).num_threads()
    cpu = cpu_delta(before, after)
    share = cpu * 100 / wall
    workers = Settings.model_fields["workers"].default
    notes = (
        f"CPU {cpu * 1e3:.0f} ms in {wall:.0f} s; {threads} threads, "
        f"{(switches1 - switches0) / wall:.1f} context switches/s; default settings "
        f"(METARR_WORKERS={workers}, scheduler on), empty SQLite queue"
    )
    return Row(
        f"Idle CPU, metarr serve ({seconds:g} s)", f"{share:.2f} %", "<= 1 %", share <= 1, notes
    )


# -- driver ----------------------------------------------------------------------------


def _terminate(_signum: int, _frame: Any) -> None:
    raise SystemExit(143)


def main() -> None:
    """Run every measurement, print the table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=20_000, help="jobs per throughput run")
    parser.add_argument("--idle-seconds", type=float, default=30.0)
    parser.add_argument("--latency-jobs", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=4, help="threads per worker")
    parser.add_argument("--no-postgres", action="store_true", help="SQLite and serve only")
    parser.add_argument("--keep", action="store_true", help="keep the work dir")
    parser.add_argument("--worker", nargs=2, metavar=("URL", "CONC"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker_child(args.worker[0], int(args.worker[1]))
        return

    signal.signal(signal.SIGTERM, _terminate)
    work = Path(tempfile.mkdtemp(prefix="metarr-bench-jobs-"))
    cluster: PostgresCluster | None = None
    rows: list[Row] = []
    failed = False
    load_before = os.getloadavg()
    started = time.perf_counter()

    def step(title: str, run: Callable[[], Row]) -> None:
        nonlocal failed
        print(f"... {title}", flush=True)
        t0 = time.perf_counter()
        try:
            row = run()
        except Exception as exc:
            traceback.print_exc()
            failed = True
            row = Row(title, "failed", notes=f"{type(exc).__name__}: {exc}", ok=False)
        rows.append(row)
        print(f"    {row.result} ({time.perf_counter() - t0:.1f} s)", flush=True)

    try:
        n, conc, lat = args.jobs, args.concurrency, args.latency_jobs
        step("SQLite throughput", lambda: sqlite_throughput(work, n, conc))
        sqlite_url = f"sqlite:///{work / 'latency.db'}"
        step(
            "SQLite idle latency",
            lambda: latency_in_process(sqlite_url, lat, conc, "SQLite, in-process"),
        )
        if not args.no_postgres:
            from metarr.testing.postgres import PostgresCluster

            print("... starting a throwaway PostgreSQL cluster", flush=True)
            try:
                cluster = PostgresCluster()
                cluster.init()
                cluster.start()
            except (RuntimeError, OSError, subprocess.CalledProcessError) as exc:
                traceback.print_exc()
                failed = True
                rows.append(Row("PostgreSQL", "skipped", ok=False, notes=f"no cluster: {exc}"))
                if cluster is not None:
                    cluster.destroy()
                    cluster = None
        if cluster is not None:
            pg = cluster
            print(f"... PostgreSQL: enqueueing {n} jobs", flush=True)
            try:
                pg_enqueue_s = pg_prepare(pg, n)
            except Exception as exc:
                traceback.print_exc()
                failed = True
                rows.append(Row("PostgreSQL throughput", "failed", ok=False, notes=str(exc)))
            else:
                for procs in (1, 4):
                    step(
                        f"PostgreSQL throughput, {procs} worker process"
                        + ("es" if procs > 1 else ""),
                        partial(pg_throughput, pg, n, procs, conc, pg_enqueue_s),
                    )
            with contextlib.suppress(Exception):
                pg_admin(pg, f'DROP DATABASE "{TEMPLATE_DB}"')
            step(
                "PostgreSQL idle latency, in-process",
                lambda: latency_in_process(
                    pg.create_database("latency"), lat, conc, "PostgreSQL, in-process"
                ),
            )
            step(
                "PostgreSQL idle latency, NOTIFY from another process",
                lambda: latency_cross_process(pg.url("latency"), lat, conc),
            )
            cluster.destroy()  # quiet machine for the idle measurement
            cluster = None
        step("metarr serve idle CPU", lambda: idle_cpu(work, args.idle_seconds))
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not skip cleanup
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        if cluster is not None:
            cluster.destroy()
        remove_work(work, args.keep)

    print_report(
        f"jobs: {args.jobs}, worker threads: {args.concurrency}, CPU cores: {os.cpu_count()}, "
        f"Python {platform.python_version()}, total {time.perf_counter() - started:.0f} s",
        load_before,
        rows,
    )
    if failed:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
