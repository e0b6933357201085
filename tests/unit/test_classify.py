"""Classification of single files relative to their movie."""

from __future__ import annotations

import pytest

from metarr.domain.classify import (
    FileClassifier,
    Stack,
    classify_file,
    find_stacks,
    folder_stack,
    is_video_name,
    subtitle_tags,
    video_role_from_name,
)
from metarr.domain.media import ArtworkType, Classification, FileKind, VideoRole

FOLDER = "Movies/Alien (1979)"
BASE = "Alien (1979)"


def classify(name: str, basenames: tuple[str, ...] = (BASE,)) -> Classification:
    """Classify `name` (relative to the movie folder) in the Alien movie folder."""
    return classify_file(f"{FOLDER}/{name}", basenames, folder=FOLDER)


def art(kind: ArtworkType, part: int | None = None) -> Classification:
    return Classification(FileKind.ARTWORK, kind, part=part)


def video(role: VideoRole, part: int | None = None) -> Classification:
    return Classification(FileKind.VIDEO, role, part=part)


def sub(
    language: str | None, *, forced: bool = False, sdh: bool = False, role: str | None = None
) -> Classification:
    return Classification(FileKind.SUBTITLE, role, language=language, forced=forced, sdh=sdh)


UNKNOWN = Classification(FileKind.UNKNOWN)
P, F = ArtworkType.POSTER, ArtworkType.FANART


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        # Posters: Kodi `<base>-poster`, `<base>.jpg`/`.tbn`, and the short names.
        (f"{BASE}-poster.jpg", art(P)),
        (f"{BASE}-poster.png", art(P)),
        (f"{BASE}.jpg", art(P)),
        (f"{BASE}.tbn", art(P)),
        ("poster.jpg", art(P)),
        ("POSTER.JPG", art(P)),
        ("folder.jpg", art(P)),
        ("cover.jpg", art(P)),
        ("default.jpg", art(P)),
        ("movie.jpg", art(P)),
        ("movie.tbn", art(P)),
        # Fanart and Jellyfin backdrops (Jellyfin reads `art` as a backdrop).
        (f"{BASE}-fanart.jpg", art(F)),
        ("fanart.jpg", art(F)),
        ("backdrop.jpg", art(F)),
        ("background.jpg", art(F)),
        ("art.jpg", art(F)),
        ("fanart1.jpg", art(F, 1)),
        ("fanart12.jpg", art(F, 12)),
        ("fanart-2.jpg", art(F, 2)),
        ("backdrop1.jpg", art(F, 1)),
        ("backdrop3.webp", art(F, 3)),
        ("background-1.jpg", art(F, 1)),
        ("art-2.jpg", art(F, 2)),
        (f"{BASE}-fanart1.jpg", art(F, 1)),
        (f"{BASE}-fanart2.jpg", art(F, 2)),
        # The other types, with and without the basename.
        (f"{BASE}-banner.jpg", art(ArtworkType.BANNER)),
        ("banner.jpg", art(ArtworkType.BANNER)),
        (f"{BASE}-clearlogo.png", art(ArtworkType.CLEARLOGO)),
        ("clearlogo.png", art(ArtworkType.CLEARLOGO)),
        ("logo.png", art(ArtworkType.CLEARLOGO)),
        (f"{BASE}-logo.png", art(ArtworkType.CLEARLOGO)),
        (f"{BASE}-clearart.png", art(ArtworkType.CLEARART)),
        ("clearart.png", art(ArtworkType.CLEARART)),
        (f"{BASE}-discart.png", art(ArtworkType.DISCART)),
        ("discart.png", art(ArtworkType.DISCART)),
        ("disc.png", art(ArtworkType.DISCART)),
        ("cdart.png", art(ArtworkType.DISCART)),
        (f"{BASE}-disc.png", art(ArtworkType.DISCART)),
        (f"{BASE}-landscape.jpg", art(ArtworkType.LANDSCAPE)),
        ("landscape.jpg", art(ArtworkType.LANDSCAPE)),
        (f"{BASE}-thumb.jpg", art(ArtworkType.LANDSCAPE)),
        ("thumb.jpg", art(ArtworkType.LANDSCAPE)),
        (f"{BASE}-keyart.jpg", art(ArtworkType.KEYART)),
        ("keyart.jpg", art(ArtworkType.KEYART)),
        (f"{BASE}-characterart.png", art(ArtworkType.CHARACTERART)),
        ("characterart.png", art(ArtworkType.CHARACTERART)),
        ("fanart.gif", art(F)),
        ("poster.bmp", art(P)),
        ("poster.jpeg", art(P)),
        # Not artwork of this movie.
        ("Aliens (1986)-poster.jpg", UNKNOWN),  # another basename: stale or foreign
        ("screenshot.jpg", UNKNOWN),
        ("poster1.jpg", UNKNOWN),  # only fanart is numbered
        (f"{BASE}.poster.jpg", UNKNOWN),
        (f"{BASE}-fanart-x.jpg", UNKNOWN),
    ],
)
def test_artwork_names(name: str, expected: Classification) -> None:
    assert classify(name) == expected


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        (f"{BASE}.mkv", video(VideoRole.MAIN)),
        (f"{BASE}.MKV", video(VideoRole.MAIN)),
        ("anything.mp4", video(VideoRole.MAIN)),
        # Trailers by suffix (any separator) or by name.
        (f"{BASE}-trailer.mkv", video(VideoRole.TRAILER)),
        (f"{BASE}.trailer.mp4", video(VideoRole.TRAILER)),
        (f"{BASE}_trailer.mov", video(VideoRole.TRAILER)),
        (f"{BASE} - Trailer.mkv", video(VideoRole.TRAILER)),
        (f"{BASE}-trailer2.mkv", video(VideoRole.TRAILER)),
        ("trailer.mkv", video(VideoRole.TRAILER)),
        # Samples by suffix, prefix or name.
        (f"{BASE}-sample.mkv", video(VideoRole.SAMPLE)),
        (f"{BASE}.sample.mkv", video(VideoRole.SAMPLE)),
        ("sample.mkv", video(VideoRole.SAMPLE)),
        ("Sample.avi", video(VideoRole.SAMPLE)),
        ("sample-alien.1979.1080p.mkv", video(VideoRole.SAMPLE)),
        # Jellyfin extras suffixes.
        (f"{BASE}-featurette.mkv", video(VideoRole.EXTRA)),
        (f"{BASE}-behindthescenes.mkv", video(VideoRole.EXTRA)),
        (f"{BASE}-deleted.mkv", video(VideoRole.EXTRA)),
        (f"{BASE}-deletedscene.mkv", video(VideoRole.EXTRA)),
        (f"{BASE}-interview.mkv", video(VideoRole.EXTRA)),
        (f"{BASE}-scene.mkv", video(VideoRole.EXTRA)),
        (f"{BASE}-short.mkv", video(VideoRole.EXTRA)),
        (f"{BASE}-other.mkv", video(VideoRole.EXTRA)),
        (f"{BASE}-extra.mkv", video(VideoRole.EXTRA)),
        (f"{BASE}-clip.mkv", video(VideoRole.EXTRA)),
        # Words that only look like extras keep the video a movie.
        ("The.Big.Short.mkv", video(VideoRole.MAIN)),
        ("Free Sample (2012).mkv", video(VideoRole.MAIN)),
        ("Trailer Park Boys (2014).mkv", video(VideoRole.MAIN)),
    ],
)
def test_videos_in_the_movie_folder(name: str, expected: Classification) -> None:
    assert classify(name) == expected


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        (f"Trailers/{BASE}-trailer.mkv", video(VideoRole.TRAILER)),
        ("trailers/teaser.mkv", video(VideoRole.TRAILER)),
        ("Trailer/teaser.mkv", video(VideoRole.TRAILER)),
        ("Sample/alien-sample.mkv", video(VideoRole.SAMPLE)),
        ("Samples/clip.mkv", video(VideoRole.SAMPLE)),
        ("Extras/Making Of.mkv", video(VideoRole.EXTRA)),
        ("extra/Making Of.mkv", video(VideoRole.EXTRA)),
        ("Featurettes/Making Of.mkv", video(VideoRole.EXTRA)),
        ("Featurette/Making Of.mkv", video(VideoRole.EXTRA)),
        ("Behind The Scenes/On Set.mkv", video(VideoRole.EXTRA)),
        ("Deleted Scenes/Scene 1.mkv", video(VideoRole.EXTRA)),
        ("Interviews/Ridley Scott.mkv", video(VideoRole.EXTRA)),
        ("Scenes/Chestburster.mkv", video(VideoRole.EXTRA)),
        ("Shorts/Short.mkv", video(VideoRole.EXTRA)),
        ("Clips/Clip.mkv", video(VideoRole.EXTRA)),
        ("Other/Gag reel.mkv", video(VideoRole.EXTRA)),
        ("Backdrops/theme.mp4", video(VideoRole.EXTRA)),  # Jellyfin theme video
        ("theme-music/video.mkv", video(VideoRole.EXTRA)),
        # Nested: the innermost extras folder decides; any other folder inherits.
        ("Extras/Trailers/Teaser.mkv", video(VideoRole.TRAILER)),
        ("Trailers/Extras/Teaser.mkv", video(VideoRole.EXTRA)),
        ("Extras/Cast Q&A/Part 1.mkv", video(VideoRole.EXTRA)),
        # What else lives in an extras folder.
        ("Extras/Making Of.en.srt", sub("en", role="extra")),
        ("Extras/Making Of.nfo", Classification(FileKind.NFO, "extra")),
        ("Extras/Making Of.jpg", UNKNOWN),
    ],
)
def test_extras_folders(name: str, expected: Classification) -> None:
    assert classify(name) == expected


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        (f"{BASE}.srt", sub(None)),
        (f"{BASE}.en.srt", sub("en")),
        (f"{BASE}.eng.srt", sub("en")),
        (f"{BASE}.English.srt", sub("en")),
        (f"{BASE}.en.forced.srt", sub("en", forced=True)),
        (f"{BASE}.forced.en.srt", sub("en", forced=True)),
        (f"{BASE}.en.sdh.srt", sub("en", sdh=True)),
        (f"{BASE}.en.cc.srt", sub("en", sdh=True)),
        (f"{BASE}.en.hi.srt", sub("en", sdh=True)),
        (f"{BASE}.hi.srt", sub("hi")),  # alone, "hi" is Hindi
        (f"{BASE}.en.forced.sdh.srt", sub("en", forced=True, sdh=True)),
        (f"{BASE}.en.default.srt", sub("en")),
        (f"{BASE}.pt-BR.srt", sub("pt-br")),
        (f"{BASE}.pt_BR.forced.ass", sub("pt-br", forced=True)),
        (f"{BASE}.zh-Hans.ass", sub("zh-hans")),
        (f"{BASE}.fre.ssa", sub("fr")),
        (f"{BASE}.de.vtt", sub("de")),
        (f"{BASE}.idx", sub(None)),
        (f"{BASE}.es.sub", sub("es")),
        (f"{BASE}.ja.sup", sub("ja")),
        (f"{BASE}.ko.smi", sub("ko")),
        (f"{BASE}.1.en.srt", sub("en")),
        (f"{BASE}.en.2.srt", sub("en")),
        (f"{BASE}.xx.srt", sub(None)),
        # Not named after the video: tags are read from the right and stop at the title.
        ("English.srt", sub("en")),
        ("Alien.1979.1080p.BluRay.x264-GROUP.eng.srt", sub("en")),
        ("It.Follows.2014.srt", sub(None)),
        ("It.srt", sub("it")),
        # Subtitles folders (RARBG style names included).
        ("Subs/2_English.srt", sub("en")),
        ("Subs/3_French.srt", sub("fr")),
        ("subs/English (SDH).srt", sub("en", sdh=True)),
        ("Subtitles/English [Forced].srt", sub("en", forced=True)),
        (f"Subs/{BASE}.nl.srt", sub("nl")),
        ("Subs/readme.txt", UNKNOWN),
    ],
)
def test_subtitles(name: str, expected: Classification) -> None:
    assert classify(name) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (".en", ("en", False, False)),
        (".EN.FORCED", ("en", True, False)),
        (".en.foreign", ("en", True, False)),
        ("-eng-sdh", ("en", False, True)),
        (" [English] (SDH)", ("en", False, True)),
        (".fr.hi", ("fr", False, True)),
        (".hi", ("hi", False, False)),
        (".hi.forced", ("hi", True, False)),
        ("", (None, False, False)),
        (".forced", (None, True, False)),
        ("The.Matrix.1999", (None, False, False)),
    ],
)
def test_subtitle_tags(text: str, expected: tuple[str | None, bool, bool]) -> None:
    assert subtitle_tags(text) == expected


