"""Artwork candidate score (PRODUCT.md §1.3), ranking and per-type selection."""

from __future__ import annotations

import random
from dataclasses import replace
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from metarr.domain.assets import (
    DEFAULT_LIMITS,
    IDEAL_SIZES,
    Candidate,
    aspect_points,
    language_code,
    language_points,
    provider_points,
    rank,
    resolution_points,
    score,
    select,
    vote_points,
)
from metarr.domain.errors import InvalidInput
from metarr.domain.media import ArtworkType

ORDER = ("tmdb", "fanart", "local")


def poster(url: str = "p", **kw: object) -> Candidate:
    fields: dict[str, object] = {"type": "poster", "url": url, "provider": "tmdb"}
    fields.update(kw)
    return Candidate(**fields)  # type: ignore[arg-type]


# -- components ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "size", "expected"),
    [
        ("poster", (2000, 3000), 30.0),
        ("poster", (4000, 6000), 30.0),  # capped at the ideal
        ("poster", (1000, 1500), 15.0),  # half the linear size
        ("poster", (500, 750), 7.5),
        ("poster", (None, None), 15.0),  # unknown: neutral half
        ("fanart", (1920, 1080), 30.0),
        ("fanart", (1280, 720), 20.0),
        ("landscape", (960, 540), 15.0),
        ("banner", (1000, 185), 30.0),
        ("clearlogo", (400, 155), 15.0),
        ("clearart", (1000, 562), 30.0),
        ("discart", (500, 500), 15.0),
        ("keyart", (2000, 3000), 30.0),
        ("characterart", (512, 512), 30.0),
    ],
)
def test_resolution_points(kind: str, size: tuple[int | None, int | None], expected: float) -> None:
    c = Candidate(kind, "u", "tmdb", width=size[0], height=size[1])
    assert resolution_points(c) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("kind", "size", "expected"),
    [
        ("poster", (2000, 3000), 20.0),
        ("poster", (1000, 1500), 20.0),  # ratio, not size
        ("poster", (1920, 1080), 0.0),  # a backdrop offered as a poster
        ("poster", (None, None), 10.0),
        ("fanart", (3840, 2160), 20.0),
        ("fanart", (1000, 1500), 0.0),
        ("banner", (1000, 185), 20.0),
        ("discart", (1000, 1000), 20.0),
        ("discart", (1500, 1000), 0.0),  # off by exactly the 1.5 tolerance
    ],
)
def test_aspect_points(kind: str, size: tuple[int | None, int | None], expected: float) -> None:
    c = Candidate(kind, "u", "tmdb", width=size[0], height=size[1])
    assert aspect_points(c) == pytest.approx(expected, abs=1e-9)


def test_aspect_points_fall_with_distance_from_ideal() -> None:
    near = aspect_points(poster(width=1000, height=1480))
    further = aspect_points(poster(width=1000, height=1300))
    assert 20.0 > near > further > 0.0


@pytest.mark.parametrize(
    ("kind", "language", "preferred", "expected"),
    [
        # Types that may carry text: preferred > no text > English > other.
        ("poster", "de", "de", 20.0),
        ("poster", None, "de", 15.0),
        ("poster", "en", "de", 10.0),
        ("poster", "fr", "de", 0.0),
        ("poster", "en", "en", 20.0),
        ("poster", None, "en", 15.0),
        ("poster", "fr", "en", 0.0),
        ("poster", "xx", "de", 15.0),  # TMDB "no language"
        ("poster", "00", "de", 15.0),  # fanart.tv "no language"
        ("poster", "", "de", 15.0),
        ("poster", "DE", "de-DE", 20.0),
        ("poster", "en-US", "de", 10.0),
        ("poster", "en", None, 20.0),  # no preference: English
        ("clearlogo", "de", "de", 20.0),
        ("clearlogo", None, "de", 15.0),
        # Background-like types: no text is best.
        ("fanart", None, "de", 20.0),
        ("fanart", "de", "de", 15.0),
        ("fanart", "en", "de", 10.0),
        ("fanart", "fr", "de", 0.0),
        ("fanart", "en", "en", 15.0),
        ("keyart", None, "fr", 20.0),
        ("characterart", None, "fr", 20.0),
    ],
)
def test_language_points(
    kind: str, language: str | None, preferred: str | None, expected: float
) -> None:
    c = Candidate(kind, "u", "tmdb", language=language)
    assert language_points(c, preferred) == expected


