"""The web UI's admin account on SQLite and PostgreSQL: argon2 hashes, checks, reset, preset."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from pydantic import ValidationError
from sqlalchemy import select

from metarr.bootstrap import build
from metarr.db import migrate
from metarr.db.engine import Database, create_db_engine
from metarr.db.tables_admin import AdminAccountRow
from metarr.domain.errors import Conflict, InvalidInput
from metarr.services.admin import AdminService
from metarr.settings import Settings

PASSWORD = "correct horse battery"


@pytest.fixture
def db(db_url: str) -> Iterator[Database]:
    database = Database(create_db_engine(db_url))
    migrate.upgrade(database.engine)
    try:
        yield database
    finally:
        database.dispose()


def stored_hash(db: Database) -> str:
    with db.session() as s:
        rows = s.scalars(select(AdminAccountRow)).all()
        assert len(rows) == 1
        return rows[0].password_hash


def test_create_stores_an_argon2_hash_and_verify_checks_it(
    db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    admin = AdminService(db)
    assert not admin.has_admin()
    caplog.set_level(logging.DEBUG)
    admin.create("  alice ", PASSWORD)
    assert admin.has_admin()
    password_hash = stored_hash(db)
    assert password_hash.startswith("$argon2id$")
    assert PASSWORD not in password_hash
    assert admin.verify("alice", PASSWORD)
    assert admin.verify(" alice ", PASSWORD)  # the name is stored without its spaces
    assert not admin.verify("alice", PASSWORD + "!")
    assert not admin.verify("alice", "")
    assert not admin.verify("Alice", PASSWORD)
    assert not admin.verify("bob", PASSWORD)
    assert not admin.verify("alice", "x" * 5000)
    assert password_hash not in caplog.text and PASSWORD not in caplog.text
    assert "$argon2" not in caplog.text


def test_create_twice_is_a_conflict(db: Database) -> None:
    admin = AdminService(db)
    admin.create("alice", PASSWORD)
    with pytest.raises(Conflict, match="exists already"):
        admin.create("bob", "another password")
    assert admin.verify("alice", PASSWORD)
    assert not admin.verify("bob", "another password")


@pytest.mark.parametrize(
    ("username", "password", "field", "message"),
    [
        ("alice", "short", "password", "at least 8 characters"),
        ("alice", "", "password", "at least 8 characters"),
        ("alice", "x" * 1025, "password", "at most 1024"),
        ("   ", PASSWORD, "username", "Enter a username"),
        ("a" * 101, PASSWORD, "username", "at most 100"),
        ("ali\nce", PASSWORD, "username", "control characters"),
    ],
)
def test_bad_input_is_refused_with_the_field(
    db: Database, username: str, password: str, field: str, message: str
) -> None:
    admin = AdminService(db)
    with pytest.raises(InvalidInput, match=message) as caught:
        admin.create(username, password)
    assert caught.value.field == field
    with pytest.raises(InvalidInput, match=message):
        admin.set_password(username, password)
    assert not admin.has_admin()


def test_set_password_creates_then_replaces(db: Database) -> None:
    admin = AdminService(db)
    assert admin.set_password("alice", PASSWORD) is True
    first = stored_hash(db)
    assert admin.set_password("root", "a new passphrase") is False
    assert stored_hash(db) != first
    assert not admin.verify("alice", PASSWORD)
    assert not admin.verify("root", PASSWORD)
    assert admin.verify("root", "a new passphrase")


def test_a_hash_with_old_parameters_is_replaced_on_login(db: Database) -> None:
    weak = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1)
    AdminService(db, hasher=weak).create("alice", PASSWORD)
    old = stored_hash(db)
    assert "m=8192,t=1,p=1" in old
    admin = AdminService(db)  # the current defaults
    assert not admin.verify("alice", "wrong password")
    assert stored_hash(db) == old  # a failed login changes nothing
    assert admin.verify("alice", PASSWORD)
    new = stored_hash(db)
    assert new != old and not PasswordHasher().check_needs_rehash(new)
    assert admin.verify("alice", PASSWORD)
    assert stored_hash(db) == new


def test_a_broken_stored_hash_refuses_the_login(db: Database) -> None:
    admin = AdminService(db)
    admin.create("alice", PASSWORD)
    with db.session() as s:
        row = s.scalars(select(AdminAccountRow)).one()
        row.password_hash = "not-a-hash"
    assert not admin.verify("alice", PASSWORD)


def test_preset_creates_the_admin_once_and_never_overwrites(tmp_path: Path, db_url: str) -> None:
    def settings(password: str) -> Settings:
        return Settings(
            data_dir=tmp_path / "data",
            database_url=db_url,
            api_key="k",
            admin_username="admin",
            admin_password=password,
        )

    container = build(settings("first password"))
    try:
        assert container.admin.verify("admin", "first password")
    finally:
        container.close()
    container = build(settings("second password"))
    try:
        assert container.admin.verify("admin", "first password")
        assert not container.admin.verify("admin", "second password")
    finally:
        container.close()


def test_preset_needs_both_username_and_password(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="go together"):
        Settings(data_dir=tmp_path, admin_username="admin")
    with pytest.raises(ValidationError, match="go together"):
        Settings(data_dir=tmp_path, admin_password="a password")
