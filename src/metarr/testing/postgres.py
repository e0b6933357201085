"""A throwaway PostgreSQL cluster for tests and benchmarks (initdb on a temp dir)."""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

PG_BIN = Path(os.environ.get("METARR_PG_BIN", "/usr/lib/postgresql/15/bin"))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class PostgresCluster:
    """Start, stop and restart a private PostgreSQL server on 127.0.0.1."""

    def __init__(self, base_dir: Path | None = None) -> None:
        if not (PG_BIN / "initdb").exists():
            raise RuntimeError(
                f"PostgreSQL server binaries not found in {PG_BIN} (apt-get install -y postgresql)"
            )
        self.dir = Path(base_dir or tempfile.mkdtemp(prefix="metarr-pg-"))
        self.data = self.dir / "data"
        self.port = _free_port()
        self.user = "metarr"
        # initdb refuses to run as root: run the server as the `postgres` system user
        self._run_as = "postgres" if os.geteuid() == 0 else None

    def _cmd(self, *args: str) -> list[str]:
        if self._run_as:
            return ["runuser", "-u", self._run_as, "--", *args]
        return list(args)

    def init(self) -> None:
        """Create the cluster (trust auth on loopback only)."""
        self.dir.mkdir(parents=True, exist_ok=True)
        if self._run_as:
            pw = pwd.getpwnam(self._run_as)
            os.chown(self.dir, pw.pw_uid, pw.pw_gid)
        subprocess.run(
            self._cmd(
                str(PG_BIN / "initdb"),
                "-D",
                str(self.data),
                "-U",
                self.user,
                "--auth=trust",
                "-E",
                "UTF8",
                "--locale=C.UTF-8",
                "--no-sync",
            ),
            check=True,
            capture_output=True,
        )
        with open(self.data / "postgresql.conf", "a", encoding="utf-8") as conf:
            conf.write(
                f"\nport = {self.port}\nlisten_addresses = '127.0.0.1'\n"
                f"unix_socket_directories = '{self.dir}'\nfsync = off\n"
                "synchronous_commit = off\nfull_page_writes = off\nmax_connections = 200\n"
                "shared_buffers = 64MB\n"
            )

    def start(self) -> None:
        """Start the server and wait until it accepts connections."""
        subprocess.run(
            self._cmd(
                str(PG_BIN / "pg_ctl"),
                "-D",
                str(self.data),
                "-l",
                str(self.dir / "server.log"),
                "-w",
                "-t",
                "60",
                "start",
            ),
            check=True,
            capture_output=True,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", self.port)) == 0:
                    return
            time.sleep(0.05)
        raise RuntimeError("PostgreSQL did not start")

    def stop(self, mode: str = "fast") -> None:
        """Stop the server (`fast` or `immediate`)."""
        subprocess.run(
            self._cmd(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop"),
            check=False,
            capture_output=True,
        )

    def url(self, database: str = "postgres") -> str:
        """SQLAlchemy URL of a database on this server."""
        return f"postgresql+psycopg://{self.user}@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        """Create an empty database and return its URL."""
        import psycopg

        with psycopg.connect(
            f"host=127.0.0.1 port={self.port} user={self.user} dbname=postgres", autocommit=True
        ) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')  # name is ours, never user input
        return self.url(name)

    def destroy(self, *, wait: bool = True) -> None:
        """Stop the server and delete its files (`wait=False`: in a detached `rm`, for a
        test session's cluster of hundreds of databases that would take half a minute)."""
        self.stop("immediate")
        if wait:
            shutil.rmtree(self.dir, ignore_errors=True)
            return
        subprocess.Popen(
            ["rm", "-rf", "--", str(self.dir)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