@pytest.mark.parametrize(
    ("name", "role"),
    [
        (f"{BASE}.nfo", "main"),
        (f"{BASE}.NFO", "main"),
        ("movie.nfo", "main"),
        ("Movie.nfo", "main"),
        ("VIDEO_TS.nfo", "main"),
        ("index.nfo", "other"),  # only inside a disc folder
        ("BDMV/index.nfo", "main"),
        ("VIDEO_TS/VIDEO_TS.nfo", "main"),
        ("Alien.1979.1080p.BluRay-GROUP.nfo", "other"),
        (f"{BASE}.en.nfo", "other"),
    ],
)
def test_nfo(name: str, role: str) -> None:
    assert classify(name) == Classification(FileKind.NFO, role)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        (".actors/Sigourney_Weaver.jpg", Classification(FileKind.ACTOR, actor="Sigourney Weaver")),
        (".actors/Tom Skerritt.png", Classification(FileKind.ACTOR, actor="Tom Skerritt")),
        (".actors/John_Hurt.tbn", Classification(FileKind.ACTOR, actor="John Hurt")),
        (".actors/readme.txt", UNKNOWN),
        (".actors/old/Sigourney_Weaver.jpg", UNKNOWN),
        # extrafanart/extrathumbs images; discovery numbers them in name order.
        ("extrafanart/fanart3.jpg", art(F)),
        ("ExtraFanart/abc.png", art(F)),
        ("extrathumbs/thumb1.jpg", art(ArtworkType.LANDSCAPE)),
        ("extrafanart/notes.txt", UNKNOWN),
        # Theme music.
        ("theme.mp3", Classification(FileKind.AUDIO, "theme")),
        ("Theme.flac", Classification(FileKind.AUDIO, "theme")),
        ("theme-music/track 1.ogg", Classification(FileKind.AUDIO, "theme")),
        ("theme-music/track 2.m4a", Classification(FileKind.AUDIO, "theme")),
        ("soundtrack.mp3", UNKNOWN),
        # Everything else.
        ("notes.txt", UNKNOWN),
        (f"{BASE}.txt", UNKNOWN),
        ("RARBG.txt", UNKNOWN),
        ("noextension", UNKNOWN),
        (".hidden", UNKNOWN),
        ("Artwork/poster.jpg", UNKNOWN),  # an unknown subfolder
        ("proof/proof.jpg", UNKNOWN),
    ],
)
def test_actors_extra_art_theme_and_unknown(name: str, expected: Classification) -> None:
    assert classify(name) == expected


