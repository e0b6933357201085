"""Publishing rules: file names per profile and layout, and the plan by hash."""

from __future__ import annotations

import pytest

from metarr.domain.publish import (
    ABSENT,
    Action,
    ActorThumb,
    Artwork,
    FileRole,
    MovieLayout,
    OnDisk,
    Profile,
    Published,
    actor_file_stem,
    desired_files,
    expected_path,
    plan,
)

A, B, C, D, N = ("a" * 64, "b" * 64, "c" * 64, "d" * 64, "e" * 64)
KODI, JELLYFIN = Profile.KODI, Profile.JELLYFIN


def names(files: list[object]) -> list[str]:
    return [f.path for f in files]  # type: ignore[attr-defined]


def test_kodi_names_follow_the_video_basename_with_unicode_kept() -> None:
    layout = MovieLayout("Amélie (2001)", "Amélie (2001)")
    files = desired_files(
        layout,
        KODI,
        nfo_sha256=N,
        artwork=[
            Artwork("poster", A, "jpg"),
            Artwork("fanart", B, "jpg"),
            Artwork("fanart", C, "jpg"),
            Artwork("fanart", D, "webp"),
            Artwork("clearlogo", A, "png"),
        ],
        actors=[ActorThumb("Audrey Tautou", C, "jpg")],
    )
    assert names(files) == [
        "Amélie (2001)/Amélie (2001).nfo",
        "Amélie (2001)/Amélie (2001)-poster.jpg",
        "Amélie (2001)/Amélie (2001)-fanart.jpg",
        "Amélie (2001)/Amélie (2001)-fanart1.jpg",
        "Amélie (2001)/Amélie (2001)-fanart2.jpg",  # WebP under .jpg: Kodi tries .jpg/.png only
        "Amélie (2001)/Amélie (2001)-clearlogo.png",
        "Amélie (2001)/.actors/Audrey_Tautou.jpg",
    ]
    assert [f.kind for f in files] == [FileRole.NFO] + [FileRole.ARTWORK] * 5 + [FileRole.ACTOR]
    assert [f.role for f in files][1:5] == ["poster", "fanart", "fanart1", "fanart2"]
    assert files[0].sha256 == N and files[2].sha256 == B


def test_single_slot_types_take_the_first_image_and_duplicates_are_one_file() -> None:
    layout = MovieLayout("M", "M")
    files = desired_files(
        layout,
        KODI,
        nfo_sha256=None,
        artwork=[
            Artwork("poster", A, "jpg"),
            Artwork("poster", B, "jpg"),
            Artwork("fanart", C, "jpg"),
            Artwork("fanart", C, "jpg"),
            Artwork("set.poster", D, "jpg"),  # collection art is not published beside a movie
        ],
    )
    assert names(files) == ["M/M-poster.jpg", "M/M-fanart.jpg"]


@pytest.mark.parametrize("profile", [KODI, JELLYFIN])
def test_discs_get_short_names_in_the_movie_folder(profile: Profile) -> None:
    layout = MovieLayout("Film (1999)", None, disc=True)
    files = desired_files(
        layout,
        profile,
        nfo_sha256=N,
        artwork=[
            Artwork("poster", A, "jpg"),
            Artwork("fanart", B, "jpg"),
            Artwork("fanart", C, "jpg"),
        ],
    )
    fanart = "fanart" if profile is KODI else "backdrop"
    assert names(files) == [
        "Film (1999)/movie.nfo",
        "Film (1999)/poster.jpg",
        f"Film (1999)/{fanart}.jpg",
        f"Film (1999)/{fanart}1.jpg",
    ]


def test_jellyfin_names_alone_in_a_folder_and_beside_other_movies() -> None:
    art = [
        Artwork("poster", A, "jpg"),
        Artwork("fanart", B, "jpg"),
        Artwork("fanart", C, "webp"),
        Artwork("clearlogo", D, "png"),
        Artwork("discart", A, "png"),
        Artwork("landscape", B, "jpg"),
        Artwork("keyart", C, "jpg"),  # Jellyfin has no key art
    ]
    actors = [ActorThumb("Tom Hanks", D, "jpg")]  # nor .actors/
    alone = desired_files(
        MovieLayout("Up (2009)", "Up (2009)"), JELLYFIN, nfo_sha256=N, artwork=art, actors=actors
    )
    assert names(alone) == [
        "Up (2009)/Up (2009).nfo",
        "Up (2009)/poster.jpg",
        "Up (2009)/backdrop.jpg",
        "Up (2009)/backdrop1.webp",
        "Up (2009)/logo.png",
        "Up (2009)/disc.png",
        "Up (2009)/landscape.jpg",
    ]
    shared = desired_files(
        MovieLayout("Movies", "Up (2009)", own_folder=False), JELLYFIN, nfo_sha256=N, artwork=art
    )
    assert names(shared)[:4] == [
        "Movies/Up (2009).nfo",
        "Movies/Up (2009)-poster.jpg",
        "Movies/Up (2009)-fanart.jpg",
        "Movies/Up (2009)-fanart1.webp",
    ]


