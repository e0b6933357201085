"""Editing a movie: a person's changes lock the field; locks, resets, history and undo."""

from __future__ import annotations

import builtins
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError
from sqlalchemy import delete, insert, select, update
from sqlalchemy.orm import Session

from metarr.db.engine import Database
from metarr.db.tables import HistoryRow, LockRow, MetadataFieldRow, MovieRow
from metarr.domain.errors import InvalidInput, NotFound
from metarr.domain.media import METADATA_FIELDS, ArtworkType
from metarr.domain.titles import display_title

# What else a person can lock besides metadata fields.
EXTRA_LOCK_TARGETS = ("cast_order", *(f"asset:{t.value}" for t in ArtworkType))
LOCK_TARGETS = (*METADATA_FIELDS, *EXTRA_LOCK_TARGETS)


class _Actor(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=300)
    role: str | None = Field(default=None, max_length=300)
    order: int | None = Field(default=None, ge=0)
    thumb: str | None = Field(default=None, max_length=2000)
    thumb_sha256: str | None = Field(default=None, pattern=r"^[0-9a-f]{64}$")


class _Rating(BaseModel):
    model_config = ConfigDict(extra="forbid")
    source: str = Field(min_length=1, max_length=40)
    value: float = Field(ge=0)
    votes: int | None = Field(default=None, ge=0)
    max: float = Field(default=10.0, gt=0)
    default: bool = False


class _Set(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=500)
    overview: str | None = None
    tmdb: int | None = Field(default=None, ge=1)


_Text = TypeAdapter(str)
_List = TypeAdapter(builtins.list[str])
_ADAPTERS: dict[str, TypeAdapter[Any]] = {
    "year": TypeAdapter(int),
    "runtime": TypeAdapter(int),
    "top250": TypeAdapter(int),
    "userrating": TypeAdapter(float),
    "cast": TypeAdapter(builtins.list[_Actor]),
    "ratings": TypeAdapter(builtins.list[_Rating]),
    "set": TypeAdapter(_Set),
}
_LISTS = ("genres", "studios", "countries", "tags", "directors", "writers")


def validate_field(name: str, value: Any) -> Any:
    """The JSON value stored for `name`, or InvalidInput naming the field."""
    if name not in METADATA_FIELDS:
        raise InvalidInput(f"unknown field {name!r}", field=name)
    if value is None:
        return None
    try:
        if name in _ADAPTERS:
            parsed = _ADAPTERS[name].validate_python(value, strict=name in ("year", "runtime"))
        elif name in _LISTS:
            parsed = [v.strip() for v in _List.validate_python(value, strict=True) if v.strip()]
        else:
            parsed = _Text.validate_python(value, strict=True).strip() or None  # "" clears
    except ValidationError as exc:
        raise InvalidInput(exc.errors()[0]["msg"], field=name) from exc
    if name == "year" and not 1870 <= parsed <= 2200:
        raise InvalidInput("year must be between 1870 and 2200", field=name)
    if name == "premiered" and parsed:
        try:
            datetime.strptime(parsed, "%Y-%m-%d")
        except ValueError as exc:
            raise InvalidInput("premiered must be a date (YYYY-MM-DD)", field=name) from exc
    if isinstance(parsed, BaseModel):
        return parsed.model_dump()
    if isinstance(parsed, builtins.list) and parsed and isinstance(parsed[0], BaseModel):
        return [p.model_dump() for p in parsed]
    return parsed


@dataclass(frozen=True, slots=True)
class Change:
    """One entry of a movie's history."""

    id: int
    at: datetime
    source: str
    kind: str
    target: str
    old: Any
    new: Any


