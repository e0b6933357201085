"""Read a Kodi NFO file (bytes) into an `NfoDocument`; never raises, whatever the input.

Shapes handled, as Kodi reads them:

* a full XML NFO (`<movie>`, `<tvshow>`, `<episodedetails>`, `<musicvideo>`,
  `<season>`, ...), also wrapped in `<episodes>`;
* a "combination" NFO: full XML followed by a provider URL line (ids are taken from both);
* several root elements in one file (multi-episode files): the first root is read;
* a URL-only ("parsing") NFO: ids from TMDB, IMDb and TheTVDB URLs, kind "url";
* anything else: ids, title and year are salvaged by pattern, `well_formed` is False.

`well_formed` is False whenever the file needed repair (undecodable bytes, characters
XML forbids, broken or refused XML); `error` then says what. A DTD is always refused,
so entity expansion and external entities cannot happen.
"""

from __future__ import annotations

import logging
import re
from xml.etree.ElementTree import Element

from defusedxml import DefusedXmlException, DTDForbidden
from defusedxml.ElementTree import ParseError, fromstring

from metarr.domain.media import ExternalIds, MovieInfo, NfoDocument
from metarr.nfo.encoding import decode_nfo, remove_illegal_chars
from metarr.nfo.ids import IdCollector, collect_element_ids
from metarr.nfo.metadata import read_info
from metarr.nfo.salvage import EPISODES_WRAPPER, KNOWN_KINDS, salvage
from metarr.nfo.values import local_name

_log = logging.getLogger(__name__)

URL_KIND = "url"
INVALID_KIND = "invalid"
# Real NFOs stay well under 1 MiB even with hundreds of artwork URLs; a bigger file is
# something else named .nfo and is not worth seconds of parsing.
MAX_NFO_BYTES = 8 * 1024 * 1024

_MARKUP_START = re.compile(r"<[A-Za-z_?!]")
_KNOWN_ROOT_START = re.compile(
    r"<(?:\?xml\b|(?:" + "|".join(sorted(KNOWN_KINDS | {EPISODES_WRAPPER})) + r")\b)",
    re.IGNORECASE,
)
_ROOT_NAME = re.compile(r"<([A-Za-z_][\w.:-]{0,100})")
_ANOTHER_ELEMENT = re.compile(r"\s*<[A-Za-z_]")


def read_nfo(data: bytes) -> NfoDocument:
    """Parse NFO bytes into ids and metadata; any problem is reported, never raised."""
    try:
        return _read(data)
    except Exception as exc:  # the last line of defence: one odd file must not stop a scan
        _log.exception("unexpected error while reading an NFO")
        return NfoDocument(
            ids=ExternalIds(),
            info=MovieInfo(),
            kind=INVALID_KIND,
            well_formed=False,
            error=f"internal error: {type(exc).__name__}: {exc}",
        )


def _read(data: bytes) -> NfoDocument:
    if len(data) > MAX_NFO_BYTES:
        return NfoDocument(
            ids=ExternalIds(),
            info=MovieInfo(),
            kind=INVALID_KIND,
            well_formed=False,
            error=f"{len(data)} bytes is too large for an NFO (limit {MAX_NFO_BYTES})",
        )
    decoded = decode_nfo(data)
    text = decoded.text.lstrip("\ufeff")
    problems = [decoded.problem] if decoded.problem else []

    start = _xml_start(text)
    if start < 0:
        return _read_plain_text(text)
    xml_text, trailer = _split_after_root(text[start:])
    root, parse_error = _parse(xml_text)
    if root is None:
        # Looked for only after a failure: scanning every file for them costs more
        # than parsing the rare file with a stray control character twice.
        xml_text, removed = remove_illegal_chars(xml_text)
        if removed:
            problems.append(f"removed {removed} character(s) not allowed in XML")
            root, parse_error = _parse(xml_text)
    if root is None:
        return _read_broken(text, [parse_error, *problems])

    if local_name(root.tag) == EPISODES_WRAPPER:
        root = next((child for child in root if local_name(child.tag) == "episodedetails"), root)
    kind = local_name(root.tag)
    collector = IdCollector()
    collect_element_ids(root, collector)
    # Text around the XML is Kodi's combination NFO: a provider URL line (usually after
    # the root). A trailer that is more markup is further roots of a multi-episode file.
    collector.add_urls(text[:start])
    if _ANOTHER_ELEMENT.match(trailer) is None:
        collector.add_urls(trailer)
    ids, conflicts = collector.resolve(kind)
    return NfoDocument(
        ids=ids,
        info=read_info(root, collector.collection_id),
        kind=kind,
        well_formed=not problems,
        conflicts=conflicts,
        error="; ".join(problems) or None,
    )


def _xml_start(text: str) -> int:
    """Where the XML document begins, or -1 when the text is not XML at all."""
    markup = _MARKUP_START.search(text)
    if markup is None:
        return -1
    if not text[: markup.start()].strip():
        return markup.start()
    # Text first (a URL line, a scene-release banner): XML only if a known root follows.
    root = _KNOWN_ROOT_START.search(text, markup.start())
    return root.start() if root is not None else -1


def _split_after_root(xml_text: str) -> tuple[str, str]:
    """Cut the document after the first root's end tag; the rest is returned apart."""
    name = _ROOT_NAME.search(xml_text)
    if name is None:
        return xml_text, ""
    # Root elements never nest in themselves, so the first end tag closes the root.
    end_tag = re.compile(rf"</{re.escape(name.group(1))}\s*>").search(xml_text, name.end())
    if end_tag is None:
        return xml_text, ""
    cut = end_tag.end()
    rest = xml_text[cut:]
    if not rest.strip():
        return xml_text, ""
    return xml_text[:cut], rest


def _parse(xml_text: str) -> tuple[Element | None, str]:
    """The root element, or None and why the XML was not accepted."""
    try:
        root = fromstring(xml_text, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DTDForbidden:
        return None, "refused a DTD: entities are never expanded nor fetched"
    except DefusedXmlException as exc:
        return None, f"refused unsafe XML: {type(exc).__name__}"
    except ParseError as exc:
        return None, f"not well-formed XML: {exc}"
    except UnicodeEncodeError:  # lone surrogates cannot even be handed to expat
        return None, "not well-formed XML: text holds unpaired surrogates"
    return root, ""


def _read_plain_text(text: str) -> NfoDocument:
    collector = IdCollector()
    collector.add_urls(text)
    ids, conflicts = collector.resolve(URL_KIND)
    if ids.is_empty():
        return NfoDocument(
            ids=ids,
            info=MovieInfo(),
            kind=INVALID_KIND,
            well_formed=False,
            error="neither XML nor a TMDB, IMDb or TheTVDB URL",
        )
    return NfoDocument(
        ids=ids, info=MovieInfo(), kind=URL_KIND, well_formed=True, conflicts=conflicts
    )


def _read_broken(text: str, problems: list[str]) -> NfoDocument:
    collector = IdCollector()
    found = salvage(text, collector)
    only_urls = collector.found_only_urls()
    ids, conflicts = collector.resolve(found.kind or "")
    if ids.is_empty():
        kind = INVALID_KIND
    elif found.kind is not None:
        kind = found.kind
    else:
        kind = URL_KIND if only_urls else INVALID_KIND
    return NfoDocument(
        ids=ids,
        info=MovieInfo(title=found.title, year=found.year),
        kind=kind,
        well_formed=False,
        conflicts=conflicts,
        error="; ".join(problems),
    )