@pytest.mark.parametrize(
    ("stems", "expected"),
    [
        (["Movie-cd1", "Movie-cd2"], [Stack("Movie", ("Movie-cd1", "Movie-cd2"), (1, 2))]),
        (["Movie CD2", "Movie CD1"], [Stack("Movie", ("Movie CD1", "Movie CD2"), (1, 2))]),
        (["Movie.part1", "Movie.part2"], [Stack("Movie", ("Movie.part1", "Movie.part2"), (1, 2))]),
        (
            ["Movie (2000) - Part 1", "Movie (2000) - Part 2"],
            [Stack("Movie (2000)", ("Movie (2000) - Part 1", "Movie (2000) - Part 2"), (1, 2))],
        ),
        (["Movie_pt1", "Movie_pt2"], [Stack("Movie", ("Movie_pt1", "Movie_pt2"), (1, 2))]),
        (["Movie disc1", "Movie disk2"], [Stack("Movie", ("Movie disc1", "Movie disk2"), (1, 2))]),
        (["Movie.dvd1", "Movie.dvd2"], [Stack("Movie", ("Movie.dvd1", "Movie.dvd2"), (1, 2))]),
        (["Movie cd 1", "Movie cd 2"], [Stack("Movie", ("Movie cd 1", "Movie cd 2"), (1, 2))]),
        (
            ["Movie-cd1", "Movie-cd2", "Movie-cd3"],
            [Stack("Movie", ("Movie-cd1", "Movie-cd2", "Movie-cd3"), (1, 2, 3))],
        ),
        # The text after the part token is kept in the stacked name, as Kodi does.
        (
            ["Movie part1 720p", "Movie part2 720p"],
            [Stack("Movie 720p", ("Movie part1 720p", "Movie part2 720p"), (1, 2))],
        ),
        # Letters a-d, alone or after a part word.
        (["Movie a", "Movie b"], [Stack("Movie", ("Movie a", "Movie b"), (1, 2))]),
        (["Movie-cdA", "Movie-cdB"], [Stack("Movie", ("Movie-cdA", "Movie-cdB"), (1, 2))]),
        (
            ["Movie.part.c", "Movie.part.d"],
            [Stack("Movie", ("Movie.part.c", "Movie.part.d"), (3, 4))],
        ),
        # Empty titles: a number stack is fine, a letter stack is two films.
        (["cd1", "cd2"], [Stack("cd1", ("cd1", "cd2"), (1, 2))]),
        (["A", "B"], []),
        # Not stacks.
        (["Movie-cd1"], []),
        (["Movie-cd1", "Other-cd2"], []),
        (["Movie-cd1", "Movie-cd1"], []),
        (["Movie-cd1 720p", "Movie-cd2 1080p"], []),
        (["Movie.Part.1080p", "Movie.Part.720p"], []),
        (["Abcd1", "Abcd2"], []),  # the part word must be its own token
        (["Alien (1979)", "Aliens (1986)"], []),
        (
            ["Harry Potter Part 1 (2010)", "Harry Potter Part 2 (2011)"],
            [],
        ),
    ],
)
def test_find_stacks(stems: list[str], expected: list[Stack]) -> None:
    assert find_stacks(stems) == expected


