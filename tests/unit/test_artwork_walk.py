"""Selection in waves (pipeline.selection.walk) decides exactly as one-by-one tries would."""

from __future__ import annotations

from metarr.db.candidate_store import StoredCandidate
from metarr.pipeline.selection import Fetched, TypeJob, base_type, walk


def cand(n: int, **kw: object) -> StoredCandidate:
    values: dict[str, object] = {
        "id": n,
        "type": "fanart",
        "url": f"http://img/{n}.jpg",
        "provider": "tmdb",
        "width": 1920,
        "height": 1080,
        "language": None,
        "votes": 0,
        "vote_average": None,
        "score": 50.0,
        "blocked": False,
        "selected": False,
        "selected_by": None,
        "rejected": None,
        "sha256": None,
    }
    values.update(kw)
    return StoredCandidate(**values)  # type: ignore[arg-type]


def job(
    ranked: list[StoredCandidate], limit: int, extra: int = 3, kept: frozenset[int] = frozenset()
) -> TypeJob:
    return TypeJob("fanart", ranked, ranked, limit, limit + extra, set(kept))


def ok(fp: int) -> Fetched:
    return Fetched(data=b"x", ext="jpg", fingerprint=fp)


def test_first_wave_asks_for_exactly_the_open_slots() -> None:
    ranked = [cand(i) for i in range(1, 7)]
    picks, unknown = walk(job(ranked, 3), {}, {})
    assert picks == [] and [c.id for c in unknown] == [1, 2, 3]


def test_failures_are_replaced_by_the_next_ones_in_rank_order() -> None:
    ranked = [cand(i) for i in range(1, 7)]
    outcomes = {1: ok(0), 2: Fetched(rejected="invalid_image"), 3: Fetched(failed=True)}
    picks, unknown = walk(job(ranked, 3), outcomes, {})
    assert [c.id for c in unknown] == [4, 5]
    outcomes |= {4: ok(0xFFFF_FFFF), 5: ok(0xFFFF_0000_FFFF_0000)}
    picks, unknown = walk(job(ranked, 3), outcomes, {})
    assert unknown == [] and [c.id for c, _ in picks] == [1, 4, 5]


def test_near_duplicates_are_judged_against_better_picks_only() -> None:
    ranked = [cand(i) for i in range(1, 5)]
    outcomes = {1: ok(0b1111), 2: ok(0b1110), 3: ok(0xFFFF_FFFF_0000_0000)}
    picks, unknown = walk(job(ranked, 3), outcomes, {})
    assert outcomes[2].rejected == "near_duplicate"  # 1 bit from the better one
    assert [c.id for c, _ in picks] == [1, 3] and [c.id for c in unknown] == [4]


def test_a_later_candidate_waits_for_an_earlier_unknown_one() -> None:
    ranked = [cand(i) for i in range(1, 4)]
    outcomes = {2: ok(0)}  # 1 not fetched yet: 2 may still be its near-duplicate
    picks, unknown = walk(job(ranked, 2), outcomes, {})
    assert picks == [] and [c.id for c in unknown] == [1]
    assert outcomes[2].rejected is None


def test_kept_and_user_picks_take_slots_and_the_budget_caps_tries() -> None:
    user = cand(9, selected=True, selected_by="user", sha256="a" * 64)
    kept = cand(1, selected=True, selected_by="auto", sha256="b" * 64)
    ranked = [user, kept, *(cand(i) for i in range(2, 9))]
    j = job(ranked, 3, extra=1, kept=frozenset({1}))
    picks, unknown = walk(j, {}, {})
    assert [c.id for c, o in picks if o is None] == [1] and [c.id for c in unknown] == [2]
    # every try fails: at most limit + extra candidates are examined (user picks not counted)
    outcomes = {i: Fetched(failed=True) for i in range(2, 9)}
    picks, unknown = walk(j, outcomes, {})
    assert unknown == [] and [c.id for c, _ in picks] == [1]


def test_rejected_candidates_are_skipped_and_set_types_rank_as_their_base() -> None:
    ranked = [cand(1, rejected="too_large"), cand(2)]
    _, unknown = walk(job(ranked, 1), {}, {})
    assert [c.id for c in unknown] == [2]
    assert base_type("set.poster") == "poster" and base_type("set.fanart") == "fanart"
    assert base_type("clearlogo") == "clearlogo"
