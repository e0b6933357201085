"""What can still be read from an NFO that is not well-formed XML, by pattern."""

from __future__ import annotations

import re
from typing import NamedTuple

from metarr.nfo.ids import LEGACY_ID_TAGS, IdCollector, Trust
from metarr.nfo.values import clean, is_true, parse_year

# Root elements of Kodi NFOs; `episodes` wraps episodedetails in some exports.
KNOWN_KINDS = frozenset(
    {"movie", "tvshow", "episodedetails", "musicvideo", "season", "artist", "album"}
)
EPISODES_WRAPPER = "episodes"

# Every repetition is bounded, so no input can make these patterns backtrack for long:
# broken files are scanned in linear time whatever they contain.
_FIRST_ELEMENT = re.compile(r"<([A-Za-z_][\w.:-]{0,60})")
_UNIQUEID = re.compile(r"<uniqueid\b([^<>]{0,300})>([^<]{0,100})</uniqueid\s*>", re.IGNORECASE)
_ATTRIBUTE = re.compile(r"""\b(type|default)\s*=\s*["']([^"'<>]{0,40})["']""", re.IGNORECASE)
_LEGACY_ID = re.compile(
    r"<(tmdbid|imdbid|imdb|tvdbid|id)\b[^<>]{0,300}>([^<]{0,100})</\1\s*>", re.IGNORECASE
)
_TITLE = re.compile(r"<title\b[^<>]{0,300}>([^<]{1,2000})</title\s*>", re.IGNORECASE)
_YEAR = re.compile(r"<year\b[^<>]{0,300}>([^<]{1,20})</year\s*>", re.IGNORECASE)
# Only XML's predefined entities and character references: anything a DTD could have
# defined is left as written, never expanded.
_ENTITY = re.compile(r"&(?:#(\d{1,7})|#[xX]([0-9a-fA-F]{1,6})|(amp|lt|gt|quot|apos));")
_PREDEFINED = {"amp": "&", "lt": "<", "gt": ">", "quot": '"', "apos": "'"}


class Salvage(NamedTuple):
    """The root kind (if recognisable), title and year found in a broken NFO."""

    kind: str | None
    title: str | None
    year: int | None


def first_element_kind(text: str) -> str | None:
    """The name of the first element if it is a known NFO root, else None."""
    match = _FIRST_ELEMENT.search(text)
    if match is None:
        return None
    name = match.group(1).lower()
    if name == EPISODES_WRAPPER:
        return "episodedetails"
    return name if name in KNOWN_KINDS else None


def salvage(text: str, collector: IdCollector) -> Salvage:
    """Scan broken NFO text for ids (into `collector`), the root kind, title and year."""
    for match in _UNIQUEID.finditer(text):
        attributes = {key.lower(): value for key, value in _ATTRIBUTE.findall(match.group(1))}
        collector.add_uniqueid(
            attributes.get("type"), unescape(match.group(2)), is_true(attributes.get("default"))
        )
    for match in _LEGACY_ID.finditer(text):
        tag, raw = match.group(1).lower(), unescape(match.group(2))
        if tag == "id":
            collector.add_bare_id(raw)
        else:
            collector.add(LEGACY_ID_TAGS[tag], raw, Trust.LEGACY_TAG)
    collector.add_urls(text)
    title_match = _TITLE.search(text)
    year_match = _YEAR.search(text)
    return Salvage(
        kind=first_element_kind(text),
        title=clean(unescape(title_match.group(1))) if title_match else None,
        year=parse_year(year_match.group(1)) if year_match else None,
    )


def unescape(text: str) -> str:
    """Resolve XML's predefined entities and character references, nothing else."""
    if "&" not in text:
        return text
    return _ENTITY.sub(_resolve_entity, text)


def _resolve_entity(match: re.Match[str]) -> str:
    decimal, hexadecimal, name = match.groups()
    if name is not None:
        return _PREDEFINED[name]
    code = int(decimal) if decimal is not None else int(hexadecimal, 16)
    if code == 0 or code > 0x10FFFF or 0xD800 <= code <= 0xDFFF:
        return "\ufffd"
    return chr(code)
