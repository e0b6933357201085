"""Text of NFO elements: names, trimmed strings, lists, numbers, dates, runtimes."""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import date

# Kodi's default `videoitemseparator`: old NFOs hold "Action / Drama" in one element.
ITEM_SEPARATOR = " / "

MIN_YEAR = 1850
MAX_YEAR = 2200
MAX_RUNTIME = 10_000  # minutes; anything longer is a unit mix-up, not a film

_PLAIN_INT = re.compile(r"\+?\d{1,15}", re.ASCII)
_GROUPED_INT = re.compile(r"\d{1,3}(?:[,.' \u00a0\u202f]\d{3})+", re.ASCII)
_FLOAT = re.compile(r"[+-]?(?:\d{1,15}(?:\.\d{0,15})?|\.\d{1,15})", re.ASCII)
_RUNTIME_MINUTES = re.compile(
    r"(\d{1,5})(?:[.,]\d{1,6})?\s*(?:m|mn|min|mins|minutes?)?\.?", re.ASCII | re.IGNORECASE
)
_RUNTIME_HOURS = re.compile(
    r"(\d{1,2})\s*h(?:ours?|rs?)?\.?\s*(?:(\d{1,2})\s*(?:m|mn|min|mins|minutes?)?\.?)?",
    re.ASCII | re.IGNORECASE,
)
_RUNTIME_CLOCK = re.compile(r"(\d{1,2}):(\d{2})(?::\d{2})?", re.ASCII)
_DATE = re.compile(r"(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})(?![\d])", re.ASCII)
_LIST_ITEM_TRIM = " \t\r\n,;"
# Element names are looked up for every element of every NFO; the set is small.
_LOCAL_NAMES: dict[str, str] = {}
_LOCAL_NAMES_MAX = 2048


def clean(text: str | None) -> str | None:
    """The text trimmed, or None when nothing is left."""
    if text is None:
        return None
    text = text.strip()
    return text or None


def split_items(values: Iterable[str]) -> list[str]:
    """Split Kodi's " / " lists, trim, drop empties and duplicates, keep order."""
    seen: set[str] = set()
    items: list[str] = []
    for value in values:
        for part in value.split(ITEM_SEPARATOR):
            item = part.strip(_LIST_ITEM_TRIM)
            if item and item not in seen:
                seen.add(item)
                items.append(item)
    return items


def parse_float(text: str | None) -> float | None:
    """A decimal number, accepting a decimal comma ("8,1") and grouped thousands."""
    if text is None:
        return None
    value = text.strip().replace(" ", "")
    if "," in value:
        if "." in value:
            # Whichever separator comes last is the decimal one: 1,234.5 or 1.234,5.
            if value.rfind(",") > value.rfind("."):
                value = value.replace(".", "").replace(",", ".")
            else:
                value = value.replace(",", "")
        elif value.count(",") == 1:
            value = value.replace(",", ".")
        else:
            value = value.replace(",", "")
    if _FLOAT.fullmatch(value) is None:
        return None
    return float(value)


def parse_int(text: str | None) -> int | None:
    """An integer, accepting grouped thousands ("1,234", "1.234") and "12.0"."""
    if text is None:
        return None
    value = text.strip()
    if _PLAIN_INT.fullmatch(value):
        return int(value)
    if _GROUPED_INT.fullmatch(value):
        return int("".join(ch for ch in value if ch.isdigit()))
    number = parse_float(value)
    if number is not None and number.is_integer():
        return int(number)
    return None


def parse_year(text: str | None) -> int | None:
    """A plausible release year, or None."""
    year = parse_int(text)
    if year is None or not MIN_YEAR <= year <= MAX_YEAR:
        return None
    return year


def parse_date(text: str | None) -> str | None:
    """An ISO date (yyyy-mm-dd) from a date or date-time, or None when not a real date."""
    if text is None:
        return None
    match = _DATE.match(text.strip())
    if match is None:
        return None
    year, month, day = (int(part) for part in match.groups())
    if not MIN_YEAR <= year <= MAX_YEAR:
        return None
    try:
        return date(year, month, day).isoformat()
    except ValueError:
        return None


def parse_runtime(text: str | None) -> int | None:
    """Runtime in minutes from "120", "120 min", "2h 5m" or "2:05"; None for 0 or junk."""
    if text is None:
        return None
    value = text.strip()
    minutes: int | None = None
    if match := _RUNTIME_MINUTES.fullmatch(value):
        minutes = int(match.group(1))
    elif match := _RUNTIME_HOURS.fullmatch(value):
        minutes = int(match.group(1)) * 60 + int(match.group(2) or 0)
    elif match := _RUNTIME_CLOCK.fullmatch(value):
        minutes = int(match.group(1)) * 60 + int(match.group(2))
    if minutes is None or not 0 < minutes <= MAX_RUNTIME:
        return None
    return minutes


def is_true(text: str | None) -> bool:
    """Whether an XML attribute such as default="true" is set."""
    return text is not None and text.strip().lower() in ("true", "1", "yes")


def local_name(tag: str) -> str:
    """An element name without namespace, lower-cased (Jellyfin writes <tmdbId>)."""
    name = _LOCAL_NAMES.get(tag)
    if name is None:
        name = tag.rsplit("}", 1)[-1].lower()
        # Names come from untrusted files: remember only a bounded number of them.
        if len(_LOCAL_NAMES) < _LOCAL_NAMES_MAX:
            _LOCAL_NAMES[tag] = name
    return name
