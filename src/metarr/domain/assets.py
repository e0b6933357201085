"""Artwork candidates: the 0-100 score, ranking, and per-type selection.

The score (PRODUCT.md §1.3) has five components:

- resolution, 30: the candidate's linear size relative to its type's ideal size
  (square root of the pixel-area ratio), capped at the ideal;
- aspect-ratio fit, 20: full at the ideal ratio, falling linearly to 0 when the
  ratio is off by a factor of 1.5 (measured on a log scale, so too wide and too
  tall are punished alike);
- language, 20: preferred language > no text > English > other. For types that
  are meant to carry no text (fanart, keyart, characterart) "no text" is best
  and the preferred language comes second;
- community votes, 20: 70 % popularity (log-scaled vote/like count relative to
  the most-voted candidate of the same type) and 30 % quality (a Bayesian
  average of `vote_average`, shrunk towards 5/10; neutral when unknown);
- provider, 10: by position in the configured provider order (first = 10,
  then linearly down; a provider not listed scores 0).

Unknown dimensions score half of the resolution and aspect components: they
are neither rewarded nor ruled out. Scores are rounded to two decimals, so
near-equal candidates tie and the tie-breaks (votes, then provider order) apply.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType

from metarr.domain.errors import InvalidInput
from metarr.domain.media import ArtworkType

# Actor headshots are ranked like artwork (TMDB profile images are 2:3).
HEADSHOT = "headshot"

IDEAL_SIZES: Mapping[str, tuple[int, int]] = MappingProxyType(
    {
        ArtworkType.POSTER.value: (2000, 3000),
        ArtworkType.FANART.value: (1920, 1080),
        ArtworkType.LANDSCAPE.value: (1920, 1080),
        ArtworkType.BANNER.value: (1000, 185),
        ArtworkType.CLEARLOGO.value: (800, 310),
        ArtworkType.CLEARART.value: (1000, 562),
        ArtworkType.DISCART.value: (1000, 1000),
        ArtworkType.KEYART.value: (2000, 3000),
        # Fanart.tv's character art is a 512x512 transparent PNG.
        ArtworkType.CHARACTERART.value: (512, 512),
        HEADSHOT: (1000, 1500),
    }
)

# Types designed to carry no text: a textless image beats the preferred language.
TEXTLESS_TYPES: frozenset[str] = frozenset(
    {ArtworkType.FANART.value, ArtworkType.KEYART.value, ArtworkType.CHARACTERART.value}
)

DEFAULT_LIMITS: Mapping[str, int] = MappingProxyType(
    {kind.value: (3 if kind is ArtworkType.FANART else 1) for kind in ArtworkType}
)

# Language codes providers use for "no text": TMDB null/"xx", fanart.tv "00".
_NO_TEXT_CODES = frozenset({"", "xx", "00", "zxx", "none"})

WEIGHT_RESOLUTION = 30.0
WEIGHT_ASPECT = 20.0
WEIGHT_LANGUAGE = 20.0
WEIGHT_VOTES = 20.0
WEIGHT_PROVIDER = 10.0

_ASPECT_TOLERANCE = math.log(1.5)  # a ratio off by this factor scores 0
_VOTE_PRIOR = 5.0  # Bayesian prior for vote_average (0-10 scale)
_VOTE_PRIOR_WEIGHT = 3.0  # how many votes the prior is worth


@dataclass(frozen=True, slots=True)
class Candidate:
    """One artwork image a provider offers (or a person uploaded) for an item."""

    type: str  # an ArtworkType value (or HEADSHOT)
    url: str
    provider: str
    width: int | None = None
    height: int | None = None
    language: str | None = None  # None = no text
    votes: int = 0  # vote count (TMDB) or likes (fanart.tv)
    vote_average: float | None = None  # 0-10 where the provider has one
    blocked: bool = False
    sha256: str | None = None  # set once downloaded into the cache

    def __post_init__(self) -> None:
        if self.type not in IDEAL_SIZES:
            raise InvalidInput(f"unknown artwork type {self.type!r}", field="type")
        for name in ("width", "height"):
            value = getattr(self, name)
            if value is not None and value <= 0:
                raise InvalidInput(f"{name} must be positive, got {value}", field=name)
        if self.votes < 0:
            raise InvalidInput(f"votes must not be negative, got {self.votes}", field="votes")
        if self.vote_average is not None and not 0.0 <= self.vote_average <= 10.0:
            raise InvalidInput("vote_average must be within 0..10", field="vote_average")

    @property
    def key(self) -> tuple[str, str]:
        """Identity of a candidate: its type and URL."""
        return (self.type, self.url)


def language_code(language: str | None) -> str | None:
    """Primary language subtag in lower case, or None for "no text"."""
    if language is None:
        return None
    code = language.strip().lower().replace("_", "-").split("-", 1)[0]
    return None if code in _NO_TEXT_CODES else code


def resolution_points(candidate: Candidate) -> float:
    """Resolution component (0-30): linear size relative to the type's ideal."""
    if candidate.width is None or candidate.height is None:
        return WEIGHT_RESOLUTION / 2
    ideal_w, ideal_h = IDEAL_SIZES[candidate.type]
    ratio = math.sqrt((candidate.width * candidate.height) / (ideal_w * ideal_h))
    return WEIGHT_RESOLUTION * min(1.0, ratio)