def test_find_stacks_several_groups() -> None:
    stacks = find_stacks(["Zed-cd1", "Zed-cd2", "Alpha-cd1", "Alpha-cd2", "Loose"])
    assert [s.base for s in stacks] == ["Alpha", "Zed"]


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("CD1", ("", 1)),
        ("cd2", ("", 2)),
        ("DVD1", ("", 1)),
        ("Disc1", ("", 1)),
        ("Disk 2", ("", 2)),
        ("Disc_3", ("", 3)),
        ("Movie CD1", ("movie", 1)),
        ("Movie - Disc 2", ("movie", 2)),
        ("Part1", None),  # Kodi's folder stacking has no "part"
        ("CD", None),
        ("Abcd1", None),
        ("Extras", None),
    ],
)
def test_folder_stack(name: str, expected: tuple[str, int] | None) -> None:
    assert folder_stack(name) == expected


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("Movie-cd1.avi", video(VideoRole.PART, 1)),
        ("Movie-cd2.avi", video(VideoRole.PART, 2)),
        ("Movie.nfo", Classification(FileKind.NFO, "main")),  # the stacked name
        ("Movie-cd1.nfo", Classification(FileKind.NFO, "main")),  # the first part
        ("Movie-poster.jpg", art(P)),
        ("Movie-cd1-poster.jpg", art(P)),
        ("Movie.en.srt", sub("en")),
        ("Movie-trailer.mkv", video(VideoRole.TRAILER)),
        ("Movie-cd1-sample.avi", video(VideoRole.SAMPLE)),
    ],
)
def test_stacked_movie(name: str, expected: Classification) -> None:
    assert classify(name, ("Movie-cd1", "Movie-cd2")) == expected


