"""Discovery: grouping a library's files into movies (PRODUCT.md §1.2)."""

from __future__ import annotations

import gc
import random

import pytest

from metarr.domain.discovery import (
    ClassifiedFile,
    Discovery,
    FileEntry,
    MovieUnit,
    discover,
)
from metarr.domain.media import ArtworkType, Classification, DiscType, FileKind, VideoRole

KB = 1024
MB = 1024 * KB
GB = 1024 * MB

UNKNOWN = Classification(FileKind.UNKNOWN)
MAIN = Classification(FileKind.VIDEO, VideoRole.MAIN)
TRAILER = Classification(FileKind.VIDEO, VideoRole.TRAILER)
SAMPLE = Classification(FileKind.VIDEO, VideoRole.SAMPLE)
EXTRA = Classification(FileKind.VIDEO, VideoRole.EXTRA)
NFO_MAIN = Classification(FileKind.NFO, "main")
NFO_OTHER = Classification(FileKind.NFO, "other")


def part(number: int) -> Classification:
    return Classification(FileKind.VIDEO, VideoRole.PART, part=number)


def art(kind: ArtworkType, number: int | None = None) -> Classification:
    return Classification(FileKind.ARTWORK, kind, part=number)


def sub(language: str | None, *, forced: bool = False, sdh: bool = False) -> Classification:
    return Classification(FileKind.SUBTITLE, language=language, forced=forced, sdh=sdh)


def entries(files: dict[str, int]) -> list[FileEntry]:
    """FileEntry per path, with the given size."""
    return [FileEntry(path, size, 1_700_000_000_000_000_000) for path, size in files.items()]


def run(files: dict[str, int], **kwargs: int) -> Discovery:
    return discover(entries(files), **kwargs)


def unit_map(result: Discovery) -> dict[str, dict[str, Classification]]:
    """key -> {path: classification}, the whole result in one comparable value."""
    return {u.key: {f.entry.path: f.cls for f in u.files} for u in result.units}


def orphan_paths(result: Discovery) -> list[str]:
    return [f.entry.path for f in result.orphans]


def only_unit(result: Discovery) -> MovieUnit:
    assert len(result.units) == 1
    return result.units[0]


def paths(files: list[ClassifiedFile]) -> list[str]:
    return [f.entry.path for f in files]


def test_movie_folder_with_everything() -> None:
    folder = "Alien (1979)"
    base = f"{folder}/Alien (1979)"
    result = run(
        {
            f"{base}.mkv": 4 * GB,
            f"{base}.nfo": 2 * KB,
            f"{folder}/movie.nfo": 2 * KB,
            f"{folder}/Alien.1979.1080p.BluRay-GROUP.nfo": KB,
            f"{base}-poster.jpg": 300 * KB,
            f"{folder}/fanart.jpg": 500 * KB,
            f"{base}-fanart1.jpg": 500 * KB,
            f"{base}-clearlogo.png": 50 * KB,
            f"{base}.en.srt": 60 * KB,
            f"{base}.en.forced.srt": 5 * KB,
            f"{base}-trailer.mkv": 80 * MB,
            f"{folder}/theme.mp3": 3 * MB,
            f"{folder}/extrafanart/b.jpg": 400 * KB,
            f"{folder}/extrafanart/a.jpg": 400 * KB,
            f"{folder}/extrathumbs/thumb1.jpg": 100 * KB,
            f"{folder}/.actors/Sigourney_Weaver.jpg": 40 * KB,
            f"{folder}/Featurettes/Making Of.mkv": 300 * MB,
            f"{folder}/RARBG.txt": 1 * KB,
        }
    )
    unit = only_unit(result)
    assert (unit.key, unit.folder, unit.basename, unit.disc) == (
        folder,
        folder,
        "Alien (1979)",
        None,
    )
    assert unit_map(result) == {
        folder: {
            f"{folder}/.actors/Sigourney_Weaver.jpg": Classification(
                FileKind.ACTOR, actor="Sigourney Weaver"
            ),
            f"{base}-clearlogo.png": art(ArtworkType.CLEARLOGO),
            f"{base}-fanart1.jpg": art(ArtworkType.FANART, 1),
            f"{base}-poster.jpg": art(ArtworkType.POSTER),
            f"{base}-trailer.mkv": TRAILER,
            f"{base}.en.forced.srt": sub("en", forced=True),
            f"{base}.en.srt": sub("en"),
            f"{base}.mkv": MAIN,
            f"{base}.nfo": NFO_MAIN,
            f"{folder}/Alien.1979.1080p.BluRay-GROUP.nfo": NFO_OTHER,
            f"{folder}/Featurettes/Making Of.mkv": EXTRA,
            f"{folder}/RARBG.txt": UNKNOWN,
            f"{folder}/extrafanart/a.jpg": art(ArtworkType.FANART, 1),
            f"{folder}/extrafanart/b.jpg": art(ArtworkType.FANART, 2),
            f"{folder}/extrathumbs/thumb1.jpg": art(ArtworkType.LANDSCAPE, 1),
            f"{folder}/fanart.jpg": art(ArtworkType.FANART),
            f"{folder}/movie.nfo": NFO_MAIN,
            f"{folder}/theme.mp3": Classification(FileKind.AUDIO, "theme"),
        }
    }
    assert paths(unit.files) == sorted(paths(unit.files))
    assert paths(unit.main_videos()) == [f"{base}.mkv"]
    assert paths(unit.nfo_candidates()) == [
        f"{base}.nfo",
        f"{folder}/movie.nfo",
        f"{folder}/Alien.1979.1080p.BluRay-GROUP.nfo",
    ]
    assert result.orphans == []


