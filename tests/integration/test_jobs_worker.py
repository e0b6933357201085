"""The job worker on real SQLite and PostgreSQL: retries, cancel, breakers, wake-ups, crashes."""

from __future__ import annotations

import os
import random
import signal
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import text

from metarr.db.engine import Database, create_db_engine
from metarr.db.tables import Base
from metarr.domain.errors import NotFound, ServiceUnavailable
from metarr.jobs import (
    Backoff,
    Breakers,
    BreakerState,
    JobContext,
    JobEvent,
    JobRequest,
    JobRow,
    JobStatus,
    ManualClock,
    Queue,
    Registry,
    RetryPolicy,
    Wakeup,
    Worker,
)


@pytest.fixture
def db(db_url: str) -> Iterator[Database]:
    database = Database(create_db_engine(db_url))
    Base.metadata.create_all(database.engine, tables=[JobRow.__table__])  # type: ignore[list-item]
    try:
        yield database
    finally:
        database.dispose()


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


def wait_until(predicate: Any, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.01)


def test_runs_handlers_and_records_results(db: Database, clock: ManualClock) -> None:
    seen: list[tuple[int, dict[str, Any]]] = []

    def scan(ctx: JobContext) -> dict[str, Any]:
        seen.append((ctx.job.id, ctx.payload))
        ctx.progress(0.5, "halfway")
        return {"files": ctx.payload["n"] * 2}

    registry = Registry()
    registry.register("scan", scan)
    worker = Worker(db, registry, clock=clock)
    job = worker.queue.enqueue("scan", "library:1", {"n": 21})
    assert worker.run_until_empty() == 1
    done = worker.queue.get(job.id)
    assert done.status is JobStatus.SUCCEEDED
    assert done.result == {"files": 42}
    assert done.attempts == 1
    assert done.progress == 1.0
    assert seen == [(job.id, {"n": 21})]


def test_backoff_schedule_then_failure_with_last_error(db: Database, clock: ManualClock) -> None:
    def flaky(ctx: JobContext) -> None:
        raise ServiceUnavailable(f"provider down (attempt {ctx.job.attempts})")

    registry = Registry()
    registry.register("enrich", flaky, max_attempts=4)
    backoff = Backoff(base=10.0, factor=2.0, jitter=0.2)
    worker = Worker(
        db, registry, clock=clock, retry_policy=RetryPolicy(backoff, random.Random(7).random)
    )
    job = worker.queue.enqueue("enrich", "movie:1")
    for attempt in (1, 2, 3):
        assert worker.run_until_empty() == 1
        state = worker.queue.get(job.id)
        assert state.status is JobStatus.RETRY_SCHEDULED
        assert state.attempts == attempt
        assert state.last_error == f"ServiceUnavailable: provider down (attempt {attempt})"
        delay = (state.run_at - clock.now()).total_seconds()
        nominal = 10.0 * 2 ** (attempt - 1)
        assert nominal * 0.8 <= delay <= nominal * 1.2
        clock.advance(delay - 0.5)
        assert worker.run_until_empty() == 0  # not due yet
        clock.advance(0.501)
    assert worker.run_until_empty() == 1
    final = worker.queue.get(job.id)
    assert final.status is JobStatus.FAILED
    assert final.attempts == 4
    assert final.last_error == "ServiceUnavailable: provider down (attempt 4)"
    assert final.finished_at == clock.now()


def test_non_retryable_error_fails_at_once(db: Database, clock: ManualClock) -> None:
    def missing(ctx: JobContext) -> None:
        raise NotFound("movie 42 is not on TMDB")

    registry = Registry()
    registry.register("identify", missing, max_attempts=5)
    worker = Worker(db, registry, clock=clock)
    job = worker.queue.enqueue("identify", "movie:42")
    assert worker.run_until_empty() == 1
    failed = worker.queue.get(job.id)
    assert (failed.status, failed.attempts) == (JobStatus.FAILED, 1)
    assert failed.last_error == "NotFound: movie 42 is not on TMDB"


