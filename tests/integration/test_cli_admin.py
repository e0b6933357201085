"""`metarr admin set-password`: create or reset the web UI's admin from the shell."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from metarr.cli import main
from metarr.db import migrate
from metarr.db.engine import Database, create_db_engine
from metarr.services.admin import AdminService
from tests.conftest import free_port

METARR = [sys.executable, "-m", "metarr.cli"]


@pytest.fixture
def env(tmp_path: Path, db_url: str) -> dict[str, str | None]:
    variables: dict[str, str | None] = {k: None for k in os.environ if k.startswith("METARR_")}
    variables.update(METARR_DATA_DIR=str(tmp_path / "data"), METARR_DATABASE_URL=db_url)
    return variables


@pytest.fixture
def admin(db_url: str) -> Iterator[AdminService]:
    database = Database(create_db_engine(db_url))
    migrate.upgrade(database.engine)
    try:
        yield AdminService(database)
    finally:
        database.dispose()


def run(env: dict[str, str | None], *args: str, stdin: str = "") -> tuple[int, str]:
    result = CliRunner(env=env).invoke(main, ["admin", "set-password", *args], input=stdin)
    return result.exit_code, result.output


def test_creates_the_admin_then_resets_its_password(
    env: dict[str, str | None], admin: AdminService
) -> None:
    code, out = run(env, "--username", "alice", "--password-stdin", stdin="first password\n")
    assert code == 0, out
    assert "admin 'alice' created" in out and "first password" not in out
    assert admin.verify("alice", "first password")

    # the prompt asks twice (hidden) and again when the two differ
    typed = "mistyped one\nmistyped two\nsecond password\nsecond password\n"
    code, out = run(env, "--username", "alice", stdin=typed)
    assert code == 0, out
    assert "do not match" in out
    assert "password of admin 'alice' changed" in out
    assert "second password" not in out
    assert admin.verify("alice", "second password")
    assert not admin.verify("alice", "first password")


@pytest.mark.parametrize(
    ("args", "stdin", "message"),
    [
        (["--username", "alice", "--password-stdin"], "short\n", "at least 8 characters"),
        (["--username", "alice", "--password-stdin"], "", "at least 8 characters"),
        (["--username", "  ", "--password-stdin"], "long enough\n", "Enter a username"),
    ],
)
def test_bad_input_exits_with_2_and_changes_nothing(
    env: dict[str, str | None],
    admin: AdminService,
    args: list[str],
    stdin: str,
    message: str,
) -> None:
    code, out = run(env, *args, stdin=stdin)
    assert code == 2
    assert message in out
    assert not admin.has_admin()


def test_username_is_required(env: dict[str, str | None]) -> None:
    code, out = run(env, "--password-stdin", stdin="long enough\n")
    assert code == 2
    assert "--username" in out


def test_the_installed_command_reads_the_password_from_stdin(
    tmp_path: Path, db_url: str, admin: AdminService
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("METARR_")}
    env.update(METARR_DATA_DIR=str(tmp_path / "data"), METARR_DATABASE_URL=db_url)
    out = subprocess.run(
        [*METARR, "admin", "set-password", "--username", "root", "--password-stdin"],
        input="a passphrase with spaces \n",
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    assert admin.verify("root", "a passphrase with spaces ")  # only the newline is dropped


def test_serve_points_a_fresh_install_to_the_setup_page(tmp_path: Path) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("METARR_")}
    env.update(METARR_DATA_DIR=str(tmp_path / "data"), METARR_PORT=str(port), METARR_WORKERS="0")
    proc = subprocess.Popen(
        [*METARR, "serve"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None
        lines = [proc.stdout.readline() for _ in range(3)]
        assert f"open http://localhost:{port}/setup" in lines[2], lines
        for _ in range(100):
            try:
                page = httpx.get(f"http://127.0.0.1:{port}/login", timeout=2)
                break
            except httpx.TransportError:
                time.sleep(0.1)
        assert page.status_code == 303
        assert page.headers["location"] == "/setup"
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=20)
