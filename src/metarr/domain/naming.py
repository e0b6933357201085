"""Conventions in library file and folder names: provider id tags and language tags."""

from __future__ import annotations

import re

from metarr.domain.media import ExternalIds

# Bracketed tags as Radarr, Jellyfin, Plex and Kodi 21+ write them: `{tmdb-603}`,
# `[tmdbid-603]`, `{imdb-tt0133093}`, `[tmdb=603]`, `[TMDBID=603]`. Like Kodi's
# identifier regex, an optional `id` suffix is dropped and the value is one word, so
# `[tmdb=test-12 3]` is not an id tag.
_BRACKET_TAG = re.compile(
    r"[\{\[]\s*(tmdb|imdb|tvdb)(?:id)?\s*[-=]\s*(\w+)\s*[\}\]]",
    re.IGNORECASE,
)
# `tmdb=603` without brackets: only with `=` and only as a whole token, so a title such
# as "Atmdb-1" cannot produce an id.
_BARE_TAG = re.compile(r"(?<![^\W_])(tmdb|imdb|tvdb)(?:id)?=(\w+)", re.IGNORECASE)
# A bracketed bare IMDb id, `[tt0133093]`, is unambiguous enough to trust.
_BRACKET_IMDB = re.compile(r"[\{\[]\s*(tt\d{5,10})\s*[\}\]]", re.IGNORECASE)
_IMDB_ID = re.compile(r"tt\d+", re.IGNORECASE)
# Kodi's `cleanFilenameAttributes`: any `[key=value]` or `{key = value}` attribute.
_ATTRIBUTE = re.compile(r"[\{\[]\s*\w+\s*=[^\[\]\{\}]*[\}\]]")


# The same tags with the whitespace before them, for `strip_id_tags`.
_STRIP_TAGS = tuple(
    re.compile(r"\s*" + p.pattern, re.IGNORECASE) for p in (_BRACKET_TAG, _BARE_TAG, _BRACKET_IMDB)
)


def _id_tags(name: str) -> list[tuple[str, str]]:
    """Every (type, value) id tag in `name`, lower-case type, value as written."""
    tags = [(m[1].lower(), m[2]) for m in _BRACKET_TAG.finditer(name)]
    tags += [(m[1].lower(), m[2]) for m in _BARE_TAG.finditer(name)]
    tags += [("imdb", m[1]) for m in _BRACKET_IMDB.finditer(name)]
    return tags


def ids_from_name(name: str) -> ExternalIds:
    """Provider ids tagged in a folder or file name; an id given twice differently is dropped."""
    found: dict[str, set[str]] = {}
    for kind, value in _id_tags(name):
        if kind == "imdb":
            if not _IMDB_ID.fullmatch(value):
                continue
            value = value.lower()
        elif value.isascii() and value.isdigit():
            value = str(int(value))
        else:
            continue
        found.setdefault(kind, set()).add(value)
    # Two different values for one provider is a conflict: return neither rather than
    # silently trusting one of them.
    single = {kind: next(iter(values)) for kind, values in found.items() if len(values) == 1}
    tmdb = single.get("tmdb")
    tvdb = single.get("tvdb")
    return ExternalIds(
        tmdb=int(tmdb) if tmdb is not None else None,
        imdb=single.get("imdb"),
        tvdb=int(tvdb) if tvdb is not None else None,
    )


def strip_id_tags(name: str) -> str:
    """`name` without its id tags and the whitespace in front of them."""
    for pattern in _STRIP_TAGS:
        name = pattern.sub("", name)
    return name.strip()


def strip_attributes(name: str) -> str:
    """`name` without `[key=value]` / `{key = value}` attributes, as Kodi cleans file names."""
    return _ATTRIBUTE.sub("", name)


# ISO 639-1 code, ISO 639-2 codes (bibliographic and terminology), then names (English
# and native). Covers the languages subtitle sites offer; the domain stays stdlib-only,
# hence a table rather than babelfish.
_LANGUAGE_TABLE = """
af afr afrikaans
sq alb sqi albanian shqip
am amh amharic
ar ara arabic
hy arm hye armenian
az aze azerbaijani
eu baq eus basque euskara
be bel belarusian
bn ben bengali bangla
bs bos bosnian bosanski
br bre breton
bg bul bulgarian
my bur mya burmese
ca cat catalan català catala
zh chi zho chinese mandarin 中文
hr hrv croatian hrvatski
cs cze ces czech čeština cestina
da dan danish dansk
nl dut nld dutch flemish nederlands
en eng english
eo epo esperanto
et est estonian eesti
fi fin finnish suomi
fr fre fra french français francais
gl glg galician galego
ka geo kat georgian
de ger deu german deutsch
el gre ell greek ελληνικά
gu guj gujarati
he heb hebrew עברית
hi hin hindi
hu hun hungarian magyar
is ice isl icelandic íslenska
id ind indonesian
ga gle irish
it ita italian italiano
ja jpn japanese 日本語
kn kan kannada
kk kaz kazakh
km khm khmer
ko kor korean 한국어
ku kur kurdish
lv lav latvian latviešu
lt lit lithuanian lietuvių
lb ltz luxembourgish
mk mac mkd macedonian
ms may msa malay melayu
ml mal malayalam
mr mar marathi
mn mon mongolian
ne nep nepali
no nor norwegian norsk
nb nob bokmål bokmal
nn nno nynorsk
fa per fas persian farsi
pl pol polish polski
pt por portuguese português portugues
pa pan punjabi
ro rum ron romanian română romana
ru rus russian русский
sr srp serbian srpski српски
si sin sinhala sinhalese
sk slo slk slovak slovenčina slovencina
sl slv slovenian slovene slovenščina
so som somali
es spa spanish castilian español espanol
sw swa swahili
sv swe swedish svenska
tl tgl tagalog filipino fil
ta tam tamil
te tel telugu
th tha thai ไทย
tr tur turkish türkçe turkce
uk ukr ukrainian українська
ur urd urdu
uz uzb uzbek
vi vie vietnamese
cy wel cym welsh cymraeg
la lat latin
"""


def _language_index() -> dict[str, str]:
    """Every known code and name (lower-case) -> ISO 639-1 code."""
    index: dict[str, str] = {}
    for line in _LANGUAGE_TABLE.strip().splitlines():
        code, *aliases = line.split()
        index[code] = code
        for alias in aliases:
            index.setdefault(alias, code)
    return index


_LANGUAGES = _language_index()
# Tags subtitle tools write for regional variants that are not `<code>-<region>`.
_LANGUAGES_WITH_REGION = {
    "brazilian": "pt-br",
    "pob": "pt-br",
    "pb": "pt-br",
    "chs": "zh-hans",
    "cht": "zh-hant",
}
_REGION_TAG = re.compile(r"([a-z]{2,3})[-_]([a-z]{2}|[a-z]{4}|\d{3})")


def language_from_tag(tag: str) -> str | None:
    """ISO 639-1 code (with `-region` when given, e.g. "pt-br") for a language tag or name."""
    tag = tag.strip().lower()
    special = _LANGUAGES_WITH_REGION.get(tag)
    if special is not None:
        return special
    code = _LANGUAGES.get(tag)
    if code is not None:
        return code
    m = _REGION_TAG.fullmatch(tag)
    if m is not None:
        base = _LANGUAGES.get(m[1])
        if base is not None:
            return f"{base}-{m[2]}"
    return None
