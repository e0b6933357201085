"""The generic scheduler: due entries fire once per interval, results are recorded, the thread."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from metarr.domain.errors import NotFound
from metarr.jobs import Job, JobStatus, ManualClock
from metarr.jobs.scheduler import RunResult, ScheduleEntry, Scheduler, next_wake

T0 = datetime(2024, 1, 1, tzinfo=UTC)
HOUR = 3600.0


def _job(job_id: int, status: JobStatus, error: str | None = None) -> Job:
    return Job(
        id=job_id,
        type="scan",
        target="t",
        payload={},
        priority=5,
        status=status,
        attempts=1,
        max_attempts=5,
        run_at=T0,
        created_at=T0,
        finished_at=T0 if status.is_finished else None,
        last_error=error,
    )


class Jobs:
    """Jobs by id, as the queue would return them."""

    def __init__(self) -> None:
        self.jobs: dict[int, Job] = {}

    def get(self, job_id: int) -> Job:
        if job_id not in self.jobs:
            raise NotFound(f"job {job_id} not found")
        return self.jobs[job_id]


class Source:
    """An in-memory schedule source that enqueues by handing out job ids."""

    def __init__(self, jobs: Jobs, entries: Sequence[ScheduleEntry]) -> None:
        self.jobs = jobs
        self.items = {e.id: e for e in entries}
        self.results: dict[int, RunResult] = {}
        self.fired: list[tuple[int, datetime]] = []
        self.fail: set[int] = set()
        self._ids = iter(range(1, 1000))
        self.lock = threading.Lock()

    def entries(self, now: datetime) -> Sequence[ScheduleEntry]:
        with self.lock:
            return list(self.items.values())

    def fire(self, entry: ScheduleEntry, now: datetime) -> int | None:
        with self.lock:
            self.items[entry.id] = replace(
                entry, last_run_at=now, next_run_at=now + entry.interval, last_job_id=None
            )
            if entry.id in self.fail:
                raise RuntimeError("no library")
            job_id = next(self._ids)
            self.jobs.jobs[job_id] = _job(job_id, JobStatus.QUEUED)
            self.items[entry.id] = replace(self.items[entry.id], last_job_id=job_id)
            self.fired.append((entry.id, now))
            return job_id

    def record_result(self, entry: ScheduleEntry, result: RunResult) -> None:
        with self.lock:
            self.results[entry.id] = result
            self.items[entry.id] = replace(self.items[entry.id], result_job_id=result.job_id)


def _entry(
    entry_id: int, hours: int, *, enabled: bool = True, available: bool = True
) -> ScheduleEntry:
    return ScheduleEntry(
        id=entry_id,
        name=f"entry {entry_id}",
        enabled=enabled,
        available=available,
        interval=timedelta(hours=hours),
        last_run_at=None,
        next_run_at=T0 + timedelta(hours=hours) if enabled else None,
        last_job_id=None,
        result_job_id=None,
    )


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(T0)


def test_entry_is_due_only_when_enabled_available_and_past_next_run() -> None:
    entry = _entry(1, 6)
    assert not entry.is_due(T0)
    assert entry.is_due(T0 + timedelta(hours=6))
    assert not replace(entry, enabled=False).is_due(T0 + timedelta(days=9))
    assert not replace(entry, available=False).is_due(T0 + timedelta(days=9))
    assert not replace(entry, next_run_at=None).is_due(T0 + timedelta(days=9))


def test_next_wake_ignores_entries_that_cannot_fire() -> None:
    entries = [_entry(1, 24), _entry(2, 6, available=False), _entry(3, 1, enabled=False)]
    assert next_wake(entries) == T0 + timedelta(hours=24)
    assert next_wake([]) is None


def test_due_entry_fires_once_per_interval(clock: ManualClock) -> None:
    jobs = Jobs()
    source = Source(jobs, [_entry(1, 6)])
    scheduler = Scheduler(source, jobs, clock=clock)

    assert scheduler.tick() == []
    clock.advance(6 * HOUR)
    assert scheduler.tick() == [1]
    assert scheduler.tick() == []  # same moment: not due again
    clock.advance(5 * HOUR)
    assert scheduler.tick() == []
    clock.advance(1 * HOUR)
    assert scheduler.tick() == [2]
    assert [fired_at for _, fired_at in source.fired] == [
        T0 + timedelta(hours=6),
        T0 + timedelta(hours=12),
    ]
    assert scheduler.status().next_wake_at == T0 + timedelta(hours=18)


def test_disabled_and_unavailable_entries_never_fire(clock: ManualClock) -> None:
    jobs = Jobs()
    source = Source(jobs, [_entry(1, 6, enabled=False), _entry(2, 6, available=False)])
    scheduler = Scheduler(source, jobs, clock=clock)
    for _ in range(5):
        clock.advance(24 * HOUR)
        assert scheduler.tick() == []
    assert source.fired == []
    assert scheduler.status().next_wake_at is None


def test_finished_job_result_is_recorded_once(clock: ManualClock) -> None:
    jobs = Jobs()
    source = Source(jobs, [_entry(1, 6), _entry(2, 6)])
    scheduler = Scheduler(source, jobs, clock=clock)
    clock.advance(6 * HOUR)
    first, second = scheduler.tick()

    scheduler.tick()
    assert source.results == {}  # still queued

    jobs.jobs[first] = _job(first, JobStatus.SUCCEEDED)
    jobs.jobs[second] = _job(second, JobStatus.FAILED, "OSError: disk gone")
    scheduler.tick()
    assert source.results[1].status == "succeeded"
    assert source.results[1].job_id == first
    assert source.results[2].status == "failed"
    assert source.results[2].message == "OSError: disk gone"

    source.results.clear()
    scheduler.tick()
    assert source.results == {}  # not recorded twice


def test_purged_job_is_recorded_as_unknown(clock: ManualClock) -> None:
    jobs = Jobs()
    source = Source(jobs, [_entry(1, 6)])
    scheduler = Scheduler(source, jobs, clock=clock)
    clock.advance(6 * HOUR)
    (job_id,) = scheduler.tick()
    del jobs.jobs[job_id]
    scheduler.tick()
    assert source.results[1].status == "unknown"


def test_enqueue_error_is_recorded_and_others_still_fire(clock: ManualClock) -> None:
    jobs = Jobs()
    source = Source(jobs, [_entry(1, 6), _entry(2, 6)])
    source.fail.add(1)
    scheduler = Scheduler(source, jobs, clock=clock)
    clock.advance(6 * HOUR)
    assert scheduler.tick() == [1]
    assert source.results[1].status == "error"
    assert "no library" in (source.results[1].message or "")
    assert scheduler.tick() == []  # the failed slot moved on, no retry storm


def test_thread_sleeps_until_poked_and_stops(clock: ManualClock) -> None:
    jobs = Jobs()
    source = Source(jobs, [_entry(1, 6)])
    scheduler = Scheduler(source, jobs, clock=clock, max_sleep=30.0)
    scheduler.start()
    try:
        _wait(lambda: scheduler.status().ticks >= 1)
        assert scheduler.status().running
        assert scheduler.status().next_wake_at == T0 + timedelta(hours=6)
        ticks = scheduler.status().ticks
        time.sleep(0.2)
        assert scheduler.status().ticks == ticks  # idle: no spinning

        clock.advance(6 * HOUR)
        scheduler.poke()
        _wait(lambda: len(source.fired) == 1)
    finally:
        scheduler.stop()
    assert not scheduler.status().running
    scheduler.stop()  # idempotent


def _wait(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.01)