@pytest.mark.parametrize(
    ("video", "key", "folder"),
    [
        ("Alien (1979)/Alien (1979).mkv", "Alien (1979)", "Alien (1979)"),
        ("A/Alien (1979)/Alien (1979).mkv", "A/Alien (1979)", "A/Alien (1979)"),
        (
            "Movies/4K/Alien (1979)/Alien (1979).mkv",
            "Movies/4K/Alien (1979)",
            "Movies/4K/Alien (1979)",
        ),
        ("a/b/c/d/e/Alien (1979)/x.mkv", "a/b/c/d/e/Alien (1979)", "a/b/c/d/e/Alien (1979)"),
    ],
)
def test_movies_nest_at_any_depth(video: str, key: str, folder: str) -> None:
    unit = only_unit(run({video: GB}))
    assert (unit.key, unit.folder) == (key, folder)
    assert paths(unit.main_videos()) == [video]


def test_nested_library_keeps_container_files_as_orphans() -> None:
    result = run(
        {
            "Movies/4K/Alien (1979)/Alien (1979).mkv": GB,
            "Movies/4K/Aliens (1986)/Aliens (1986).mkv": GB,
            "Movies/1080p/Alien (1979)/Alien (1979).mkv": GB,
            "Movies/4K/folder.jpg": KB,
            "Movies/readme.txt": KB,
        }
    )
    assert [u.key for u in result.units] == [
        "Movies/1080p/Alien (1979)",
        "Movies/4K/Alien (1979)",
        "Movies/4K/Aliens (1986)",
    ]
    assert orphan_paths(result) == ["Movies/4K/folder.jpg", "Movies/readme.txt"]
    assert all(f.cls == UNKNOWN for f in result.orphans)


def test_movie_inside_a_movie_folder_is_its_own_movie() -> None:
    result = run(
        {
            "Alien/Alien.mkv": GB,
            "Alien/Director's Cut/Alien DC.mkv": GB,
            "Alien/Director's Cut/poster.jpg": KB,
        }
    )
    assert unit_map(result) == {
        "Alien": {"Alien/Alien.mkv": MAIN},
        "Alien/Director's Cut": {
            "Alien/Director's Cut/Alien DC.mkv": MAIN,
            "Alien/Director's Cut/poster.jpg": art(ArtworkType.POSTER),
        },
    }


def test_folder_without_video_inside_a_movie_belongs_to_it() -> None:
    result = run({"Alien/Alien.mkv": GB, "Alien/Artwork/old/poster.jpg": KB})
    assert unit_map(result) == {
        "Alien": {"Alien/Alien.mkv": MAIN, "Alien/Artwork/old/poster.jpg": UNKNOWN}
    }


