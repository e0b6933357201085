"""Signals: waking idle workers (in-process and PostgreSQL LISTEN/NOTIFY) and job events.

Idle workers block in `Wakeup.wait`; `Queue.enqueue` calls `Wakeup.notify` in the
same process and sends `NOTIFY metarr_jobs` on PostgreSQL, which a `PgListener`
in every other process turns into a local `notify`. Slow polling by the worker is
only the fallback for lost notifications and for jobs whose `run_at` arrives.
"""

from __future__ import annotations

import logging
import queue as stdlib_queue
import threading
import uuid
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from sqlalchemy import Engine, text

log = logging.getLogger(__name__)

CHANNEL = "metarr_jobs"

T = TypeVar("T")


class Wakeup:
    """A generation counter under a condition: waiters never miss a notify.

    Take a `token()` before looking for work; `wait(token, timeout)` returns at
    once if anything was notified since, so a notify racing with an empty claim
    is never lost.
    """

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._generation = 0
        self._subscribers: list[Callable[[], None]] = []

    def token(self) -> int:
        """The current generation; pass it to `wait`."""
        with self._cond:
            return self._generation

    def notify(self) -> None:
        """Wake every waiter and subscriber (new work may be available)."""
        with self._cond:
            self._generation += 1
            self._cond.notify_all()
            subscribers = list(self._subscribers)
        for callback in subscribers:
            callback()

    def subscribe(self, callback: Callable[[], None]) -> None:
        """Call `callback()` on every notify (it must be quick and must not block)."""
        with self._cond:
            if callback not in self._subscribers:
                self._subscribers.append(callback)

    def unsubscribe(self, callback: Callable[[], None]) -> None:
        """Stop calling `callback`."""
        with self._cond:
            if callback in self._subscribers:
                self._subscribers.remove(callback)

    def wait(self, token: int, timeout: float | None) -> bool:
        """Block until a notify after `token` or `timeout` seconds; True when notified."""
        with self._cond:
            return self._cond.wait_for(lambda: self._generation != token, timeout)


class PgListener:
    """A thread holding a `LISTEN metarr_jobs` connection that forwards to a Wakeup.

    It reconnects with backoff when the server goes away, and notifies the local
    Wakeup after each (re)connection since notifications may have been missed.
    With `on_message`, each notification's payload goes to it instead (it must be
    quick; a failure is logged) and `wakeup`, if any, only hears of reconnections.
    """

    def __init__(
        self,
        engine: Engine,
        wakeup: Wakeup | None,
        *,
        channel: str = CHANNEL,
        on_message: Callable[[str], None] | None = None,
        reconnect_delay: float = 0.5,
        max_reconnect_delay: float = 30.0,
    ) -> None:
        self._engine = engine
        self._wakeup = wakeup
        self._channel = channel
        self._on_message = on_message
        self._stop_channel = f"{channel}_stop_{uuid.uuid4().hex}"
        self._reconnect_delay = reconnect_delay
        self._max_reconnect_delay = max_reconnect_delay
        self._stopping = threading.Event()
        self._ready = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self, *, wait: float = 5.0) -> None:
        """Start listening; wait up to `wait` seconds until LISTEN is in effect."""
        if self._thread is not None:
            return
        self._thread = threading.Thread(
            target=self._run, name=f"metarr-listen-{self._channel}", daemon=True
        )
        self._thread.start()
        if not self._ready.wait(wait):
            log.warning("listener on %s not connected after %.1fs", self._channel, wait)

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the thread (a NOTIFY on a private channel interrupts its wait)."""
        if self._thread is None:
            return
        self._stopping.set()
        try:
            with self._engine.begin() as conn:
                conn.execute(
                    text("SELECT pg_notify(:channel, '')"), {"channel": self._stop_channel}
                )
        except Exception:  # the server may be gone; the thread then exits on its own error
            log.debug("could not send the listener stop notification", exc_info=True)
        self._thread.join(timeout)
        self._thread = None

    def _connect(self) -> Any:
        import psycopg

        cargs, cparams = self._engine.dialect.create_connect_args(self._engine.url)
        return psycopg.connect(*cargs, **{**cparams, "autocommit": True})

    def _run(self) -> None:
        import psycopg
        from psycopg import sql

        delay = self._reconnect_delay
        while not self._stopping.is_set():
            try:
                with self._connect() as conn:
                    for channel in (self._channel, self._stop_channel):
                        conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(channel)))
                    self._ready.set()
                    self._wake()  # anything sent while we were away
                    delay = self._reconnect_delay
                    while not self._stopping.is_set():
                        for note in conn.notifies(timeout=60.0):
                            if note.channel == self._stop_channel or self._stopping.is_set():
                                return
                            self._deliver(note.payload)
            except psycopg.Error as exc:
                if self._stopping.is_set():
                    return
                log.warning(
                    "listener on %s lost its connection (%s); retrying in %.1fs",
                    self._channel,
                    exc,
                    delay,
                )
                self._wake()  # let workers poll while we are deaf
                self._stopping.wait(delay)
                delay = min(delay * 2, self._max_reconnect_delay)

    def _wake(self) -> None:
        if self._wakeup is not None:
            self._wakeup.notify()

    def _deliver(self, payload: str) -> None:
        if self._on_message is None:
            self._wake()
            return
        try:
            self._on_message(payload)
        except Exception:
            log.exception("listener on %s: message handler failed", self._channel)


class EventEmitter(Generic[T]):
    """Delivers events (job events by default) to a listener on its own thread, never
    blocking the caller.

    Events are queued (bounded; extra events are dropped and counted) and a failing
    listener is logged and ignored, so a slow or broken WebSocket never stalls a job.
    """

    def __init__(
        self, listener: Callable[[T], None], *, max_pending: int = 10_000, name: str = "job event"
    ) -> None:
        self._listener = listener
        self._name = name
        self._queue: stdlib_queue.Queue[T | None] = stdlib_queue.Queue(max_pending)
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self.dropped = 0

    def emit(self, event: T) -> None:
        """Hand `event` to the listener thread (drops it when the backlog is full)."""
        if self._thread is None:
            self._start()
        try:
            self._queue.put_nowait(event)
        except stdlib_queue.Full:
            self.dropped += 1
            if self.dropped == 1 or self.dropped % 1000 == 0:
                log.warning("%s listener is behind; %d events dropped", self._name, self.dropped)

    def close(self, timeout: float = 5.0) -> None:
        """Deliver what is queued, then stop the thread."""
        with self._lock:
            thread, self._thread = self._thread, None
        if thread is None:
            return
        self._queue.put(None)  # the stop mark, queued after pending events
        thread.join(timeout)

    def _start(self) -> None:
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name=f"metarr-{self._name.replace(' ', '-')}s", daemon=True
                )
                self._thread.start()

    def _run(self) -> None:
        while True:
            event = self._queue.get()
            if event is None:
                return
            try:
                self._listener(event)
            except Exception:
                log.exception("%s listener failed", self._name)
