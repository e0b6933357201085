"""Names: id tags and language tags (domain), title/year parsing with guessit (media)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from metarr.domain.media import ExternalIds
from metarr.domain.naming import (
    ids_from_name,
    language_from_tag,
    strip_attributes,
    strip_id_tags,
)
from metarr.media import names
from metarr.media.names import guess_movie, parse_title_year

# Kodi's own test vectors, transcribed from xbmc/xbmc (see
# /work/shared/fixtures/kodi/kodi_filename_testdata.json):
# TestFilenameAttributes.cpp FilenameIdentifierTests[] @4997394b, plus the identifier
# cases of TestUtil.cpp TestUtilCleanString @01dc519b.
KODI_IDENTIFIER_VECTORS = [
    ("", "", ""),
    ("Some.MovieName[edition=test].mkv", "", ""),
    ("Some.MovieName[tmdb=123].mkv", "tmdb", "123"),
    ("Some.MovieName[imdb=tt0012345].mkv", "imdb", "tt0012345"),
    ("Some.MovieName[tmdbid=123].mkv", "tmdb", "123"),
    ("Some.MovieName[TMDBID=123].mkv", "tmdb", "123"),
    ("Some.MovieName[fooid=bar].mkv", "", ""),
    ("Some.MovieName[tmdb=test-12 3].mkv", "", ""),
    ("Some Movie (2013) [imdbid-tt123].mp4", "imdb", "tt123"),
    ("Some Movie (2013) {tmdb-123}.mp4", "tmdb", "123"),
    ("Some Movie (2013) {tmdb=123}.mp4", "tmdb", "123"),
]

# TestFilenameAttributes.cpp cleanFilenameAttributePairsTests[] @4997394b.
KODI_ATTRIBUTE_VECTORS = [
    ("Some.MovieName[key=value].mkv", "Some.MovieName.mkv"),
    ("Some.MovieName [key1=value1]{key2 = value2}.mkv", "Some.MovieName .mkv"),
    ("Some.MovieName [key1=value1] foobar {key2 = value2}.mkv", "Some.MovieName  foobar .mkv"),
    ("Some.MovieName.mkv", "Some.MovieName.mkv"),
    ("[key=value]Some.MovieName.mkv", "Some.MovieName.mkv"),
]

# TestUtil.cpp TestUtilCleanString @01dc519b: the vectors where guessit agrees with
# Kodi on title and year (Kodi also cuts "BDRemux" and keeps "(Director Cut)").
KODI_TITLE_YEAR_VECTORS = [
    ("SomeMovie.2018.UHD.BluRay.2160p.HEVC.TrueHD.Atmos.7.1-BeyondHD", "SomeMovie", 2018),
    (
        "Movie.Some.Story.2017.2160p.BDRemux.IMAX.HDR.DV.IVA(ENG.RUS).ExKinoRay",
        "Movie Some Story",
        2017,
    ),
    ("Some.Movie.1954.BDRip.1080p.mkv", "Some Movie", 1954),
    ("Some «Movie».2021.WEB-DL.2160p.HDR.mkv", "Some «Movie»", 2021),
    ("Some Movie (2013).mp4", "Some Movie", 2013),
    ("Some Movie (2013) [imdbid-tt123].mp4", "Some Movie", 2013),
    ("Some Movie (2013) {tmdb-123}.mp4", "Some Movie", 2013),
    ("Some Movie (2013) {tmdb=123}.mp4", "Some Movie", 2013),
]


@pytest.mark.parametrize(("name", "kind", "value"), KODI_IDENTIFIER_VECTORS)
def test_kodi_identifier_vectors(name: str, kind: str, value: str) -> None:
    ids = ids_from_name(name)
    expected = ExternalIds(
        tmdb=int(value) if kind == "tmdb" else None,
        imdb=value if kind == "imdb" else None,
    )
    assert ids == expected
    assert ids.is_empty() is (kind == "")


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("The Matrix (1999) {tmdb-603}", ExternalIds(tmdb=603)),
        ("The Matrix (1999) [tmdbid-603]", ExternalIds(tmdb=603)),
        ("The Matrix (1999) {imdb-tt0133093}", ExternalIds(imdb="tt0133093")),
        ("The Matrix (1999) [imdbid-tt0133093]", ExternalIds(imdb="tt0133093")),
        ("The Matrix (1999) tmdb=603", ExternalIds(tmdb=603)),
        ("The Matrix (1999) {tmdb=603}", ExternalIds(tmdb=603)),
        ("The Matrix (1999) [tmdb=603]", ExternalIds(tmdb=603)),
        ("The Matrix (1999) [tmdbid=603]", ExternalIds(tmdb=603)),
        ("The Matrix (1999) tmdbid=603", ExternalIds(tmdb=603)),
        ("The Matrix (1999) [tvdbid-123]", ExternalIds(tvdb=123)),
        ("The Matrix (1999) {tvdb-123}", ExternalIds(tvdb=123)),
        ("The Matrix (1999) {TMDB-603}", ExternalIds(tmdb=603)),
        ("The Matrix (1999) [IMDBID-TT0133093]", ExternalIds(imdb="tt0133093")),
        ("The Matrix (1999) { tmdb - 603 }", ExternalIds(tmdb=603)),
        ("The Matrix (1999) {tmdb-0603}", ExternalIds(tmdb=603)),
        ("The Matrix (1999) [tt0133093]", ExternalIds(imdb="tt0133093")),
        (
            "The Matrix (1999) {tmdb-603} {imdb-tt0133093} [tvdbid-9]",
            ExternalIds(tmdb=603, imdb="tt0133093", tvdb=9),
        ),
        ("The.Matrix.1999.{tmdb-603}.mkv", ExternalIds(tmdb=603)),
        # The same id twice is fine; two different values are a conflict: neither.
        ("Matrix {tmdb-603} [tmdbid-603]", ExternalIds(tmdb=603)),
        ("Matrix {tmdb-603} [tmdbid-604]", ExternalIds()),
        ("Matrix {tmdb-603} [tmdbid-604] {imdb-tt0133093}", ExternalIds(imdb="tt0133093")),
        # Not ids.
        ("The Matrix (1999)", ExternalIds()),
        ("The Matrix {tmdb-abc}", ExternalIds()),
        ("The Matrix {imdb-0133093}", ExternalIds()),
        ("The Matrix {tvdb-tt123}", ExternalIds()),
        ("The Matrix tmdb-603", ExternalIds()),  # bare only with "="
        ("The Matrix atmdb=603", ExternalIds()),  # bare only as a whole token
        ("The Matrix {tmdb-603", ExternalIds()),
        ("The Matrix {edition-Extended}", ExternalIds()),
        ("The Matrix [1999]", ExternalIds()),
    ],
)
def test_ids_from_name(name: str, expected: ExternalIds) -> None:
    assert ids_from_name(name) == expected


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("The Matrix (1999) {tmdb-603}", "The Matrix (1999)"),
        ("The Matrix (1999) [imdbid-tt0133093] {tmdb-603}", "The Matrix (1999)"),
        ("The Matrix (1999) {tmdb-603} [1080p]", "The Matrix (1999) [1080p]"),
        ("Some Movie (2013) {tmdb=123}.mp4", "Some Movie (2013).mp4"),
        ("tmdb=603 The Matrix", "The Matrix"),
        ("The Matrix [tt0133093]", "The Matrix"),
        ("The Matrix (1999)", "The Matrix (1999)"),
        ("The Matrix [edition=test]", "The Matrix [edition=test]"),
        ("{tmdb-603}", ""),
    ],
)
def test_strip_id_tags(name: str, expected: str) -> None:
    assert strip_id_tags(name) == expected


@pytest.mark.parametrize(("name", "expected"), KODI_ATTRIBUTE_VECTORS)
def test_strip_attributes_kodi_vectors(name: str, expected: str) -> None:
    assert strip_attributes(name) == expected


@pytest.mark.parametrize(
    ("tag", "expected"),
    [
        ("en", "en"),
        ("EN", "en"),
        ("eng", "en"),
        ("English", "en"),
        ("fr", "fr"),
        ("fre", "fr"),
        ("fra", "fr"),
        ("French", "fr"),
        ("français", "fr"),
        ("ger", "de"),
        ("deu", "de"),
        ("Deutsch", "de"),
        ("spa", "es"),
        ("Español", "es"),
        ("jpn", "ja"),
        ("chi", "zh"),
        ("zho", "zh"),
        ("nb", "nb"),
        ("fil", "tl"),
        ("pt-BR", "pt-br"),
        ("pt_BR", "pt-br"),
        ("por-br", "pt-br"),
        ("pob", "pt-br"),
        ("pb", "pt-br"),
        ("Brazilian", "pt-br"),
        ("zh-Hans", "zh-hans"),
        ("chs", "zh-hans"),
        ("cht", "zh-hant"),
        ("es-419", "es-419"),
        ("en-US", "en-us"),
        (" eng ", "en"),
        ("xx", None),
        ("zz-ZZ", None),
        ("english-us", None),
        ("forced", None),
        ("sdh", None),
        ("1080p", None),
        ("", None),
    ],
)
def test_language_from_tag(tag: str, expected: str | None) -> None:
    assert language_from_tag(tag) == expected


@pytest.fixture
def fresh_cache() -> Iterator[None]:
    parse_title_year.cache_clear()
    yield
    parse_title_year.cache_clear()


@pytest.mark.parametrize(
    ("name", "title", "year"),
    [
        ("The.Matrix.1999.1080p.BluRay.x264-GROUP.mkv", "The Matrix", 1999),
        ("The.Matrix.1999.1080p.BluRay.x264-GROUP", "The Matrix", 1999),
        ("Amélie (2001)", "Amélie", 2001),
        ("Alien (1979)", "Alien", 1979),
        ("Alien (1979) {tmdb-348}", "Alien", 1979),
        ("The Matrix (1999) [imdbid-tt0133093]", "The Matrix", 1999),
        ("The Matrix (1999) tmdb=603", "The Matrix", 1999),
        ("The Matrix (1999) [edition=Extended]", "The Matrix", 1999),
        ("Alien [1979]", "Alien", 1979),
        ("The Thing 1982", "The Thing", 1982),
        ("2001 A Space Odyssey (1968)", "2001 A Space Odyssey", 1968),
        ("Blade Runner 2049 (2017)", "Blade Runner 2049", 2017),
        ("1917 (2019)", "1917", 2019),
        ("Se7en (1995)", "Se7en", 1995),
        ("Léon The Professional (1994)", "Léon The Professional", 1994),
        ("Star.Wars.Episode.IV.A.New.Hope.1977.mkv", "Star Wars Episode IV A New Hope", 1977),
        ("Alien", "Alien", None),
        ("", None, None),
        ("   ", None, None),
        ("{tmdb-603}", None, None),
        *KODI_TITLE_YEAR_VECTORS,
    ],
)
def test_parse_title_year(name: str, title: str | None, year: int | None) -> None:
    assert parse_title_year(name) == (title, year)


def test_parse_title_year_is_cached(fresh_cache: None) -> None:
    parse_title_year("The.Matrix.1999.mkv")
    parse_title_year("The.Matrix.1999.mkv")
    info = parse_title_year.cache_info()
    assert (info.hits, info.misses) == (1, 1)


@pytest.mark.parametrize(
    ("name", "title", "year"),
    [
        ("Alien (1979)", "Alien", 1979),
        ("The.Thing.1982.1080p.mkv", "The Thing", 1982),
        ("Alien (1979) {tmdb-348}", "Alien", 1979),
        ("Some_Movie_2013", "Some Movie", 2013),
        ("Untitled", "Untitled", None),
        ("Untitled.mkv", "Untitled", None),
    ],
)
def test_parse_title_year_falls_back_when_guessit_fails(
    monkeypatch: pytest.MonkeyPatch, fresh_cache: None, name: str, title: str, year: int | None
) -> None:
    def broken(*_args: object, **_kwargs: object) -> dict[str, object]:
        raise RuntimeError("rebulk exploded")

    monkeypatch.setattr(names, "guessit", broken)
    assert parse_title_year(name) == (title, year)


@pytest.mark.parametrize(
    ("folder", "filename", "title", "year"),
    [
        # The folder first.
        ("Movies/Alien (1979)", "Alien.1979.1080p.BluRay.x264-GROUP.mkv", "Alien", 1979),
        ("Alien (1979)", "alien-1080p.mkv", "Alien", 1979),
        ("Alien (1979)/", "Alien (1979)/Alien.2003.Directors.Cut.mkv", "Alien", 1979),
        ("The Matrix (1999) {tmdb-603}", "index.bdmv", "The Matrix", 1999),
        # A year missing from one side comes from the other.
        ("Alien", "Alien.1979.1080p.mkv", "Alien", 1979),
        ("Alien", "alien.mkv", "Alien", None),
        # A year-less folder naming something else is a container folder: the file wins.
        ("Movies", "Alien.1979.1080p.mkv", "Alien", 1979),
        ("Movies", "Alien.mkv", "Movies", None),
        # One side only.
        ("", "The.Matrix.1999.mkv", "The Matrix", 1999),
        ("Amélie (2001)", "", "Amélie", 2001),
        ("", "", None, None),
    ],
)
def test_guess_movie(folder: str, filename: str, title: str | None, year: int | None) -> None:
    assert guess_movie(folder, filename) == (title, year)