def test_loose_videos_in_a_folder_of_many() -> None:
    result = run(
        {
            "Movies/Alien (1979).mkv": GB,
            "Movies/Alien (1979).nfo": KB,
            "Movies/Alien (1979)-poster.jpg": KB,
            "Movies/Alien (1979).jpg": KB,
            "Movies/Alien (1979).en.srt": KB,
            "Movies/Alien (1979)-trailer.mkv": 50 * MB,
            "Movies/Alien (1979).sample.mkv": 20 * MB,
            "Movies/Aliens (1986).mkv": GB,
            "Movies/Aliens (1986)-fanart.jpg": KB,
            "Movies/Aliens (1986).de.forced.srt": KB,
            "Movies/Subs/Aliens (1986).fr.srt": KB,
            "Movies/Trailers/Aliens (1986)-trailer.mkv": 50 * MB,
            "Movies/poster.jpg": KB,
            "Movies/movie.nfo": KB,
            "Movies/Subs/English.srt": KB,
            "Movies/.actors/Sigourney_Weaver.jpg": KB,
        }
    )
    assert unit_map(result) == {
        "Movies/Alien (1979)": {
            "Movies/Alien (1979)-poster.jpg": art(ArtworkType.POSTER),
            "Movies/Alien (1979)-trailer.mkv": TRAILER,
            "Movies/Alien (1979).en.srt": sub("en"),
            "Movies/Alien (1979).jpg": art(ArtworkType.POSTER),
            "Movies/Alien (1979).mkv": MAIN,
            "Movies/Alien (1979).nfo": NFO_MAIN,
            "Movies/Alien (1979).sample.mkv": SAMPLE,
        },
        "Movies/Aliens (1986)": {
            "Movies/Aliens (1986)-fanart.jpg": art(ArtworkType.FANART),
            "Movies/Aliens (1986).de.forced.srt": sub("de", forced=True),
            "Movies/Aliens (1986).mkv": MAIN,
            "Movies/Subs/Aliens (1986).fr.srt": sub("fr"),
            "Movies/Trailers/Aliens (1986)-trailer.mkv": TRAILER,
        },
    }
    units = {u.key: u for u in result.units}
    assert units["Movies/Alien (1979)"].folder == "Movies"
    assert units["Movies/Alien (1979)"].basename == "Alien (1979)"
    assert paths(units["Movies/Alien (1979)"].nfo_candidates()) == ["Movies/Alien (1979).nfo"]
    # Shared files match no basename: orphans, unknown.
    assert orphan_paths(result) == [
        "Movies/.actors/Sigourney_Weaver.jpg",
        "Movies/Subs/English.srt",
        "Movies/movie.nfo",
        "Movies/poster.jpg",
    ]
    assert {f.cls for f in result.orphans} == {UNKNOWN}


def test_loose_files_go_to_the_longest_matching_basename() -> None:
    result = run(
        {
            "M/Alien.mkv": GB,
            "M/Alien 2.mkv": GB,
            "M/Alien 2.nfo": KB,
            "M/Alien-poster.jpg": KB,
            "M/Alien 2-poster.jpg": KB,
            "M/Aliens.nfo": KB,  # no video "Aliens": "Alien" + "s" is no separator
        }
    )
    assert unit_map(result) == {
        "M/Alien": {"M/Alien-poster.jpg": art(ArtworkType.POSTER), "M/Alien.mkv": MAIN},
        "M/Alien 2": {
            "M/Alien 2-poster.jpg": art(ArtworkType.POSTER),
            "M/Alien 2.mkv": MAIN,
            "M/Alien 2.nfo": NFO_MAIN,
        },
    }
    assert orphan_paths(result) == ["M/Aliens.nfo"]


def test_loose_videos_at_the_library_root() -> None:
    result = run(
        {
            "Alien (1979).mkv": GB,
            "Alien (1979).nfo": KB,
            "poster.jpg": KB,
            "Aliens (1986)/Aliens (1986).mkv": GB,
        }
    )
    assert unit_map(result) == {
        "Alien (1979)": {"Alien (1979).mkv": MAIN, "Alien (1979).nfo": NFO_MAIN},
        "Aliens (1986)": {"Aliens (1986)/Aliens (1986).mkv": MAIN},
    }
    root = result.units[0]
    assert (root.folder, root.basename) == ("", "Alien (1979)")
    assert orphan_paths(result) == ["poster.jpg"]


@pytest.mark.parametrize(
    ("first", "second", "basename"),
    [
        ("Movie-cd1.avi", "Movie-cd2.avi", "Movie"),
        ("Movie CD1.avi", "Movie CD2.avi", "Movie"),
        ("Movie.part1.mkv", "Movie.part2.mkv", "Movie"),
        ("Movie - Part 1.mkv", "Movie - Part 2.mkv", "Movie"),
        ("Movie.pt1.mkv", "Movie.pt2.mkv", "Movie"),
        ("Movie_disc1.mkv", "Movie_disk2.mkv", "Movie"),
        ("Movie.dvd1.avi", "Movie.dvd2.avi", "Movie"),
        ("Movie a.avi", "Movie b.avi", "Movie"),
        ("Movie-cda.avi", "Movie-cdb.avi", "Movie"),
        ("Movie part1 720p.mkv", "Movie part2 720p.mkv", "Movie 720p"),
    ],
)
def test_file_stacks_are_one_movie(first: str, second: str, basename: str) -> None:
    result = run(
        {
            f"Movie (2000)/{second}": 700 * MB,
            f"Movie (2000)/{first}": 700 * MB,
            f"Movie (2000)/{basename}.nfo": KB,
        }
    )
    unit = only_unit(result)
    assert (unit.key, unit.basename) == ("Movie (2000)", basename)
    assert unit_map(result)["Movie (2000)"] == {
        f"Movie (2000)/{first}": part(1),
        f"Movie (2000)/{second}": part(2),
        f"Movie (2000)/{basename}.nfo": NFO_MAIN,
    }
    assert paths(unit.main_videos()) == [f"Movie (2000)/{first}", f"Movie (2000)/{second}"]