@pytest.mark.parametrize(
    ("code", "expected"),
    [(None, None), ("", None), ("xx", None), ("00", None), ("EN", "en"), ("pt_BR", "pt")],
)
def test_language_code(code: str | None, expected: str | None) -> None:
    assert language_code(code) == expected


@pytest.mark.parametrize(
    ("votes", "average", "max_votes", "expected"),
    [
        (0, None, 0, 3.0),  # nobody voted: no popularity, neutral quality
        (0, 0.0, 50, 3.0),  # TMDB reports 0.0 for no votes: treated as unknown
        (50, None, 50, 17.0),  # most liked, no average known
        (50, 10.0, 50, 14.0 + 6.0 * (500 + 15) / 53 / 10),
        (5, 2.0, 5, 14.0 + 6.0 * (10 + 15) / 8 / 10),
    ],
)
def test_vote_points(votes: int, average: float | None, max_votes: int, expected: float) -> None:
    c = poster(votes=votes, vote_average=average)
    assert vote_points(c, max_votes) == pytest.approx(expected)


def test_vote_points_are_log_scaled_relative_to_the_most_voted() -> None:
    few, many = poster(votes=10), poster(votes=100)
    assert vote_points(many, 100) == pytest.approx(17.0)
    assert vote_points(few, 100) == pytest.approx(14.0 * 0.52 + 3.0, abs=0.01)
    assert vote_points(few) == pytest.approx(17.0)  # alone, it is its own maximum


@pytest.mark.parametrize(
    ("provider", "order", "expected"),
    [
        ("tmdb", ORDER, 10.0),
        ("fanart", ORDER, 10.0 * 2 / 3),
        ("local", ORDER, 10.0 / 3),
        ("omdb", ORDER, 0.0),
        ("tmdb", (), 0.0),
        ("fanart", ("fanart",), 10.0),
    ],
)
def test_provider_points(provider: str, order: tuple[str, ...], expected: float) -> None:
    assert provider_points(provider, order) == pytest.approx(expected)


def test_a_perfect_candidate_scores_100() -> None:
    c = poster(width=2000, height=3000, language="de", votes=10, vote_average=10.0)
    assert score(c, preferred_language="de", provider_order=ORDER, max_votes=10) < 100.0
    c = poster(width=2000, height=3000, language="de", votes=10**9, vote_average=10.0)
    assert score(c, preferred_language="de", provider_order=ORDER) == pytest.approx(100.0, abs=0.01)


def test_score_is_the_sum_of_its_components() -> None:
    c = Candidate("fanart", "u", "fanart", width=1280, height=720, language="en", votes=4)
    total = 20.0 + 20.0 + 10.0 + vote_points(c, 8) + 10.0 * 2 / 3
    assert score(c, preferred_language="de", provider_order=ORDER, max_votes=8) == round(total, 2)


@pytest.mark.parametrize(
    "fields",
    [
        {"type": "wallpaper"},
        {"width": 0},
        {"height": -5},
        {"votes": -1},
        {"vote_average": 11.0},
    ],
)
def test_invalid_candidates_are_refused(fields: dict[str, Any]) -> None:
    with pytest.raises(InvalidInput):
        poster(**fields)


def test_ideal_sizes_cover_every_artwork_type() -> None:
    assert {t.value for t in ArtworkType} <= set(IDEAL_SIZES)
    assert DEFAULT_LIMITS["poster"] == 1
    assert DEFAULT_LIMITS["fanart"] == 3
    assert all(DEFAULT_LIMITS[t.value] == 1 for t in ArtworkType if t is not ArtworkType.FANART)


