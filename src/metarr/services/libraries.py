"""Libraries: create, validate, update and delete (rows only, never media files)."""

from __future__ import annotations

import builtins
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from metarr.db.engine import Database
from metarr.db.tables import IgnorePatternRow, LibraryRow, MovieRow
from metarr.domain.errors import Conflict, InvalidInput, NotFound
from metarr.domain.ignore import DEFAULT_IGNORE_PATTERNS, validate_pattern

KINDS = ("movies",)


@dataclass(frozen=True, slots=True)
class Library:
    """A library as the API and UI show it."""

    id: int
    name: str
    kind: str
    path: str
    enabled: bool
    auto_enrich: bool
    auto_publish: bool
    auto_sync: bool  # players are told after publishing
    ignore_patterns: tuple[str, ...]
    movie_count: int
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class LibraryChanges:
    """Fields of a library a PATCH may change (None = unchanged)."""

    name: str | None = None
    path: str | None = None
    enabled: bool | None = None
    auto_enrich: bool | None = None
    auto_publish: bool | None = None
    auto_sync: bool | None = None
    ignore_patterns: list[str] | None = None


class LibraryService:
    """Library use cases over the database."""

    def __init__(self, db: Database, data_dir: Path) -> None:
        self.db = db
        self.data_dir = data_dir

    def list(self) -> list[Library]:
        """Every library, by name."""
        with self.db.session() as s:
            rows = s.scalars(select(LibraryRow).order_by(LibraryRow.name)).all()
            return [self._to_domain(s, r) for r in rows]

    def get(self, library_id: int) -> Library:
        """One library or NotFound."""
        with self.db.session() as s:
            row = s.get(LibraryRow, library_id)
            if row is None:
                raise NotFound(f"library {library_id} does not exist")
            return self._to_domain(s, row)

    def find(self, name_or_id: str) -> Library:
        """A library by id or by name (for the CLI)."""
        with self.db.session() as s:
            row = None
            if name_or_id.isdigit():
                row = s.get(LibraryRow, int(name_or_id))
            if row is None:
                row = s.scalars(select(LibraryRow).where(LibraryRow.name == name_or_id)).first()
            if row is None:
                raise NotFound(f"no library named or numbered {name_or_id!r}")
            return self._to_domain(s, row)

    def create(
        self,
        *,
        name: str,
        kind: str,
        path: str,
        enabled: bool = True,
        auto_enrich: bool = False,
        auto_publish: bool = False,
        auto_sync: bool = True,
        ignore_patterns: builtins.list[str] | None = None,
    ) -> Library:
        """Validate and store a new library."""
        name = _check_name(name)
        if kind not in KINDS:
            raise InvalidInput(
                f"kind must be one of {', '.join(KINDS)} (TV comes later)", field="kind"
            )
        patterns = [validate_pattern_field(p) for p in (ignore_patterns or [])]
        now = datetime.now(UTC)
        with self.db.session() as s:
            resolved = self._check_path(s, path, exclude_id=None)
            row = LibraryRow(
                name=name,
                kind=kind,
                path=resolved,
                enabled=enabled,
                auto_enrich=auto_enrich,
                auto_publish=auto_publish,
                auto_sync=auto_sync,
                created_at=now,
                updated_at=now,
            )
            s.add(row)
            try:
                s.flush()
            except IntegrityError as exc:
                raise Conflict(f"a library named {name!r} already exists") from exc
            for p in dict.fromkeys(patterns):
                s.add(IgnorePatternRow(library_id=row.id, pattern=p, created_at=now))
            s.flush()
            return self._to_domain(s, row)

    def update(self, library_id: int, changes: LibraryChanges) -> Library:
        """Apply a partial update after validating it."""
        now = datetime.now(UTC)
        with self.db.session() as s:
            row = s.get(LibraryRow, library_id)
            if row is None:
                raise NotFound(f"library {library_id} does not exist")
            if changes.name is not None:
                row.name = _check_name(changes.name)
            if changes.path is not None:
                row.path = self._check_path(s, changes.path, exclude_id=library_id)
            for attr in ("enabled", "auto_enrich", "auto_publish", "auto_sync"):
                value = getattr(changes, attr)
                if value is not None:
                    setattr(row, attr, value)
            if changes.ignore_patterns is not None:
                patterns = [validate_pattern_field(p) for p in changes.ignore_patterns]
                s.execute(delete(IgnorePatternRow).where(IgnorePatternRow.library_id == row.id))
                for p in dict.fromkeys(patterns):
                    s.add(IgnorePatternRow(library_id=row.id, pattern=p, created_at=now))
            row.updated_at = now
            try:
                s.flush()
            except IntegrityError as exc:
                raise Conflict(f"a library named {changes.name!r} already exists") from exc
            return self._to_domain(s, row)

    def delete(self, library_id: int) -> None:
        """Remove the library's rows (movies, files...), never its media files."""
        with self.db.session() as s:
            row = s.get(LibraryRow, library_id)
            if row is None:
                raise NotFound(f"library {library_id} does not exist")
            s.delete(row)

    def ignore_patterns(self, library_id: int) -> builtins.list[str]:
        """The system defaults plus global and library patterns."""
        with self.db.session() as s:
            rows = s.scalars(
                select(IgnorePatternRow.pattern).where(
                    (IgnorePatternRow.library_id == library_id)
                    | IgnorePatternRow.library_id.is_(None)
                )
            ).all()
        return list(dict.fromkeys([*DEFAULT_IGNORE_PATTERNS, *rows]))

    # -- helpers -------------------------------------------------------------

    def _check_path(self, s: Session, path: str, *, exclude_id: int | None) -> str:
        if "\x00" in path:
            raise InvalidInput("path must not contain NUL bytes", field="path")
        if not path or not os.path.isabs(path):
            raise InvalidInput("path must be an absolute path", field="path")
        if not os.path.exists(path):
            raise InvalidInput(f"path {path!r} does not exist", field="path")
        if not os.path.isdir(path):
            raise InvalidInput(f"path {path!r} is not a directory", field="path")
        if not os.access(path, os.R_OK | os.X_OK):
            raise InvalidInput(f"path {path!r} is not readable", field="path")
        resolved = os.path.realpath(path)
        data = os.path.realpath(self.data_dir)
        if _overlaps(resolved, data):
            raise InvalidInput(
                "path must not be inside or contain Metarr's data directory", field="path"
            )
        for other_id, other_name, other_path in s.execute(
            select(LibraryRow.id, LibraryRow.name, LibraryRow.path)
        ):
            if other_id == exclude_id:
                continue
            if _overlaps(resolved, other_path):
                raise InvalidInput(
                    f"path overlaps library {other_name!r} ({other_path}): a library must not "
                    "be inside or contain another library",
                    field="path",
                )
        return resolved

    def _to_domain(self, s: Session, row: LibraryRow) -> Library:
        patterns = s.scalars(
            select(IgnorePatternRow.pattern)
            .where(IgnorePatternRow.library_id == row.id)
            .order_by(IgnorePatternRow.id)
        ).all()
        count = s.scalar(
            select(func.count())
            .select_from(MovieRow)
            .where(MovieRow.library_id == row.id, MovieRow.deleted_at.is_(None))
        )
        return Library(
            id=row.id,
            name=row.name,
            kind=row.kind,
            path=row.path,
            enabled=row.enabled,
            auto_enrich=row.auto_enrich,
            auto_publish=row.auto_publish,
            auto_sync=row.auto_sync,
            ignore_patterns=tuple(patterns),
            movie_count=int(count or 0),
            created_at=row.created_at,
            updated_at=row.updated_at,
        )


def _check_name(name: str) -> str:
    name = name.strip()
    if not name:
        raise InvalidInput("name must not be empty", field="name")
    if len(name) > 200 or "\x00" in name:
        raise InvalidInput("name must be at most 200 characters, without NUL", field="name")
    return name


def validate_pattern_field(pattern: str) -> str:
    """Validate an ignore pattern, naming the field on error."""
    try:
        return validate_pattern(pattern)
    except ValueError as exc:
        raise InvalidInput(str(exc), field="ignore_patterns") from exc


def _overlaps(a: str, b: str) -> bool:
    """True when a and b are the same folder or one contains the other (whole components)."""
    a = a.rstrip("/") or "/"
    b = b.rstrip("/") or "/"
    if a == b:
        return True
    return a.startswith(b.rstrip("/") + "/") or b.startswith(a.rstrip("/") + "/")