def test_stack_of_three_with_a_sample_and_a_trailer() -> None:
    result = run(
        {
            "M/Movie-cd3.avi": 700 * MB,
            "M/Movie-cd1.avi": 700 * MB,
            "M/Movie-cd2.avi": 700 * MB,
            "M/Movie-trailer.avi": 30 * MB,
            "M/Movie-sample.avi": 10 * MB,
            "M/Movie-cd1.nfo": KB,
            "M/movie.nfo": KB,
        }
    )
    unit = only_unit(result)
    assert [f.cls.part for f in unit.main_videos()] == [1, 2, 3]
    assert unit_map(result)["M"]["M/Movie-trailer.avi"] == TRAILER
    assert unit_map(result)["M"]["M/Movie-sample.avi"] == SAMPLE
    assert paths(unit.nfo_candidates()) == ["M/Movie-cd1.nfo", "M/movie.nfo"]


def test_two_stacks_in_one_folder_are_two_loose_movies() -> None:
    result = run(
        {
            "M/Alien-cd1.avi": 700 * MB,
            "M/Alien-cd2.avi": 700 * MB,
            "M/Aliens-cd1.avi": 700 * MB,
            "M/Aliens-cd2.avi": 700 * MB,
            "M/Alien.nfo": KB,
            "M/Aliens-cd1.nfo": KB,
        }
    )
    assert unit_map(result) == {
        "M/Alien": {
            "M/Alien-cd1.avi": part(1),
            "M/Alien-cd2.avi": part(2),
            "M/Alien.nfo": NFO_MAIN,
        },
        "M/Aliens": {
            "M/Aliens-cd1.avi": part(1),
            "M/Aliens-cd1.nfo": NFO_MAIN,
            "M/Aliens-cd2.avi": part(2),
        },
    }


@pytest.mark.parametrize(
    ("cd1", "cd2"), [("CD1", "CD2"), ("cd1", "cd2"), ("Disc 1", "Disc 2"), ("DVD1", "DVD2")]
)
def test_folder_stacks_are_one_movie(cd1: str, cd2: str) -> None:
    result = run(
        {
            f"Movie (2000)/{cd2}/movie.avi": 700 * MB,
            f"Movie (2000)/{cd1}/movie.avi": 700 * MB,
            f"Movie (2000)/{cd1}/movie-sample.avi": 5 * MB,
            "Movie (2000)/movie.nfo": KB,
            "Movie (2000)/poster.jpg": KB,
        }
    )
    unit = only_unit(result)
    assert (unit.key, unit.folder, unit.basename, unit.disc) == (
        "Movie (2000)",
        "Movie (2000)",
        "movie",
        None,
    )
    assert unit_map(result)["Movie (2000)"] == {
        f"Movie (2000)/{cd1}/movie.avi": part(1),
        f"Movie (2000)/{cd1}/movie-sample.avi": SAMPLE,
        f"Movie (2000)/{cd2}/movie.avi": part(2),
        "Movie (2000)/movie.nfo": NFO_MAIN,
        "Movie (2000)/poster.jpg": art(ArtworkType.POSTER),
    }
    assert paths(unit.main_videos()) == [
        f"Movie (2000)/{cd1}/movie.avi",
        f"Movie (2000)/{cd2}/movie.avi",
    ]


def test_folder_stack_of_stacked_names_takes_the_stack_name() -> None:
    unit = only_unit(run({"M/CD1/Movie-cd1.avi": 700 * MB, "M/CD2/Movie-cd2.avi": 700 * MB}))
    assert unit.basename == "Movie"
    assert [f.cls.part for f in unit.main_videos()] == [1, 2]