def aspect_points(candidate: Candidate) -> float:
    """Aspect-ratio component (0-20): closeness to the type's ideal ratio."""
    if candidate.width is None or candidate.height is None:
        return WEIGHT_ASPECT / 2
    ideal_w, ideal_h = IDEAL_SIZES[candidate.type]
    deviation = abs(math.log((candidate.width / candidate.height) / (ideal_w / ideal_h)))
    return WEIGHT_ASPECT * max(0.0, 1.0 - deviation / _ASPECT_TOLERANCE)


def language_points(candidate: Candidate, preferred_language: str | None) -> float:
    """Language component (0-20): preferred > no text > English > other."""
    code = language_code(candidate.language)
    preferred = language_code(preferred_language) or "en"
    if candidate.type in TEXTLESS_TYPES:
        ladder: tuple[str | None, ...] = (None, preferred, "en")
    else:
        ladder = (preferred, None, "en")
    # First rung 1.0, then 0.75, then 0.5; with English preferred, "en" sits on
    # its preferred rung and the English rung is never reached.
    for rung, value in zip(ladder, (1.0, 0.75, 0.5), strict=True):
        if code == rung:
            return WEIGHT_LANGUAGE * value
    return 0.0


def vote_points(candidate: Candidate, max_votes: int | None = None) -> float:
    """Community component (0-20), popularity relative to `max_votes` of the same type.

    `max_votes` defaults to the candidate's own count; `rank` passes the maximum
    among the candidates of the same type.
    """
    top = max(candidate.votes, max_votes or 0)
    popularity = math.log1p(candidate.votes) / math.log1p(top) if top > 0 else 0.0
    if candidate.vote_average is None or candidate.votes == 0:
        quality = _VOTE_PRIOR / 10
    else:
        weighted = candidate.votes * candidate.vote_average + _VOTE_PRIOR_WEIGHT * _VOTE_PRIOR
        quality = weighted / (candidate.votes + _VOTE_PRIOR_WEIGHT) / 10
    return WEIGHT_VOTES * (0.7 * popularity + 0.3 * quality)


def provider_points(provider: str, provider_order: Sequence[str]) -> float:
    """Provider component (0-10): first in the configured order scores 10."""
    try:
        index = list(provider_order).index(provider)
    except ValueError:
        return 0.0
    return WEIGHT_PROVIDER * (len(provider_order) - index) / len(provider_order)


def score(
    candidate: Candidate,
    *,
    preferred_language: str | None,
    provider_order: Sequence[str],
    max_votes: int | None = None,
) -> float:
    """The candidate's 0-100 score (see the module docstring for the formula)."""
    total = (
        resolution_points(candidate)
        + aspect_points(candidate)
        + language_points(candidate, preferred_language)
        + vote_points(candidate, max_votes)
        + provider_points(candidate.provider, provider_order)
    )
    return round(min(100.0, max(0.0, total)), 2)