def test_loose_files_in_the_library_root() -> None:
    files = desired_files(
        MovieLayout("", "Heat (1995)", own_folder=False),
        KODI,
        nfo_sha256=N,
        artwork=[Artwork("poster", A, "jpg")],
        actors=[ActorThumb("Al Pacino", B, "jpg")],
    )
    assert names(files) == ["Heat (1995).nfo", "Heat (1995)-poster.jpg", ".actors/Al_Pacino.jpg"]


@pytest.mark.parametrize(
    ("name", "stem"),
    [
        ("Tom Hanks", "Tom_Hanks"),
        ("Zoë Kravitz", "Zoë_Kravitz"),
        ("Jean-Pierre Léaud", "Jean-Pierre_Léaud"),
        ("AC/DC", "AC_DC"),
        ("  padded  ", "padded"),
        ("..", None),
        ("", None),
        ("x" * 300, None),
    ],
)
def test_actor_file_names_follow_kodi(name: str, stem: str | None) -> None:
    assert actor_file_stem(name) == stem


def test_an_actor_named_twice_gets_one_file() -> None:
    files = desired_files(
        MovieLayout("M", "M"),
        KODI,
        nfo_sha256=None,
        actors=[ActorThumb("Sam Smith", A, "jpg"), ActorThumb("sam smith", B, "png")],
    )
    assert names(files) == ["M/.actors/Sam_Smith.jpg"]


def test_plan_by_hash() -> None:
    desired = desired_files(
        MovieLayout("M", "M"),
        KODI,
        nfo_sha256=N,
        artwork=[Artwork("poster", A, "jpg"), Artwork("fanart", B, "jpg")],
    )
    published = {
        "M/M.nfo": Published("M/M.nfo", FileRole.NFO, "nfo", N),
        "M/Old-poster.jpg": Published("M/Old-poster.jpg", FileRole.ARTWORK, "poster", C),
        "M/Gone-fanart.jpg": Published("M/Gone-fanart.jpg", FileRole.ARTWORK, "fanart", D),
    }
    on_disk = {
        "M/M.nfo": OnDisk(True, N),
        "M/M-poster.jpg": OnDisk(True, None),  # a different file (not hashed: size differs)
        "M/M-fanart.jpg": ABSENT,
        "M/Old-poster.jpg": OnDisk(True, C),
        "M/Gone-fanart.jpg": ABSENT,
        "M/someone-elses.jpg": OnDisk(True, A),  # never published: never touched
    }
    entries = plan(desired, on_disk, published)
    assert [(e.path, e.action) for e in entries] == [
        ("M/M.nfo", Action.KEEP),
        ("M/M-poster.jpg", Action.REPLACE),
        ("M/M-fanart.jpg", Action.CREATE),
        ("M/Old-poster.jpg", Action.REMOVE),
    ]
    assert entries[3].sha256 == C and entries[3].role == "poster"


def test_expected_path_after_a_rename_of_the_video() -> None:
    layout = MovieLayout("G", "G WEBRip-1080p")
    nfo = Published("G/G.nfo", FileRole.NFO, "nfo", N)
    fanart = Published("G/G-fanart2.png", FileRole.ARTWORK, "fanart2", A)
    actor = Published("G/.actors/Tom_Hanks.jpg", FileRole.ACTOR, "Tom Hanks", B)
    assert expected_path(layout, KODI, nfo) == "G/G WEBRip-1080p.nfo"
    assert expected_path(layout, KODI, fanart) == "G/G WEBRip-1080p-fanart2.png"
    assert expected_path(layout, KODI, actor) == "G/.actors/Tom_Hanks.jpg"
    assert expected_path(layout, JELLYFIN, fanart) == "G/backdrop2.png"
    assert expected_path(layout, JELLYFIN, actor) is None