def test_a_single_cd_folder_is_not_a_stack() -> None:
    result = run({"M/CD1/movie.avi": 700 * MB, "M/notes.txt": KB})
    assert unit_map(result) == {"M/CD1": {"M/CD1/movie.avi": MAIN}}
    assert orphan_paths(result) == ["M/notes.txt"]


BLURAY_CONTENT = [
    "BDMV/MovieObject.bdmv",
    "BDMV/BACKUP/index.bdmv",
    "BDMV/BACKUP/MovieObject.bdmv",
    "BDMV/CLIPINF/00000.clpi",
    "BDMV/PLAYLIST/00000.mpls",
    "BDMV/STREAM/00000.m2ts",
    "BDMV/STREAM/00001.m2ts",
    "BDMV/META/DL/bdmt_eng.xml",
    "BDMV/META/DL/disc_thumb.jpg",
    "BDMV/AUXDATA/sound.bdmv",
    "BDMV/JAR/00000.jar",
    "CERTIFICATE/id.bdmv",
    "CERTIFICATE/BACKUP/id.bdmv",
    "AACS/Unit_Key_RO.inf",
]


def test_bluray_structure_is_one_movie_without_its_content() -> None:
    folder = "The Matrix (1999)"
    files = {f"{folder}/{p}": 30 * GB if p.endswith("m2ts") else KB for p in BLURAY_CONTENT}
    files |= {
        f"{folder}/BDMV/index.bdmv": KB,
        f"{folder}/BDMV/index.nfo": KB,
        f"{folder}/movie.nfo": KB,
        f"{folder}/other.nfo": KB,
        f"{folder}/poster.jpg": KB,
        f"{folder}/fanart.jpg": KB,
        f"{folder}/Extras/Making Of.mkv": 200 * MB,
        f"{folder}/The Matrix-trailer.mkv": 50 * MB,
        f"{folder}/bonus.mkv": 300 * MB,
    }
    result = run(files)
    unit = only_unit(result)
    assert (unit.key, unit.folder, unit.basename, unit.disc) == (
        folder,
        folder,
        None,
        DiscType.BLURAY,
    )
    assert unit_map(result)[folder] == {
        f"{folder}/BDMV/index.bdmv": MAIN,
        f"{folder}/BDMV/index.nfo": NFO_MAIN,
        f"{folder}/Extras/Making Of.mkv": EXTRA,
        f"{folder}/The Matrix-trailer.mkv": TRAILER,
        f"{folder}/bonus.mkv": EXTRA,  # a video next to a disc is an extra of it
        f"{folder}/fanart.jpg": art(ArtworkType.FANART),
        f"{folder}/movie.nfo": NFO_MAIN,
        f"{folder}/other.nfo": NFO_OTHER,
        f"{folder}/poster.jpg": art(ArtworkType.POSTER),
    }
    assert paths(unit.main_videos()) == [f"{folder}/BDMV/index.bdmv"]
    assert paths(unit.nfo_candidates()) == [
        f"{folder}/BDMV/index.nfo",
        f"{folder}/movie.nfo",
        f"{folder}/other.nfo",
    ]
    assert result.orphans == []


def test_dvd_structure_in_video_ts_folder() -> None:
    folder = "Alien (1979)"
    result = run(
        {
            f"{folder}/VIDEO_TS/VIDEO_TS.IFO": 12 * KB,
            f"{folder}/VIDEO_TS/VIDEO_TS.BUP": 12 * KB,
            f"{folder}/VIDEO_TS/VIDEO_TS.VOB": 200 * KB,
            f"{folder}/VIDEO_TS/VTS_01_0.IFO": 12 * KB,
            f"{folder}/VIDEO_TS/VTS_01_1.VOB": GB,
            f"{folder}/VIDEO_TS/VTS_01_2.VOB": GB,
            f"{folder}/VIDEO_TS/VIDEO_TS.nfo": KB,
            f"{folder}/AUDIO_TS/readme.txt": KB,
            f"{folder}/movie.nfo": KB,
            f"{folder}/folder.jpg": KB,
        }
    )
    unit = only_unit(result)
    assert (unit.key, unit.basename, unit.disc) == (folder, None, DiscType.DVD)
    assert unit_map(result)[folder] == {
        f"{folder}/VIDEO_TS/VIDEO_TS.IFO": MAIN,
        f"{folder}/VIDEO_TS/VIDEO_TS.nfo": NFO_MAIN,
        f"{folder}/folder.jpg": art(ArtworkType.POSTER),
        f"{folder}/movie.nfo": NFO_MAIN,
    }
    assert paths(unit.nfo_candidates()) == [
        f"{folder}/VIDEO_TS/VIDEO_TS.nfo",
        f"{folder}/movie.nfo",
    ]