class EditService:
    """A person's edits. Every change is recorded; an edited field is locked at once."""

    def __init__(self, db: Database, *, on_changed: Callable[[int], None] | None = None) -> None:
        self.db = db
        self._on_changed = on_changed

    def _changed(self, movie_id: int) -> None:
        if self._on_changed is not None:
            self._on_changed(movie_id)

    def patch(self, movie_id: int, changes: dict[str, Any]) -> None:
        """Apply `changes` (field -> value; null clears) and lock every changed field."""
        if not changes:
            raise InvalidInput("nothing to change", field="body")
        values = {name: validate_field(name, value) for name, value in changes.items()}
        now = datetime.now(UTC)
        with self.db.session() as s:
            self._movie(s, movie_id)
            current = self._fields(s, movie_id)
            locks = self._locks(s, movie_id)
            for name, value in values.items():
                old = current.get(name)
                if old != value:
                    self._set(s, movie_id, name, value, "user", now)
                    self._record(s, movie_id, now, "user", "field", name, old, value)
                if name not in locks:
                    s.add(LockRow(movie_id=movie_id, target=name, created_at=now))
                    self._record(s, movie_id, now, "user", "lock", name, False, True)
            self._refresh_title(s, movie_id)
        self._changed(movie_id)

    def lock(self, movie_id: int, targets: builtins.list[str]) -> None:
        """Lock fields, asset types (`asset:poster`) or `cast_order`; `all` locks every field."""
        self._set_locks(movie_id, targets, locked=True)

    def unlock(self, movie_id: int, targets: builtins.list[str]) -> None:
        """Let automation change these again; `all` unlocks everything."""
        self._set_locks(movie_id, targets, locked=False)

    def reset(self, movie_id: int, name: str) -> None:
        """Unlock a field and restore the last value automation gave it (or clear it)."""
        if name not in METADATA_FIELDS:
            raise InvalidInput(f"unknown field {name!r}", field="field")
        now = datetime.now(UTC)
        with self.db.session() as s:
            self._movie(s, movie_id)
            last_auto = s.execute(
                select(HistoryRow.new, HistoryRow.source)
                .where(
                    HistoryRow.movie_id == movie_id,
                    HistoryRow.kind == "field",
                    HistoryRow.target == name,
                    HistoryRow.source != "user",
                )
                .order_by(HistoryRow.id.desc())
                .limit(1)
            ).first()
            old = self._fields(s, movie_id).get(name)
            value, source = (last_auto[0], last_auto[1]) if last_auto else (None, "user")
            if old != value:
                self._set(s, movie_id, name, value, source, now)
                self._record(s, movie_id, now, "user", "field", name, old, value)
            if name in self._locks(s, movie_id):
                s.execute(
                    delete(LockRow).where(LockRow.movie_id == movie_id, LockRow.target == name)
                )
                self._record(s, movie_id, now, "user", "unlock", name, True, False)
            self._refresh_title(s, movie_id)
        self._changed(movie_id)

    def history(self, movie_id: int, *, limit: int = 200, offset: int = 0) -> builtins.list[Change]:
        """The movie's changes, newest first."""
        with self.db.session() as s:
            self._movie(s, movie_id)
            rows = s.scalars(
                select(HistoryRow)
                .where(HistoryRow.movie_id == movie_id)
                .order_by(HistoryRow.id.desc())
                .limit(limit)
                .offset(offset)
            ).all()
            return [Change(r.id, r.at, r.source, r.kind, r.target, r.old, r.new) for r in rows]

    def revert(self, movie_id: int, change_id: int) -> None:
        """Undo one field change: its old value comes back, as a person's (locked) edit."""
        with self.db.session() as s:
            row = s.get(HistoryRow, change_id)
            if row is None or row.movie_id != movie_id:
                raise NotFound(f"change {change_id} of movie {movie_id} does not exist")
            if row.kind != "field":
                raise InvalidInput("only field changes can be reverted", field="change_id")
            target, old = row.target, row.old
        self.patch(movie_id, {target: old})

    def rollback(self, movie_id: int, to: datetime) -> int:
        """Restore every field to its value at `to` (as locked edits); returns fields changed."""
        with self.db.session() as s:
            self._movie(s, movie_id)
            rows = s.execute(
                select(HistoryRow.target, HistoryRow.old)
                .where(
                    HistoryRow.movie_id == movie_id,
                    HistoryRow.kind == "field",
                    HistoryRow.at > to,
                )
                .order_by(HistoryRow.id.asc())
            ).all()
        earliest: dict[str, Any] = {}
        for target, old in rows:  # the first change after `to` holds the value at `to`
            earliest.setdefault(target, old)
        if earliest:
            self.patch(movie_id, earliest)
        return len(earliest)

    # -- helpers ---------------------------------------------------------------

    def _set_locks(self, movie_id: int, targets: builtins.list[str], *, locked: bool) -> None:
        wanted = builtins.list(LOCK_TARGETS) if targets == ["all"] else targets
        for t in wanted:
            if t not in LOCK_TARGETS:
                raise InvalidInput(f"cannot lock {t!r}", field="targets")
        now = datetime.now(UTC)
        with self.db.session() as s:
            self._movie(s, movie_id)
            current = self._locks(s, movie_id)
            for t in dict.fromkeys(wanted):
                if locked and t not in current:
                    s.add(LockRow(movie_id=movie_id, target=t, created_at=now))
                    self._record(s, movie_id, now, "user", "lock", t, False, True)
                elif not locked and t in current:
                    s.execute(
                        delete(LockRow).where(LockRow.movie_id == movie_id, LockRow.target == t)
                    )
                    self._record(s, movie_id, now, "user", "unlock", t, True, False)
        self._changed(movie_id)

    @staticmethod
    def _movie(s: Session, movie_id: int) -> MovieRow:
        row = s.get(MovieRow, movie_id)
        if row is None:
            raise NotFound(f"movie {movie_id} does not exist")
        return row

    @staticmethod
    def _fields(s: Session, movie_id: int) -> dict[str, Any]:
        return {
            f: v
            for f, v in s.execute(
                select(MetadataFieldRow.field, MetadataFieldRow.value).where(
                    MetadataFieldRow.movie_id == movie_id
                )
            )
        }

    @staticmethod
    def _locks(s: Session, movie_id: int) -> set[str]:
        return set(s.scalars(select(LockRow.target).where(LockRow.movie_id == movie_id)))

    @staticmethod
    def _set(s: Session, movie_id: int, name: str, value: Any, source: str, now: datetime) -> None:
        exists = s.scalar(
            select(MetadataFieldRow.id).where(
                MetadataFieldRow.movie_id == movie_id, MetadataFieldRow.field == name
            )
        )
        if value is None:
            if exists is not None:
                s.execute(delete(MetadataFieldRow).where(MetadataFieldRow.id == exists))
        elif exists is None:
            s.execute(
                insert(MetadataFieldRow).values(
                    movie_id=movie_id, field=name, value=value, source=source, updated_at=now
                )
            )
        else:
            s.execute(
                update(MetadataFieldRow)
                .where(MetadataFieldRow.id == exists)
                .values(value=value, source=source, updated_at=now)
            )

    @staticmethod
    def _record(
        s: Session,
        movie_id: int,
        at: datetime,
        source: str,
        kind: str,
        target: str,
        old: Any,
        new: Any,
    ) -> None:
        s.add(
            HistoryRow(
                movie_id=movie_id, at=at, source=source, kind=kind, target=target, old=old, new=new
            )
        )

    @staticmethod
    def _refresh_title(s: Session, movie_id: int) -> None:
        """Keep the list columns (title, year, sort key) in step with the metadata."""
        s.flush()
        row = s.get(MovieRow, movie_id)
        assert row is not None
        shown = display_title(EditService._fields(s, movie_id), row.parsed_title, row.parsed_year)
        row.title, row.year, row.sort_key = shown.title, shown.year, shown.sort_key
        row.updated_at = datetime.now(UTC)
