"""Turn NFO bytes into text: BOM sniffing, the XML declaration, forgiving fallbacks."""

from __future__ import annotations

import codecs
import re
from typing import NamedTuple

# UTF-32 must be tested before UTF-16: the UTF-32-LE BOM starts with the UTF-16-LE one.
_BOMS: tuple[tuple[bytes, str], ...] = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)

_DECLARED_ENCODING = re.compile(
    rb"""\A\s{0,100}<\?xml\s[^>]{0,200}?encoding\s*=\s*["']([A-Za-z0-9._:-]{1,40})["']"""
)

# Codecs Python knows that are not character sets: decoding with them "works" but
# produces nonsense, so a declaration naming one is ignored.
_NOT_CHARSETS = frozenset(
    {"unicode-escape", "raw-unicode-escape", "punycode", "idna", "utf-7", "undefined"}
)

# Stray bytes in text that should be UTF-8 are almost always Windows-1252 (or its
# subset Latin-1): map each undecodable byte, kept by `surrogateescape` as
# U+DC80..U+DCFF, to its Windows-1252 character, or Latin-1 where 1252 has a hole.
_STRAY_BYTES: dict[int, str] = {}
for _byte in range(0x80, 0x100):
    try:
        _STRAY_BYTES[0xDC00 + _byte] = bytes([_byte]).decode("cp1252")
    except UnicodeDecodeError:
        _STRAY_BYTES[0xDC00 + _byte] = bytes([_byte]).decode("latin-1")

# Characters XML 1.0 forbids (expat rejects the whole document for one of them);
# lone surrogates also cannot be handed to expat at all.
_ILLEGAL_XML_CHARS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


class DecodedText(NamedTuple):
    """NFO text and, when the bytes were not clean, what had to be repaired."""

    text: str
    problem: str | None


def decode_nfo(data: bytes) -> DecodedText:
    """Decode NFO bytes: BOM first, then UTF-8, then the declared encoding, then 1252."""
    for bom, codec in _BOMS:
        if data.startswith(bom):
            body = data[len(bom) :]
            if codec == "utf-8":
                return _decode_utf8(body)
            return _decode_with(body, codec)
    sniffed = _sniff_utf16(data)
    if sniffed is not None:
        return _decode_with(data, sniffed)
    try:
        # Valid UTF-8 wins over a declaration: tools often declare ISO-8859-1 yet write
        # UTF-8, while real Latin-1 text with accents is practically never valid UTF-8.
        return DecodedText(data.decode("utf-8"), None)
    except UnicodeDecodeError:
        pass
    declared = _declared_codec(data)
    if declared is not None:
        return _decode_with(data, declared)
    return _decode_utf8(data)


def remove_illegal_chars(text: str) -> tuple[str, int]:
    """Drop characters XML forbids; returns the text and how many were dropped."""
    if _ILLEGAL_XML_CHARS.search(text) is None:
        return text, 0
    cleaned, count = _ILLEGAL_XML_CHARS.subn("", text)
    return cleaned, count


def _decode_utf8(data: bytes) -> DecodedText:
    try:
        return DecodedText(data.decode("utf-8"), None)
    except UnicodeDecodeError:
        text = data.decode("utf-8", "surrogateescape").translate(_STRAY_BYTES)
        return DecodedText(text, "bytes that are not UTF-8 were read as Windows-1252")


def _decode_with(data: bytes, codec: str) -> DecodedText:
    try:
        return DecodedText(data.decode(codec), None)
    except UnicodeDecodeError:
        pass
    try:
        return DecodedText(data.decode(codec, "replace"), f"bytes invalid in {codec} were replaced")
    except (LookupError, UnicodeError, ValueError):
        # Some codecs accept no error handler; the UTF-8 route always succeeds.
        return _decode_utf8(data)


def _sniff_utf16(data: bytes) -> str | None:
    # Without a BOM, UTF-16 shows itself by a NUL in every other byte of ASCII text.
    if len(data) < 4:
        return None
    if data[0] and not data[1] and data[2] and not data[3]:
        return "utf-16-le"
    if not data[0] and data[1] and not data[2] and data[3]:
        return "utf-16-be"
    return None


def _declared_codec(data: bytes) -> str | None:
    match = _DECLARED_ENCODING.match(data)
    if match is None:
        return None
    try:
        name = codecs.lookup(match.group(1).decode("ascii")).name
    except LookupError:
        return None
    if name in _NOT_CHARSETS or name.startswith(("utf-16", "utf-32")):
        # A declaration readable as ASCII bytes cannot belong to a UTF-16/32 file.
        return None
    if name in ("utf-8", "ascii"):
        return None  # already known not to fit: the UTF-8 fallback repairs stray bytes
    if name == "iso8859-1":
        # As browsers do: 1252 is Latin-1 with printable characters instead of C1 codes.
        return "cp1252"
    try:
        b"a".decode(name)  # empty input would skip the codec check entirely
    except LookupError:  # not a text encoding: base64, zlib, rot13...
        return None
    except (UnicodeError, ValueError):
        pass  # a real character set that just does not like this probe
    return name