def test_flat_dvd_structure() -> None:
    folder = "Alien (1979)"
    result = run(
        {
            f"{folder}/VIDEO_TS.IFO": 12 * KB,
            f"{folder}/VIDEO_TS.BUP": 12 * KB,
            f"{folder}/VIDEO_TS.VOB": 200 * KB,
            f"{folder}/VTS_01_0.IFO": 12 * KB,
            f"{folder}/VTS_01_0.BUP": 12 * KB,
            f"{folder}/VTS_01_1.VOB": GB,
            f"{folder}/VIDEO_TS.nfo": KB,
            f"{folder}/poster.jpg": KB,
        }
    )
    unit = only_unit(result)
    assert unit.disc is DiscType.DVD
    assert unit_map(result)[folder] == {
        f"{folder}/VIDEO_TS.IFO": MAIN,
        f"{folder}/VIDEO_TS.nfo": NFO_MAIN,
        f"{folder}/poster.jpg": art(ArtworkType.POSTER),
    }


def test_disc_folder_stack() -> None:
    result = run(
        {
            "LOTR/Disc1/BDMV/index.bdmv": KB,
            "LOTR/Disc1/BDMV/STREAM/00001.m2ts": 30 * GB,
            "LOTR/Disc2/BDMV/index.bdmv": KB,
            "LOTR/Disc2/BDMV/STREAM/00001.m2ts": 20 * GB,
            "LOTR/movie.nfo": KB,
        }
    )
    unit = only_unit(result)
    assert (unit.key, unit.basename, unit.disc) == ("LOTR", None, DiscType.BLURAY)
    assert unit_map(result)["LOTR"] == {
        "LOTR/Disc1/BDMV/index.bdmv": part(1),
        "LOTR/Disc2/BDMV/index.bdmv": part(2),
        "LOTR/movie.nfo": NFO_MAIN,
    }


def test_discs_next_to_each_other_are_separate_movies() -> None:
    result = run(
        {
            "Movies/Alien/BDMV/index.bdmv": KB,
            "Movies/Aliens/VIDEO_TS/VIDEO_TS.IFO": KB,
            "Movies/Aliens/VIDEO_TS/VTS_01_1.VOB": GB,
        }
    )
    assert [(u.key, u.disc) for u in result.units] == [
        ("Movies/Alien", DiscType.BLURAY),
        ("Movies/Aliens", DiscType.DVD),
    ]


def test_backup_index_alone_is_not_a_disc() -> None:
    result = run({"M/BDMV/BACKUP/index.bdmv": KB, "M/BDMV/STREAM/00001.m2ts": GB})
    # Without BDMV/index.bdmv there is no disc: the stream is an ordinary video.
    assert unit_map(result) == {"M/BDMV/STREAM": {"M/BDMV/STREAM/00001.m2ts": MAIN}}
    assert orphan_paths(result) == ["M/BDMV/BACKUP/index.bdmv"]


@pytest.mark.parametrize(
    ("folder_name", "expected"),
    [
        ("Trailers", TRAILER),
        ("trailers", TRAILER),
        ("Extras", EXTRA),
        ("Featurettes", EXTRA),
        ("Behind The Scenes", EXTRA),
        ("Deleted Scenes", EXTRA),
        ("Interviews", EXTRA),
        ("Scenes", EXTRA),
        ("Shorts", EXTRA),
        ("Other", EXTRA),
        ("Clips", EXTRA),
        ("Backdrops", EXTRA),
        ("Sample", SAMPLE),
        ("Samples", SAMPLE),
    ],
)
def test_extras_folders_belong_to_the_movie(folder_name: str, expected: Classification) -> None:
    result = run(
        {
            "Alien (1979)/Alien (1979).mkv": 4 * GB,
            f"Alien (1979)/{folder_name}/one.mkv": 2 * GB,
            f"Alien (1979)/{folder_name}/two.mkv": 100 * MB,
            f"Alien (1979)/{folder_name}/Deeper/three.mkv": 100 * MB,
        }
    )
    assert unit_map(result) == {
        "Alien (1979)": {
            "Alien (1979)/Alien (1979).mkv": MAIN,
            f"Alien (1979)/{folder_name}/Deeper/three.mkv": expected,
            f"Alien (1979)/{folder_name}/one.mkv": expected,
            f"Alien (1979)/{folder_name}/two.mkv": expected,
        }
    }


