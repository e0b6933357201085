"""Engine and sessions: SQLite (WAL, foreign keys) or PostgreSQL, with error translation."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from metarr.domain.errors import ServiceUnavailable

log = logging.getLogger(__name__)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


def create_db_engine(url: str) -> Engine:
    """Build an engine for `url`; SQLite gets WAL + foreign keys, all get pre-ping."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url,
            pool_pre_ping=True,
            connect_args={"check_same_thread": False, "timeout": 10},
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(
        url,
        pool_pre_ping=True,
        pool_size=10,
        max_overflow=10,
        pool_recycle=1800,
        connect_args={"connect_timeout": 5},
    )


def is_disconnect(exc: BaseException) -> bool:
    """True when a database error means the server is unreachable, not a bad query."""
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    return isinstance(exc, OperationalError)


class Database:
    """Owns the engine and hands out sessions; translates outages to ServiceUnavailable."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._factory = sessionmaker(engine, expire_on_commit=False)

    @property
    def backend(self) -> str:
        """`sqlite` or `postgresql`."""
        return self.engine.dialect.name

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A transaction: commit on success, roll back on error."""
        session = self._factory()
        try:
            yield session
            session.commit()
        except DBAPIError as exc:
            session.rollback()
            if is_disconnect(exc):
                raise ServiceUnavailable("the database is unavailable") from exc
            raise
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    def ping(self) -> float:
        """Round-trip a trivial query; return its latency in ms or raise ServiceUnavailable."""
        start = time.perf_counter()
        try:
            with self.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
        except DBAPIError as exc:
            raise ServiceUnavailable(f"database unreachable: {exc.orig!s}"[:300]) from exc
        return (time.perf_counter() - start) * 1000

    def wait_until_ready(self, *, attempts: int = 8, first_delay: float = 0.25) -> None:
        """Retry `ping` with exponential backoff (start-up against a database still booting)."""
        delay = first_delay
        for attempt in range(1, attempts + 1):
            try:
                self.ping()
                return
            except ServiceUnavailable:
                if attempt == attempts:
                    raise
                log.warning("database not ready, retrying in %.2fs", delay)
                time.sleep(delay)
                delay = min(delay * 2, 5.0)

    def dispose(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()
