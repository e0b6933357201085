"""The worker: claims jobs and runs their handlers in threads; it never enqueues on its own.

One dispatcher thread owns the hot path on its own database connection: in a
single transaction it records the outcomes of finished attempts and claims as
many jobs as there are free slots, then hands them to `concurrency` runner
threads. A heartbeat thread renews the leases of running jobs. With nothing to
do the dispatcher sleeps until a Wakeup (enqueue in this process, or NOTIFY
from another one on PostgreSQL), a finished job, or the next poll: every
`poll_interval` seconds, sooner when a scheduled retry falls due.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import timedelta
from queue import SimpleQueue
from typing import Any

from sqlalchemy import Connection

from metarr.db.engine import Database
from metarr.domain.errors import MetarrError
from metarr.jobs.breaker import Breakers, BreakerState, CircuitBreaker
from metarr.jobs.models import Clock, EventListener, Job, Outcome, Registry
from metarr.jobs.queue import Queue
from metarr.jobs.retry import (
    JobCancelled,
    JobDeferred,
    JobInterrupted,
    JobTimeout,
    RetryPolicy,
    is_dependency_failure,
)
from metarr.jobs.wakeup import PgListener, Wakeup

log = logging.getLogger(__name__)


class JobContext:
    """What a handler gets: its job, progress reporting, cancellation and fan-out."""

    def __init__(self, worker: Worker, job: Job, timeout: float | None) -> None:
        self._worker = worker
        self._queue = worker.queue
        self._job = job
        self._timeout = timeout
        self._started = time.monotonic()
        self._last_progress = 0.0
        self._last_check = self._started
        self.cancel_flag = False  # set by the heartbeat, progress writes, or stop()
        self.lost = False  # the lease went to another attempt
        self.interrupted = False  # the worker is shutting down

    @property
    def job(self) -> Job:
        """The job record as claimed (status running, attempts already counted)."""
        return self._job

    @property
    def payload(self) -> dict[str, Any]:
        """The job's payload."""
        return self._job.payload

    def progress(self, fraction: float, message: str | None = None) -> None:
        """Report progress 0..1; written at most every `progress_interval` seconds."""
        now = time.monotonic()
        if fraction < 1.0 and now - self._last_progress < self._worker.progress_interval:
            return
        self._last_progress = now
        updated = self._queue.set_progress(self._job, fraction, message)
        if updated is None:
            self.lost = True
        else:
            self.cancel_flag = self.cancel_flag or updated.cancel_requested
            self._last_check = now

    def check_cancelled(self) -> None:
        """Raise JobCancelled if the job was cancelled (JobTimeout if it ran too long).

        Call it between steps; it reads the database at most every
        `cancel_check_interval` seconds.
        """
        now = time.monotonic()
        if self._timeout is not None and now - self._started > self._timeout:
            raise JobTimeout(f"job {self._job.id} ran longer than {self._timeout:g}s")
        flagged = self.cancel_flag or self.lost or self.interrupted
        if not flagged and now - self._last_check >= self._worker.cancel_check_interval:
            self._last_check = now
            flag = self._queue.cancel_requested(self._job)
            self.lost = flag is None
            self.cancel_flag = bool(flag)
        if self.interrupted:
            raise JobInterrupted(f"job {self._job.id} interrupted: worker shutting down")
        if self.lost:
            raise JobCancelled(f"job {self._job.id} lost its lease")
        if self.cancel_flag:
            raise JobCancelled(f"job {self._job.id} cancelled")

    def enqueue_child(
        self,
        job_type: str,
        target: str,
        payload: Mapping[str, Any] | None = None,
        *,
        priority: int | None = None,
        dedupe: bool = True,
    ) -> Job:
        """Enqueue a job whose parent is this one (fan-out); priority defaults to ours."""
        return self._queue.enqueue(
            job_type,
            target,
            payload,
            priority=priority if priority is not None else self._job.priority,
            dedupe=dedupe,
            parent_id=self._job.id,
        )