def test_unknown_errors_retry_until_max_attempts_then_a_manual_retry(
    db: Database, clock: ManualClock
) -> None:
    calls: list[int] = []

    def buggy(ctx: JobContext) -> None:
        calls.append(ctx.job.attempts)
        if len(calls) <= 2:
            raise KeyError("oops")

    registry = Registry()
    registry.register("publish", buggy, max_attempts=2)
    worker = Worker(db, registry, clock=clock)
    job = worker.queue.enqueue("publish", "movie:1")
    worker.run_until_empty()
    clock.advance(3600)
    worker.run_until_empty()
    failed = worker.queue.get(job.id)
    assert (failed.status, failed.attempts, failed.last_error) == (
        JobStatus.FAILED,
        2,
        "KeyError: 'oops'",
    )
    worker.queue.retry(job.id)
    assert worker.run_until_empty() == 1
    assert worker.queue.get(job.id).status is JobStatus.SUCCEEDED
    assert calls == [1, 2, 1]


def test_open_breaker_defers_jobs_without_consuming_attempts(
    db: Database, clock: ManualClock
) -> None:
    healthy = False
    runs: list[int] = []

    def fetch(ctx: JobContext) -> None:
        runs.append(ctx.job.id)
        if not healthy:
            raise ServiceUnavailable("tmdb is down")

    registry = Registry()
    registry.register("fetch", fetch, needs="tmdb", max_attempts=3)
    breakers = Breakers(failure_threshold=2, cooldown=60.0, clock=clock.monotonic)
    worker = Worker(db, registry, clock=clock, breakers=breakers)
    ids = [worker.queue.enqueue("fetch", f"movie:{i}").id for i in range(5)]

    assert worker.run_until_empty() == 2  # two real failures open the circuit
    assert breakers.get("tmdb").state() is BreakerState.OPEN
    jobs = [worker.queue.get(i) for i in ids]
    assert [j.status for j in jobs] == [JobStatus.RETRY_SCHEDULED] * 5
    assert [j.attempts for j in jobs] == [1, 1, 0, 0, 0]
    for deferred in jobs[2:]:
        assert deferred.run_at == clock.now() + timedelta(seconds=60)
        assert deferred.progress_message == "waiting for tmdb: circuit open"
        assert deferred.last_error is None

    clock.advance(30)
    assert worker.run_until_empty() == 0  # still open: nothing runs, nothing fails
    assert worker.queue.get(ids[0]).attempts == 1

    healthy = True
    clock.advance(30)  # half-open: one probe, it succeeds, the circuit closes
    assert worker.run_until_empty() == 5
    assert breakers.get("tmdb").state() is BreakerState.CLOSED
    final = [worker.queue.get(i) for i in ids]
    assert [j.status for j in final] == [JobStatus.SUCCEEDED] * 5
    assert [j.attempts for j in final] == [2, 2, 1, 1, 1]
    assert len(runs) == 7


def test_closing_circuit_resumes_deferred_jobs_at_once(db: Database, clock: ManualClock) -> None:
    registry = Registry()
    registry.register("fetch", lambda ctx: None, needs="tmdb")
    breakers = Breakers(failure_threshold=1, cooldown=60.0, clock=clock.monotonic)
    worker = Worker(db, registry, clock=clock, breakers=breakers)
    breakers.get("tmdb").record_failure()
    ids = [worker.queue.enqueue("fetch", f"movie:{i}").id for i in range(3)]
    assert worker.run_until_empty() == 0
    assert all(worker.queue.get(i).status is JobStatus.RETRY_SCHEDULED for i in ids)
    breakers.get("tmdb").record_success()  # e.g. a health check saw it recover
    assert worker.run_until_empty() == 3


def test_cancel_queued_and_running_jobs(db: Database) -> None:
    started = threading.Event()
    steps: list[int] = []

    def long_scan(ctx: JobContext) -> None:
        started.set()
        for step in range(1000):
            ctx.check_cancelled()
            steps.append(step)
            time.sleep(0.01)

    registry = Registry()
    registry.register("scan", long_scan)
    worker = Worker(db, registry, concurrency=1, cancel_check_interval=0.05)
    queue = worker.queue
    running = queue.enqueue("scan", "library:1")
    waiting = queue.enqueue("scan", "library:2")
    worker.start()
    try:
        assert started.wait(5)
        assert queue.cancel(waiting.id).status is JobStatus.CANCELLED
        flagged = queue.cancel(running.id)
        assert flagged.cancel_requested
        wait_until(lambda: queue.get(running.id).status is JobStatus.CANCELLED, 5)
    finally:
        worker.stop()
    assert 0 < len(steps) < 1000
    assert queue.get(waiting.id).started_at is None
    assert queue.get(running.id).last_error == f"job {running.id} cancelled"