@pytest.mark.parametrize(
    ("rel_path", "basenames", "folder", "expected"),
    [
        # Folder stacking: CD1/, CD2/ are part of the movie folder.
        ("M/CD1/movie.avi", ("movie",), "M", video(VideoRole.PART, 1)),
        ("M/CD2/movie.avi", ("movie",), "M", video(VideoRole.PART, 2)),
        ("M/Disc 2/movie.avi", ("movie",), "M", video(VideoRole.PART, 2)),
        ("M/CD1/movie.nfo", ("movie",), "M", Classification(FileKind.NFO, "main")),
        # Disc structures: the index file is the main video.
        ("M/BDMV/index.bdmv", ("index",), "M", video(VideoRole.MAIN)),
        ("M/BDMV/index.nfo", ("index",), "M", Classification(FileKind.NFO, "main")),
        ("M/VIDEO_TS/VIDEO_TS.IFO", ("VIDEO_TS",), "M", video(VideoRole.MAIN)),
        ("M/VIDEO_TS.IFO", ("VIDEO_TS",), "M", video(VideoRole.MAIN)),
        ("M/Disc1/BDMV/index.bdmv", ("index",), "M", video(VideoRole.PART, 1)),
        ("M/poster.jpg", ("index",), "M", art(P)),
        ("M/Extras/BDMV/index.bdmv", ("index",), "M", video(VideoRole.EXTRA)),
        # Without a folder, trailing special/disc/stack folders are inside the movie.
        ("Movies/Alien/extrafanart/fanart1.jpg", (), None, art(F)),
        (
            "Movies/Alien/.actors/Ian_Holm.jpg",
            (),
            None,
            Classification(FileKind.ACTOR, actor="Ian Holm"),
        ),
        ("Movies/Alien/Extras/Trailers/t.mkv", (), None, video(VideoRole.TRAILER)),
        ("Movies/Alien/CD2/alien.avi", (), None, video(VideoRole.PART, 2)),
        ("Movies/Alien/BDMV/index.nfo", (), None, Classification(FileKind.NFO, "main")),
        ("Movies/Alien/poster.jpg", (), None, art(P)),
        ("Movies/Alien/Alien.mkv", (), None, video(VideoRole.MAIN)),
        ("poster.jpg", (), None, art(P)),
        # A folder the path is not under: inferred as above.
        ("Other/Trailers/t.mkv", (), "Movies/Alien", video(VideoRole.TRAILER)),
        # The library root as the movie folder.
        ("Trailers/t.mkv", ("x",), "", video(VideoRole.TRAILER)),
    ],
)
def test_paths_relative_to_the_movie_folder(
    rel_path: str, basenames: tuple[str, ...], folder: str | None, expected: Classification
) -> None:
    assert classify_file(rel_path, basenames, folder=folder) == expected


