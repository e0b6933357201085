"""Which provider trailer a movie gets, and how Kodi plays it.

Kodi plays a YouTube video through the YouTube add-on's URL
`plugin://plugin.video.youtube/play/?video_id=<key>` (the add-on's current form;
`?action=play_video&videoid=` is the legacy one). Only YouTube videos qualify.

The best trailer is decided by, in order:

1. official (uploaded by the studio or distributor) before fan uploads;
2. type `Trailer` before `Teaser`; other video types (clips, featurettes) never;
3. language: the preferred one, then English, then no language, then others;
4. size (vertical resolution), largest first;
5. the provider's order, as a stable tie-break.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from metarr.domain.candidates import Trailer

KODI_YOUTUBE = "plugin://plugin.video.youtube/play/?video_id="
TRAILER_TYPES = ("Trailer", "Teaser")
# YouTube video ids: letters, digits, "-" and "_" (11 today; a few more allowed).
_YOUTUBE_KEY = re.compile(r"[A-Za-z0-9_-]{6,32}")


def _language(code: str | None) -> str | None:
    if code is None:
        return None
    code = code.strip().lower().replace("_", "-").split("-", 1)[0]
    return code or None


def _language_rank(language: str | None, preferred: str | None) -> int:
    code = _language(language)
    wanted = _language(preferred) or "en"
    if code == wanted:
        return 0
    if code == "en":
        return 1
    if code is None:
        return 2
    return 3


def best_trailer(trailers: Iterable[Trailer], preferred_language: str | None) -> Trailer | None:
    """The trailer to offer Kodi (see the module docstring), None when no YouTube one fits."""
    usable = [
        (index, t)
        for index, t in enumerate(trailers)
        if t.site.strip().lower() == "youtube"
        and t.type in TRAILER_TYPES
        and _YOUTUBE_KEY.fullmatch(t.key)
    ]
    if not usable:
        return None
    _, best = min(
        usable,
        key=lambda pair: (
            not pair[1].official,
            TRAILER_TYPES.index(pair[1].type),
            _language_rank(pair[1].language, preferred_language),
            -(pair[1].size or 0),
            pair[0],
        ),
    )
    return best


def kodi_trailer_url(trailer: Trailer | None) -> str | None:
    """The `trailer` field value Kodi plays (None without a trailer)."""
    if trailer is None:
        return None
    return KODI_YOUTUBE + trailer.key
