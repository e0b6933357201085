"""OMDb payloads -> ratings (pure). Values keep their native scale (`Rating.max`)."""

from __future__ import annotations

import re

from metarr.domain.media import Rating
from metarr.providers.omdb import schemas

# OMDb source name -> Kodi rating name
SOURCES = {
    "Internet Movie Database": "imdb",
    "Rotten Tomatoes": "tomatometerallcritics",
    "Metacritic": "metacritic",
}

_FRACTION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*/\s*(\d+(?:\.\d+)?)\s*$")
_PERCENT = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*%\s*$")


def parse_value(text: str | None) -> tuple[float, float] | None:
    """ "8.8/10" -> (8.8, 10), "87%" -> (87, 100), "74/100" -> (74, 100), "N/A" -> None."""
    if text is None:
        return None
    match = _FRACTION.match(text)
    if match:
        value, top = float(match.group(1)), float(match.group(2))
        return (value, top) if top > 0 else None
    match = _PERCENT.match(text)
    if match:
        return float(match.group(1)), 100.0
    return None


def parse_votes(text: str | None) -> int | None:
    """ "2,345,678" -> 2345678; "N/A" -> None."""
    if text is None:
        return None
    digits = text.replace(",", "").strip()
    return int(digits) if digits.isdigit() else None


def ratings(payload: schemas.Title) -> list[Rating]:
    """IMDb, Rotten Tomatoes and Metacritic ratings; unknown ("N/A") ones are left out."""
    out: dict[str, Rating] = {}
    for entry in payload.ratings:
        source = SOURCES.get(entry.source)
        parsed = parse_value(entry.value)
        if source is None or parsed is None:
            continue
        value, top = parsed
        votes = parse_votes(payload.imdb_votes) if source == "imdb" else None
        out[source] = Rating(source=source, value=value, votes=votes, max=top)
    if "imdb" not in out:
        parsed = parse_value(f"{payload.imdb_rating}/10") if payload.imdb_rating else None
        if parsed is not None:
            out["imdb"] = Rating("imdb", parsed[0], parse_votes(payload.imdb_votes), 10.0)
    if "metacritic" not in out:
        parsed = parse_value(f"{payload.metascore}/100") if payload.metascore else None
        if parsed is not None:
            out["metacritic"] = Rating("metacritic", parsed[0], None, 100.0)
    order = list(SOURCES.values())
    return sorted(out.values(), key=lambda r: order.index(r.source))
