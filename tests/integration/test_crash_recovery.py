"""Crash safety with real processes: `metarr serve` and `metarr worker` killed with SIGKILL."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, text

from metarr.testing.library_builder import LibraryBuilder
from metarr.testing.postgres import PostgresCluster
from tests.conftest import free_port

METARR = [sys.executable, "-m", "metarr.cli"]


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("METARR_")}
    env.update(METARR_DATA_DIR=str(tmp_path / "data"), METARR_API_KEY="k")
    env.update(extra)
    return env


def _serve(env: dict[str, str], port: int) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(
        [*METARR, "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            httpx.get(f"http://127.0.0.1:{port}/api/v1/health", timeout=1)
            return proc
        except httpx.TransportError:
            time.sleep(0.1)
    proc.kill()
    raise AssertionError("metarr serve did not start")


def test_serve_killed_mid_scan_resumes_after_restart(tmp_path: Path, db_url: str) -> None:
    root = tmp_path / "lib"
    LibraryBuilder(root).bulk(600, nfo_ratio=0.9)
    port = free_port()
    # small batches and a short lease, so the kill lands mid-scan and recovery is quick
    env = _env(
        tmp_path,
        METARR_DATABASE_URL=db_url,
        METARR_SCAN_BATCH_SIZE="25",
        METARR_SCAN_PROBE_WORKERS="1",
        METARR_JOB_LEASE_SECONDS="2",
    )
    base = f"http://127.0.0.1:{port}/api/v1"
    headers = {"X-Api-Key": "k"}
    proc = _serve(env, port)
    try:
        lib = httpx.post(
            f"{base}/libraries", json={"name": "M", "path": str(root)}, headers=headers
        )
        assert lib.status_code == 201, lib.text
        scan = httpx.post(f"{base}/libraries/{lib.json()['id']}/scan", headers=headers).json()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            written = httpx.get(f"{base}/movies", params={"limit": 1}, headers=headers).json()
            if written["total"] >= 50:
                break
            time.sleep(0.05)
        assert 0 < written["total"] < 600, "the kill must land in the middle of the scan"
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()

    proc = _serve(env, port)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            state = httpx.get(f"{base}/scans/{scan['id']}", headers=headers).json()
            if state["status"] in ("succeeded", "failed"):
                break
            time.sleep(0.2)
        assert state["status"] == "succeeded", state
        movies = httpx.get(f"{base}/movies", params={"limit": 1}, headers=headers).json()
        assert movies["total"] == 600
        job = httpx.get(f"{base}/jobs/{scan['job_id']}", headers=headers).json()
        assert job["status"] == "succeeded" and job["attempts"] == 2
        # consistent: every movie has its main video exactly once, no duplicates
        again = httpx.post(f"{base}/libraries/{lib.json()['id']}/scan", headers=headers).json()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            state = httpx.get(f"{base}/scans/{again['id']}", headers=headers).json()
            if state["status"] == "succeeded":
                break
            time.sleep(0.1)
        assert state["stats"]["unchanged"] == 600 and state["stats"]["added"] == 0
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)


WORKER_SCRIPT = """
import sys, time
from metarr.bootstrap import build
from metarr.settings import Settings
from sqlalchemy import text

container = build(Settings(), migrate_db=False)

def record(ctx):
    with container.db.engine.begin() as conn:
        conn.execute(text("INSERT INTO executions (job_id, pid) VALUES (:j, :p)"),
                     {"j": ctx.job.id, "p": __import__("os").getpid()})
    time.sleep(0.002)
    return None

container.registry.register("record", record, max_attempts=5)
worker = container.start_workers(4)
print("ready", flush=True)
sys.stdin.read()
"""


def test_two_worker_processes_kill_one(tmp_path: Path, pg_cluster: PostgresCluster) -> None:
    url = pg_cluster.create_database(f"crash_{os.getpid()}_{int(time.time() * 1000)}")
    env = _env(tmp_path, METARR_DATABASE_URL=url, METARR_JOB_LEASE_SECONDS="2")
    subprocess.run([*METARR, "db", "upgrade"], env=env, check=True, capture_output=True)
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE executions (job_id INT, pid INT)"))
    from metarr.db.engine import Database
    from metarr.jobs import Queue

    queue = Queue(Database(engine))
    for i in range(1000):
        queue.enqueue("record", f"t/{i}")
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER_SCRIPT],
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        for _ in range(2)
    ]
    try:
        for w in workers:
            assert w.stdout is not None and w.stdout.readline().strip() == b"ready"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with engine.connect() as conn:
                done = conn.execute(text("SELECT count(*) FROM executions")).scalar_one()
            if done >= 200:
                break
            time.sleep(0.02)
        workers[0].send_signal(signal.SIGKILL)
        workers[0].wait()
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            with engine.connect() as conn:
                left = conn.execute(
                    text("SELECT count(*) FROM jobs WHERE status <> 'succeeded'")
                ).scalar_one()
            if left == 0:
                break
            time.sleep(0.2)
        with engine.connect() as conn:
            assert (
                conn.execute(
                    text("SELECT count(*) FROM jobs WHERE status = 'succeeded'")
                ).scalar_one()
                == 1000
            )
            per_job = dict(
                conn.execute(text("SELECT job_id, count(*) FROM executions GROUP BY job_id")).all()
            )
        assert len(per_job) == 1000  # every job ran
        twice = [j for j, n in per_job.items() if n > 1]
        # only jobs the killed worker held can have run again (handlers are idempotent)
        assert len(twice) <= 4 + 4, twice
    finally:
        for w in workers:
            if w.poll() is None:
                w.kill()
                w.wait()
        engine.dispose()


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HTTP_PROXY", raising=False)
    monkeypatch.delenv("http_proxy", raising=False)
