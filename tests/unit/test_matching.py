"""Identification by search: normalised titles, scores, and accept-or-review decisions."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from metarr.domain.matching import (
    DEFAULT_THRESHOLD,
    DecisionReason,
    Query,
    SearchResult,
    decide,
    normalise_title,
    score_candidate,
    year_points,
)
from metarr.domain.media import MovieStatus

MATRIX = SearchResult("The Matrix", 1999, "The Matrix", popularity=80.0, ref=603)
RELOADED = SearchResult("The Matrix Reloaded", 2003, popularity=40.0, ref=604)
REVOLUTIONS = SearchResult("The Matrix Revolutions", 2003, popularity=35.0, ref=605)
RESURRECTIONS = SearchResult("The Matrix Resurrections", 2021, popularity=30.0, ref=624860)
AMELIE = SearchResult(
    "Amélie",
    2001,
    "Le Fabuleux Destin d'Amélie Poulain",
    ("Amelie from Montmartre",),
    popularity=25.0,
    ref=194,
)
SEVEN = SearchResult("Se7en", 1995, "Se7en", ("Seven",), popularity=60.0, ref=807)


@pytest.mark.parametrize(
    ("title", "expected"),
    [
        ("The Matrix", "matrix"),
        ("Matrix", "matrix"),
        ("Matrix, The", "matrix"),
        ("THE   MATRIX!", "matrix"),
        ("Amélie", "amelie"),
        ("Amelie", "amelie"),
        ("Le Fabuleux Destin d'Amélie Poulain", "fabuleux destin d amelie poulain"),
        ("L'Armée des ombres", "armee des ombres"),
        ("Das Boot", "boot"),
        ("El Laberinto del Fauno", "laberinto del fauno"),
        ("Die Hard", "die hard"),  # "die" is not stripped: it is an English word too
        ("L.A. Confidential", "la confidential"),  # an acronym, not the article "la"
        ("S.W.A.T.", "swat"),
        ("Fast & Furious", "fast and furious"),
        ("Ocean's Eleven", "oceans eleven"),
        ("Ocean\u2019s Eleven", "oceans eleven"),  # typographic apostrophe
        ("Rocky II", "rocky 2"),
        ("Rocky III", "rocky 3"),
        ("Star Wars: Episode IV - A New Hope", "star wars episode 4 a new hope"),
        ("Se7en", "se7en"),
        ("Spider-Man: No Way Home", "spider man no way home"),
        ("Æon Flux", "aeon flux"),
        ("A", "a"),  # an article alone is the whole title
        ("", ""),
    ],
)
def test_normalise_title(title: str, expected: str) -> None:
    assert normalise_title(title) == expected


@given(st.text(alphabet=st.characters(codec="ascii"), max_size=40))
def test_normalise_title_ignores_case_and_spacing(title: str) -> None:
    result = normalise_title(title)
    assert result == normalise_title(title.upper()) == normalise_title(f"  {title}\t")
    assert result == result.strip()
    assert "  " not in result


@given(st.text(max_size=40))
def test_normalise_title_yields_plain_lowercase_words(title: str) -> None:
    result = normalise_title(title)
    assert result == " ".join(result.split())
    assert result == result.casefold()


@pytest.mark.parametrize(
    ("query_year", "candidate_year", "expected"),
    [(1999, 1999, 1.0), (1999, 2000, 0.8), (2000, 1999, 0.8), (1999, 2001, 0.3), (1999, 2003, 0.0)],
)
def test_year_points(query_year: int, candidate_year: int, expected: float) -> None:
    assert year_points(query_year, candidate_year) == expected


def test_unknown_year_is_neutral() -> None:
    assert 0.0 < year_points(None, 1999) == year_points(1999, None) < 0.8


def test_scores_rank_title_then_year() -> None:
    exact = score_candidate("The Matrix", 1999, MATRIX)
    off_by_one = score_candidate("The Matrix", 2000, MATRIX)
    sequel = score_candidate("The Matrix", 1999, RELOADED)
    assert 1.0 >= exact > off_by_one > sequel >= 0.0
    assert exact >= 0.95
    assert sequel < DEFAULT_THRESHOLD


def test_popularity_only_breaks_ties() -> None:
    obscure = SearchResult("Heat", 1995, popularity=0.0)
    famous = SearchResult("Heat", 1995, popularity=5000.0)
    low, high = score_candidate("Heat", 1995, obscure), score_candidate("Heat", 1995, famous)
    assert 0 < high - low <= 0.04 + 1e-9
    assert score_candidate("Heat", 1996, famous) < low


@pytest.mark.parametrize(
    ("query", "candidates", "accepted", "reason"),
    [
        (Query("The Matrix", 1999), [RELOADED, MATRIX, REVOLUTIONS], MATRIX, "exact_title_year"),
        (Query("Matrix", 1999), [MATRIX, RELOADED], MATRIX, "exact_title_year"),
        (
            Query("The Matrix Reloaded", 2003),
            [MATRIX, RELOADED, REVOLUTIONS],
            RELOADED,
            "exact_title_year",
        ),
        (Query("Amelie", 2001), [AMELIE], AMELIE, "exact_title_year"),
        (Query("Le Fabuleux Destin d'Amelie Poulain", 2001), [AMELIE], AMELIE, "exact_title_year"),
        (Query("Se7en", 1995), [SEVEN], SEVEN, "exact_title_year"),
        (Query("Seven", 1995), [SEVEN], SEVEN, "exact_title_year"),  # alternative title
        # Year off by one (release dates differ by country): a unique match.
        (Query("The Matrix", 2000), [MATRIX, RELOADED], MATRIX, "unique_match"),
        # No year, but only one result carries the title.
        (Query("Amelie", None), [AMELIE, MATRIX], AMELIE, "unique_match"),
        # Only sequels found: nothing is close enough.
        (
            Query("The Matrix", 1999),
            [RELOADED, REVOLUTIONS, RESURRECTIONS],
            None,
            "below_threshold",
        ),
        (Query("The Matrix", 1999), [], None, "no_candidates"),
    ],
)
def test_decide(
    query: Query, candidates: list[SearchResult], accepted: SearchResult | None, reason: str
) -> None:
    decision = decide(query, candidates)
    assert decision.accepted == accepted
    assert decision.reason == DecisionReason(reason)
    assert len(decision.ranked) == len(candidates)


HEAT_1995 = SearchResult("Heat", 1995, popularity=45.0, ref=949)
HEAT_1986 = SearchResult("Heat", 1986, popularity=8.0, ref=33542)


def test_same_title_without_a_year_needs_review() -> None:
    decision = decide(Query("Heat", None), [HEAT_1995, HEAT_1986])
    assert decision.accepted is None
    assert decision.reason is DecisionReason.AMBIGUOUS
    assert decision.status is MovieStatus.NEEDS_REVIEW
    assert [r.candidate for r in decision.ranked] == [HEAT_1995, HEAT_1986]  # popularity first


@pytest.mark.parametrize(
    ("year", "expected"), [(1995, HEAT_1995), (1986, HEAT_1986), (1987, HEAT_1986)]
)
def test_same_title_is_resolved_by_the_year(year: int, expected: SearchResult) -> None:
    decision = decide(Query("Heat", year), [HEAT_1995, HEAT_1986])
    assert decision.accepted == expected
    assert decision.status is MovieStatus.IDENTIFIED


def test_two_films_with_the_same_title_and_year_need_review() -> None:
    a = SearchResult("Twins", 1988, popularity=30.0, ref=1)
    b = SearchResult("Twins", 1988, popularity=2.0, ref=2)
    decision = decide(Query("Twins", 1988), [a, b])
    assert decision.accepted is None
    assert decision.reason is DecisionReason.AMBIGUOUS


def test_the_same_film_listed_twice_is_not_ambiguous() -> None:
    decision = decide(Query("The Matrix", 1999), [MATRIX, MATRIX])
    assert decision.accepted == MATRIX
    assert len(decision.ranked) == 1


def test_year_off_by_one_on_both_sides_needs_review() -> None:
    a = SearchResult("Solaris", 2001, ref=1)
    b = SearchResult("Solaris", 2003, ref=2)
    assert decide(Query("Solaris", 2002), [a, b]).reason is DecisionReason.AMBIGUOUS


def test_a_near_title_is_accepted_only_above_the_threshold() -> None:
    typo = SearchResult("The Shawshank Redemption", 1994, ref=278)
    assert decide(Query("Shawshank Redemtion", 1994), [typo]).accepted == typo
    strict = decide(Query("Shawshank Redemtion", 1994), [typo], threshold=0.99)
    assert strict.accepted is None
    assert strict.reason is DecisionReason.BELOW_THRESHOLD


def test_no_candidates_leaves_the_item_unidentified() -> None:
    assert decide(Query("Nothing", 2020), []).status is MovieStatus.UNIDENTIFIED