def _provider_index(provider: str, provider_order: Sequence[str]) -> int:
    try:
        return list(provider_order).index(provider)
    except ValueError:
        return len(provider_order)


def rank(
    candidates: Iterable[Candidate],
    *,
    preferred_language: str | None,
    provider_order: Sequence[str],
) -> list[tuple[Candidate, float]]:
    """Unblocked candidates with their scores, best first.

    Ties break on votes, then provider order; the rest of the key (type, URL,
    language, size) only makes the order total, so it never depends on input order.
    """
    pool = [c for c in candidates if not c.blocked]
    max_votes: dict[str, int] = {}
    for c in pool:
        max_votes[c.type] = max(max_votes.get(c.type, 0), c.votes)
    scored = [
        (
            c,
            score(
                c,
                preferred_language=preferred_language,
                provider_order=provider_order,
                max_votes=max_votes[c.type],
            ),
        )
        for c in pool
    ]
    scored.sort(
        key=lambda pair: (
            -pair[1],
            -pair[0].votes,
            _provider_index(pair[0].provider, provider_order),
            pair[0].provider,
            pair[0].type,
            pair[0].url,
            pair[0].language is None,
            pair[0].language or "",
            pair[0].width or 0,
            pair[0].height or 0,
            pair[0].vote_average is None,
            -(pair[0].vote_average or 0.0),
            pair[0].sha256 is None,
            pair[0].sha256 or "",
        )
    )
    return scored


@dataclass(frozen=True, slots=True)
class Selection:
    """What selection chose per type; locked types are listed, never chosen for."""

    chosen: Mapping[str, tuple[Candidate, ...]] = field(default_factory=dict)
    locked: frozenset[str] = frozenset()


def select(
    candidates: Iterable[Candidate],
    limits: Mapping[str, int] = DEFAULT_LIMITS,
    *,
    locked_types: Collection[str] = (),
    user_choice: Mapping[str, Sequence[Candidate]] | None = None,
    preferred_language: str | None = None,
    provider_order: Sequence[str] = (),
) -> Selection:
    """Choose the artwork of each type: a person's picks first, then the best-ranked.

    - A locked type is left out of `chosen` and listed in `locked`: the caller
      keeps whatever the item has now.
    - A person's choice is always kept, in its order, even when it exceeds the
      limit, the type's limit is 0, or the candidate was blocked later.
    - The remaining slots (limit minus the person's picks) are filled from the
      ranked, unblocked candidates. A type missing from `limits` uses its
      default limit (1 for a type without one); a limit of 0 disables automatic
      picks for that type. Types with neither candidates nor a person's choice
      are absent from `chosen`; an empty tuple means "no artwork of this type".
    """
    user_choice = user_choice or {}
    locked = frozenset(locked_types)
    ranked = rank(candidates, preferred_language=preferred_language, provider_order=provider_order)
    by_type: dict[str, list[Candidate]] = {}
    for candidate, _ in ranked:
        by_type.setdefault(candidate.type, []).append(candidate)

    chosen: dict[str, tuple[Candidate, ...]] = {}
    for kind in sorted(set(by_type) | set(user_choice)):
        if kind in locked:
            continue
        picks: list[Candidate] = []
        taken: set[tuple[str, str]] = set()
        for candidate in user_choice.get(kind, ()):
            if candidate.key not in taken:
                picks.append(candidate)
                taken.add(candidate.key)
        limit = max(0, limits.get(kind, DEFAULT_LIMITS.get(kind, 1)))
        for candidate in by_type.get(kind, ()):
            if len(picks) >= limit:
                break
            if candidate.key not in taken:
                picks.append(candidate)
                taken.add(candidate.key)
        chosen[kind] = tuple(picks)
    return Selection(chosen=chosen, locked=locked)