def test_special_folders_outside_a_movie_hold_no_movie_themselves() -> None:
    result = run(
        {
            "Movies/Shorts/Short One.mkv": GB,
            "Movies/Shorts/Some Short (2010)/Some Short (2010).mkv": GB,
            "Movies/Extras/notes.txt": KB,
        }
    )
    assert unit_map(result) == {
        "Movies/Shorts/Some Short (2010)": {
            "Movies/Shorts/Some Short (2010)/Some Short (2010).mkv": MAIN
        }
    }
    assert orphan_paths(result) == ["Movies/Extras/notes.txt", "Movies/Shorts/Short One.mkv"]


def test_folder_with_only_extras_is_not_a_movie() -> None:
    # The main video is gone (a downloader upgrade in progress): no movie, all orphans.
    result = run(
        {
            "Alien/Alien-trailer.mkv": 50 * MB,
            "Alien/Alien.nfo": KB,
            "Alien/poster.jpg": KB,
            "Alien/Trailers/teaser.mkv": 50 * MB,
        }
    )
    assert result.units == []
    assert orphan_paths(result) == [
        "Alien/Alien-trailer.mkv",
        "Alien/Alien.nfo",
        "Alien/Trailers/teaser.mkv",
        "Alien/poster.jpg",
    ]


@pytest.mark.parametrize(
    "sample",
    ["sample.mkv", "Sample.mkv", "Alien-sample.mkv", "Alien.sample.mkv", "sample-alien.1979.mkv"],
)
def test_samples_by_name(sample: str) -> None:
    result = run({"Alien/Alien.mkv": 4 * GB, f"Alien/{sample}": 40 * MB})
    assert unit_map(result) == {"Alien": {"Alien/Alien.mkv": MAIN, f"Alien/{sample}": SAMPLE}}


def test_sample_by_size() -> None:
    result = run(
        {
            "Alien/Alien.1979.1080p.mkv": 8 * GB,
            "Alien/alien-1080p-xyz.mkv": 40 * MB,  # < 50 MB and < 1/10 of the largest
        }
    )
    unit = only_unit(result)
    assert (unit.key, unit.basename) == ("Alien", "Alien.1979.1080p")
    assert unit_map(result)["Alien"]["Alien/alien-1080p-xyz.mkv"] == SAMPLE
    assert paths(unit.main_videos()) == ["Alien/Alien.1979.1080p.mkv"]


@pytest.mark.parametrize(
    ("small", "largest", "sample_max_bytes", "is_sample"),
    [
        (40 * MB, 8 * GB, 50 * MB, True),
        (60 * MB, 8 * GB, 50 * MB, False),  # not under the size limit
        (40 * MB, 300 * MB, 50 * MB, False),  # not under 1/10 of the largest
        (29 * MB, 300 * MB, 50 * MB, True),
        (60 * MB, 8 * GB, 100 * MB, True),  # the limit is a parameter
    ],
)
def test_sample_size_rule(small: int, largest: int, sample_max_bytes: int, is_sample: bool) -> None:
    result = run(
        {"M/Big Movie.mkv": largest, "M/Small Movie.mkv": small},
        sample_max_bytes=sample_max_bytes,
    )
    if is_sample:
        assert unit_map(result) == {"M": {"M/Big Movie.mkv": MAIN, "M/Small Movie.mkv": SAMPLE}}
    else:
        assert unit_map(result) == {
            "M/Big Movie": {"M/Big Movie.mkv": MAIN},
            "M/Small Movie": {"M/Small Movie.mkv": MAIN},
        }


def test_a_small_video_alone_is_a_movie() -> None:
    result = run({"Shorts Collection/La Jetee (1962)/La Jetee.mkv": 10 * MB})
    assert unit_map(result) == {
        "Shorts Collection/La Jetee (1962)": {
            "Shorts Collection/La Jetee (1962)/La Jetee.mkv": MAIN
        }
    }


def test_two_files_with_one_basename_are_one_movie() -> None:
    result = run({"M/Alien.mkv": 4 * GB, "M/Alien.avi": GB, "M/Alien.nfo": KB})
    unit = only_unit(result)
    assert (unit.key, unit.basename) == ("M", "Alien")
    assert paths(unit.main_videos()) == ["M/Alien.avi", "M/Alien.mkv"]


def test_orphans() -> None:
    result = run(
        {
            "Empty/notes.txt": KB,
            "Empty/Deeper/readme.nfo": KB,
            "stray.txt": KB,
            "Alien/Alien.mkv": GB,
        }
    )
    assert [u.key for u in result.units] == ["Alien"]
    assert orphan_paths(result) == ["Empty/Deeper/readme.nfo", "Empty/notes.txt", "stray.txt"]
    assert all(f.cls == UNKNOWN for f in result.orphans)


