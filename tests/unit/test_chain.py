"""The phase chain: what runs after a phase, per library switches."""

from __future__ import annotations

from metarr.pipeline.chain import NextPhase, next_phase

EVERYTHING = {"scan", "enrich", "publish", "sync"}


def registered(name: str) -> bool:
    return name in EVERYTHING


def test_scan_is_followed_by_enrichment_when_it_is_on() -> None:
    step = next_phase(
        "scan",
        library_id=3,
        switches={"auto_enrich": True, "auto_publish": True},
        registered=registered,
        scope="Movie (2000)",
    )
    assert step == NextPhase("enrich", "library:3/", {"library_id": 3})


def test_with_enrichment_off_a_scan_is_followed_by_publishing_its_folder() -> None:
    step = next_phase(
        "scan",
        library_id=3,
        switches={"auto_enrich": False, "auto_publish": True},
        registered=registered,
        scope="Movie (2000)",
    )
    assert step == NextPhase(
        "publish", "library:3/Movie (2000)", {"library_id": 3, "scope": "Movie (2000)"}
    )
    whole = next_phase("scan", library_id=3, switches={"auto_publish": True}, registered=registered)
    assert whole == NextPhase("publish", "library:3/", {"library_id": 3})


def test_nothing_follows_when_the_switches_are_off_or_the_phase_is_missing() -> None:
    off = {"auto_enrich": False, "auto_publish": False}
    assert next_phase("scan", library_id=1, switches=off, registered=registered) is None
    assert (
        next_phase(
            "enrich", library_id=1, switches={"auto_publish": True}, registered=lambda _: False
        )
        is None
    )
    # publishing is not skipped over: syncing what was not published makes no sense
    assert (
        next_phase("enrich", library_id=1, switches={"auto_sync": True}, registered=registered)
        is None
    )
    assert next_phase("sync", library_id=1, switches={}, registered=registered) is None


def test_publish_is_followed_by_sync() -> None:
    step = next_phase("publish", library_id=2, switches={"auto_sync": True}, registered=registered)
    assert step == NextPhase("sync", "library:2/", {"library_id": 2})
