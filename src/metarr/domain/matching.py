"""Identification by search: title normalisation, candidate scoring, accept-or-review.

A search result is accepted automatically only when it is certain (PRODUCT.md
§1.2): either exactly one result has the exact normalised title (or original or
alternative title) *and* the same year, or one result scores above the
threshold with a clear margin over the runner-up. Everything else needs review.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from difflib import SequenceMatcher
from enum import StrEnum

from metarr.domain.media import MovieStatus

DEFAULT_THRESHOLD = 0.8
DEFAULT_MARGIN = 0.1

# Score weights: title similarity dominates, the year confirms, popularity only
# separates otherwise equal results.
_W_TITLE = 0.70
_W_YEAR = 0.26
_W_POPULARITY = 0.04  # less than one year of difference (0.26 * 0.2)
_YEAR_UNKNOWN = 0.6  # neither confirms nor contradicts
_YEAR_POINTS = {0: 1.0, 1: 0.8, 2: 0.3}  # |year difference| -> points
_POPULARITY_SATURATION = math.log1p(1000.0)  # TMDB popularity ~1000 = blockbuster

# Leading articles, English and the common foreign ones that are not also
# ordinary English words ("die" would turn "Die Hard" into "hard").
_ARTICLES = frozenset(
    {
        "the", "a", "an",
        "le", "la", "les", "l",
        "el", "los", "las",
        "il", "lo", "gli",
        "der", "das", "den", "dem",
        "het", "een",
        "un", "une", "ein", "eine",
    }
)  # fmt: skip
_LEADING_WORD = re.compile(r"\s*([^\W\d_]+)(?:\s|['\u2019])")
_TRAILING_ARTICLE = re.compile(r",\s*(the|a|an)\s*$")
_ACRONYM = re.compile(r"\b(?:[^\W\d_]\.){2,}(?:[^\W\d_]\b)?")
_APOSTROPHES = re.compile(r"['\u2018\u2019`\u00b4]")
_NON_WORD = re.compile(r"[\W_]+")
_LIGATURES = str.maketrans(
    {"æ": "ae", "œ": "oe", "ø": "o", "ß": "ss", "đ": "d", "ł": "l", "þ": "th", "ð": "d"}
)
# II..XX as whole words (I, V and X alone are too often words or letters).
_ROMAN = {
    "ii": "2", "iii": "3", "iv": "4", "vi": "6", "vii": "7", "viii": "8", "ix": "9",
    "xi": "11", "xii": "12", "xiii": "13", "xiv": "14", "xv": "15", "xvi": "16",
    "xvii": "17", "xviii": "18", "xix": "19", "xx": "20",
}  # fmt: skip


def normalise_title(title: str) -> str:
    """A title reduced to what identifies it: "The Matrix" and "Matrix, the" -> "matrix".

    Case folded, accents and ligatures flattened, "&" read as "and", dotted
    acronyms joined (S.W.A.T. -> swat), apostrophes dropped, punctuation turned
    into spaces, a leading article removed (also the "Title, The" form), roman
    numerals II-XX turned into digits, whitespace collapsed.
    """
    text = unicodedata.normalize("NFKD", title)
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    text = text.casefold().translate(_LIGATURES)
    text = text.replace("&", " and ")
    trailing = _TRAILING_ARTICLE.search(text)
    if trailing:
        text = f"{trailing.group(1)} {text[: trailing.start()]}"
    # Only a real leading word is an article: "L.A. Confidential" keeps its "la".
    leading = _LEADING_WORD.match(text)
    text = _ACRONYM.sub(lambda m: m.group(0).replace(".", ""), text)
    text = re.sub(r"\b([ld])['\u2019]", r"\1 ", text)  # French elision: l'armée -> l armée
    text = _APOSTROPHES.sub("", text)
    words = _NON_WORD.sub(" ", text).split()
    if len(words) > 1 and leading and leading.group(1) == words[0] and words[0] in _ARTICLES:
        words = words[1:]
    return " ".join(_ROMAN.get(word, word) for word in words)


def _compact(normalised: str) -> str:
    return normalised.replace(" ", "")


@dataclass(frozen=True, slots=True)
class SearchResult:
    """One result of a provider search, as matching needs it."""

    title: str
    year: int | None = None
    original_title: str | None = None
    alternative_titles: tuple[str, ...] = ()
    popularity: float = 0.0
    ref: str | int | None = None  # the provider's id, opaque here

    def titles(self) -> tuple[str, ...]:
        """Every title the result is known by."""
        extra = (self.original_title,) if self.original_title else ()
        return (self.title, *extra, *self.alternative_titles)


@dataclass(frozen=True, slots=True)
class Query:
    """What we are looking for: a title and, when known, a year."""

    title: str
    year: int | None = None


def title_similarity(query_title: str, candidate: SearchResult) -> float:
    """Best similarity (0..1) between the query title and any of the result's titles."""
    wanted = normalise_title(query_title)
    if not wanted:
        return 0.0
    best = 0.0
    for title in candidate.titles():
        have = normalise_title(title)
        if have == wanted or _compact(have) == _compact(wanted):
            return 1.0
        best = max(best, SequenceMatcher(None, wanted, have, autojunk=False).ratio())
    return best


