"""Which source's value wins a metadata field, and how many images of each type are kept.

Field priorities map a field to an ordered list of sources (provider names, or
`nfo` for what the scanner read from the movie's NFO), best first. An automated
source may replace a field's current value only when it ranks at least as high as
the source that wrote it; sources not in the list rank after every listed one.
A field without an entry keeps the built-in rule: a provider's value replaces any
unlocked value. Locks are enforced separately (`domain.fields.automated_changes`)
and always win. `ratings` are merged per source, so they have no priority.

Asset limits say how many images of each artwork type enrichment selects.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from metarr.domain.assets import DEFAULT_LIMITS
from metarr.domain.errors import InvalidInput
from metarr.domain.media import METADATA_FIELDS

NFO = "nfo"
# Fields whose winner is chosen by priority (ratings are kept per source instead).
PRIORITY_FIELDS: tuple[str, ...] = tuple(f for f in METADATA_FIELDS if f != "ratings")
MAX_ASSET_LIMIT = 20


def rank(order: Sequence[str], source: str | None) -> int:
    """Position of `source` in `order` (unlisted sources come after all listed ones)."""
    if source is not None and source in order:
        return order.index(source)
    return len(order)


def may_replace(order: Sequence[str] | None, current: str | None, incoming: str) -> bool:
    """True when `incoming` may overwrite a value written by `current` under `order`."""
    if not order or current is None or current == incoming:
        return True
    return rank(order, incoming) <= rank(order, current)


def default_order(providers: Iterable[str]) -> tuple[str, ...]:
    """The built-in order: metadata providers (registry order) first, then the NFO."""
    return (*providers, NFO)


def check_priorities(raw: Any, sources: Sequence[str]) -> dict[str, tuple[str, ...]]:
    """Validated `{field: [source, ...]}`; InvalidInput names the offending field."""
    if not isinstance(raw, Mapping):
        raise InvalidInput("priorities must be an object of field -> source list")
    out: dict[str, tuple[str, ...]] = {}
    for name, order in raw.items():
        if name not in PRIORITY_FIELDS:
            raise InvalidInput(f"{name!r} is not a field with a priority", field=str(name))
        if not isinstance(order, list | tuple) or not order:
            raise InvalidInput(f"{name}: give a non-empty list of sources", field=name)
        seen: list[str] = []
        for source in order:
            if not isinstance(source, str) or source not in sources:
                known = ", ".join(sources)
                raise InvalidInput(
                    f"{name}: unknown source {source!r} (known: {known})", field=name
                )
            if source in seen:
                raise InvalidInput(f"{name}: {source} is listed twice", field=name)
            seen.append(source)
        out[name] = tuple(seen)
    return out


def check_limits(raw: Any, types: Iterable[str] = DEFAULT_LIMITS) -> dict[str, int]:
    """Validated `{artwork type: how many to select}` (0..MAX_ASSET_LIMIT)."""
    if not isinstance(raw, Mapping):
        raise InvalidInput("limits must be an object of artwork type -> number")
    known = tuple(types)
    out: dict[str, int] = {}
    for kind, value in raw.items():
        if kind not in known:
            raise InvalidInput(f"unknown artwork type {kind!r}", field=str(kind))
        if isinstance(value, bool) or not isinstance(value, int):
            raise InvalidInput(f"{kind}: the limit must be a whole number", field=kind)
        if not 0 <= value <= MAX_ASSET_LIMIT:
            raise InvalidInput(
                f"{kind}: the limit must be between 0 and {MAX_ASSET_LIMIT}", field=kind
            )
        out[kind] = value
    return out
