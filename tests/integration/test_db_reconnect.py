"""A running server survives a PostgreSQL restart: 503 while it is down, back by itself after."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from metarr.bootstrap import build
from metarr.settings import Settings
from metarr.testing.postgres import PostgresCluster
from tests.conftest import LiveServer


@pytest.fixture
def own_cluster(tmp_path: Path) -> Iterator[PostgresCluster]:
    cluster = PostgresCluster()
    cluster.init()
    cluster.start()
    try:
        yield cluster
    finally:
        cluster.destroy()


def test_server_recovers_after_postgres_restart(
    own_cluster: PostgresCluster, tmp_path: Path
) -> None:
    url = own_cluster.create_database("metarr")
    container = build(Settings(data_dir=tmp_path / "data", database_url=url, api_key="k"))
    server = LiveServer(container)
    server.start()
    lib_dir = tmp_path / "lib"
    lib_dir.mkdir()
    try:
        with httpx.Client(base_url=server.url, headers={"X-Api-Key": "k"}, timeout=10) as api:
            assert (
                api.post("/api/v1/libraries", json={"name": "A", "path": str(lib_dir)}).status_code
                == 201
            )
            assert api.get("/api/v1/health").status_code == 200

            own_cluster.stop("fast")
            down = api.get("/api/v1/libraries")
            assert down.status_code == 503
            assert down.headers["content-type"].startswith("application/problem+json")
            assert down.json()["code"] == "service_unavailable"
            health = api.get("/api/v1/health")
            assert health.status_code == 503
            assert health.json()["checks"]["database"]["status"] == "error"

            own_cluster.start()
            deadline = time.monotonic() + 20
            while True:  # pre-ping replaces the dead pooled connections
                resp = api.get("/api/v1/libraries")
                if resp.status_code == 200 or time.monotonic() > deadline:
                    break
                time.sleep(0.2)
            assert resp.status_code == 200 and [lib["name"] for lib in resp.json()] == ["A"]
            assert api.get("/api/v1/health").json()["status"] == "ok"
    finally:
        server.stop()
        container.close()