def is_exact_title(query_title: str, candidate: SearchResult) -> bool:
    """True when some title of the result normalises to the query title."""
    return title_similarity(query_title, candidate) == 1.0


def year_points(query_year: int | None, candidate_year: int | None) -> float:
    """1 for the same year, 0.8 one year off (release dates differ by country), then less."""
    if query_year is None or candidate_year is None:
        return _YEAR_UNKNOWN
    return _YEAR_POINTS.get(abs(query_year - candidate_year), 0.0)


def score_candidate(query_title: str, query_year: int | None, candidate: SearchResult) -> float:
    """How well a search result fits the query, 0..1."""
    popularity = min(1.0, math.log1p(max(0.0, candidate.popularity)) / _POPULARITY_SATURATION)
    total = (
        _W_TITLE * title_similarity(query_title, candidate)
        + _W_YEAR * year_points(query_year, candidate.year)
        + _W_POPULARITY * popularity
    )
    return round(min(1.0, max(0.0, total)), 4)


class DecisionReason(StrEnum):
    """Why a search was accepted or sent to review."""

    EXACT_TITLE_YEAR = "exact_title_year"
    UNIQUE_MATCH = "unique_match"
    NO_CANDIDATES = "no_candidates"
    AMBIGUOUS = "ambiguous"
    BELOW_THRESHOLD = "below_threshold"


@dataclass(frozen=True, slots=True)
class ScoredResult:
    """A search result with its score and whether its title matched exactly."""

    candidate: SearchResult
    score: float
    exact_title: bool


@dataclass(frozen=True, slots=True)
class Decision:
    """The outcome of identification by search."""

    accepted: SearchResult | None
    ranked: tuple[ScoredResult, ...]
    reason: DecisionReason

    @property
    def status(self) -> MovieStatus:
        """Identified when accepted; needs review when there were candidates."""
        if self.accepted is not None:
            return MovieStatus.IDENTIFIED
        if self.ranked:
            return MovieStatus.NEEDS_REVIEW
        return MovieStatus.UNIDENTIFIED


def _distinct(results: Iterable[ScoredResult]) -> list[ScoredResult]:
    """Drop repeats of the same provider id (a search can list one film twice)."""
    seen: set[str | int] = set()
    out: list[ScoredResult] = []
    for item in results:
        ref = item.candidate.ref
        if ref is not None:
            if ref in seen:
                continue
            seen.add(ref)
        out.append(item)
    return out


def decide(
    query: Query,
    candidates: Sequence[SearchResult],
    threshold: float = DEFAULT_THRESHOLD,
    *,
    margin: float = DEFAULT_MARGIN,
) -> Decision:
    """Accept one search result automatically, or leave the choice to a person.

    1. Exactly one result has an exact normalised title and the query's year:
       accepted. Several such results: ambiguous, review.
    2. Otherwise the best result is accepted when it scores at least `threshold`
       and beats the runner-up by at least `margin`.
    """
    scored = [
        ScoredResult(c, score_candidate(query.title, query.year, c), is_exact_title(query.title, c))
        for c in candidates
    ]
    # Stable sort: equal scores keep the provider's order after popularity.
    scored.sort(key=lambda s: (-s.score, -s.candidate.popularity))
    ranked = tuple(_distinct(scored))
    if not ranked:
        return Decision(None, ranked, DecisionReason.NO_CANDIDATES)

    if query.year is not None:
        exact = [s for s in ranked if s.exact_title and s.candidate.year == query.year]
        if len(exact) == 1:
            return Decision(exact[0].candidate, ranked, DecisionReason.EXACT_TITLE_YEAR)
        if len(exact) > 1:
            return Decision(None, ranked, DecisionReason.AMBIGUOUS)

    best = ranked[0]
    if best.score < threshold:
        return Decision(None, ranked, DecisionReason.BELOW_THRESHOLD)
    if len(ranked) > 1 and best.score - ranked[1].score < margin:
        return Decision(None, ranked, DecisionReason.AMBIGUOUS)
    return Decision(best.candidate, ranked, DecisionReason.UNIQUE_MATCH)