# -- ranking ------------------------------------------------------------------


def test_rank_orders_by_score_and_excludes_blocked() -> None:
    big = poster("big", width=2000, height=3000, language="en")
    small = poster("small", width=500, height=750, language="en")
    blocked = poster("blocked", width=4000, height=6000, language="en", blocked=True)
    ranked = rank([small, blocked, big], preferred_language="en", provider_order=ORDER)
    assert [c.url for c, _ in ranked] == ["big", "small"]
    assert ranked[0][1] > ranked[1][1]


def test_votes_are_normalised_within_a_type() -> None:
    # The only fanart with 3 likes is the most popular fanart, however many
    # votes the posters have.
    posters = [poster("p", votes=1000)]
    fanart = Candidate("fanart", "f", "tmdb", votes=3)
    ranked = dict(rank([*posters, fanart], preferred_language="en", provider_order=ORDER))
    assert ranked[fanart] == score(
        fanart, preferred_language="en", provider_order=ORDER, max_votes=3
    )


def test_ties_break_on_votes() -> None:
    more = poster("more", votes=100_000)
    fewer = poster("fewer", votes=99_999)
    ranked = rank([fewer, more], preferred_language="en", provider_order=ORDER)
    assert ranked[0][1] == ranked[1][1]  # the scores tie after rounding
    assert [c.url for c, _ in ranked] == ["more", "fewer"]


def test_ties_then_break_on_provider_order() -> None:
    # English from the first provider (10 + 10) against no text from the second (15 + 5).
    order = ("tmdb", "fanart")
    a = poster("a", provider="tmdb", language="en")
    b = poster("b", provider="fanart", language=None)
    for candidates in ([a, b], [b, a]):
        ranked = rank(candidates, preferred_language="de", provider_order=order)
        assert ranked[0][1] == ranked[1][1]
        assert [c.url for c, _ in ranked] == ["a", "b"]


# -- selection ----------------------------------------------------------------


def fanarts(n: int) -> list[Candidate]:
    # Larger index = larger image = better score.
    return [
        Candidate("fanart", f"f{i}", "tmdb", width=400 * (i + 1), height=225 * (i + 1))
        for i in range(n)
    ]


def test_select_applies_default_limits() -> None:
    pool = [
        *fanarts(5),
        poster("p1", width=1000, height=1500),
        poster("p2", width=2000, height=3000),
    ]
    chosen = select(pool, provider_order=ORDER).chosen
    assert [c.url for c in chosen["fanart"]] == ["f4", "f3", "f2"]
    assert [c.url for c in chosen["poster"]] == ["p2"]


@pytest.mark.parametrize(
    ("limits", "expected"),
    [
        ({"fanart": 1}, ["f3"]),
        ({"fanart": 5}, ["f3", "f2", "f1", "f0"]),  # fewer candidates than the limit
        ({"fanart": 0}, []),  # 0 disables the type
        ({"poster": 1}, ["f3", "f2", "f1"]),  # a type without a limit uses its default
    ],
)
def test_select_limits(limits: dict[str, int], expected: list[str]) -> None:
    chosen = select(fanarts(4), limits, provider_order=ORDER).chosen
    assert [c.url for c in chosen["fanart"]] == expected


def test_select_skips_blocked_candidates() -> None:
    best, second = (
        poster("best", width=2000, height=3000),
        poster("second", width=1000, height=1500),
    )
    blocked_best = replace(best, blocked=True)
    chosen = select([blocked_best, second], provider_order=ORDER).chosen
    assert [c.url for c in chosen["poster"]] == ["second"]


def test_select_never_changes_a_locked_type() -> None:
    pool = [*fanarts(3), poster("p", width=2000, height=3000)]
    selection = select(
        pool,
        locked_types={"poster"},
        user_choice={"poster": [poster("mine")]},
        provider_order=ORDER,
    )
    assert "poster" not in selection.chosen
    assert selection.locked == frozenset({"poster"})
    assert len(selection.chosen["fanart"]) == 3


