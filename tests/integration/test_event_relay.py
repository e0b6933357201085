"""Live events across processes: a worker's job events reach the server's bus and WebSocket."""

from __future__ import annotations

import json
import os
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.sync.client import connect as ws_connect

from metarr.bootstrap import Container, build
from metarr.jobs import JobContext
from metarr.services.event_relay import MAX_PAYLOAD_BYTES, OutboundRelay, encode
from metarr.services.events import Event, EventBus, make_event
from metarr.settings import Settings
from metarr.testing.library_builder import LibraryBuilder
from metarr.testing.postgres import PostgresCluster
from tests.conftest import free_port
from tests.integration.test_crash_recovery import METARR, _env, _serve


class Seen:
    """Events a bus delivered, with a wait."""

    def __init__(self, bus: EventBus) -> None:
        self.events: list[Event] = []
        self._cond = threading.Condition()
        bus.subscribe(self._add)

    def _add(self, event: Event) -> None:
        with self._cond:
            self.events.append(event)
            self._cond.notify_all()

    def of(self, job_id: int, kind: str) -> list[Event]:
        """The `kind` events of job `job_id`."""
        with self._cond:
            return [
                e
                for e in self.events
                if e["type"] == kind and (e.get("job") or {}).get("id") == job_id
            ]

    def wait(self, check: Callable[[], bool], timeout: float = 20.0) -> None:
        """Until `check()` holds."""
        with self._cond:
            assert self._cond.wait_for(check, timeout), self.events


def _echo(ctx: JobContext) -> dict[str, Any]:
    return {"size": len(str(ctx.payload.get("blob", "")))}


def _boom(_ctx: JobContext) -> None:
    raise ValueError("it broke")


@pytest.fixture
def pair(settings: Settings, tmp_path: Path) -> Iterator[tuple[Container, Container]]:
    """Two containers on one database: the server (`a`) and a separate worker (`b`)."""
    a = build(settings)
    b = build(settings.model_copy(update={"data_dir": tmp_path / "worker-data"}))
    for c in (a, b):
        c.registry.register("echo", _echo)
        c.registry.register("boom", _boom, max_attempts=1)
    try:
        yield a, b
    finally:
        b.close()
        a.close()


def test_worker_events_reach_the_server_once(pair: tuple[Container, Container]) -> None:
    a, b = pair
    postgres = a.db.backend == "postgresql"
    a.events.stats_interval = 0.0  # every relayed job event refreshes queue.stats
    inbound = a.relay_events_in()
    a.relay_events_out()  # the server's own events must not come back to it
    outbound = b.relay_events_out(origin="worker-b")
    assert (inbound is not None, outbound is not None) == (postgres, postgres)
    assert len(a.relays) == (2 if postgres else 0)
    on_a, on_b = Seen(a.events), Seen(b.events)

    small = a.queue.enqueue("echo", "t/small", {"library_id": 7})
    big = a.queue.enqueue("echo", "t/big", {"library_id": 7, "blob": "x" * 9000})
    broken = a.queue.enqueue("boom", "t/boom")
    b.start_workers(1)
    ends = ((small, "job.succeeded"), (big, "job.succeeded"), (broken, "job.failed"))
    on_b.wait(lambda: all(on_b.of(job.id, kind) for job, kind in ends))

    if not postgres:  # workers run inside `metarr serve`: nothing crosses processes
        assert not [e for e in on_a.events if "origin" in e]
        assert on_a.of(small.id, "job.started") == []
        return
    on_a.wait(lambda: bool(on_a.of(broken.id, "job.failed")))
    on_a.wait(lambda: bool(on_a.of(small.id, "job.succeeded") and on_a.of(big.id, "job.succeeded")))
    for kind in ("job.started", "job.succeeded"):
        [event] = on_a.of(small.id, kind)
        assert event["origin"] == "worker-b" and "truncated" not in event
        assert event["job"]["payload"] == {"library_id": 7}
    assert on_a.of(small.id, "job.succeeded")[0]["job"]["result"] == {"size": 0}
    # the oversized payload arrives cut down, its small fields kept
    [started] = on_a.of(big.id, "job.started")
    assert started["truncated"] is True and started["job"]["payload"] == {"library_id": 7}
    assert started["job"]["status"] == "running" and started["job"]["type"] == "echo"
    # the server's own events once, without origin; the worker's own events are its own
    for job in (small, big):
        [created] = on_a.of(job.id, "job.created")
        assert "origin" not in created
    assert not [e for e in on_b.events if "origin" in e]
    # queue.stats refreshed locally after relayed job events, never relayed themselves
    assert any(e["type"] == "queue.stats" and "origin" not in e for e in on_a.events)
    assert not [e for e in on_a.events if e["type"] == "queue.stats" and "origin" in e]
    # the failure is in the activity log once (by the worker), not again by the server
    failures = [x for x in a.activity.list(kind="job.failed")[0] if x.job_id == broken.id]
    assert len(failures) == 1
    assert outbound is not None and outbound.sent >= 6 and outbound.dropped == 0


