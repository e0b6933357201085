"""Ignore patterns: defaults, glob semantics, validation."""

from __future__ import annotations

import pytest

from metarr.domain.ignore import (
    DEFAULT_IGNORE_PATTERNS,
    IgnoreMatcher,
    validate_pattern,
)

DEFAULTS = IgnoreMatcher(DEFAULT_IGNORE_PATTERNS)


@pytest.mark.parametrize(
    "rel_path",
    [
        "Alien (1979)/.DS_Store",
        ".DS_Store",
        "Alien (1979)/Thumbs.db",
        "Alien (1979)/THUMBS.DB",
        "Alien (1979)/desktop.ini",
        "@eaDir",
        "Alien (1979)/@eaDir",
        "Alien (1979)/@eaDir/poster.jpg@SynoEAStream",
        "Alien (1979)/Alien (1979).mkv.part",
        "Alien (1979)/Alien (1979).mkv.!ut",
        "Alien (1979)/Alien (1979).mkv.crdownload",
        "Alien (1979)/upload.tmp",
        "Alien (1979)/Alien.1979.torrent",
        "Alien (1979)/Alien.1979.nzb",
        "Alien (1979)/RARBG.txt",
        "Alien (1979)/RARBG_DO_NOT_MIRROR.exe",
        "Alien (1979)/rarbg.com.txt",
        "Alien (1979)/.AppleDouble",
        "Alien (1979)/.AppleDouble/Alien (1979).mkv",
        "Alien (1979)/._Alien (1979).mkv",
        "lost+found",
        "lost+found/#1234",
        "$RECYCLE.BIN/S-1-5-21/desktop.ini",
        ".Trash-1000/files/Alien.mkv",
        "Alien (1979)/.metarr-3f2a.tmp",
        "Alien (1979)/.metarr-poster.jpg",
    ],
)
def test_default_patterns_ignore(rel_path: str) -> None:
    name = rel_path.rpartition("/")[2]
    assert DEFAULTS.matches(name, rel_path) is True


@pytest.mark.parametrize(
    "rel_path",
    [
        "Alien (1979)/Alien (1979).mkv",
        "Alien (1979)/poster.jpg",
        "Alien (1979)/sample.mkv",  # samples are classified, not ignored
        "Alien (1979)/Alien (1979)-sample.mkv",
        "Alien (1979)/Alien.part1.mkv",  # a stack part, not a partial download
        "Alien (1979)/Thumbs.db.bak",
        "Alien (1979)/My RARBG rip.mkv",  # RARBG* is anchored at the start of the name
        "Alien (1979)/xRECYCLE.BIN",
        "lost found/Alien.mkv",
        "Alien (1979)/metarr-notes.txt",
        "Trash-1000/Alien.mkv",
        "DS_Store/x",
    ],
)
def test_default_patterns_keep(rel_path: str) -> None:
    name = rel_path.rpartition("/")[2]
    assert DEFAULTS.matches(name, rel_path) is False


def test_defaults_list_is_the_documented_one() -> None:
    assert DEFAULT_IGNORE_PATTERNS == (
        ".DS_Store",
        "Thumbs.db",
        "desktop.ini",
        "@eaDir",
        "*.part",
        "*.!ut",
        "*.crdownload",
        "*.tmp",
        "*.torrent",
        "*.nzb",
        "RARBG*",
        ".AppleDouble",
        "._*",
        "lost+found",
        "$RECYCLE.BIN",
        ".Trash-*",
        ".metarr-*",
    )


def test_with_defaults_adds_user_patterns() -> None:
    matcher = IgnoreMatcher.with_defaults(["*.txt"])
    assert matcher.patterns[-1] == "*.txt"
    assert matcher.matches("notes.txt", "Alien/notes.txt") is True
    assert matcher.matches(".DS_Store", "Alien/.DS_Store") is True
    assert matcher.matches("Alien.mkv", "Alien/Alien.mkv") is False