def test_empty_library() -> None:
    assert discover([]) == Discovery([], [])


MIXED_LIBRARY = {
    "Movies/Alien (1979)/Alien (1979).mkv": 4 * GB,
    "Movies/Alien (1979)/Alien (1979).nfo": KB,
    "Movies/Alien (1979)/extrafanart/1.jpg": KB,
    "Movies/Alien (1979)/Subs/2_English.srt": KB,
    "Movies/Alien (1979)/sample.mkv": 10 * MB,
    "Movies/Loose/A Movie.mkv": GB,
    "Movies/Loose/B Movie.mkv": GB,
    "Movies/Loose/B Movie-poster.jpg": KB,
    "Movies/Loose/folder.jpg": KB,
    "Movies/Stack/Movie-cd1.avi": 700 * MB,
    "Movies/Stack/Movie-cd2.avi": 700 * MB,
    "Movies/FStack/CD1/m.avi": 700 * MB,
    "Movies/FStack/CD2/m.avi": 700 * MB,
    "Movies/Disc/BDMV/index.bdmv": KB,
    "Movies/Disc/BDMV/STREAM/00001.m2ts": 20 * GB,
    "Movies/Disc/CERTIFICATE/id.bdmv": KB,
    "Movies/DVD/VIDEO_TS.IFO": KB,
    "Movies/DVD/VTS_01_1.VOB": GB,
    "Movies/notes.txt": KB,
    "Root Movie.mkv": GB,
}
DISC_CONTENT = {
    "Movies/Disc/BDMV/STREAM/00001.m2ts",
    "Movies/Disc/CERTIFICATE/id.bdmv",
    "Movies/DVD/VTS_01_1.VOB",
}


def test_every_file_appears_exactly_once_except_disc_content() -> None:
    result = run(MIXED_LIBRARY)
    seen = [f.entry.path for u in result.units for f in u.files] + orphan_paths(result)
    assert len(seen) == len(set(seen))
    assert set(seen) == set(MIXED_LIBRARY) - DISC_CONTENT
    assert [u.key for u in result.units] == [
        "Movies/Alien (1979)",
        "Movies/DVD",
        "Movies/Disc",
        "Movies/FStack",
        "Movies/Loose/A Movie",
        "Movies/Loose/B Movie",
        "Movies/Stack",
        "Root Movie",
    ]
    assert orphan_paths(result) == ["Movies/Loose/folder.jpg", "Movies/notes.txt"]


def test_output_does_not_depend_on_input_order() -> None:
    expected = run(MIXED_LIBRARY)
    items = list(MIXED_LIBRARY.items())
    for seed in range(5):
        random.Random(seed).shuffle(items)
        assert run(dict(items)) == expected


def test_entries_are_kept_as_given() -> None:
    entry = FileEntry("Alien/Alien.mkv", 123, 456)
    result = discover([entry])
    assert result.units[0].files[0].entry is entry


def test_disc_at_the_library_root() -> None:
    result = run({"BDMV/index.bdmv": KB, "BDMV/STREAM/00001.m2ts": GB, "poster.jpg": KB})
    unit = only_unit(result)
    assert (unit.key, unit.folder, unit.basename, unit.disc) == ("", "", None, DiscType.BLURAY)
    assert unit_map(result) == {
        "": {"BDMV/index.bdmv": MAIN, "poster.jpg": art(ArtworkType.POSTER)}
    }


def test_bonus_disc_in_an_extras_folder_is_an_extra() -> None:
    result = run(
        {
            "Alien/Alien.mkv": 4 * GB,
            "Alien/Extras/BDMV/index.bdmv": KB,
            "Alien/Extras/BDMV/STREAM/00001.m2ts": GB,
        }
    )
    assert unit_map(result) == {
        "Alien": {"Alien/Alien.mkv": MAIN, "Alien/Extras/BDMV/index.bdmv": EXTRA}
    }


def test_entries_may_be_a_generator_and_gc_state_is_restored() -> None:
    assert gc.isenabled()
    result = discover(e for e in entries({"Alien/Alien.mkv": GB, "Alien/poster.jpg": KB}))
    assert unit_map(result) == {
        "Alien": {"Alien/Alien.mkv": MAIN, "Alien/poster.jpg": art(ArtworkType.POSTER)}
    }
    assert gc.isenabled()
