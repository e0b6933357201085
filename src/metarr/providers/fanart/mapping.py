"""fanart.tv payloads -> artwork candidates (pure).

fanart.tv does not send dimensions; each of its types has a fixed size by the
site's upload rules, which we report so candidates can be ranked like TMDB's.
"""

from __future__ import annotations

from metarr.domain.candidates import AssetCandidate
from metarr.domain.media import ArtworkType
from metarr.providers.fanart import schemas

PROVIDER = "fanart"

# fanart.tv type -> (our type, width, height)
TYPES: dict[str, tuple[ArtworkType, int, int]] = {
    "hdmovielogo": (ArtworkType.CLEARLOGO, 800, 310),
    "movielogo": (ArtworkType.CLEARLOGO, 400, 155),
    "hdmovieclearart": (ArtworkType.CLEARART, 1000, 562),
    "movieart": (ArtworkType.CLEARART, 500, 281),
    "moviedisc": (ArtworkType.DISCART, 1000, 1000),
    "moviebanner": (ArtworkType.BANNER, 1000, 185),
    "moviethumb": (ArtworkType.LANDSCAPE, 1000, 562),
    "movieposter": (ArtworkType.POSTER, 1000, 1426),
    "moviebackground": (ArtworkType.FANART, 1920, 1080),
    "movie4kbackground": (ArtworkType.FANART, 3840, 2160),
}

_NO_TEXT = frozenset({"", "00", "xx", "zxx"})


def normalise_language(lang: str | None) -> str | None:
    """fanart.tv `lang`: "" and "00" mean no text -> None; otherwise lower case."""
    if lang is None:
        return None
    lang = lang.strip().lower()
    return None if lang in _NO_TEXT else lang


def candidates(payload: schemas.MovieImages) -> list[AssetCandidate]:
    """Every image of a movie as candidates, in payload order per type."""
    out: list[AssetCandidate] = []
    for field, (kind, width, height) in TYPES.items():
        images: list[schemas.Image] = getattr(payload, field)
        for image in images:
            out.append(
                AssetCandidate(
                    type=kind,
                    url=image.url,
                    provider=PROVIDER,
                    width=width,
                    height=height,
                    language=normalise_language(image.lang),
                    votes=image.likes if image.likes is not None else 0,
                    remote_id=image.id,
                )
            )
    return out
