"""Live events across processes: what a `metarr worker` publishes reaches `metarr serve`.

The EventBus only reaches subscribers in its own process, so the job events of a
separate worker process would never get to the WebSocket. On PostgreSQL the worker
runs an `OutboundRelay` (local events -> `NOTIFY metarr_events`, JSON marked with the
process's `origin`) and the server an `InboundRelay` (`LISTEN metarr_events` -> its
own bus). On SQLite every worker runs inside `metarr serve` and no relay runs.
"""

from __future__ import annotations

import json
import logging
import os
import socket
from typing import Any

from sqlalchemy import Engine, text
from sqlalchemy.exc import SQLAlchemyError

from metarr.jobs import EventEmitter, PgListener
from metarr.services.events import Event, EventBus

log = logging.getLogger(__name__)

CHANNEL = "metarr_events"
# PostgreSQL's NOTIFY payload "must be shorter than 8000 bytes" (default build)
MAX_PAYLOAD_BYTES = 7999
# made afresh by each process (or a reply to one client): never relayed
LOCAL_ONLY = frozenset({"queue.stats", "heartbeat", "resync"})
# the job fields that can grow without bound; cut first when an event is too big
BULKY_JOB_FIELDS = ("payload", "result")
# a string longer than this is dropped from a cut-down dict
MAX_KEPT_STRING = 200

_NOTIFY = text("SELECT pg_notify(:channel, :payload)")


def process_origin() -> str:
    """This process's id on relayed events: `hostname:pid`."""
    return f"{socket.gethostname()}:{os.getpid()}"


def encode(event: Event, origin: str, *, limit: int = MAX_PAYLOAD_BYTES) -> str | None:
    """The NOTIFY payload for `event`, marked with `origin`; None when it cannot fit.

    Past `limit` bytes the job's payload and result keep only their small scalar
    fields, then every nested value is cut down the same way (lists dropped); a cut
    event says `"truncated": true`.
    """
    marked: Event = {**event, "origin": origin}
    payload = _dumps(marked)
    if len(payload) <= limit:
        return payload
    marked["truncated"] = True
    job = marked.get("job")
    if isinstance(job, dict):
        marked["job"] = {
            **job,
            **{k: _scalars(job[k]) for k in BULKY_JOB_FIELDS if isinstance(job.get(k), dict)},
        }
    payload = _dumps(marked)
    if len(payload) <= limit:
        return payload
    slim = {
        k: _scalars(v) if isinstance(v, dict) else v
        for k, v in marked.items()
        if not isinstance(v, list | tuple)
    }
    payload = _dumps(slim)
    return payload if len(payload) <= limit else None


def _dumps(event: Event) -> str:
    # ASCII only, so characters are bytes whatever the server encoding
    return json.dumps(event, default=str, separators=(",", ":"))


def _scalars(value: dict[str, Any]) -> dict[str, Any]:
    return {
        k: v
        for k, v in value.items()
        if v is None
        or isinstance(v, bool | int | float)
        or (isinstance(v, str) and len(v) <= MAX_KEPT_STRING)
    }


class OutboundRelay:
    """Sends this process's live events to the others (`metarr worker` on PostgreSQL).

    A bus subscriber only queues the event (bounded; extra events are dropped and
    counted); one thread sends them in order with `pg_notify`. A failed send is
    logged and forgotten: the relay never slows or fails a job.
    """

    def __init__(
        self,
        engine: Engine,
        bus: EventBus,
        *,
        origin: str | None = None,
        channel: str = CHANNEL,
        max_pending: int = 10_000,
    ) -> None:
        self.origin = origin or process_origin()
        self._engine = engine
        self._bus = bus
        self._channel = channel
        self._emitter: EventEmitter[Event] = EventEmitter(
            self._send, max_pending=max_pending, name="relayed event"
        )
        self._token: int | None = None
        self.sent = 0
        self.too_big = 0
        self.failed = 0

    @property
    def dropped(self) -> int:
        """Events dropped because the sending thread was behind."""
        return self._emitter.dropped

    def start(self) -> None:
        """Subscribe to the bus."""
        if self._token is None:
            self._token = self._bus.subscribe(self._on_event)

    def stop(self, timeout: float = 5.0) -> None:
        """Unsubscribe, send what is queued, stop the thread."""
        if self._token is not None:
            self._bus.unsubscribe(self._token)
            self._token = None
        self._emitter.close(timeout)

    def _on_event(self, event: Event) -> None:
        if "origin" in event or event.get("type") in LOCAL_ONLY:
            return  # relayed here from elsewhere, or meaningful only in this process
        self._emitter.emit(event)

    def _send(self, event: Event) -> None:
        payload = encode(event, self.origin)
        if payload is None:
            self.too_big += 1
            log.warning("%s event too big to relay even cut down; dropped", event.get("type"))
            return
        try:
            with self._engine.begin() as conn:
                conn.execute(_NOTIFY, {"channel": self._channel, "payload": payload})
        except SQLAlchemyError as exc:
            self.failed += 1  # only this thread counts
            if self.failed == 1 or self.failed % 100 == 0:  # the database is away: no flood
                log.warning("could not relay live events (%d lost so far): %s", self.failed, exc)
            return
        self.sent += 1


class InboundRelay:
    """Publishes the other processes' live events on this process's bus (`metarr serve`).

    A LISTEN thread (jobs/wakeup.py `PgListener`, reconnecting with backoff) hands
    each message over; messages from this process's own origin are ignored. Job
    events go through `EventBus.publish_job`, which also refreshes `queue.stats`.
    """

    def __init__(
        self,
        engine: Engine,
        bus: EventBus,
        *,
        origin: str | None = None,
        channel: str = CHANNEL,
    ) -> None:
        self.origin = origin or process_origin()
        self._bus = bus
        self._listener = PgListener(engine, None, channel=channel, on_message=self.receive)
        self.received = 0

    def start(self, *, wait: float = 5.0) -> None:
        """Start listening; wait up to `wait` seconds until LISTEN is in effect."""
        self._listener.start(wait=wait)

    def stop(self, timeout: float = 5.0) -> None:
        """Stop listening."""
        self._listener.stop(timeout)

    def receive(self, payload: str) -> None:
        """Publish one NOTIFY payload locally (malformed or own messages are skipped)."""
        try:
            event = json.loads(payload)
        except ValueError:
            log.warning("ignored a relayed event that is not JSON: %.80r", payload)
            return
        if (
            not isinstance(event, dict)
            or not isinstance(event.get("type"), str)
            or not isinstance(event.get("origin"), str)
        ):
            log.warning("ignored a relayed event without type or origin: %.80r", payload)
            return
        if event["origin"] == self.origin or event["type"] in LOCAL_ONLY:
            return
        self.received += 1
        if event["type"].startswith("job.") and isinstance(event.get("job"), dict):
            self._bus.publish_job(event)
        else:
            self._bus.publish(event)