@pytest.mark.parametrize(
    ("pattern", "rel_path", "expected"),
    [
        # No "/": matches any path component, case-insensitively.
        ("*.txt", "notes.txt", True),
        ("*.txt", "A/B/NOTES.TXT", True),
        ("*.txt", "A/notes.txt.bak", False),
        ("Extras", "Alien/Extras", True),
        ("Extras", "Alien/extras/making-of.mkv", True),
        ("Extras", "Alien/More Extras/x.mkv", False),
        ("movie?.mkv", "A/movie1.mkv", True),
        ("movie?.mkv", "A/movie12.mkv", False),
        ("[ab].mkv", "A/b.mkv", True),
        ("[ab].mkv", "A/c.mkv", False),
        ("[!a].mkv", "A/c.mkv", True),
        ("[!a].mkv", "A/a.mkv", False),
        ("a+b (1).mkv", "X/a+b (1).mkv", True),  # regex characters are literal
        ("a+b (1).mkv", "X/aab (1).mkv", False),
        ("[abc", "X/[abc", True),  # an unclosed "[" is literal, as in fnmatch
        # "*" of a name pattern never crosses "/".
        ("A*B", "A/x/B", False),
        # With "/": the relative path (fnmatch: "*" crosses "/") or a folder above it.
        ("Movies/Old/*", "Movies/Old/a.mkv", True),
        ("Movies/Old/*", "Movies/Old/x/y.mkv", True),
        ("Movies/Old/*", "Movies/Older/a.mkv", False),
        ("Movies/Old", "Movies/Old", True),
        ("Movies/Old", "Movies/Old/x/y.mkv", True),
        ("Movies/Old", "Movies/Older/y.mkv", False),
        ("Movies/Old", "Other/Movies/Old/y.mkv", False),  # anchored at the library root
        ("*/Extras", "A/B/Extras/x.mkv", True),
        ("./Movies/Old", "Movies/Old/a.mkv", True),
        ("movies/old", "Movies/Old/a.mkv", True),
        # A trailing "/" only says "folder".
        ("Featurettes/", "A/Featurettes/x.mkv", True),
        ("Movies/Old/", "Movies/Old/a.mkv", True),
    ],
)
def test_glob_semantics(pattern: str, rel_path: str, expected: bool) -> None:
    matcher = IgnoreMatcher([pattern])
    assert matcher.matches(rel_path.rpartition("/")[2], rel_path) is expected


def test_name_checked_when_not_part_of_the_path() -> None:
    matcher = IgnoreMatcher(["*.nzb"])
    assert matcher.matches("Alien.nzb", "") is True
    assert matcher.matches("Alien.nzb", "Alien") is True
    assert matcher.matches("Alien.mkv", "Alien") is False


def test_no_patterns_never_match() -> None:
    matcher = IgnoreMatcher([])
    assert matcher.patterns == ()
    assert matcher.matches(".DS_Store", ".DS_Store") is False


def test_many_patterns_compile_into_one_matcher() -> None:
    patterns = [f"junk{i}*" for i in range(300)] + ["Movies/Old"]
    matcher = IgnoreMatcher(patterns)
    assert matcher.matches("junk299.bin", "A/junk299.bin") is True
    assert matcher.matches("junk.bin", "A/junk.bin") is False
    assert matcher.matches("a.mkv", "Movies/Old/a.mkv") is True


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ("*.tmp", "*.tmp"),
        ("  *.tmp  ", "*.tmp"),
        ("Movies/Old/", "Movies/Old/"),
        ("x" * 255, "x" * 255),
    ],
)
def test_validate_pattern_accepts(pattern: str, expected: str) -> None:
    assert validate_pattern(pattern) == expected


@pytest.mark.parametrize(
    ("pattern", "message"),
    [
        ("", "ignore pattern is empty"),
        ("   ", "ignore pattern is empty"),
        ("a\0b", "contains a NUL byte"),
        ("/etc/passwd", "is absolute"),
        ("\\\\server\\share", "is absolute"),
        ("C:\\Movies", "is absolute"),
        ("c:/Movies", "is absolute"),
        ("x" * 256, "longer than 255 characters"),
        ("/", "is absolute"),
    ],
)
def test_validate_pattern_rejects(pattern: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        validate_pattern(pattern)


def test_matcher_rejects_invalid_patterns() -> None:
    with pytest.raises(ValueError, match="is absolute"):
        IgnoreMatcher(["*.tmp", "/abs"])
