"""The migrations produce exactly the models' schema, on SQLite and PostgreSQL."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, text

import metarr.bootstrap  # noqa: F401 - imports every table module into the metadata
from metarr.db import migrate
from metarr.db.engine import Database, create_db_engine
from metarr.db.tables import Base


def test_migrations_match_models(db_url: str) -> None:
    engine = create_db_engine(db_url)
    try:
        migrate.upgrade(engine)
        with engine.connect() as conn:
            ctx = MigrationContext.configure(conn, opts={"compare_type": True})
            diff = compare_metadata(ctx, Base.metadata)
        assert diff == [], f"schema drift between migrations and models: {diff}"
        tables = set(inspect(engine).get_table_names())
        assert set(Base.metadata.tables) <= tables
        assert migrate.current_revision(engine) is not None
    finally:
        engine.dispose()


def test_upgrade_is_idempotent(db_url: str) -> None:
    engine = create_db_engine(db_url)
    try:
        migrate.upgrade(engine)
        first = migrate.current_revision(engine)
        migrate.upgrade(engine)
        assert migrate.current_revision(engine) == first
    finally:
        engine.dispose()


def test_sqlite_runs_in_wal_mode_with_foreign_keys(tmp_path: object) -> None:
    db = Database(create_db_engine(f"sqlite:///{tmp_path}/wal.db"))
    try:
        with db.engine.connect() as conn:
            assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
            assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
    finally:
        db.dispose()


def test_candidates_are_found_by_url_through_an_index(db_url: str) -> None:
    """`cached_hashes_by_url` looks across every movie's candidates by URL."""
    engine = create_db_engine(db_url)
    try:
        migrate.upgrade(engine)
        indexes = {
            i["name"]: i["column_names"] for i in inspect(engine).get_indexes("asset_candidates")
        }
        assert indexes.get("ix_asset_candidates_url") == ["url"]
        if engine.dialect.name == "sqlite":
            with engine.connect() as conn:
                plan = " ".join(
                    str(row[-1])
                    for row in conn.execute(
                        text(
                            "EXPLAIN QUERY PLAN SELECT url, sha256 FROM asset_candidates "
                            "WHERE type IN ('poster') AND url IN ('a', 'b') AND sha256 IS NOT NULL"
                        )
                    )
                )
            assert "ix_asset_candidates_url" in plan, plan
    finally:
        engine.dispose()