def test_longest_basename_wins() -> None:
    classifier = FileClassifier(["Alien", "Alien 2"], "Movies")
    assert classifier.classify("Movies/Alien 2-poster.jpg") == art(P)
    assert classifier.classify("Movies/Alien 2.en.srt") == sub("en")
    assert classifier.classify("Movies/Alien-fanart.jpg") == art(F)


def test_classifier_matches_classify_file() -> None:
    classifier = FileClassifier({BASE}, FOLDER)
    for name in (f"{BASE}-poster.jpg", "Trailers/x.mkv", f"{BASE}.en.srt", "x.txt"):
        path = f"{FOLDER}/{name}"
        assert classifier.classify(path) == classify_file(path, {BASE}, folder=FOLDER)


@pytest.mark.parametrize(
    ("stem", "expected"),
    [
        ("Alien-trailer", VideoRole.TRAILER),
        ("trailer", VideoRole.TRAILER),
        ("Alien.sample", VideoRole.SAMPLE),
        ("sample", VideoRole.SAMPLE),
        ("sample_alien", VideoRole.SAMPLE),
        ("Alien-featurette", VideoRole.EXTRA),
        ("Alien", None),
        ("Alien.Other.2020", None),
        ("The.Big.Short", None),
        ("Trailers", None),
    ],
)
def test_video_role_from_name(stem: str, expected: VideoRole | None) -> None:
    assert video_role_from_name(stem) is expected


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("a.mkv", True),
        ("a.MP4", True),
        ("a.m2ts", True),
        ("a.iso", True),
        ("a.webm", True),
        ("a.rmvb", True),
        ("a.srt", False),
        ("a.nfo", False),
        ("mkv", False),
    ],
)
def test_is_video_name(name: str, expected: bool) -> None:
    assert is_video_name(name) is expected