def test_stop_without_grace_requeues_running_jobs(db: Database) -> None:
    started = threading.Event()

    def loop(ctx: JobContext) -> None:
        started.set()
        while True:
            ctx.check_cancelled()
            time.sleep(0.01)

    registry = Registry()
    registry.register("scan", loop)
    worker = Worker(db, registry, concurrency=1)
    job = worker.queue.enqueue("scan", "library:1")
    worker.start()
    assert started.wait(5)
    worker.stop(graceful=False)
    back = Queue(db).get(job.id)
    assert back.status is JobStatus.RETRY_SCHEDULED
    assert back.attempts == 0


def test_heartbeat_keeps_a_long_job_alive(db: Database) -> None:
    def slow(ctx: JobContext) -> None:
        time.sleep(1.5)

    registry = Registry()
    registry.register("scan", slow)
    worker = Worker(db, registry, lease_seconds=0.6, heartbeat_interval=0.1)
    job = worker.queue.enqueue("scan", "library:1")
    other = Queue(db)
    with worker:
        wait_until(lambda: other.get(job.id).status is JobStatus.RUNNING, 5)
        deadline = time.monotonic() + 1.0
        while time.monotonic() < deadline:
            assert other.reclaim_expired() == []
            time.sleep(0.1)
        wait_until(lambda: other.get(job.id).status is JobStatus.SUCCEEDED, 5)
    assert other.get(job.id).attempts == 1


def test_children_events_and_a_slow_listener(db: Database) -> None:
    events: list[JobEvent] = []

    def listener(event: JobEvent) -> None:
        time.sleep(0.1)  # a slow WebSocket must not slow the jobs down
        events.append(event)

    def scan(ctx: JobContext) -> None:
        for i in range(3):
            ctx.enqueue_child("identify", f"{ctx.job.target}/movie:{i}", {"i": i})
        ctx.progress(1.0, "done")

    registry = Registry()
    registry.register("scan", scan)
    registry.register("identify", lambda ctx: {"movie": ctx.payload["i"]})
    worker = Worker(db, registry, on_event=listener)
    parent = worker.queue.enqueue("scan", "library:1")
    started = time.monotonic()
    assert worker.run_until_empty() == 4
    assert time.monotonic() - started < 1.0  # 13 events x 0.1 s if the listener blocked
    children = worker.queue.get(parent.id).children
    assert len(children) == 3
    assert all(worker.queue.get(c).status is JobStatus.SUCCEEDED for c in children)
    assert all(worker.queue.get(c).priority == parent.priority for c in children)
    worker.queue.close()  # flush
    types = [e["type"] for e in events if e["job"]["id"] == parent.id]
    assert types == ["job.created", "job.started", "job.progress", "job.succeeded"]
    assert sum(e["type"] == "job.succeeded" for e in events) == 4


def _pick_latencies(worker: Worker, enqueue: Any, picked: dict[int, float], n: int) -> list[float]:
    latencies = []
    for i in range(n):
        sent = time.monotonic()
        job_id = enqueue(i)
        wait_until(lambda job_id=job_id: job_id in picked, 5)
        latencies.append(picked[job_id] - sent)
        time.sleep(0.02)
    return latencies


def test_idle_worker_sleeps_and_wakes_fast_on_enqueue(db: Database) -> None:
    picked: dict[int, float] = {}
    registry = Registry()
    registry.register("ping", lambda ctx: picked.__setitem__(ctx.job.id, time.monotonic()))
    wakeup = Wakeup()
    worker = Worker(db, registry, wakeup=wakeup, poll_interval=10.0)
    queue = Queue(db, wakeup=wakeup)
    with worker:
        time.sleep(0.3)  # settle: first claim, first idle wait
        claims, cpu = worker.queue.claim_queries, time.process_time()
        time.sleep(2.0)
        idle_cpu = time.process_time() - cpu
        assert worker.queue.claim_queries - claims == 0  # no polling while idle
        assert idle_cpu < 0.02  # < 1% of one core
        latencies = _pick_latencies(worker, lambda i: queue.enqueue("ping", f"p:{i}").id, picked, 5)
    assert statistics.median(latencies) < 0.1
    assert max(latencies) < 1.0


