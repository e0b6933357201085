"""Provider ids in an NFO: uniqueid, legacy tags, provider URLs, trust and conflicts."""

from __future__ import annotations

import re
from enum import IntEnum
from xml.etree.ElementTree import Element

from metarr.domain.media import ExternalIds
from metarr.nfo.values import is_true, local_name

ID_TYPES: tuple[str, ...] = ("tmdb", "imdb", "tvdb")

# Roots whose bare numeric <id> is a TheTVDB id: Kodi's old TV scrapers wrote it there.
TV_KINDS = frozenset({"tvshow", "episodedetails", "season"})

_MAX_NUMERIC_ID = 2**31 - 1  # fits every database's INTEGER; real ids are far smaller
_IMDB_ID = re.compile(r"tt\d{5,}", re.ASCII)

# uniqueid types as Kodi, Jellyfin, MediaElch and Ember write them.
_UNIQUEID_TYPES = {
    "tmdb": "tmdb",
    "themoviedb": "tmdb",
    "imdb": "imdb",
    "tvdb": "tvdb",
    "thetvdb": "tvdb",
}
COLLECTION_UNIQUEID_TYPE = "tmdbcol"

# Tags compared lower-cased: Jellyfin writes <tmdbId>/<imdbId>.
LEGACY_ID_TAGS = {"tmdbid": "tmdb", "imdbid": "imdb", "imdb": "imdb", "tvdbid": "tvdb"}

_TMDB_URL = re.compile(
    r"themoviedb\.org/(?:3/)?(?:movie|tv)/(\d{1,10})(?!\d)", re.ASCII | re.IGNORECASE
)
_IMDB_URL = re.compile(
    r"imdb\.[a-z]{2,3}(?:\.[a-z]{2})?/(?:[a-z]{2}/)?title/(tt\d{5,12})(?!\d)",
    re.ASCII | re.IGNORECASE,
)
_TVDB_URL = re.compile(r"thetvdb\.com/[^\s<>\"']{0,300}", re.ASCII | re.IGNORECASE)
_TVDB_SERIES_PATH = re.compile(
    r"thetvdb\.com/(?:dereferrer/)?series/(\d{1,10})(?![\w-])", re.ASCII | re.IGNORECASE
)
_TVDB_SERIES_TAB = re.compile(r"[?&;]tab=series(?:&|;|$)", re.IGNORECASE)
_TVDB_QUERY_ID = re.compile(r"[?&;]id=(\d{1,10})(?!\d)", re.IGNORECASE)
_TVDB_QUERY_SERIESID = re.compile(r"[?&;]seriesid=(\d{1,10})(?!\d)", re.IGNORECASE)


class Trust(IntEnum):
    """How much an id's origin is trusted when one NFO gives several values."""

    URL = 0
    LEGACY_TAG = 1
    UNIQUEID = 2
    DEFAULT_UNIQUEID = 3


def parse_numeric_id(raw: str | None) -> int | None:
    """A TMDB/TVDB id: ASCII digits only, positive, within INTEGER range."""
    if raw is None:
        return None
    value = raw.strip()
    if not (0 < len(value) <= 10 and value.isascii() and value.isdigit()):
        return None
    number = int(value)
    return number if 0 < number <= _MAX_NUMERIC_ID else None


def parse_imdb_id(raw: str | None) -> str | None:
    """An IMDb title id ("tt" + at least 5 digits), prefix lower-cased."""
    if raw is None:
        return None
    value = raw.strip()
    if value[:2].lower() == "tt":
        value = "tt" + value[2:]
    return value if _IMDB_ID.fullmatch(value) else None