@pytest.mark.parametrize(
    ("limit", "expected"),
    [
        (1, ["mine"]),  # the person's pick takes the only slot
        (3, ["mine", "f3", "f2"]),  # then the best-ranked fill the rest
        (0, ["mine"]),  # kept even when the type is disabled
    ],
)
def test_select_keeps_a_persons_choice(limit: int, expected: list[str]) -> None:
    mine = Candidate("fanart", "mine", "user", width=100, height=100)
    chosen = select(
        fanarts(4), {"fanart": limit}, user_choice={"fanart": [mine]}, provider_order=ORDER
    ).chosen
    assert [c.url for c in chosen["fanart"]] == expected


def test_select_keeps_every_pick_beyond_the_limit_and_blocked_ones() -> None:
    pool = fanarts(4)
    picks = [pool[0], pool[1], replace(pool[2], blocked=True)]
    chosen = select(pool, {"fanart": 2}, user_choice={"fanart": picks}, provider_order=ORDER).chosen
    assert [c.url for c in chosen["fanart"]] == ["f0", "f1", "f2"]


def test_select_does_not_repeat_a_pick_that_also_ranks_first() -> None:
    pool = fanarts(3)
    chosen = select(pool, user_choice={"fanart": [pool[2]]}, provider_order=ORDER).chosen
    assert [c.url for c in chosen["fanart"]] == ["f2", "f1", "f0"]


def test_select_includes_uploads_without_candidates() -> None:
    upload = Candidate("clearlogo", "upload://abc", "user")
    chosen = select([], user_choice={"clearlogo": [upload]}).chosen
    assert chosen == {"clearlogo": (upload,)}


# -- properties ---------------------------------------------------------------

candidates_st = st.builds(
    Candidate,
    type=st.sampled_from(sorted(IDEAL_SIZES)),
    url=st.sampled_from(["a", "b", "c", "d"]),
    provider=st.sampled_from(["tmdb", "fanart", "local", "other"]),
    width=st.none() | st.integers(1, 20_000),
    height=st.none() | st.integers(1, 20_000),
    language=st.sampled_from([None, "", "en", "de", "fr", "xx", "00", "en-US"]),
    votes=st.integers(0, 10**7),
    vote_average=st.none() | st.floats(0.0, 10.0),
    blocked=st.booleans(),
    sha256=st.sampled_from([None, "", "a" * 64]),
)


@given(
    candidate=candidates_st,
    preferred=st.sampled_from([None, "en", "de", "fr-CA"]),
    max_votes=st.none() | st.integers(0, 10**8),
)
def test_score_is_always_within_0_and_100(
    candidate: Candidate, preferred: str | None, max_votes: int | None
) -> None:
    value = score(
        candidate, preferred_language=preferred, provider_order=ORDER, max_votes=max_votes
    )
    assert 0.0 <= value <= 100.0


@given(pool=st.lists(candidates_st, max_size=12), seed=st.integers(0, 1000))
def test_ranking_is_deterministic_and_total(pool: list[Candidate], seed: int) -> None:
    first = rank(pool, preferred_language="de", provider_order=ORDER)
    shuffled = list(pool)
    random.Random(seed).shuffle(shuffled)
    assert rank(shuffled, preferred_language="de", provider_order=ORDER) == first
    assert len(first) == sum(not c.blocked for c in pool)
    scores = [s for _, s in first]
    assert scores == sorted(scores, reverse=True)


@given(pool=st.lists(candidates_st, max_size=12), limit=st.integers(0, 4))
def test_selection_respects_limits_and_blocks(pool: list[Candidate], limit: int) -> None:
    limits = dict.fromkeys(IDEAL_SIZES, limit)
    chosen = select(pool, limits, provider_order=ORDER).chosen
    for kind, picks in chosen.items():
        assert len(picks) <= limit
        assert all(c.type == kind and not c.blocked for c in picks)