def test_relay_stops_with_the_container(settings: Settings) -> None:
    container = build(settings)
    inbound = container.relay_events_in()
    outbound = container.relay_events_out()
    container.close()
    assert container.relays == []
    names = {t.name for t in threading.enumerate()}
    assert "metarr-listen-metarr_events" not in names and "metarr-relayed-events" not in names
    if container.db.backend == "sqlite":
        assert inbound is None and outbound is None


def test_cut_down_events() -> None:
    # bulky nested values go, scalars stay; too big even then: not sent at all
    many = make_event("item.changed", library_id=3, ids=list(range(5000)), source="scan")
    cut = json.loads(encode(many, "w:1") or "")
    assert cut == {
        "type": "item.changed",
        "ts": many["ts"],
        "library_id": 3,
        "source": "scan",
        "origin": "w:1",
        "truncated": True,
    }
    assert encode(make_event("x", note="y" * MAX_PAYLOAD_BYTES), "w:1") is None
    fits = encode(make_event("job.progress", job={"id": 1, "payload": {"a": 1}}), "w:1")
    assert fits is not None and "truncated" not in json.loads(fits)


def test_a_database_failure_never_reaches_the_publisher() -> None:
    from sqlalchemy import create_engine

    bus = EventBus()
    engine = create_engine("postgresql+psycopg://nobody@127.0.0.1:1/none")
    relay = OutboundRelay(engine, bus, origin="w:1")
    relay.start()
    bus.publish(make_event("library.changed", library_id=1))
    bus.publish(make_event("heartbeat"))  # never relayed
    bus.publish({**make_event("library.changed", library_id=2), "origin": "elsewhere"})
    relay.stop()
    assert (relay.failed, relay.sent) == (1, 0)


def test_a_metarr_worker_process_shows_on_the_servers_websocket(
    tmp_path: Path, pg_cluster: PostgresCluster, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    url = pg_cluster.create_database(f"relay_{os.getpid()}_{int(time.time() * 1000)}")
    root = tmp_path / "lib"
    LibraryBuilder(root).bulk(3, nfo_ratio=1.0)
    env = _env(tmp_path, METARR_DATABASE_URL=url, METARR_WORKERS="0")  # the server runs none
    port = free_port()
    server = _serve(env, port)
    worker = subprocess.Popen(
        [*METARR, "worker", "--concurrency", "1"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    try:
        assert worker.stdout is not None and b"running" in worker.stdout.readline()
        base = f"http://127.0.0.1:{port}/api/v1"
        headers = {"X-Api-Key": "k"}
        with ws_connect(f"ws://127.0.0.1:{port}/api/v1/ws?apikey=k", proxy=None) as ws:
            assert json.loads(ws.recv(timeout=10))["type"] == "resync"
            lib = httpx.post(
                f"{base}/libraries", json={"name": "M", "path": str(root)}, headers=headers
            )
            assert lib.status_code == 201, lib.text
            scan = httpx.post(f"{base}/libraries/{lib.json()['id']}/scan", headers=headers).json()
            seen: dict[str, Event] = {}
            deadline = time.monotonic() + 60
            while "job.succeeded" not in seen and time.monotonic() < deadline:
                event = json.loads(ws.recv(timeout=max(deadline - time.monotonic(), 0.1)))
                if (event.get("job") or {}).get("id") == scan["job_id"]:
                    seen.setdefault(event["type"], event)
            # a scan from the command line shows live too
            cli = subprocess.Popen(
                [*METARR, "scan", "M"],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
            )
            changed: Event | None = None
            deadline = time.monotonic() + 60
            while changed is None and time.monotonic() < deadline:
                event = json.loads(ws.recv(timeout=max(deadline - time.monotonic(), 0.1)))
                if event["type"] == "library.changed" and event.get("origin"):
                    changed = event
            _, err = cli.communicate(timeout=60)
            assert cli.returncode == 0, err
        assert {"job.created", "job.started", "job.succeeded"} <= seen.keys(), seen.keys()
        assert "origin" not in seen["job.created"]  # the server's own event, sent once
        for kind in ("job.started", "job.succeeded"):
            assert seen[kind]["origin"].endswith(f":{worker.pid}")
        assert seen["job.succeeded"]["job"]["status"] == "succeeded"
        assert changed is not None and changed["origin"].endswith(f":{cli.pid}")
        assert changed["library_id"] == lib.json()["id"]
    finally:
        worker.terminate()
        worker.wait(timeout=30)
        server.terminate()
        server.wait(timeout=30)
