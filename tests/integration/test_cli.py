"""The `metarr` command: db upgrade, scan with progress, serve printing URL and key, bad config."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from metarr.testing.library_builder import LibraryBuilder
from tests.conftest import free_port

METARR = [sys.executable, "-m", "metarr.cli"]


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("METARR_")}
    env["METARR_DATA_DIR"] = str(tmp_path / "data")
    env.update(extra)
    return env


def test_db_upgrade_and_scan(tmp_path: Path, db_url: str) -> None:
    env = _env(tmp_path, METARR_DATABASE_URL=db_url, METARR_API_KEY="k")
    out = subprocess.run(
        [*METARR, "db", "upgrade"], env=env, capture_output=True, text=True, check=False
    )
    assert out.returncode == 0, out.stderr
    from alembic.script import ScriptDirectory

    from metarr.db.migrate import MIGRATIONS_DIR

    head = ScriptDirectory(str(MIGRATIONS_DIR)).get_current_head()
    assert f"database at revision {head} (was None)" in out.stdout

    root = tmp_path / "lib"
    LibraryBuilder(root).bulk(5, nfo_ratio=1.0)
    from metarr.bootstrap import build
    from metarr.settings import Settings

    container = build(Settings(data_dir=tmp_path / "data", database_url=db_url, api_key="k"))
    container.libraries.create(name="Films", kind="movies", path=str(root))
    container.close()

    out = subprocess.run(
        [*METARR, "scan", "Films"], env=env, capture_output=True, text=True, check=False
    )
    assert out.returncode == 0, out.stderr
    assert "5 movies (5 added" in out.stdout
    out = subprocess.run(
        [*METARR, "scan", "Nope"], env=env, capture_output=True, text=True, check=False
    )
    assert out.returncode != 0
    assert "no library named or numbered 'Nope'" in out.stderr


def test_bad_configuration_is_a_clear_error(tmp_path: Path) -> None:
    env = _env(tmp_path, METARR_PORT="not-a-port")
    out = subprocess.run(
        [*METARR, "db", "upgrade"], env=env, capture_output=True, text=True, check=False
    )
    assert out.returncode != 0
    assert "METARR_PORT" in out.stderr and "Traceback" not in out.stderr
    env = _env(tmp_path, METARR_DATABASE_URL="mysql://x")
    out = subprocess.run(
        [*METARR, "db", "upgrade"], env=env, capture_output=True, text=True, check=False
    )
    assert "METARR_DATABASE_URL" in out.stderr and "Traceback" not in out.stderr


def test_serve_prints_url_and_generated_key(tmp_path: Path) -> None:
    port = free_port()
    env = _env(tmp_path, METARR_PORT=str(port))
    proc = subprocess.Popen(
        [*METARR, "serve"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        deadline = time.monotonic() + 30
        lines: list[str] = []
        assert proc.stdout is not None
        while time.monotonic() < deadline and len(lines) < 2:
            lines.append(proc.stdout.readline())
        assert f"http://localhost:{port}/" in lines[0]
        key = (tmp_path / "data" / "api_key").read_text().strip()
        assert "Generated API key" in lines[1] and key in lines[1]
        assert (tmp_path / "data" / "metarr.db").exists()  # embedded SQLite default
        for _ in range(100):
            try:
                health = httpx.get(f"http://127.0.0.1:{port}/api/v1/health", timeout=2)
                break
            except httpx.TransportError:
                time.sleep(0.1)
        assert health.json()["status"] == "ok"
        libs = httpx.get(f"http://127.0.0.1:{port}/api/v1/libraries", headers={"X-Api-Key": key})
        assert libs.status_code == 200
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=20)
    assert (tmp_path / "data" / "logs" / "metarr.log").exists()
