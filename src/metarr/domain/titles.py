"""How a movie appears in lists: its display title, year and sort key, from its metadata."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

# English articles dropped from the front of a sort key ("The Matrix" sorts under M).
_ARTICLES = ("the ", "a ", "an ")
# The metadata fields the list columns come from (what `display_title` reads).
TITLE_FIELDS = frozenset({"title", "sort_title", "year", "premiered"})


@dataclass(frozen=True, slots=True)
class DisplayTitle:
    """The list columns of a movie: title, year and the key lists sort by."""

    title: str | None
    year: int | None
    sort_key: str


def display_title(
    fields: Mapping[str, Any], parsed_title: str | None, parsed_year: int | None
) -> DisplayTitle:
    """Title, year and sort key of a movie from its metadata values, else its parsed name.

    `fields` maps metadata field names to stored values (only `title`, `sort_title`,
    `year` and `premiered` are read). The year falls back to the premiered date's
    year, as Kodi's `GetYear()` does, then to the year parsed from the file name;
    the sort key comes from `sort_title` when there is one, else from the title.
    """
    title = fields.get("title") or parsed_title
    year = fields.get("year") or _year_of(fields.get("premiered")) or parsed_year
    return DisplayTitle(title, year, sort_key(fields.get("sort_title") or title))


def sort_key(title: str | None) -> str:
    """Sort key of a title: lower case, leading English article dropped."""
    if not title:
        return ""
    lowered = title.strip().casefold()
    for article in _ARTICLES:
        if lowered.startswith(article):
            return lowered[len(article) :]
    return lowered


def _year_of(date: Any) -> int | None:
    """The year of an ISO date (`YYYY-MM-DD`), or None."""
    if isinstance(date, str) and len(date) >= 4 and date[:4].isascii() and date[:4].isdigit():
        return int(date[:4]) or None
    return None
