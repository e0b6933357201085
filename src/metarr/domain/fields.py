"""Metadata fields <-> JSON values, and the one rule that applies updates under locks."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from metarr.domain.media import METADATA_FIELDS, Actor, MovieInfo, MovieSet, Rating

JsonValue = Any


def info_to_fields(info: MovieInfo) -> dict[str, JsonValue]:
    """The non-empty fields of `info` as JSON-ready values."""
    out: dict[str, JsonValue] = {}
    for name in METADATA_FIELDS:
        value = getattr(info, name)
        if value is None or value == "" or value == []:
            continue
        if name == "cast":
            value = [
                {"name": a.name, "role": a.role, "order": a.order, "thumb": a.thumb}
                | ({"thumb_sha256": a.thumb_sha256} if a.thumb_sha256 else {})
                for a in value
            ]
        elif name == "ratings":
            value = [
                {
                    "source": r.source,
                    "value": r.value,
                    "votes": r.votes,
                    "max": r.max,
                    "default": r.default,
                }
                for r in value
            ]
        elif name == "set":
            value = {"name": value.name, "overview": value.overview, "tmdb": value.tmdb}
        elif isinstance(value, list):
            value = list(value)
        out[name] = value
    return out


def fields_to_info(fields: dict[str, JsonValue]) -> MovieInfo:
    """Rebuild a MovieInfo from stored field values (unknown fields ignored)."""
    info = MovieInfo()
    for name, value in fields.items():
        if name not in METADATA_FIELDS or value is None:
            continue
        if name == "cast":
            value = [Actor(**a) for a in value]
        elif name == "ratings":
            value = [Rating(**r) for r in value]
        elif name == "set":
            value = MovieSet(**value)
        setattr(info, name, value)
    return info


@dataclass(frozen=True, slots=True)
class FieldChange:
    """A field that automation may write: new value, and the old one for history."""

    field: str
    old: JsonValue
    new: JsonValue


def automated_changes(
    current: dict[str, JsonValue],
    incoming: dict[str, JsonValue],
    locked: frozenset[str] | set[str],
) -> list[FieldChange]:
    """Changes an automated source may make: never a locked field, never erase a value.

    This is the single place where locks are enforced for automation. It fails
    closed: a field is written only when it is known, unlocked and non-empty.
    """
    changes: list[FieldChange] = []
    for name, value in incoming.items():
        if name not in METADATA_FIELDS or name in locked:
            continue
        if value is None or value == "" or value == [] or value == {}:
            continue
        old = current.get(name)
        if old != value:
            changes.append(FieldChange(name, old, value))
    return changes