class IdCollector:
    """Gathers every id an NFO states, then picks one per type by trust."""

    def __init__(self) -> None:
        """Start with no ids."""
        self._found: dict[str, list[tuple[Trust, int | str]]] = {t: [] for t in ID_TYPES}
        self._bare_ids: list[str] = []
        self.collection_id: int | None = None

    def add(self, id_type: str, raw: str | None, trust: Trust) -> None:
        """Record an id of a known type; values that are not valid ids are dropped."""
        value = parse_imdb_id(raw) if id_type == "imdb" else parse_numeric_id(raw)
        if value is not None:
            self._found[id_type].append((trust, value))

    def add_uniqueid(self, id_type: str | None, raw: str | None, default: bool) -> None:
        """Record `<uniqueid type=...>`; tmdbcol is the collection, unknown types ignored."""
        key = (id_type or "").strip().lower()
        if key == COLLECTION_UNIQUEID_TYPE:
            if self.collection_id is None:
                self.collection_id = parse_numeric_id(raw)
            return
        known = _UNIQUEID_TYPES.get(key)
        if known is not None:
            self.add(known, raw, Trust.DEFAULT_UNIQUEID if default else Trust.UNIQUEID)

    def add_bare_id(self, raw: str | None) -> None:
        """Record Kodi's untyped `<id>`; its type is settled in `resolve`."""
        if raw is not None and raw.strip():
            self._bare_ids.append(raw)

    def add_urls(self, text: str) -> None:
        """Record the ids in every TMDB, IMDb and TheTVDB URL found in the text."""
        for match in _TMDB_URL.finditer(text):
            self.add("tmdb", match.group(1), Trust.URL)
        for match in _IMDB_URL.finditer(text):
            self.add("imdb", match.group(1), Trust.URL)
        for match in _TVDB_URL.finditer(text):
            self.add("tvdb", _tvdb_series_id(match.group(0)), Trust.URL)

    def found_only_urls(self) -> bool:
        """True when every id recorded so far came from a URL (and there is one)."""
        trusts = [trust for values in self._found.values() for trust, _ in values]
        return bool(trusts) and not self._bare_ids and all(t == Trust.URL for t in trusts)

    def resolve(self, kind: str) -> tuple[ExternalIds, tuple[str, ...]]:
        """The most trusted value per type, and the types given with differing values."""
        for raw in self._bare_ids:
            self._settle_bare_id(raw, kind)
        self._bare_ids.clear()
        chosen: dict[str, int | str] = {}
        conflicts: list[str] = []
        for id_type in ID_TYPES:
            candidates = self._found[id_type]
            if not candidates:
                continue
            # max() keeps the first of equally trusted values: document order breaks ties.
            chosen[id_type] = max(candidates, key=lambda candidate: candidate[0])[1]
            if len({value for _, value in candidates}) > 1:
                conflicts.append(id_type)
        tmdb, imdb, tvdb = chosen.get("tmdb"), chosen.get("imdb"), chosen.get("tvdb")
        ids = ExternalIds(
            tmdb=tmdb if isinstance(tmdb, int) else None,
            imdb=imdb if isinstance(imdb, str) else None,
            tvdb=tvdb if isinstance(tvdb, int) else None,
        )
        return ids, tuple(conflicts)

    def _settle_bare_id(self, raw: str, kind: str) -> None:
        # Kodi writes the default uniqueid's value into <id>; old scrapers wrote the
        # IMDb id (movies), the TMDB id (movies) or the TVDB id (TV) there instead.
        if parse_imdb_id(raw) is not None:
            self.add("imdb", raw, Trust.LEGACY_TAG)
            return
        number = parse_numeric_id(raw)
        if number is None:
            return
        for id_type in ("tmdb", "tvdb"):
            if any(value == number for _, value in self._found[id_type]):
                self.add(id_type, raw, Trust.LEGACY_TAG)
                return
        if kind == "movie":
            self.add("tmdb", raw, Trust.LEGACY_TAG)
        elif kind in TV_KINDS:
            self.add("tvdb", raw, Trust.LEGACY_TAG)


def collect_element_ids(root: Element, collector: IdCollector) -> None:
    """Record the ids stated by the direct children of an NFO root element."""
    for child in root:
        tag = local_name(child.tag)
        if tag == "uniqueid":
            collector.add_uniqueid(child.get("type"), child.text, is_true(child.get("default")))
        elif tag == "id":
            collector.add_bare_id(child.text)
        else:
            id_type = LEGACY_ID_TAGS.get(tag)
            if id_type is not None:
                collector.add(id_type, child.text, Trust.LEGACY_TAG)


def _tvdb_series_id(url: str) -> str | None:
    # TheTVDB URLs come as /series/<id>, /series/<slug> (no id in it) and the old
    # ?tab=series&id=<id>; an episode URL's id= is an episode, so only seriesid= counts.
    if match := _TVDB_SERIES_PATH.search(url):
        return match.group(1)
    if _TVDB_SERIES_TAB.search(url) and (match := _TVDB_QUERY_ID.search(url)):
        return match.group(1)
    if match := _TVDB_QUERY_SERIESID.search(url):
        return match.group(1)
    return None
