"""Write a Kodi movie NFO (bytes) from domain values: the reader's inverse, no disk access.

The output is deterministic (same input, same bytes: publishing compares hashes to stay
idempotent) and every value is normalised the way `read_nfo` normalises it, so
`read_nfo(write_movie_nfo(x))` gives `x` back for every field Metarr manages, and writing
what was read reproduces the same bytes. Normalisation, in the reader's terms:

* text: characters XML 1.0 forbids dropped, line breaks as "\\n", trimmed; empty = unknown;
* lists: Kodi's " / " separator splits an item (Kodi and the reader both do), duplicates go;
* numbers outside what the reader accepts (year 1850-2200, runtime 1-10000 min, top250
  1-250, userrating 0-10, rating 0 < value <= max) are left out; floats keep 6 decimals;
* `year` falls back to the premiered year, as Kodi's `GetYear()` does;
* exactly one rating is marked default: the one flagged, else the first (Kodi shows no
  rating at all when none is flagged); a scale that is not a whole number is rescaled to 10
  (Kodi reads `max` as an integer);
* cast: duplicates of (name, role) dropped, every actor gets an explicit `<order>` (its
  position when unknown), written in billing order.

Never written: artwork URLs (`<thumb>`, `<fanart>`), an actor thumb not given in
`actor_thumbs` (name -> local path such as ".actors/Keanu_Reeves.jpg"), any http(s)/ftp
URL (a `plugin://` trailer or a local trailer path is kept).

Stream details come from the scan: for a stacked (multi-part) movie or a disc made of
several files, the first probed part that has streams gives the streams and the video's
`durationinseconds` is the total of all parts (whole seconds), as Kodi shows a stack.

Version quirks (`NfoOptions.kodi_version`): before 16 `<set>` is plain text; before 17 a
single `<rating>`/`<votes>` replaces `<ratings>`; before 18 there is no `<uniqueid>`, only
`<id>` (the IMDb id when known, as old scrapers read it); `<hdrtype>` from 20. The
"jellyfin" profile adds a `<rating>` after `<ratings>` holding the default rating on a
10 scale: Jellyfin ignores `default` and `max` and keeps the last rating it reads.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal

# ElementTree only serialises here; untrusted XML is parsed with defusedxml (reader.py).
from xml.etree.ElementTree import Element, SubElement, indent, tostring

from metarr.domain.errors import InvalidInput
from metarr.domain.media import (
    Actor,
    ExternalIds,
    MovieInfo,
    MovieSet,
    ProbeResult,
    Rating,
    Stream,
)
from metarr.nfo.encoding import remove_illegal_chars
from metarr.nfo.ids import parse_imdb_id, parse_numeric_id
from metarr.nfo.metadata import LEGACY_RATING_SOURCE
from metarr.nfo.values import MAX_RUNTIME, clean, parse_date, parse_year, split_items

XML_DECLARATION = '<?xml version="1.0" encoding="UTF-8" standalone="yes" ?>'
PROFILES = frozenset({"kodi", "jellyfin"})
MIN_KODI_VERSION = 12
MAX_KODI_VERSION = 99

_INDENT = "    "  # as Kodi's own export
_MAX_SCALE = 1000.0  # rating scales are 5, 10 or 100; beyond this it is not a rating
_MAX_ORDER = 10**9
_MAX_VOTES = 10**15
_REMOTE_URL = re.compile(r"(?:https?|ftps?)://", re.IGNORECASE)
# Kodi's hdrtype values; HDR10+ is HDR10 with dynamic metadata and Kodi has no name for it.
_HDR_TYPES = {"HDR10": "hdr10", "HDR10+": "hdr10", "Dolby Vision": "dolbyvision", "HLG": "hlg"}
_STREAM_KINDS = ("video", "audio", "subtitle")


@dataclass(frozen=True)
class NfoOptions:
    """How to write: the Kodi version to stay compatible with, streams, player profile."""

    kodi_version: int = 20
    include_fileinfo: bool = True
    profile: str = "kodi"  # "kodi" | "jellyfin"

    def __post_init__(self) -> None:
        """Refuse options no writer branch knows."""
        if self.profile not in PROFILES:
            raise InvalidInput(
                f"unknown NFO profile {self.profile!r} (known: {', '.join(sorted(PROFILES))})",
                field="profile",
            )
        version = self.kodi_version
        if isinstance(version, bool) or not isinstance(version, int):
            raise InvalidInput("kodi_version must be a whole number", field="kodi_version")
        if not MIN_KODI_VERSION <= version <= MAX_KODI_VERSION:
            raise InvalidInput(
                f"kodi_version must be between {MIN_KODI_VERSION} and {MAX_KODI_VERSION}",
                field="kodi_version",
            )


def write_movie_nfo(
    info: MovieInfo,
    ids: ExternalIds,
    *,
    streams: Sequence[ProbeResult] | ProbeResult | None = None,
    actor_thumbs: Mapping[str, str] | None = None,
    options: NfoOptions = NfoOptions(),  # frozen: sharing it is safe
) -> bytes:
    """The `<movie>` NFO for `info` and `ids`, as UTF-8 bytes with an XML declaration."""
    movie = Element("movie")
    _add(movie, "title", _text(info.title))
    _add(movie, "originaltitle", _text(info.original_title))
    _add(movie, "sorttitle", _text(info.sort_title))
    _add_ratings(movie, _ratings(info.ratings), options)
    _add(movie, "userrating", _number(_in_range(info.userrating, 10.0)))
    top250 = info.top250 if info.top250 is not None and 0 < info.top250 <= 250 else None
    _add(movie, "top250", _integer(top250))
    _add(movie, "outline", _text(info.outline))
    _add(movie, "plot", _text(info.plot))
    _add(movie, "tagline", _text(info.tagline))
    runtime = info.runtime if info.runtime is not None and 0 < info.runtime <= MAX_RUNTIME else None
    _add(movie, "runtime", _integer(runtime))
    _add(movie, "mpaa", _text(info.certification))
    _add_ids(movie, ids, options)
    _add_items(movie, "genre", info.genres)
    _add_items(movie, "country", info.countries)
    _add_set(movie, info.set, options)
    _add_items(movie, "tag", info.tags)
    _add_items(movie, "credits", info.writers)
    _add_items(movie, "director", info.directors)
    premiered = parse_date(_text(info.premiered))
    _add(movie, "premiered", premiered)
    year = parse_year(_integer(info.year))
    if year is None and premiered is not None:
        year = int(premiered[:4])
    _add(movie, "year", _integer(year))
    _add_items(movie, "studio", info.studios)
    _add(movie, "trailer", _local(info.trailer))
    if options.include_fileinfo and streams is not None:
        _add_fileinfo(movie, [streams] if isinstance(streams, ProbeResult) else streams, options)
    _add_cast(movie, info.cast, actor_thumbs or {})
    indent(movie, space=_INDENT)
    return f"{XML_DECLARATION}\n{tostring(movie, encoding='unicode')}\n".encode()


# --- values --------------------------------------------------------------------------


def _text(value: str | None) -> str | None:
    """Text as the reader gives it back: XML-legal characters, "\\n" breaks, trimmed."""
    return clean(_chars(value)) if value is not None else None


def _chars(value: str) -> str:
    # Illegal characters go first: "\r\x00\n" must become one line break, not two.
    value, _ = remove_illegal_chars(value)
    return value.replace("\r\n", "\n").replace("\r", "\n")


def _local(value: str | None) -> str | None:
    """A path or plugin URL; None for web URLs, which must never reach the library."""
    text = _text(value)
    return None if text is None or _REMOTE_URL.match(text) else text


def _integer(value: int | None) -> str | None:
    return str(value) if value is not None else None


def _positive(value: int | None) -> str | None:
    return str(value) if value is not None and value > 0 else None


def _number(value: float | None) -> str | None:
    """A float in its shortest exact decimal form, no exponent ("7.5", "10")."""
    if value is None:
        return None
    text = repr(value)
    if "e" in text or "E" in text:
        text = f"{Decimal(text):f}"
    return text.removesuffix(".0")


def _in_range(value: float | None, maximum: float) -> float | None:
    """`value` rounded as written when 0 < value <= maximum, else None."""
    if value is None or not math.isfinite(value):
        return None
    rounded = round(value, 6)
    return rounded if 0 < rounded <= maximum else None


# --- elements ------------------------------------------------------------------------


def _add(parent: Element, tag: str, text: str | None, **attributes: str) -> Element | None:
    if text is None:
        return None
    element = SubElement(parent, tag, attributes)
    element.text = text
    return element


def _add_items(parent: Element, tag: str, values: Iterable[str]) -> None:
    for item in split_items(_chars(value) for value in values):
        _add(parent, tag, item)


def _ratings(ratings: Iterable[Rating]) -> list[Rating]:
    """Valid ratings, one per source, exactly one of them the default."""
    found: list[Rating] = []
    for rating in ratings:
        source = _text(rating.source) or LEGACY_RATING_SOURCE
        if any(kept.source == source for kept in found):
            continue
        scale, value = float(rating.max), float(rating.value)  # ints arrive from JSON
        if not math.isfinite(scale) or scale <= 0:
            scale = 10.0  # what the reader assumes for a missing or broken max
        if scale > _MAX_SCALE or not math.isfinite(value):
            continue
        if not scale.is_integer():
            scale, value = 10.0, value / scale * 10
        rounded = _in_range(value, scale)
        if rounded is None:
            continue
        votes = (
            rating.votes if rating.votes is not None and 0 <= rating.votes < _MAX_VOTES else None
        )
        found.append(Rating(source, rounded, votes, scale, rating.default))
    chosen = next((i for i, rating in enumerate(found) if rating.default), 0)
    return [replace(rating, default=i == chosen) for i, rating in enumerate(found)]


def _add_ratings(movie: Element, ratings: list[Rating], options: NfoOptions) -> None:
    default = next((rating for rating in ratings if rating.default), None)
    legacy = _number(_in_range(default.value / default.max * 10, 10.0)) if default else None
    if options.kodi_version < 17:
        _add(movie, "rating", legacy)
        _add(movie, "votes", _integer(default.votes) if default else None)
        return
    if ratings:
        element = SubElement(movie, "ratings")
        for rating in ratings:
            attributes = {"name": rating.source, "max": _number(rating.max) or "10"}
            if rating.default:
                attributes["default"] = "true"
            entry = SubElement(element, "rating", attributes)
            _add(entry, "value", _number(rating.value))
            _add(entry, "votes", _integer(rating.votes))
    if options.profile == "jellyfin":
        _add(movie, "rating", legacy)


def _add_ids(movie: Element, ids: ExternalIds, options: NfoOptions) -> None:
    known = [
        (id_type, value)
        for id_type, value in (
            ("tmdb", parse_numeric_id(_integer(ids.tmdb))),
            ("imdb", parse_imdb_id(ids.imdb)),
            ("tvdb", parse_numeric_id(_integer(ids.tvdb))),
        )
        if value is not None
    ]
    if not known:
        return
    if options.kodi_version < 18:
        # Old Kodi knows one untyped id; its scrapers read IMDb ids best.
        _add(movie, "id", str(dict(known).get("imdb", known[0][1])))
        return
    _add(movie, "id", str(known[0][1]))  # Kodi writes the default uniqueid here
    for index, (id_type, value) in enumerate(known):
        attributes = {"type": id_type, "default": "true"} if index == 0 else {"type": id_type}
        _add(movie, "uniqueid", str(value), **attributes)


def _add_set(movie: Element, movie_set: MovieSet | None, options: NfoOptions) -> None:
    name = _text(movie_set.name) if movie_set is not None else None
    if movie_set is None or name is None:
        return
    tmdb = parse_numeric_id(_integer(movie_set.tmdb))
    # tmdbcolid is Jellyfin's; Kodi ignores unknown attributes.
    attributes = {"tmdbcolid": str(tmdb)} if tmdb is not None else {}
    if options.kodi_version < 16:
        _add(movie, "set", name, **attributes)
        return
    element = SubElement(movie, "set", attributes)
    _add(element, "name", name)
    _add(element, "overview", _text(movie_set.overview))


def _add_cast(movie: Element, cast: Iterable[Actor], thumbs: Mapping[str, str]) -> None:
    entries: list[tuple[int, str, str | None, str | None]] = []
    seen: set[tuple[str, str | None]] = set()
    for actor in cast:
        name, role = _text(actor.name), _text(actor.role)
        if name is None or (name, role) in seen:
            continue
        seen.add((name, role))
        order = actor.order
        if order is None or not 0 <= order < _MAX_ORDER:
            order = len(entries)
        thumb = _local(thumbs.get(actor.name) or thumbs.get(name))
        entries.append((order, name, role, thumb))
    entries.sort(key=lambda entry: entry[0])  # stable: equal orders keep their sequence
    for order, name, role, thumb in entries:
        element = SubElement(movie, "actor")
        _add(element, "name", name)
        _add(element, "role", role)
        _add(element, "order", str(order))
        _add(element, "thumb", thumb)


def _add_fileinfo(movie: Element, probes: Sequence[ProbeResult], options: NfoOptions) -> None:
    usable = [probe for probe in probes if probe.ok]
    first = next((probe for probe in usable if probe.streams), None)
    if first is None:
        return
    durations = [p.duration for p in usable if p.duration and math.isfinite(p.duration)]
    total = int(sum(d for d in durations if d > 0))  # whole seconds, cut as Kodi does
    details = SubElement(SubElement(movie, "fileinfo"), "streamdetails")
    ordered = sorted(first.streams, key=lambda stream: stream.index)
    for kind in _STREAM_KINDS:
        for stream in ordered:
            if stream.kind == kind:
                _add_stream(details, stream, total, options)


def _add_stream(details: Element, stream: Stream, total: int, options: NfoOptions) -> None:
    element = SubElement(details, stream.kind)
    codec = _text(stream.codec)
    language = _text(stream.language)
    if stream.kind == "video":
        _add(element, "codec", codec.lower() if codec else None)
        aspect = stream.aspect
        valid_aspect = aspect is not None and math.isfinite(aspect) and aspect > 0
        _add(element, "aspect", f"{aspect:.6f}" if valid_aspect else None)
        _add(element, "width", _positive(stream.width))
        _add(element, "height", _positive(stream.height))
        _add(element, "durationinseconds", _integer(total) if total > 0 else None)
        if options.kodi_version >= 20:
            _add(element, "hdrtype", _HDR_TYPES.get(stream.hdr or ""))
    elif stream.kind == "audio":
        _add(element, "codec", codec.lower() if codec else None)
        _add(element, "language", language.lower() if language else None)
        _add(element, "channels", _positive(stream.channels))
    else:
        _add(element, "language", language.lower() if language else None)