def default_worker_id() -> str:
    """host:pid:random - unique per Worker instance."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class Worker:
    """Runs registered handlers for claimed jobs, `concurrency` at a time."""

    def __init__(
        self,
        db: Database,
        registry: Registry,
        *,
        concurrency: int = 4,
        worker_id: str | None = None,
        wakeup: Wakeup | None = None,
        queue: Queue | None = None,
        clock: Clock | None = None,
        on_event: EventListener | None = None,
        breakers: Breakers | None = None,
        retry_policy: RetryPolicy | None = None,
        lease_seconds: float = 30.0,
        heartbeat_interval: float | None = None,
        poll_interval: float = 5.0,
        reclaim_interval: float | None = None,
        listen: bool = True,
        progress_interval: float = 0.5,
        cancel_check_interval: float = 0.5,
    ) -> None:
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        if queue is not None and (on_event is not None or clock is not None):
            raise ValueError("pass on_event/clock to the Queue when you pass a Queue")
        self.db = db
        self.registry = registry
        self.wakeup = wakeup or (queue.wakeup if queue is not None else None) or Wakeup()
        self.queue = queue or Queue(
            db, registry=registry, wakeup=self.wakeup, on_event=on_event, clock=clock
        )
        if self.queue.wakeup is None:
            self.queue.wakeup = self.wakeup
        self.concurrency = concurrency
        self.worker_id = worker_id or default_worker_id()
        self.breakers = breakers or Breakers()
        self.retry_policy = retry_policy or RetryPolicy()
        self.lease_seconds = lease_seconds
        self.heartbeat_interval = heartbeat_interval or lease_seconds / 3
        self.poll_interval = poll_interval
        self.reclaim_interval = reclaim_interval or min(poll_interval, lease_seconds / 2)
        self.listen = listen
        self.progress_interval = progress_interval
        self.cancel_check_interval = cancel_check_interval
        self._running: dict[int, JobContext] = {}
        self._lock = threading.Lock()
        # Dispatcher state, guarded by _cond; any change bumps _generation.
        self._cond = threading.Condition()
        self._generation = 0
        self._outcomes: list[Outcome] = []
        self._free = concurrency
        self._inbox: SimpleQueue[Job | None] = SimpleQueue()
        self._runners: list[threading.Thread] = []
        self._stopping = threading.Event()
        self._hb_stop = threading.Event()
        self._hb_thread: threading.Thread | None = None
        self._dispatcher: threading.Thread | None = None
        self._listener: PgListener | None = None
        self._conn: Connection | None = None

    # -- lifecycle --------------------------------------------------------------------

    def start(self) -> None:
        """Start the dispatcher, runner, heartbeat and (on PostgreSQL) LISTEN threads."""
        if self._dispatcher is not None:
            return
        self._stopping.clear()
        self.breakers.subscribe(self._breaker_changed)
        self.wakeup.subscribe(self._poke)
        if self.listen and self.db.backend == "postgresql":
            self._listener = PgListener(self.db.engine, self.wakeup)
            self._listener.start()
        self._runners = [
            threading.Thread(target=self._runner_loop, name=f"metarr-job-{i}", daemon=True)
            for i in range(self.concurrency)
        ]
        for thread in self._runners:
            thread.start()
        self._start_heartbeat()
        self._dispatcher = threading.Thread(
            target=self._dispatch_loop, name="metarr-jobs-dispatch", daemon=True
        )
        self._dispatcher.start()

    def stop(self, graceful: bool = True, timeout: float | None = None) -> None:
        """Stop claiming; let running jobs finish (graceful) or interrupt them.

        An interrupted job goes back to the queue without consuming an attempt when
        its handler next calls `check_cancelled()`. After `timeout` seconds a
        graceful stop interrupts too; a handler that never checks is abandoned
        (its lease expires and another worker runs the job again).
        """
        self._stopping.set()
        if not graceful:
            self._interrupt_running()
        self._poke()
        if self._dispatcher is not None:
            self._dispatcher.join(timeout)
            if self._dispatcher.is_alive():
                self._interrupt_running()
                self._dispatcher.join(10.0)
            if self._dispatcher.is_alive():
                log.warning("job worker %s: handlers still running at stop", self.worker_id)
            self._dispatcher = None
        for _ in self._runners:
            self._inbox.put(None)
        for thread in self._runners:
            thread.join(1.0)
        self._runners = []
        self._stop_heartbeat()
        if self._listener is not None:
            self._listener.stop()
            self._listener = None
        self.wakeup.unsubscribe(self._poke)
        self.breakers.unsubscribe(self._breaker_changed)
        self._drop_connection()
        self.queue.close()

    def __enter__(self) -> Worker:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def run_until_empty(self, *, max_jobs: int | None = None) -> int:
        """Run eligible jobs one at a time in the calling thread until none is left (tests).

        Returns how many handlers ran (deferred jobs do not count).
        """
        ran = 0
        outcomes: list[Outcome] = []
        self.breakers.subscribe(self._breaker_changed)
        with self._heartbeating():
            self.queue.reclaim_expired()
            while True:
                limit = 0 if max_jobs is not None and ran >= max_jobs else 1
                jobs = self.queue.settle_and_claim(
                    outcomes,
                    self.worker_id,
                    limit=limit,
                    types=self.registry.types,
                    lease_seconds=self.lease_seconds,
                )
                outcomes = []
                if not jobs:
                    return ran
                deferral = self._deferral(jobs[0])
                if deferral is None:
                    ran += 1
                outcomes.append(deferral or self._execute(jobs[0]))

    @property
    def running(self) -> list[Job]:
        """The jobs this worker is running now."""
        with self._lock:
            return [ctx.job for ctx in self._running.values()]

    # -- dispatching ------------------------------------------------------------------

    def _poke(self) -> None:
        with self._cond:
            self._generation += 1
            self._cond.notify_all()

    def _connection(self) -> Connection:
        """The dispatcher's own connection (no pool round trip per batch).

        On PostgreSQL it autocommits: each hot-path statement is atomic on its own,
        which saves the BEGIN/COMMIT round trips.
        """
        if self._conn is None or self._conn.closed or self._conn.invalidated:
            conn = self.db.engine.connect()
            if self.db.backend == "postgresql":
                conn = conn.execution_options(isolation_level="AUTOCOMMIT")
            self._conn = conn
        return self._conn

    def _drop_connection(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.close()
            except Exception:
                log.debug("closing the dispatcher connection failed", exc_info=True)

    def _dispatch_loop(self) -> None:
        next_reclaim = 0.0
        error_delay = 0.1
        while True:
            with self._cond:
                seen = self._generation
                outcomes, self._outcomes = self._outcomes, []
                stopping = self._stopping.is_set()
                free = 0 if stopping else self._free
                busy = self.concurrency - self._free
            if stopping and not outcomes and busy == 0:
                return
            claimed: list[Job] = []
            if outcomes or free:
                try:
                    if free and time.monotonic() >= next_reclaim:
                        next_reclaim = time.monotonic() + self.reclaim_interval
                        self.queue.reclaim_expired(connection=self._connection())
                    claimed = self.queue.settle_and_claim(
                        outcomes,
                        self.worker_id,
                        limit=free,
                        types=self.registry.types,
                        lease_seconds=self.lease_seconds,
                        connection=self._connection(),
                    )
                except Exception:
                    log.exception("job worker %s: database round failed", self.worker_id)
                    self._drop_connection()
                    if stopping:  # give up on them: their leases expire, they run again
                        continue
                    with self._cond:
                        self._outcomes[:0] = outcomes
                    self._stopping.wait(error_delay)
                    error_delay = min(error_delay * 2, self.poll_interval)
                    continue
                error_delay = 0.1
                with self._cond:
                    self._free -= len(claimed)
                for job in claimed:
                    self._dispatch(job)
                if claimed or stopping:  # stopping: look again at once, not after a poll
                    continue
            timeout = self._idle_timeout(next_reclaim) if free else self.poll_interval
            self._wait_for_change(seen, timeout)

    def _wait_for_change(self, seen: int, timeout: float) -> None:
        with self._cond:
            self._cond.wait_for(lambda: self._generation != seen, timeout)

    def _dispatch(self, job: Job) -> None:
        deferral = self._deferral(job)
        if deferral is None:
            self._inbox.put(job)
        else:
            self._done(deferral)

    def _done(self, outcome: Outcome) -> None:
        with self._cond:
            self._outcomes.append(outcome)
            self._free += 1
            self._generation += 1
            self._cond.notify_all()

    def _idle_timeout(self, next_reclaim: float) -> float:
        timeout = min(self.poll_interval, max(0.0, next_reclaim - time.monotonic()))
        try:
            due = self.queue.next_run_at(self.registry.types, connection=self._connection())
        except Exception:
            log.exception("job worker %s could not read the next run time", self.worker_id)
            self._drop_connection()
            return timeout
        if due is not None:
            timeout = min(timeout, (due - self.queue.clock.now()).total_seconds())
        # Never spin: a job due now that we could not claim is being taken by another worker.
        return max(timeout, 0.02)

    def _runner_loop(self) -> None:
        while True:
            job = self._inbox.get()
            if job is None:
                return
            self._done(self._execute(job))

    # -- running one job --------------------------------------------------------------

    def _deferral(self, job: Job) -> Outcome | None:
        """A deferral when the job's dependency has an open circuit, else None."""
        spec = self.registry.get(job.type)
        needs = job.needs or (spec.needs if spec is not None else None)
        if not needs:
            return None
        breaker = self.breakers.get(needs)
        if breaker.allow():
            return None
        delay = max(0.05, breaker.seconds_until_probe())
        run_at = self.queue.clock.now() + timedelta(seconds=delay)
        return Outcome.deferred(job, run_at, f"waiting for {needs}: circuit {breaker.state()}")

    def _execute(self, job: Job) -> Outcome:
        """Run the handler of `job`; never raises."""
        spec = self.registry.get(job.type)
        if spec is None:  # claims filter on registered types; only a stale registry gets here
            return Outcome.failed(job, f"no handler registered for job type {job.type!r}")
        needs = job.needs or spec.needs
        breaker = self.breakers.get(needs) if needs else None
        ctx = JobContext(self, job, spec.timeout)
        with self._lock:
            self._running[job.id] = ctx
        try:
            self.queue.emit("started", job)
            try:
                result = spec.handler(ctx)
            except JobInterrupted as exc:
                if breaker is not None:
                    breaker.release()
                return Outcome.deferred(job, self.queue.clock.now(), str(exc))
            except JobDeferred as exc:
                if breaker is not None:
                    breaker.release()
                run_at = self.queue.clock.now() + timedelta(seconds=max(exc.delay, 0.05))
                return Outcome.deferred(job, run_at, str(exc))
            except JobCancelled as exc:
                if breaker is not None:
                    breaker.release()
                return Outcome.cancelled(job, str(exc))
            except Exception as exc:
                self._record_breaker(breaker, exc)
                return self._failure(job, exc)
            if breaker is not None:
                breaker.record_success()
            if result is not None and not isinstance(result, Mapping):
                result = {"value": result}
            return Outcome.succeeded(job, result)
        finally:
            with self._lock:
                self._running.pop(job.id, None)

    def _record_breaker(self, breaker: CircuitBreaker | None, exc: Exception) -> None:
        if breaker is None:
            return
        if is_dependency_failure(exc):
            breaker.record_failure()
        elif isinstance(exc, MetarrError):
            breaker.record_success()  # the dependency answered (NotFound, InvalidInput...)
        else:
            breaker.release()  # a bug of ours says nothing about the dependency

    def _failure(self, job: Job, exc: Exception) -> Outcome:
        decision = self.retry_policy.decide(exc, job.attempts, job.max_attempts)
        if decision.retry:
            log.info("job %s failed (%s); retry in %.1fs", job.id, exc, decision.delay)
            run_at = self.queue.clock.now() + timedelta(seconds=decision.delay)
            return Outcome.retry(job, exc, run_at)
        log.warning("job %s failed for good: %s (%s)", job.id, exc, decision.reason)
        return Outcome.failed(job, exc)

    def _breaker_changed(self, name: str, old: BreakerState, new: BreakerState) -> None:
        log.warning("circuit for %s: %s -> %s", name, old.value, new.value)
        if new is BreakerState.CLOSED:
            try:
                self.queue.resume_deferred(name)
            except Exception:
                log.exception("could not resume jobs waiting for %s", name)

    def _interrupt_running(self) -> None:
        with self._lock:
            for ctx in self._running.values():
                ctx.interrupted = True

    # -- heartbeat --------------------------------------------------------------------

    @contextmanager
    def _heartbeating(self) -> Iterator[None]:
        started = self._hb_thread is None
        if started:
            self._start_heartbeat()
        try:
            yield
        finally:
            if started:
                self._stop_heartbeat()

    def _start_heartbeat(self) -> None:
        self._hb_stop.clear()
        self._hb_thread = threading.Thread(
            target=self._heartbeat_loop, name="metarr-jobs-heartbeat", daemon=True
        )
        self._hb_thread.start()

    def _stop_heartbeat(self) -> None:
        self._hb_stop.set()
        if self._hb_thread is not None:
            self._hb_thread.join()
            self._hb_thread = None

    def _heartbeat_loop(self) -> None:
        while not self._hb_stop.wait(self.heartbeat_interval):
            with self._lock:
                running = dict(self._running)
            if not running:
                continue
            try:
                owned = self.queue.heartbeat(self.worker_id, list(running), self.lease_seconds)
            except Exception:
                log.exception("job worker %s could not renew its leases", self.worker_id)
                continue
            for job_id, ctx in running.items():
                if job_id not in owned:
                    ctx.lost = True
                elif owned[job_id]:
                    ctx.cancel_flag = True
