"""Shared fixtures: both database backends, a built container, a live server."""

from __future__ import annotations

import itertools
import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest

from metarr.settings import Settings
from metarr.testing.postgres import PostgresCluster

if TYPE_CHECKING:
    from metarr.bootstrap import Container

FIXTURES = Path(__file__).parent / "fixtures"
_db_counter = itertools.count(1)


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[PostgresCluster]:
    """One throwaway PostgreSQL server for the whole test session."""
    cluster = PostgresCluster()
    cluster.init()
    cluster.start()
    try:
        yield cluster
    finally:
        cluster.destroy(wait=False)


def _migrated(url: str) -> None:
    from metarr.db import migrate
    from metarr.db.engine import create_db_engine

    engine = create_db_engine(url)
    try:
        migrate.upgrade(engine)
    finally:
        engine.dispose()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file migrated to the newest schema once, copied for each test that builds.

    (A PostgreSQL `CREATE DATABASE ... TEMPLATE` measured no faster than migrating.)
    """
    path = tmp_path_factory.mktemp("sqlite-template") / "metarr.db"
    _migrated(f"sqlite:///{path}")
    return path


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh database on each backend: empty, except that SQLite comes migrated for
    tests that use the `container` fixture (`build` then finds the schema current).
    """
    migrated = "container" in request.fixturenames
    if request.param == "sqlite":
        path = tmp_path / "metarr-test.db"
        if migrated:
            shutil.copyfile(request.getfixturevalue("sqlite_template"), path)
        return f"sqlite:///{path}"
    cluster: PostgresCluster = request.getfixturevalue("pg_cluster")
    return cluster.create_database(f"t{os.getpid()}_{next(_db_counter)}")


@pytest.fixture
def settings(tmp_path: Path, db_url: str) -> Settings:
    """Settings pointing at a temp data dir and the backend under test."""
    return Settings(
        data_dir=tmp_path / "data",
        database_url=db_url,
        api_key="test-key",
        rate_limit_per_minute=100_000,
        scan_probe_workers=2,
    )


@pytest.fixture
def container(settings: Settings) -> Iterator[Container]:
    """A built container (migrated database, services)."""
    from metarr.bootstrap import build

    c = build(settings)
    try:
        yield c
    finally:
        c.close()


@pytest.fixture
def client(container: Container) -> Iterator[httpx.Client]:
    """An HTTP client with the API key, talking to the app in-process over ASGI."""
    from fastapi.testclient import TestClient

    from metarr.api.app import create_app

    app = create_app(container, close_on_shutdown=False)
    with TestClient(app, headers={"X-Api-Key": container.api_key}) as tc:
        yield tc


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class LiveServer:
    """Metarr served by uvicorn on 127.0.0.1 in a background thread."""

    def __init__(self, container: Container) -> None:
        import uvicorn

        from metarr.api.app import create_app

        self.container = container
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(
            create_app(container, close_on_shutdown=False),
            host="127.0.0.1",
            port=self.port,
            log_config=None,
            access_log=False,
            lifespan="on",
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def start(self) -> None:
        """Start and wait until it answers."""
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("server did not start")
            time.sleep(0.02)

    def stop(self) -> None:
        """Stop serving."""
        self.server.should_exit = True
        self.thread.join(timeout=10)


@pytest.fixture
def live_server(container: Container) -> Iterator[LiveServer]:
    """Metarr on a real TCP port."""
    server = LiveServer(container)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def wait_scan(client: httpx.Client, scan_id: int, timeout: float = 120.0) -> dict[str, object]:
    """Poll a scan until it is finished; return its JSON."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        body: dict[str, object] = client.get(f"/api/v1/scans/{scan_id}").json()
        if body["status"] in ("succeeded", "failed", "cancelled"):
            return body
        time.sleep(0.05)
    raise AssertionError(f"scan {scan_id} did not finish in {timeout}s")


@pytest.fixture(scope="session")
def ffmpeg_available() -> None:
    """Fail clearly when ffmpeg is missing (the test command installs it)."""
    if shutil.which("ffmpeg") is None or shutil.which("ffprobe") is None:
        pytest.fail("ffmpeg/ffprobe not installed: run the README's test command")