def test_notify_from_another_process_wakes_the_worker(db: Database, db_url: str) -> None:
    if not db_url.startswith("postgresql"):
        pytest.skip("LISTEN/NOTIFY is PostgreSQL only; SQLite workers are in-process")
    picked: dict[int, float] = {}
    registry = Registry()
    registry.register("ping", lambda ctx: picked.__setitem__(ctx.job.id, time.monotonic()))
    worker = Worker(db, registry, poll_interval=10.0)
    other_db = Database(create_db_engine(db_url))  # another engine: no shared Wakeup
    elsewhere = Queue(other_db)
    try:
        with worker:
            time.sleep(0.3)
            claims = worker.queue.claim_queries
            latencies = _pick_latencies(
                worker, lambda i: elsewhere.enqueue("ping", f"p:{i}").id, picked, 5
            )
            # woken by NOTIFY, not by polling: a few claims per job, not a loop
            assert worker.queue.claim_queries - claims <= 3 * len(latencies)
    finally:
        other_db.dispose()
    assert statistics.median(latencies) < 0.1
    assert max(latencies) < 1.0


_RUNNER = """
import os, sys, time
from sqlalchemy import text
from metarr.db.engine import Database, create_db_engine
from metarr.jobs import Registry, Worker

db = Database(create_db_engine(sys.argv[1]))

def work(ctx):
    with db.engine.begin() as conn:
        conn.execute(text("INSERT INTO executions (job_id, pid) VALUES (:j, :p)"),
                     {"j": ctx.job.id, "p": os.getpid()})
    time.sleep(0.02)

registry = Registry()
registry.register("work", work)
worker = Worker(db, registry, concurrency=4, lease_seconds=1.5, heartbeat_interval=0.3,
                poll_interval=0.5, reclaim_interval=0.3)
worker.start()
print("ready", flush=True)
sys.stdin.read()
worker.stop()
"""


def test_two_processes_share_jobs_and_survive_a_kill(db: Database, db_url: str) -> None:
    if not db_url.startswith("postgresql"):
        pytest.skip("several worker processes need PostgreSQL")
    with db.engine.begin() as conn:
        conn.execute(
            text("CREATE TABLE executions (n SERIAL PRIMARY KEY, job_id INTEGER, pid INTEGER)")
        )
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _RUNNER, db_url],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    victim, survivor = procs
    try:
        for proc in procs:
            assert proc.stdout is not None
            assert proc.stdout.readline().strip() == "ready"
        queue = Queue(db)
        jobs = queue.enqueue_many([JobRequest("work", f"item:{i}") for i in range(300)])

        def executions() -> list[tuple[int, int]]:
            with db.engine.connect() as conn:
                rows = conn.execute(text("SELECT job_id, pid FROM executions ORDER BY n")).all()
            return [(int(r[0]), int(r[1])) for r in rows]

        wait_until(lambda: sum(pid == victim.pid for _, pid in executions()) >= 10, 20)
        os.kill(victim.pid, signal.SIGKILL)
        victim.wait(10)
        wait_until(lambda: queue.stats().by_status["succeeded"] == 300, 30)
    finally:
        for proc in procs:
            if proc.poll() is None:
                assert proc.stdin is not None
                proc.stdin.close()
                proc.wait(10)

    ids = {j.id for j in jobs}
    stats = queue.stats()
    assert stats.by_status["succeeded"] == 300
    assert stats.running == 0
    runs = executions()
    assert {job_id for job_id, _ in runs} == ids
    by_job: dict[int, list[int]] = {}
    for job_id, pid in runs:
        by_job.setdefault(job_id, []).append(pid)
    twice = {job_id: pids for job_id, pids in by_job.items() if len(pids) > 1}
    # only jobs the killed process was in the middle of ran again, once, on the survivor
    assert len(twice) <= 4
    assert all(pids == [victim.pid, survivor.pid] for pids in twice.values())
    assert {pid for _, pid in runs} == {victim.pid, survivor.pid}
    for job_id in twice:
        assert queue.get(job_id).attempts == 2
