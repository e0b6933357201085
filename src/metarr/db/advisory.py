"""Locks shared by every Metarr process on one PostgreSQL database.

In-process locks keep the job threads of one process apart; `metarr worker` processes
on PostgreSQL also need to keep apart (one request at a time per player). A
session-level advisory lock, held on its own connection while the work runs, does it.
SQLite allows no worker processes besides `metarr serve`, so there it always succeeds.
"""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import text

from metarr.db.engine import Database

# first key of every Metarr advisory lock ("MT"); the second names the locked thing
NAMESPACE = 0x4D54
POLL = 0.05


class AdvisoryLock:
    """`pg_try_advisory_lock(NAMESPACE, key)` on a dedicated connection, polled until a
    timeout; released (and the connection returned) by `release`."""

    def __init__(self, db: Database, key: int) -> None:
        self.db = db
        self.key = key
        self._conn: Any = None

    def acquire(self, timeout: float = 0.0) -> bool:
        """Take the lock within `timeout` seconds; False when another process holds it."""
        if self.db.backend != "postgresql":
            return True
        if self._conn is not None:
            raise RuntimeError("advisory lock already held")
        conn = self.db.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        deadline = time.monotonic() + timeout
        try:
            while True:
                got = conn.execute(
                    text("SELECT pg_try_advisory_lock(:ns, :key)"),
                    {"ns": NAMESPACE, "key": self.key},
                ).scalar()
                if got:
                    self._conn = conn
                    return True
                if time.monotonic() >= deadline:
                    conn.close()
                    return False
                time.sleep(POLL)
        except BaseException:
            conn.close()
            raise

    def release(self) -> None:
        """Give the lock back (closing the connection would too, should this fail)."""
        conn, self._conn = self._conn, None
        if conn is None:
            return
        try:
            conn.execute(
                text("SELECT pg_advisory_unlock(:ns, :key)"), {"ns": NAMESPACE, "key": self.key}
            )
        finally:
            conn.close()
