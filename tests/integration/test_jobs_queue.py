"""The persistent job queue on real SQLite and PostgreSQL: order, dedupe, leases, commands."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta

import pytest

from metarr.db.engine import Database, create_db_engine
from metarr.db.tables import Base
from metarr.domain.errors import Conflict, InvalidInput, NotFound
from metarr.jobs import (
    JobEvent,
    JobRequest,
    JobRow,
    JobStatus,
    ManualClock,
    Outcome,
    Queue,
    Registry,
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


@pytest.fixture
def queue(db: Database, clock: ManualClock) -> Iterator[Queue]:
    q = Queue(db, clock=clock)
    yield q
    q.close()


def test_claims_by_priority_then_fifo(queue: Queue) -> None:
    priorities = [5, 1, 5, 10, 1, 3, 5]
    ids = [queue.enqueue("scan", f"library:{i}", priority=p).id for i, p in enumerate(priorities)]
    expected = [i for _, i in sorted(zip(priorities, ids, strict=True))]
    claimed = [queue.claim("w")[0].id for _ in ids]
    assert claimed == expected
    assert queue.claim("w") == []


def test_batch_claim_is_ordered_and_marks_running(queue: Queue, clock: ManualClock) -> None:
    for i in range(5):
        queue.enqueue("scan", f"t:{i}", priority=5 - i)
    jobs = queue.claim("w1", limit=3, lease_seconds=60)
    assert [j.priority for j in jobs] == [1, 2, 3]
    for job in jobs:
        assert job.status is JobStatus.RUNNING
        assert job.attempts == 1
        assert job.worker_id == "w1"
        assert job.started_at == clock.now()
        assert job.lease_expires_at == clock.now() + timedelta(seconds=60)


def test_claim_waits_for_run_at_and_filters_types(queue: Queue, clock: ManualClock) -> None:
    later = queue.enqueue("scan", "a", run_at=clock.now() + timedelta(minutes=5))
    other = queue.enqueue("enrich", "b")
    assert queue.claim("w", types=["scan"]) == []
    assert queue.next_run_at(["scan"]) == later.run_at
    clock.advance(300)
    assert [j.id for j in queue.claim("w", types=["scan"])] == [later.id]
    assert [j.id for j in queue.claim("w", types=["enrich", "x"])] == [other.id]
    assert queue.claim("w", types=[]) == []


def test_enqueue_validates_input_and_uses_registry_defaults(
    db: Database, clock: ManualClock
) -> None:
    registry = Registry()
    registry.register("enrich", lambda ctx: None, needs="tmdb", max_attempts=7, priority=3)
    queue = Queue(db, registry=registry, clock=clock)
    with pytest.raises(InvalidInput):
        queue.enqueue("scan", "x", priority=0)
    with pytest.raises(InvalidInput):
        queue.enqueue("Not A Type", "x")
    job = queue.enqueue("enrich", "movie:1", {"lang": "en"})
    assert (job.needs, job.max_attempts, job.priority, job.payload) == (
        "tmdb",
        7,
        3,
        {"lang": "en"},
    )
    assert queue.enqueue("enrich", "movie:2", priority=9, max_attempts=2).max_attempts == 2
    assert queue.enqueue("scan", "movie:3").max_attempts == 5  # no spec: the default


def test_dedupe_returns_the_pending_job(queue: Queue, clock: ManualClock) -> None:
    first = queue.enqueue("scan", "library:1", {"n": 1}, priority=5)
    again = queue.enqueue("scan", "library:1", {"n": 2}, priority=2)
    assert again.id == first.id
    assert again.priority == 2  # the more urgent request wins
    assert again.payload == {"n": 1}
    assert queue.enqueue("scan", "library:2").id != first.id
    assert queue.enqueue("scan", "library:1", dedupe=False).id != first.id
    assert queue.enqueue("enrich", "library:1").id != first.id

    running = queue.claim("w", types=["scan"])[0]
    assert running.id == first.id
    fresh = queue.enqueue("scan", "library:1")  # the running one may have read stale state
    assert fresh.id != first.id

    retrying = queue.enqueue("publish", "movie:1")
    [running] = queue.claim("w", types=["publish"])
    queue.schedule_retry(running, "boom", clock.now() + timedelta(seconds=30))
    assert queue.get(retrying.id).status is JobStatus.RETRY_SCHEDULED
    assert queue.enqueue("publish", "movie:1").id == retrying.id  # retry_scheduled is pending


def test_concurrent_enqueue_of_the_same_job_yields_one_row(queue: Queue) -> None:
    barrier = threading.Barrier(8)
    ids: list[int] = []
    errors: list[BaseException] = []

    def enqueue() -> None:
        try:
            barrier.wait()
            for _ in range(5):
                ids.append(queue.enqueue("scan", "library:9").id)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=enqueue) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(ids) == 40
    assert len(set(ids)) == 1
    assert queue.list_jobs()[1] == 1


def test_concurrent_claims_never_hand_out_a_job_twice(queue: Queue) -> None:
    queue.enqueue_many([JobRequest("scan", f"t:{i}", dedupe=False) for i in range(200)])
    claimed: list[int] = []
    lock = threading.Lock()

    def claim(worker: str) -> None:
        while jobs := queue.claim(worker, limit=3):
            with lock:
                claimed.extend(j.id for j in jobs)

    threads = [threading.Thread(target=claim, args=(f"w{i}",)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(claimed) == 200
    assert len(set(claimed)) == 200


def test_settle_records_outcomes_and_keeps_history(queue: Queue, clock: ManualClock) -> None:
    ids = [queue.enqueue("scan", f"t:{i}").id for i in range(4)]
    jobs = queue.claim("w", limit=4)
    clock.advance(2)
    ok, with_result, bad, cancelled = jobs
    settled = queue.settle(
        [
            Outcome.succeeded(ok),
            Outcome.succeeded(with_result, {"files": 3}),
            Outcome.failed(bad, ValueError("broken")),
            Outcome.cancelled(cancelled, "stop"),
        ]
    )
    assert [j.status if j else None for j in settled] == [
        JobStatus.SUCCEEDED,
        JobStatus.SUCCEEDED,
        JobStatus.FAILED,
        JobStatus.CANCELLED,
    ]
    stored = {i: queue.get(i) for i in ids}
    assert stored[ok.id].finished_at == clock.now()
    assert stored[ok.id].progress == 1.0
    assert stored[with_result.id].result == {"files": 3}
    assert stored[bad.id].last_error == "ValueError: broken"
    assert stored[bad.id].attempts == 1
    assert stored[cancelled.id].status is JobStatus.CANCELLED


def test_expired_lease_is_reclaimed(queue: Queue, clock: ManualClock) -> None:
    job = queue.enqueue("scan", "library:1")
    [dead] = queue.claim("dead-worker", lease_seconds=10)  # ...and it never heartbeats
    clock.advance(9)
    assert queue.reclaim_expired() == []
    clock.advance(2)
    [reclaimed] = queue.reclaim_expired()
    assert reclaimed.id == job.id
    assert reclaimed.status is JobStatus.QUEUED
    assert reclaimed.attempts == 1
    assert "dead-worker" in (reclaimed.last_error or "")
    # the dead worker's late outcome is ignored
    assert queue.succeed(dead) is None
    [again] = queue.claim("w2")
    assert (again.id, again.attempts, again.worker_id) == (job.id, 2, "w2")

    last = queue.enqueue("scan", "library:2", max_attempts=1)
    queue.claim("dead", lease_seconds=5)
    clock.advance(6)
    [failed] = queue.reclaim_expired()  # out of attempts: failed, not requeued
    assert (failed.id, failed.status, failed.finished_at) == (
        last.id,
        JobStatus.FAILED,
        clock.now(),
    )


def test_reclaim_keeps_dedupe_unless_a_twin_is_pending(queue: Queue, clock: ManualClock) -> None:
    queue.enqueue("scan", "library:1")
    [first] = queue.claim("dead", lease_seconds=5)
    twin = queue.enqueue("scan", "library:1")
    clock.advance(6)
    [reclaimed] = queue.reclaim_expired()
    assert reclaimed.status is JobStatus.QUEUED
    assert reclaimed.dedupe_key is None
    assert queue.get(twin.id).dedupe_key == "scan:library:1"
    assert first.id != twin.id


def test_heartbeat_extends_the_lease(queue: Queue, clock: ManualClock) -> None:
    queue.enqueue("scan", "library:1")
    [job] = queue.claim("w", lease_seconds=10)
    clock.advance(8)
    assert queue.heartbeat("w", [job.id], 10) == {job.id: False}
    clock.advance(8)
    assert queue.reclaim_expired() == []
    assert queue.heartbeat("someone-else", [job.id], 10) == {}


def test_cancel_queued_running_and_finished_jobs(queue: Queue, clock: ManualClock) -> None:
    job = queue.enqueue("scan", "library:1")
    cancelled = queue.cancel(job.id)
    assert cancelled.status is JobStatus.CANCELLED
    assert cancelled.finished_at == clock.now()
    assert queue.cancel(job.id).status is JobStatus.CANCELLED  # idempotent
    assert queue.claim("w") == []
    with pytest.raises(NotFound):
        queue.cancel(999_999)

    queue.enqueue("scan", "library:2")
    [running] = queue.claim("w")
    assert queue.cancel_requested(running) is False
    flagged = queue.cancel(running.id)
    assert flagged.status is JobStatus.RUNNING  # the handler stops at its next check
    assert flagged.cancel_requested
    assert queue.cancel_requested(running) is True
    assert queue.heartbeat("w", [running.id], 30) == {running.id: True}
    assert queue.mark_cancelled(running, "stopped")
    assert queue.get(running.id).status is JobStatus.CANCELLED

    queue.enqueue("scan", "library:3")
    [done] = queue.claim("w")
    queue.succeed(done)
    with pytest.raises(Conflict):
        queue.cancel(done.id)


def test_retry_requeues_a_failed_job_with_a_fresh_budget(queue: Queue) -> None:
    job = queue.enqueue("scan", "library:1", max_attempts=1)
    [running] = queue.claim("w")
    queue.fail(running, "boom")
    retried = queue.retry(job.id)
    assert retried.status is JobStatus.QUEUED
    assert retried.attempts == 0
    assert retried.last_error == "boom"  # kept until the next attempt replaces it
    assert retried.dedupe_key == "scan:library:1"
    assert queue.enqueue("scan", "library:1").id == job.id
    with pytest.raises(Conflict):
        queue.retry(job.id)  # already queued
    [again] = queue.claim("w")
    assert (again.id, again.attempts) == (job.id, 1)

    other = queue.enqueue("scan", "library:2")
    queue.cancel(other.id)
    twin = queue.enqueue("scan", "library:2")
    retried = queue.retry(other.id)
    assert retried.status is JobStatus.QUEUED
    assert retried.dedupe_key is None  # the pending twin keeps the key
    assert queue.get(twin.id).dedupe_key == "scan:library:2"


def test_get_and_list_jobs(queue: Queue) -> None:
    parent = queue.enqueue("scan", "library:1")
    children = [
        queue.enqueue("identify", f"library:1/movie:{i}", parent_id=parent.id) for i in range(3)
    ]
    queue.enqueue("scan", "library:10")
    queue.enqueue("scan", "library_x")
    queue.enqueue("scan", "libraryZx")
    assert queue.get(parent.id).children == tuple(c.id for c in children)
    with pytest.raises(NotFound):
        queue.get(123_456)

    items, total = queue.list_jobs()
    assert total == 7
    assert [j.id for j in items] == sorted((j.id for j in items), reverse=True)
    items, total = queue.list_jobs(type="identify", limit=2)
    assert (len(items), total) == (2, 3)
    items, total = queue.list_jobs(type="identify", limit=2, offset=2)
    assert [j.id for j in items] == [children[0].id]
    assert queue.list_jobs(target_prefix="library:1/")[1] == 3
    assert queue.list_jobs(target_prefix="library:1")[1] == 5
    assert queue.list_jobs(target_prefix="library_")[1] == 1  # _ is literal, not a wildcard
    assert queue.list_jobs(target="library:10")[1] == 1
    assert queue.list_jobs(parent_id=parent.id)[1] == 3
    [claimed] = queue.claim("w")
    assert [j.id for j in queue.list_jobs(status="running")[0]] == [claimed.id]
    assert queue.list_jobs(status=[JobStatus.QUEUED, "running"])[1] == 7


def test_stats(queue: Queue, clock: ManualClock) -> None:
    assert queue.stats().oldest_queued_age is None
    queue.enqueue("scan", "a")
    clock.advance(30)
    queue.enqueue("scan", "b")
    queue.enqueue("enrich", "c")
    queue.enqueue("enrich", "later", run_at=clock.now() + timedelta(hours=1))
    [job] = queue.claim("w", types=["enrich"])
    queue.fail(job, "x")
    queue.claim("w", types=["scan"])
    clock.advance(10)
    stats = queue.stats()
    assert stats.by_status["queued"] == 2
    assert stats.by_status["running"] == 1
    assert stats.by_status["failed"] == 1
    assert stats.by_status["succeeded"] == 0
    assert stats.running == 1
    assert stats.by_type == {
        "scan": {"running": 1, "queued": 1},
        "enrich": {"failed": 1, "queued": 1},
    }
    assert stats.oldest_queued_age == pytest.approx(10.0)


def test_purge_finished_keeps_pending_and_recent(queue: Queue, clock: ManualClock) -> None:
    parent = queue.enqueue("scan", "library:1")
    [running] = queue.claim("w")
    child = queue.enqueue("identify", "m:1", parent_id=parent.id)
    queue.succeed(running)
    clock.advance(3600)
    recent = queue.enqueue("scan", "library:2")
    queue.cancel(recent.id)
    assert queue.purge_finished(timedelta(minutes=30)) == 1
    with pytest.raises(NotFound):
        queue.get(parent.id)
    assert queue.get(child.id).parent_id is None
    assert queue.get(recent.id).status is JobStatus.CANCELLED
    assert queue.purge_finished(clock.now() + timedelta(seconds=1)) == 1


def test_events_are_delivered_and_a_failing_listener_is_harmless(
    db: Database, clock: ManualClock
) -> None:
    events: list[JobEvent] = []

    def listener(event: JobEvent) -> None:
        events.append(event)
        raise RuntimeError("listener bug")

    queue = Queue(db, clock=clock, on_event=listener)
    job = queue.enqueue("scan", "library:1")
    queue.enqueue("scan", "library:1")  # deduplicated: no second job.created
    [running] = queue.claim("w")
    queue.emit("started", running)
    queue.succeed(running, {"ok": True})
    other = queue.enqueue("scan", "library:2")
    queue.cancel(other.id)
    queue.close()
    assert [e["type"] for e in events] == [
        "job.created",
        "job.started",
        "job.succeeded",
        "job.created",
        "job.cancelled",
    ]
    assert events[0]["job"]["id"] == job.id
    assert events[2]["job"]["status"] == "succeeded"
    assert events[2]["job"]["result"] == {"ok": True}
    assert all(e["ts"] for e in events)
