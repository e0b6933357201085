"""The web UI's single admin account: create it once, check its password, reset it."""

from __future__ import annotations

import hashlib
import hmac
import logging
import unicodedata
from datetime import UTC, datetime

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from metarr.db.engine import Database
from metarr.db.tables_admin import ADMIN_ROW_ID, AdminAccountRow
from metarr.domain.errors import Conflict, InvalidInput

log = logging.getLogger(__name__)

MIN_PASSWORD = 8
MAX_PASSWORD = 1024  # long enough for any passphrase; bounds the work of one login
MAX_USERNAME = 100


def check_username(username: str) -> str:
    """The username without surrounding spaces, or InvalidInput."""
    name = username.strip()
    if not name:
        raise InvalidInput("Enter a username.", field="username")
    if len(name) > MAX_USERNAME:
        raise InvalidInput(
            f"The username can have at most {MAX_USERNAME} characters.", field="username"
        )
    if any(unicodedata.category(ch).startswith("C") for ch in name):
        raise InvalidInput("The username cannot contain control characters.", field="username")
    return name


def check_password(password: str) -> str:
    """The password as given (spaces count), or InvalidInput."""
    if len(password) < MIN_PASSWORD:
        raise InvalidInput(
            f"The password needs at least {MIN_PASSWORD} characters.", field="password"
        )
    if len(password) > MAX_PASSWORD:
        raise InvalidInput(
            f"The password can have at most {MAX_PASSWORD} characters.", field="password"
        )
    return password


class AdminService:
    """One admin account; passwords are stored as argon2 hashes that never leave this class."""

    def __init__(self, db: Database, hasher: PasswordHasher | None = None) -> None:
        self.db = db
        self._hasher = hasher or PasswordHasher()
        self._dummy_hash: str | None = None

    def has_admin(self) -> bool:
        """True once the admin account exists."""
        with self.db.session() as s:
            return s.get(AdminAccountRow, ADMIN_ROW_ID) is not None

    def create(self, username: str, password: str) -> None:
        """Create the admin account; Conflict when it exists already."""
        name, password_hash = self._checked(username, password)
        now = datetime.now(UTC)
        try:
            with self.db.session() as s:
                if s.get(AdminAccountRow, ADMIN_ROW_ID) is not None:
                    raise Conflict("The admin account exists already.")
                s.add(
                    AdminAccountRow(
                        id=ADMIN_ROW_ID,
                        username=name,
                        password_hash=password_hash,
                        created_at=now,
                        updated_at=now,
                    )
                )
                s.flush()
        except IntegrityError as exc:  # another process created it at the same moment
            raise Conflict("The admin account exists already.") from exc
        log.info("admin account %r created", name)

    def set_password(self, username: str, password: str) -> bool:
        """Give the admin this username and password, creating the account if missing.

        Returns True when the account was created. Meant for the operator (CLI), who
        proves ownership by having shell access.
        """
        name, password_hash = self._checked(username, password)
        now = datetime.now(UTC)
        with self.db.session() as s:
            row = s.get(AdminAccountRow, ADMIN_ROW_ID)
            created = row is None
            if row is None:
                row = AdminAccountRow(id=ADMIN_ROW_ID, created_at=now)
                s.add(row)
            row.username = name
            row.password_hash = password_hash
            row.updated_at = now
        log.info("admin account %r %s", name, "created" if created else "given a new password")
        return created

    def session_stamp(self) -> str | None:
        """A short fingerprint of the stored hash (None: no admin); a new password changes it.

        Logged-in sessions carry it, so setting a password ends every other session. It
        reveals nothing useful: the hash's salt stays secret.
        """
        with self.db.session() as s:
            stored = s.scalar(
                select(AdminAccountRow.password_hash).where(AdminAccountRow.id == ADMIN_ROW_ID)
            )
        if stored is None:
            return None
        return hashlib.sha256(stored.encode()).hexdigest()[:24]

    def create_from_preset(self, username: str, password: str) -> bool:
        """Create the admin from deployment settings unless one exists (never overwrites)."""
        if self.has_admin():
            return False
        try:
            self.create(username, password)
        except Conflict:
            return False
        return True

    def verify(self, username: str, password: str) -> bool:
        """True when these are the admin's username and password.

        An unknown username still costs one hash check, so the answer time does not tell
        whether the name exists. A hash made with older parameters is replaced on success.
        """
        if len(password) > MAX_PASSWORD:
            return False
        with self.db.session() as s:
            row = s.get(AdminAccountRow, ADMIN_ROW_ID)
            stored = None
            if row is not None and hmac.compare_digest(
                row.username.encode(), username.strip().encode()
            ):
                stored = row.password_hash
        if stored is None:
            self._matches(self._dummy(), password)
            return False
        if not self._matches(stored, password):
            return False
        if self._hasher.check_needs_rehash(stored):
            self._rehash(stored, password)
        return True

    def _checked(self, username: str, password: str) -> tuple[str, str]:
        return check_username(username), self._hasher.hash(check_password(password))

    def _matches(self, password_hash: str, password: str) -> bool:
        try:
            return self._hasher.verify(password_hash, password)
        except VerificationError:
            return False
        except InvalidHashError:
            log.error("the stored admin password hash is not a valid argon2 hash")
            return False

    def _dummy(self) -> str:
        if self._dummy_hash is None:
            self._dummy_hash = self._hasher.hash("metarr: no such user")
        return self._dummy_hash

    def _rehash(self, old_hash: str, password: str) -> None:
        """Store a hash with the current parameters (unless the password changed meanwhile)."""
        with self.db.session() as s:
            s.execute(
                update(AdminAccountRow)
                .where(
                    AdminAccountRow.id == ADMIN_ROW_ID,
                    AdminAccountRow.password_hash == old_hash,
                )
                .values(password_hash=self._hasher.hash(password), updated_at=datetime.now(UTC))
            )
        log.info("admin password hash upgraded to the current argon2 parameters")
