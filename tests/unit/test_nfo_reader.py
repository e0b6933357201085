"""Tests of the Kodi NFO reader: fixtures, ids, metadata, hostile and broken input."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from metarr.domain.media import Actor, ExternalIds, NfoDocument, Rating
from metarr.nfo import read_nfo
from metarr.nfo.reader import MAX_NFO_BYTES
from metarr.nfo.values import parse_date, parse_float, parse_int, parse_runtime

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "nfo"
ALL_FIXTURES = sorted(FIXTURES.rglob("*.nfo"))
KIND_BY_FOLDER = {
    "movie": "movie",
    "tvshow": "tvshow",
    "episode": "episodedetails",
    "musicvideo": "musicvideo",
    "season": "season",
    "url_only": "url",
}


def fixture(relative: str) -> NfoDocument:
    """Read one fixture NFO."""
    return read_nfo((FIXTURES / relative).read_bytes())


def movie(body: str, encoding: str = "utf-8") -> NfoDocument:
    """Read a movie NFO built around the given children."""
    xml = f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<movie>\n{body}\n</movie>\n'
    return read_nfo(xml.encode(encoding))


def all_strings(doc: NfoDocument) -> list[str]:
    """Every text value of a document, to check nothing unexpected leaked in."""
    info = doc.info
    values = [
        info.title,
        info.original_title,
        info.sort_title,
        info.plot,
        info.outline,
        info.tagline,
        info.certification,
        info.trailer,
        *info.genres,
        *info.studios,
        *info.countries,
        *info.tags,
        *info.directors,
        *info.writers,
    ]
    for actor in info.cast:
        values += [actor.name, actor.role, actor.thumb]
    if info.set is not None:
        values += [info.set.name, info.set.overview]
    return [value for value in values if value is not None]


# --- every fixture ------------------------------------------------------------------


def test_fixtures_are_present() -> None:
    assert len(ALL_FIXTURES) == 16


@pytest.mark.parametrize("path", ALL_FIXTURES, ids=lambda path: path.name)
def test_every_fixture_parses_cleanly_with_its_kind(path: Path) -> None:
    doc = read_nfo(path.read_bytes())
    assert doc.kind == KIND_BY_FOLDER[path.parent.name]
    assert doc.well_formed is True
    assert doc.error is None
    assert doc.conflicts == ()


# --- movie fixtures -------------------------------------------------------------------


def test_justice_league_full_kodi_export() -> None:
    doc = fixture("movie/jellyfin_justice_league.nfo")
    info = doc.info
    # <id>tt..., <uniqueid> imdb + tmdb and Jellyfin's <tmdbId> all agree.
    assert doc.ids == ExternalIds(tmdb=141052, imdb="tt0974015")
    assert info.title == "Justice League"
    assert info.original_title == "Justice League"
    assert info.sort_title is None
    assert info.year == 2017
    assert info.premiered == "2017-11-15"
    assert info.runtime == 120
    assert info.certification == "Australia:M"
    assert info.tagline == "Justice for all."
    assert info.outline is not None
    assert info.outline.startswith("Fueled by his restored faith in humanity")
    assert info.plot is not None
    assert "inspired by Superman's selfless act" in info.plot
    assert info.genres == ["Action", "Adventure", "Fantasy", "Sci-Fi"]
    assert info.countries == ["USA", "Canada", "UK"]
    assert info.studios == ["DC Comics"]
    assert info.directors == ["Zack Snyder"]  # written "Zack Snyder," in the file
    assert info.writers == ["Jerry Siegel", "Joe Shuster", "Test"]
    assert info.tags == []
    assert info.userrating is None  # 0 means "not rated" in Kodi
    assert info.top250 is None
    assert info.trailer == "plugin://plugin.video.youtube/?action=play_video&videoid=dQw4w9WgXcQ"
    assert info.ratings == [
        Rating(source="imdb", value=6.4, votes=335583, max=10.0, default=True),
        Rating(source="metacritic", value=4.5, votes=52, max=10.0, default=False),
        Rating(source="themoviedb", value=6.2, votes=7788, max=10.0, default=False),
        Rating(source="tomatometerallcritics", value=7.6, votes=71, max=10.0, default=False),
        Rating(source="tomatometerallaudience", value=6.2, votes=119873, max=10.0, default=False),
    ]
    assert info.set is not None
    assert info.set.name == "Justice League Collection"
    assert info.set.overview == "Based on the DC Comics superhero team"
    assert info.set.tmdb == 702342
    assert len(info.cast) == 15
    assert info.cast[0] == Actor(
        name="Ben Affleck",
        role="Batman",
        order=0,
        thumb="https://m.media-amazon.com/images/M/MV5BMTI4MzIxMTk0Nl5BMl5BanBnXkFtZTcwOTU5NjA0Mg@@._V1_SX1024_SY1024_.jpg",
    )
    assert info.cast[11].name == "Ciarán Hinds"
    assert [actor.order for actor in info.cast] == list(range(15))
    # A Jellyfin crew entry (<type>Lyricist</type>) is not cast.
    assert "Test Lyricist" not in [actor.name for actor in info.cast]


def test_justice_league_ignores_streams_and_artwork() -> None:
    doc = fixture("movie/jellyfin_justice_league.nfo")
    strings = all_strings(doc)
    for stream_value in ("h264", "truehd", "ac3", "eng", "HSBS", "1920"):
        assert stream_value not in strings
    assert not any("fanart.tv" in value for value in strings)


def test_lilo_and_stitch_entities_tmdbcol_and_plain_set() -> None:
    doc = fixture("movie/jellyfin_lilo_and_stitch.nfo")
    assert doc.ids == ExternalIds()  # tmdbcol is a collection, not the movie
    assert doc.info.title == "Lilo & Stitch"
    assert doc.info.original_title == "Lilo & Stitch"
    assert doc.info.set is not None
    assert doc.info.set.name == "Lilo & Stitch Collection"
    assert doc.info.set.overview is None
    assert doc.info.set.tmdb == 97020
    assert doc.info.plot is not None
    assert doc.info.plot.startswith(">>As Stitch, a runaway genetic experiment")
    assert doc.info.plot.endswith("\u02bbohana, the Hawaiian tradition of family.<<")


def test_mediaelch_movie_with_every_tag() -> None:
    doc = fixture("movie/mediaelch_kodi_v18_movie_all.nfo")
    info = doc.info
    assert doc.ids == ExternalIds(imdb="tt3410834")
    assert info.title == "Allegiant"
    assert info.original_title == "AllegiantOriginal"
    assert info.sort_title == "TmovieFc10"
    assert info.outline == "TmovieFc02"
    assert info.tagline == "Break the boundaries of your world"
    assert info.year == 2016
    assert info.premiered == "2016-03-09"
    assert info.runtime == 88
    assert info.certification == "Rated M"
    assert info.top250 == 240
    assert info.userrating is None
    assert info.trailer == "TmovieFc19"
    assert info.genres == ["Adventure", "Science Fiction"]
    assert info.countries == ["United States of America"]
    assert info.studios == ["Summit Entertainment"]
    assert info.tags == ["Best Tag"]
    assert info.directors == ["Robert Schwentke"]
    assert info.writers == ["Adam Cooper", "Bill Collage", "Stephen Chbosky"]
    assert info.ratings == [
        Rating(source="imdb", value=5.8, votes=1641, max=10.0, default=True),
        Rating(source="themoviedb", value=1.2, votes=3400, max=10.0, default=False),
        Rating(source="someOther", value=4.2, votes=784, max=10.0, default=False),
    ]
    assert info.set is not None
    assert info.set.name == "Divergent Collection"
    assert info.set.overview is not None
    assert info.set.overview.startswith("A series of dystopian science fiction action films")
    assert info.set.tmdb is None
    assert info.cast == [
        Actor(
            name="Shailene Woodley",
            role='Beatrice "Tris" Prior',
            order=0,
            thumb="http://image.tmdb.org/t/p/original/kkLbiTlBGNwJL9qHuVHeqCMNrEx.jpg",
        ),
        Actor(
            name="Theo James",
            role='Tobias "Four" Eaton',
            order=1,
            thumb="http://image.tmdb.org/t/p/original/hLNSoQ3gc52X5VVb172yO3CuUEq.jpg",
        ),
    ]
    strings = all_strings(doc)
    assert "eng" not in strings
    assert "Some Allegiant show 1" not in strings  # <showlink> is not a metadata field


def test_toy_story_large_real_export() -> None:
    doc = fixture("movie/mediaelch_kodi_v18_toy_story_3_2010.nfo")
    info = doc.info
    assert doc.ids == ExternalIds(tmdb=10193, imdb="tt0435761")
    assert info.title == "Toy Story 3"
    assert info.original_title is None
    assert info.outline is None  # <outline></outline>
    assert info.year == 2010
    assert info.runtime == 103
    assert info.certification == "Rated G"
    assert info.genres == ["Animation", "Family", "Comedy"]
    assert info.ratings == [
        Rating(source="themoviedb", value=7.7, votes=8542, max=10.0, default=True)
    ]
    assert info.set is not None
    assert info.set.name == "Toy Story Collection"
    assert len(info.cast) == 59
    assert [actor.order for actor in info.cast] == list(range(59))
    assert info.cast[0] == Actor(
        name="Tom Hanks",
        role="Woody (voice)",
        order=0,
        thumb="http://image.tmdb.org/t/p/original/xxPMucou2wRDxLrud8i2D4dsywh.jpg",
    )
    assert info.cast[-1].name == "Hannah Unkrich"
    assert info.cast[-1].thumb is None


# --- tvshow, episode, season, musicvideo fixtures -------------------------------------


def test_tvshow_american_gods() -> None:
    doc = fixture("tvshow/jellyfin_american_gods.nfo")
    assert doc.kind == "tvshow"
    # <id>253573</id> is the TVDB uniqueid's value: agreement, not a conflict. The
    # IMDB="tt11111" attribute on <id> is not a Kodi convention and is ignored.
    assert doc.ids == ExternalIds(tmdb=46639, tvdb=253573)
    assert doc.info.title == "American Gods"
    assert doc.info.sort_title == "American Gods"
    assert doc.info.certification == "Australia:MA"
    assert doc.info.genres == ["Drama", "Mystery", "Sci-Fi & Fantasy"]
    # Two ratings claim default="true": only the first keeps it.
    assert [(r.source, r.default) for r in doc.info.ratings] == [
        ("themoviedb", True),
        ("imdb", False),
        ("metacritic", False),
        ("tomatometerallcritics", False),
        ("tomatometerallaudience", False),
    ]
    assert doc.info.cast[0].name == "Ricky Whittle"


def test_tvshow_kodi_v20() -> None:
    doc = fixture("tvshow/mediaelch_kodi_v20_show_all.nfo")
    info = doc.info
    assert doc.kind == "tvshow"
    assert doc.ids == ExternalIds(tmdb=2426, imdb="tt0162065", tvdb=71035)
    assert doc.conflicts == ()  # <id>2426</id> matches the default tmdb uniqueid
    assert info.title == "Angel"
    assert info.original_title == "Angel 2"
    assert info.sort_title == "TC15"
    assert info.userrating == 9.56
    assert info.top250 == 4
    assert info.runtime == 45
    assert info.premiered == "1999-10-05"
    assert info.year == 1999  # no <year>: taken from <premiered>
    assert info.studios == ["The WB", "The other WB"]
    assert info.ratings == [Rating(source="default", value=8.6, votes=88, max=10.0, default=True)]
    assert info.cast == [
        Actor(
            name="David Boreanaz",
            role="Angel",
            order=0,
            thumb="http://thetvdb.com/banners/actors/6309.jpg",
        ),
        Actor(name="Stephanie Romanov", role="Lilah Morgan", order=1, thumb=None),
    ]


def test_episode_cast_is_sorted_by_order() -> None:
    doc = fixture("episode/jellyfin_american_gods_s01e01_the_bone_orchard.nfo")
    info = doc.info
    assert doc.kind == "episodedetails"
    # <id> and the default tmdb uniqueid agree; <imdbId> is Jellyfin's legacy tag.
    assert doc.ids == ExternalIds(tmdb=1276153, imdb="tt5017734")
    assert info.title == "The Bone Orchard"
    assert info.runtime is None  # <runtime>0</runtime>
    assert info.outline is None
    assert info.premiered == "2017-04-30"
    assert info.certification == "16"
    assert info.writers == ["Bryan Fuller", "Michael Green"]
    assert info.directors == ["David Slade"]
    assert info.ratings == [Rating(source="tmdb", value=7.532, votes=31, max=10.0, default=True)]
    # The file lists orders 10..14 first, then 0..5.
    assert [actor.order for actor in info.cast] == [0, 1, 2, 3, 4, 5, 10, 11, 12, 13, 14]
    assert info.cast[0].name == "Ricky Whittle"
    assert info.cast[-1] == Actor(
        name="Joel Murray",
        role="Paunch",
        order=14,
        thumb="http://image.tmdb.org/t/p/original/t5syYfCgxbTC7XPrNeXhhhQULUf.jpg",
    )
    assert (
        Actor(
            name="Jonathan Tucker",
            role="'Low Key' Lyesmith",
            order=10,
            thumb="http://image.tmdb.org/t/p/original/jvJpYDbwmUTACw7Yn7PKOP6CdlJ.jpg",
        )
        in info.cast
    )


def test_episode_wrapped_in_episodes_element() -> None:
    doc = fixture("episode/mediaelch_kodi_v18_american_dad_s02e01.nfo")
    assert doc.kind == "episodedetails"
    assert doc.ids == ExternalIds(tmdb=66034, imdb="tt0818273", tvdb=306168)  # tvmaze ignored
    assert doc.info.title == "Camp Refoogee"
    assert doc.info.premiered == "2005-09-11"
    assert doc.info.tags == ["USA", "cartoon", "dads"]
    # Roles are never split on " / ", only list fields are.
    assert doc.info.cast[0].role == "Stan Smith / Roger"
    assert [actor.order for actor in doc.info.cast] == [1, 2, 3, 3, 3, 3]
    assert doc.info.cast[3].name == "Dee Bradley Baker"  # equal orders keep file order


def test_sonarr_episode_unknown_uniqueid_type_and_streams_ignored() -> None:
    doc = fixture("episode/jellyfin_sonarr_written_episode.nfo")
    assert doc.kind == "episodedetails"
    assert doc.ids == ExternalIds()  # uniqueid type="sonarr" is not a provider id
    assert doc.info.title == "Sometimes a Genius's Every Action Is at the Mercy of X"
    assert doc.info.premiered == "2019-05-26"  # from <aired>
    assert doc.info.year == 2019
    assert "Japanese" not in " ".join(all_strings(doc))
    assert doc.info.countries == []


def test_multi_episode_file_reads_the_first_root() -> None:
    raw = (FIXTURES / "episode/jellyfin_stargate_atlantis_s01e01-e04_multi.nfo").read_bytes()
    assert raw.count(b"<episodedetails>") == 4
    doc = read_nfo(raw)
    assert doc.kind == "episodedetails"
    assert doc.well_formed is True
    assert doc.error is None
    assert doc.info.title == "Rising"
    assert doc.info.original_title == "Rising (1)"
    assert doc.info.premiered == "2004-07-16"
    assert doc.info.ratings == [
        Rating(source="default", value=8.0, votes=None, max=10.0, default=True)
    ]
    assert [actor.name for actor in doc.info.cast] == ["Joe Flanigan", "David Hewlett"]


def test_season_nfo_with_jellyfin_sortorder() -> None:
    doc = fixture("season/jellyfin_season_01.nfo")
    assert doc.kind == "season"
    assert doc.ids == ExternalIds(tvdb=359728)
    assert doc.info.title == "Season 1"
    assert doc.info.year == 2019
    assert doc.info.premiered == "2019-11-08"
    assert doc.info.plot is None  # <plot />
    assert len(doc.info.cast) == 10
    assert doc.info.cast[4] == Actor(
        name="Dara Reneé",
        role="Kourtney",
        order=4,
        thumb="/config/metadata/People/D/Dara Reneé/poster.jpg",
    )


def test_musicvideo_character_references() -> None:
    doc = fixture("musicvideo/jellyfin_dancing_queen.nfo")
    assert doc.kind == "musicvideo"
    assert doc.ids == ExternalIds()  # <id></id> is empty
    assert doc.info.title == "Dancing Queen"
    assert doc.info.year == 1976
    assert doc.info.runtime == 2
    assert doc.info.genres == ["Pop"]
    assert doc.info.directors == ["John Smith"]
    assert doc.info.plot is not None
    assert doc.info.plot.startswith("Dancing Queen est un des tubes emblématiques de l'ère")
    assert "Muriel.\nLe groupe" in doc.info.plot  # &#x0A;


# --- URL-only and combination NFOs ----------------------------------------------------


@pytest.mark.parametrize(
    ("relative", "expected"),
    [
        ("url_only/jellyfin_imdb_url.nfo", ExternalIds(imdb="tt0944947")),
        ("url_only/jellyfin_tmdb_url.nfo", ExternalIds(tmdb=30287)),
        ("url_only/jellyfin_tvdb_url.nfo", ExternalIds(tvdb=121361)),
        (
            "url_only/jellyfin_radarr_written_two_urls.nfo",
            ExternalIds(tmdb=583689, imdb="tt4154796"),
        ),
    ],
)
def test_url_only_fixtures(relative: str, expected: ExternalIds) -> None:
    doc = fixture(relative)
    assert doc.kind == "url"
    assert doc.ids == expected
    assert doc.well_formed is True
    assert doc.info.title is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("https://www.themoviedb.org/tv/1399-game-of-thrones", ExternalIds(tmdb=1399)),
        ("http://m.imdb.com/title/tt0133093/?ref_=x", ExternalIds(imdb="tt0133093")),
        ("https://www.imdb.com/de/title/tt0133093/", ExternalIds(imdb="tt0133093")),
        ("https://thetvdb.com/series/80379", ExternalIds(tvdb=80379)),
        ("https://thetvdb.com/dereferrer/series/80379", ExternalIds(tvdb=80379)),
        ("http://thetvdb.com/index.php?tab=series&id=80379&lid=7", ExternalIds(tvdb=80379)),
        ("http://thetvdb.com/?tab=episode&seriesid=80379&id=333", ExternalIds(tvdb=80379)),
        (
            "Release info\nIMDb: http://www.imdb.com/title/tt0133093/\n",
            ExternalIds(imdb="tt0133093"),
        ),
    ],
)
def test_provider_url_forms(text: str, expected: ExternalIds) -> None:
    doc = read_nfo(text.encode())
    assert doc.kind == "url"
    assert doc.ids == expected


@pytest.mark.parametrize(
    "text",
    [
        "https://thetvdb.com/series/the-expanse",  # a slug holds no id
        "https://www.themoviedb.org/movie/0",
        "https://www.imdb.com/title/tt123/",
        "just some words",
    ],
)
def test_text_without_usable_url_is_invalid(text: str) -> None:
    doc = read_nfo(text.encode())
    assert doc.kind == "invalid"
    assert doc.ids.is_empty()
    assert doc.well_formed is False
    assert doc.error is not None


def test_combination_nfo_takes_ids_from_xml_and_trailing_url() -> None:
    data = (
        b'<?xml version="1.0" encoding="UTF-8"?>\n<movie>\n  <title>The Matrix</title>\n'
        b'  <uniqueid type="imdb" default="true">tt0133093</uniqueid>\n</movie>\n'
        b"https://www.themoviedb.org/movie/603-the-matrix\n"
    )
    doc = read_nfo(data)
    assert doc.kind == "movie"
    assert doc.well_formed is True
    assert doc.error is None
    assert doc.ids == ExternalIds(tmdb=603, imdb="tt0133093")
    assert doc.info.title == "The Matrix"


def test_url_before_the_xml_is_read_too() -> None:
    data = b"https://www.themoviedb.org/movie/603\n<movie><title>The Matrix</title></movie>\n"
    doc = read_nfo(data)
    assert doc.kind == "movie"
    assert doc.ids == ExternalIds(tmdb=603)
    assert doc.info.title == "The Matrix"


def test_combination_url_disagreeing_with_uniqueid_is_a_conflict() -> None:
    data = (
        b'<movie><uniqueid type="tmdb">603</uniqueid></movie>\n'
        b"https://www.themoviedb.org/movie/604\n"
    )
    doc = read_nfo(data)
    assert doc.ids.tmdb == 603  # uniqueid beats a URL
    assert doc.conflicts == ("tmdb",)


def test_conflicting_urls_in_url_only_nfo() -> None:
    doc = read_nfo(b"https://www.themoviedb.org/movie/603\nhttps://www.themoviedb.org/movie/604\n")
    assert doc.ids.tmdb == 603
    assert doc.conflicts == ("tmdb",)


# --- ids: trust, conflicts, legacy tags -----------------------------------------------


def test_uniqueid_beats_legacy_tag_and_reports_conflict() -> None:
    doc = movie('<uniqueid type="tmdb">603</uniqueid>\n<tmdbid>604</tmdbid>')
    assert doc.ids == ExternalIds(tmdb=603)
    assert doc.conflicts == ("tmdb",)
    assert doc.well_formed is True


def test_default_uniqueid_beats_plain_uniqueid() -> None:
    doc = movie(
        '<uniqueid type="tmdb">604</uniqueid>\n<uniqueid type="tmdb" default="true">603</uniqueid>'
    )
    assert doc.ids.tmdb == 603
    assert doc.conflicts == ("tmdb",)


def test_conflicts_are_listed_per_type_in_canonical_order() -> None:
    doc = movie(
        '<uniqueid type="imdb">tt0133093</uniqueid><id>tt0234215</id>\n'
        '<uniqueid type="tvdb">1</uniqueid><tvdbid>2</tvdbid>\n'
        '<uniqueid type="tmdb">603</uniqueid><tmdbid>604</tmdbid>'
    )
    assert doc.ids == ExternalIds(tmdb=603, imdb="tt0133093", tvdb=1)
    assert doc.conflicts == ("tmdb", "imdb", "tvdb")


def test_same_id_repeated_is_not_a_conflict() -> None:
    doc = movie(
        '<uniqueid type="tmdb">603</uniqueid><tmdbid>603</tmdbid><id>603</id>'
        '<uniqueid type="imdb">TT0133093</uniqueid><imdbid>tt0133093</imdbid><imdb>tt0133093</imdb>'
    )
    assert doc.ids == ExternalIds(tmdb=603, imdb="tt0133093")
    assert doc.conflicts == ()


@pytest.mark.parametrize(
    ("root", "body", "expected"),
    [
        ("movie", "<id>tt0133093</id>", ExternalIds(imdb="tt0133093")),
        ("movie", "<id>603</id>", ExternalIds(tmdb=603)),
        ("tvshow", "<id>71035</id>", ExternalIds(tvdb=71035)),
        ("episodedetails", "<id>306168</id>", ExternalIds(tvdb=306168)),
        ("musicvideo", "<id>12345</id>", ExternalIds()),  # whose id? unknown: ignored
        ("movie", "<id>abc</id>", ExternalIds()),
        ("movie", "<id>  </id>", ExternalIds()),
        # Kodi writes the default uniqueid's value into <id>: it follows that type.
        (
            "tvshow",
            '<uniqueid type="tmdb" default="true">2426</uniqueid><id>2426</id>',
            ExternalIds(tmdb=2426),
        ),
        (
            "movie",
            '<uniqueid type="tvdb">777</uniqueid><id>777</id>',
            ExternalIds(tvdb=777),
        ),
    ],
)
def test_legacy_id_element(root: str, body: str, expected: ExternalIds) -> None:
    doc = read_nfo(f"<{root}>{body}</{root}>".encode())
    assert doc.kind == root
    assert doc.ids == expected
    assert doc.conflicts == ()


def test_legacy_id_tags_are_case_insensitive() -> None:
    doc = movie("<TmdbId>603</TmdbId><IMDBID>tt0133093</IMDBID><tvdbId>12</tvdbId>")
    assert doc.ids == ExternalIds(tmdb=603, imdb="tt0133093", tvdb=12)


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ('<uniqueid type="tmdb"> 603 </uniqueid>', ExternalIds(tmdb=603)),
        ('<uniqueid type="TMDB">603</uniqueid>', ExternalIds(tmdb=603)),
        ('<uniqueid type="imdb">TT0133093</uniqueid>', ExternalIds(imdb="tt0133093")),
        ('<uniqueid type="imdb">tt1234</uniqueid>', ExternalIds()),  # too short
        ('<uniqueid type="imdb">0133093</uniqueid>', ExternalIds()),
        ('<uniqueid type="tmdb">0</uniqueid>', ExternalIds()),
        ('<uniqueid type="tmdb">-603</uniqueid>', ExternalIds()),
        ('<uniqueid type="tmdb">603a</uniqueid>', ExternalIds()),
        ('<uniqueid type="tmdb">6.03</uniqueid>', ExternalIds()),
        ('<uniqueid type="tmdb">\u0666\u0660\u0663</uniqueid>', ExternalIds()),  # Arabic digits
        ('<uniqueid type="tmdb">99999999999</uniqueid>', ExternalIds()),
        ('<uniqueid type="tvdb">81189</uniqueid>', ExternalIds(tvdb=81189)),
        ('<uniqueid type="tvmaze">82</uniqueid>', ExternalIds()),
        ('<uniqueid type="tmdbcol">10</uniqueid>', ExternalIds()),
        ("<uniqueid>603</uniqueid>", ExternalIds()),  # no type: unknown
    ],
)
def test_id_normalisation(body: str, expected: ExternalIds) -> None:
    assert movie(body).ids == expected


# --- metadata details -----------------------------------------------------------------


def test_whitespace_empty_elements_and_item_separator() -> None:
    doc = movie(
        "<title>   </title>\n<title>  The Matrix \n</title>\n"
        "<plot>\n    Neo learns the truth.\n  </plot>\n<outline/>\n<tagline></tagline>\n"
        "<genre> Action / Science Fiction </genre>\n<genre>Action</genre>\n<genre>  </genre>\n"
        "<studio>Warner Bros. / Village Roadshow</studio>\n<studio>AC/DC Films</studio>\n"
        "<country>USA</country><country>Australia / USA</country>\n"
        "<director>Lana Wachowski / Lilly Wachowski</director>\n"
        "<credits>Lilly Wachowski</credits><writer>Lana Wachowski</writer>\n"
        "<tag>cyberpunk</tag><tag>cyberpunk</tag><tag>dystopia</tag>"
    )
    info = doc.info
    assert info.title == "The Matrix"
    assert info.plot == "Neo learns the truth."
    assert info.outline is None
    assert info.tagline is None
    assert info.genres == ["Action", "Science Fiction"]
    assert info.studios == ["Warner Bros.", "Village Roadshow", "AC/DC Films"]
    assert info.countries == ["USA", "Australia"]
    assert info.directors == ["Lana Wachowski", "Lilly Wachowski"]
    assert info.writers == ["Lilly Wachowski", "Lana Wachowski"]
    assert info.tags == ["cyberpunk", "dystopia"]


def test_legacy_rating_with_votes_and_decimal_comma() -> None:
    doc = movie("<rating>7,5</rating><votes>1,234</votes>")
    assert doc.info.ratings == [
        Rating(source="default", value=7.5, votes=1234, max=10.0, default=True)
    ]


def test_legacy_rating_is_ignored_when_ratings_element_is_present() -> None:
    doc = movie(
        '<rating>7.5</rating><ratings><rating name="imdb"><value>8.7</value>'
        "<votes>1.234.567</votes></rating></ratings>"
    )
    assert doc.info.ratings == [
        Rating(source="imdb", value=8.7, votes=1234567, max=10.0, default=False)
    ]


def test_ratings_edge_cases() -> None:
    doc = movie(
        "<ratings>"
        '<rating name="metacritic" max="100"><value>73</value><votes>42</votes></rating>'
        '<rating name="imdb" default="true"><value>8,1</value><votes>1 234</votes></rating>'
        '<rating name="zero"><value>0</value></rating>'  # Kodi's "no rating"
        '<rating name="above"><value>11</value></rating>'  # above its scale
        '<rating name="junk"><value>n/a</value></rating>'
        '<rating name="imdb"><value>5.0</value></rating>'  # duplicate source
        "<rating><value>6.5</value><votes>12.0</votes></rating>"  # unnamed
        '<rating name="nan"><value>nan</value></rating>'
        "</ratings>"
    )
    assert doc.info.ratings == [
        Rating(source="metacritic", value=73.0, votes=42, max=100.0, default=False),
        Rating(source="imdb", value=8.1, votes=1234, max=10.0, default=True),
        Rating(source="default", value=6.5, votes=12, max=10.0, default=False),
    ]


def test_numbers_dates_and_zero_meaning_unknown() -> None:
    doc = movie(
        "<runtime>136 min</runtime><userrating>0</userrating><top250>0</top250>"
        "<year>0</year><releasedate>1999-03-31</releasedate>"
    )
    assert doc.info.runtime == 136
    assert doc.info.userrating is None
    assert doc.info.top250 is None
    assert doc.info.premiered == "1999-03-31"
    assert doc.info.year == 1999


def test_premiered_preferred_over_releasedate_and_aired() -> None:
    doc = movie(
        "<aired>2001-01-01</aired><releasedate>2000-01-01</releasedate>"
        "<premiered>1999-03-31</premiered><year>1998</year>"
    )
    assert doc.info.premiered == "1999-03-31"
    assert doc.info.year == 1998  # an explicit <year> is kept


def test_invalid_premiered_falls_back_to_next_date() -> None:
    doc = movie("<premiered>2017-13-45</premiered><aired>2017-11-15 20:00:00</aired>")
    assert doc.info.premiered == "2017-11-15"
    assert doc.info.year == 2017


def test_cast_details() -> None:
    doc = movie(
        "<actor><name>Keanu Reeves</name><role>Neo</role></actor>\n"
        "<actor><name>  </name><role>Nobody</role></actor>\n"
        "<actor><name>Lana Wachowski</name><type>Director</type></actor>\n"
        "<actor><name>Carrie-Anne Moss</name><role>Trinity</role><order>-1</order>"
        "<thumb></thumb><thumb>http://x/moss.jpg</thumb></actor>\n"
        "<actor><name>Keanu Reeves</name><role>Neo</role></actor>\n"
        "<actor><name>Hugo Weaving</name><role>Agent Smith</role><type>GuestStar</type>"
        "<order>0</order></actor>"
    )
    assert doc.info.cast == [
        Actor(name="Keanu Reeves", role="Neo", order=0, thumb=None),
        Actor(name="Hugo Weaving", role="Agent Smith", order=0, thumb=None),
        # A negative order is not an order: position among the cast instead.
        Actor(name="Carrie-Anne Moss", role="Trinity", order=1, thumb="http://x/moss.jpg"),
    ]


def test_set_forms() -> None:
    assert movie("<set><name></name><overview>x</overview></set>").info.set is None
    assert movie("<set>  </set>").info.set is None
    with_attribute = movie('<set tmdbcolid="2344"><name>The Matrix Collection</name></set>')
    assert with_attribute.info.set is not None
    assert with_attribute.info.set.name == "The Matrix Collection"
    assert with_attribute.info.set.tmdb == 2344
    from_uniqueid = movie('<uniqueid type="tmdbcol">2344</uniqueid><set>The Matrix</set>')
    assert from_uniqueid.info.set is not None
    assert from_uniqueid.info.set.tmdb == 2344
    # A collection id without a set name has nowhere to go (MovieSet needs a name).
    assert movie('<uniqueid type="tmdbcol">2344</uniqueid>').info.set is None


# --- broken and truncated files -------------------------------------------------------


def test_truncated_real_nfo_still_yields_its_ids() -> None:
    raw = (FIXTURES / "movie/jellyfin_justice_league.nfo").read_bytes()
    truncated = raw[: raw.index(b"<genre>") + 10]
    doc = read_nfo(truncated)
    assert doc.well_formed is False
    assert doc.error is not None
    assert doc.error.startswith("not well-formed XML")
    assert doc.kind == "movie"
    assert doc.ids == ExternalIds(tmdb=141052, imdb="tt0974015")
    assert doc.info.title == "Justice League"
    assert doc.info.year is None  # <year> lies after the cut


def test_truncated_nfo_with_title_and_year() -> None:
    data = (
        b'<?xml version="1.0"?>\n<movie>\n<title>The Matrix &amp; Co</title>\n<year>1999</year>\n'
        b'<uniqueid type="imdb" default="true">tt0133093</uniqueid>\n'
        b'<uniqueid type="tmdb">603</uniqueid>\n<tmdbid>604</tmdbid>\n<plot>Neo'
    )
    doc = read_nfo(data)
    assert doc.kind == "movie"
    assert doc.well_formed is False
    assert doc.ids == ExternalIds(tmdb=603, imdb="tt0133093")
    assert doc.conflicts == ("tmdb",)
    assert doc.info.title == "The Matrix & Co"
    assert doc.info.year == 1999


def test_unclosed_tags_keep_ids() -> None:
    doc = read_nfo(b'<movie><title>Foo<uniqueid type="tmdb">603</uniqueid><genre>Drama</movie>')
    assert doc.kind == "movie"
    assert doc.well_formed is False
    assert doc.ids == ExternalIds(tmdb=603)


def test_broken_nfo_without_ids_is_invalid_but_keeps_title() -> None:
    doc = read_nfo(b"<movie><title>Only A Title</title><year>2001</year>")
    assert doc.kind == "invalid"
    assert doc.well_formed is False
    assert doc.ids.is_empty()
    assert doc.info.title == "Only A Title"
    assert doc.info.year == 2001


def test_broken_markup_with_only_a_url_is_kind_url() -> None:
    doc = read_nfo(b"<html><p>See https://www.imdb.com/title/tt0133093/ </html>")
    assert doc.kind == "url"
    assert doc.well_formed is False
    assert doc.ids == ExternalIds(imdb="tt0133093")


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"   \n\t",
        b"<",
        b"<movie",
        b"</movie>",
        b"<?xml",
        b"<?xml version='1.0'?>",
        b"\xff\xfe",
        b"\xfe\xff\x00",
        b"\xef\xbb\xbf",
        b"\x00" * 16,
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR",
        b"<![CDATA[<movie>]]>",
        b"<!-- only a comment -->",
    ],
)
def test_degenerate_inputs_are_reported_not_raised(data: bytes) -> None:
    doc = read_nfo(data)
    assert doc.well_formed is False
    assert doc.kind == "invalid"
    assert doc.ids.is_empty()
    assert doc.error is not None
    assert not doc.error.startswith("internal error")


def test_unfinished_second_root_does_not_spoil_the_first() -> None:
    doc = read_nfo(b"<movie><title>x</title></movie><movie><title>y")
    assert doc.kind == "movie"
    assert doc.well_formed is True
    assert doc.info.title == "x"


def test_deep_nesting_returns_quickly() -> None:
    started = time.perf_counter()
    doc = read_nfo(b"<movie>" + b"<a>" * 50_000 + b'<uniqueid type="tmdb">603</uniqueid>')
    assert time.perf_counter() - started < 2.0
    assert doc.well_formed is False
    assert doc.ids == ExternalIds(tmdb=603)


@pytest.mark.parametrize(
    "data",
    [
        b"<uniqueid" * 100_000,
        b"<movie>" + b"<title>" * 30_000,
        b"thetvdb.com/" * 100_000,
        b"&#" * 200_000,
        b"<movie></movie" + b" " * 500_000,
        b"<tmdbid " + b"a" * 500_000,
    ],
    ids=["uniqueid", "titles", "tvdb", "charrefs", "spaces", "attributes"],
)
def test_pathological_text_is_scanned_in_bounded_time(data: bytes) -> None:
    started = time.perf_counter()
    doc = read_nfo(data)
    assert time.perf_counter() - started < 3.0
    assert doc.kind == "invalid"
    assert doc.ids.is_empty()


def test_oversized_input_is_refused_without_parsing() -> None:
    started = time.perf_counter()
    doc = read_nfo(b"<movie>" + b" " * MAX_NFO_BYTES + b"</movie>")
    assert time.perf_counter() - started < 0.5
    assert doc.kind == "invalid"
    assert doc.error is not None
    assert "too large" in doc.error


# --- hostile XML ----------------------------------------------------------------------

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE movie [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<movie><title>&lol9;</title><plot>&lol9;</plot><uniqueid type="tmdb">603</uniqueid></movie>
"""


def test_billion_laughs_is_refused_quickly_without_expansion() -> None:
    started = time.perf_counter()
    doc = read_nfo(BILLION_LAUGHS)
    assert time.perf_counter() - started < 0.5
    assert doc.well_formed is False
    assert doc.error is not None
    assert "DTD" in doc.error
    assert doc.kind == "movie"
    assert doc.ids == ExternalIds(tmdb=603)  # ids are still salvaged
    assert doc.info.title == "&lol9;"  # left as written, never expanded
    assert all("lollol" not in value for value in all_strings(doc))


def test_quadratic_blowup_is_refused_quickly() -> None:
    big = b"x" * 50_000
    data = (
        b'<?xml version="1.0"?><!DOCTYPE movie [<!ENTITY a "'
        + big
        + b'">]><movie><title>'
        + b"&a;" * 10_000
        + b"</title></movie>"
    )
    started = time.perf_counter()
    doc = read_nfo(data)
    assert time.perf_counter() - started < 1.0
    assert doc.well_formed is False
    assert doc.info.title is None or len(doc.info.title) < 3_000


@pytest.mark.parametrize(
    "data",
    [
        b'<?xml version="1.0"?><!DOCTYPE movie [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
        b"<movie><title>&xxe;</title></movie>",
        b'<?xml version="1.0"?><!DOCTYPE movie [<!ENTITY % dtd SYSTEM '
        b'"http://127.0.0.1:9/evil.dtd"> %dtd;]><movie><title>x</title></movie>',
        b'<?xml version="1.0"?><!DOCTYPE movie SYSTEM "http://127.0.0.1:9/movie.dtd">'
        b"<movie><title>x</title></movie>",
        b'<?xml version="1.0"?><!DOCTYPE movie PUBLIC "-//X//EN" "file:///etc/hostname"><movie/>',
    ],
    ids=["external-entity", "parameter-entity", "external-dtd", "public-dtd"],
)
def test_external_entities_and_dtds_are_refused(data: bytes) -> None:
    started = time.perf_counter()
    doc = read_nfo(data)
    assert time.perf_counter() - started < 0.5
    assert doc.well_formed is False
    assert doc.error is not None
    assert "DTD" in doc.error
    assert doc.ids.is_empty()
    assert doc.kind == "invalid"
    assert all("root:" not in value for value in all_strings(doc))


def test_undefined_entity_without_dtd_is_not_well_formed() -> None:
    doc = read_nfo(b'<movie><title>&xxe;</title><uniqueid type="tmdb">603</uniqueid></movie>')
    assert doc.well_formed is False
    assert doc.error is not None
    assert "undefined entity" in doc.error
    assert doc.ids == ExternalIds(tmdb=603)


# --- encodings ------------------------------------------------------------------------


def test_latin1_bytes_in_a_file_declaring_utf8() -> None:
    doc = movie("<title>Amélie</title><plot>Café crème \u2013 5 €</plot>", encoding="cp1252")
    assert doc.info.title == "Amélie"
    assert doc.info.plot == "Café crème \u2013 5 €"  # 0x96 is a 1252-only dash
    assert doc.kind == "movie"
    assert doc.well_formed is False  # strictly, the file is not valid UTF-8
    assert doc.error is not None
    assert "Windows-1252" in doc.error


def test_mixed_utf8_and_stray_latin1_bytes() -> None:
    data = "<movie><title>Amélie</title><plot>Ünïcode</plot></movie>".encode()
    data = data.replace("Ünïcode".encode(), "Ünïcode".encode("latin-1"))
    doc = read_nfo(data)
    assert doc.info.title == "Amélie"
    assert doc.info.plot == "Ünïcode"


@pytest.mark.parametrize("codec", ["utf-16", "utf-16-le", "utf-16-be", "utf-32"])
def test_utf16_and_utf32(codec: str) -> None:
    xml = '<?xml version="1.0" encoding="UTF-16"?>\n<movie><title>Amélie 日本</title></movie>'
    data = xml.encode(codec)
    if codec == "utf-16-le":
        data = b"\xff\xfe" + data
    doc = read_nfo(data)
    assert doc.kind == "movie"
    assert doc.info.title == "Amélie 日本"
    assert doc.well_formed is True


def test_utf16_without_bom_is_sniffed() -> None:
    doc = read_nfo("<movie><title>Amélie</title></movie>".encode("utf-16-le"))
    assert doc.info.title == "Amélie"


def test_utf8_bom() -> None:
    doc = read_nfo(
        b"\xef\xbb\xbf" + '<?xml version="1.0"?><movie><title>Amélie</title></movie>'.encode()
    )
    assert doc.info.title == "Amélie"
    assert doc.well_formed is True


def test_utf8_bom_on_url_only_nfo() -> None:
    doc = read_nfo(b"\xef\xbb\xbfhttps://www.themoviedb.org/movie/603\r\n")
    assert doc.kind == "url"
    assert doc.ids == ExternalIds(tmdb=603)


def test_declared_iso_8859_1() -> None:
    xml = '<?xml version="1.0" encoding="ISO-8859-1"?>\n<movie><title>Amélie</title></movie>'
    doc = read_nfo(xml.encode("latin-1"))
    assert doc.info.title == "Amélie"
    assert doc.well_formed is True
    # ...and the common lie: declared ISO-8859-1, written as UTF-8.
    assert read_nfo(xml.encode("utf-8")).info.title == "Amélie"


@pytest.mark.parametrize("declared", ["x-nonsense", "base64", "rot13", "utf-7", "UTF-16"])
def test_useless_declared_encodings_are_ignored(declared: str) -> None:
    xml = f'<?xml version="1.0" encoding="{declared}"?>\n<movie><title>Amélie</title></movie>'
    doc = read_nfo(xml.encode("latin-1"))
    assert doc.info.title == "Amélie"


def test_control_characters_are_removed() -> None:
    doc = read_nfo(b"<movie><title>The\x01 Matrix\x0b</title><tmdbid>603</tmdbid></movie>")
    assert doc.info.title == "The Matrix"
    assert doc.ids == ExternalIds(tmdb=603)
    assert doc.well_formed is False
    assert doc.error == "removed 2 character(s) not allowed in XML"


# --- values ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("7.5", 7.5),
        ("8,1", 8.1),
        (" 6.400000 ", 6.4),
        ("1,234.5", 1234.5),
        ("1.234,5", 1234.5),
        ("1,234,567", 1234567.0),
        ("nan", None),
        ("inf", None),
        ("1e5", None),
        ("", None),
        ("abc", None),
    ],
)
def test_parse_float(text: str, expected: float | None) -> None:
    assert parse_float(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1234", 1234),
        ("1,234", 1234),
        ("1.234", 1234),
        ("1 234 567", 1234567),
        ("12.0", 12),
        ("12.5", None),
        ("-3", -3),
        ("x", None),
        ("9" * 5000, None),  # Python refuses int() of very long strings: must not raise
    ],
)
def test_parse_int(text: str, expected: int | None) -> None:
    assert parse_int(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("120", 120),
        ("120 min", 120),
        ("120min", 120),
        ("120 minutes", 120),
        ("120.5", 120),
        ("2h 5m", 125),
        ("2 h", 120),
        ("1:58", 118),
        ("1:58:30", 118),
        ("0", None),
        ("abc", None),
        ("999999", None),
    ],
)
def test_parse_runtime(text: str, expected: int | None) -> None:
    assert parse_runtime(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2017-11-15", "2017-11-15"),
        ("2017-1-5", "2017-01-05"),
        ("2017-11-15 07:47:23", "2017-11-15"),
        ("2017-11-15T07:47:23Z", "2017-11-15"),
        ("2017-02-30", None),
        ("0000-00-00", None),
        ("15.11.2017", None),
    ],
)
def test_parse_date(text: str, expected: str | None) -> None:
    assert parse_date(text) == expected


# --- speed ----------------------------------------------------------------------------


def test_typical_nfo_is_read_fast() -> None:
    data = (FIXTURES / "movie/mediaelch_kodi_v18_movie_all.nfo").read_bytes()
    read_nfo(data)
    started = time.perf_counter()
    for _ in range(200):
        read_nfo(data)
    # About 0.4 ms each on a developer machine; the bound only catches a regression.
    assert (time.perf_counter() - started) / 200 < 0.005


# --- fuzzing --------------------------------------------------------------------------

FIXTURE_BYTES = [path.read_bytes() for path in ALL_FIXTURES]
TOKENS = [
    b"<",
    b">",
    b"</movie>",
    b"<movie>",
    b"&",
    b"&amp;",
    b"&#0;",
    b"&#xD800;",
    b"<![CDATA[",
    b"]]>",
    b"<!--",
    b'<!DOCTYPE movie [<!ENTITY a "aaaa">]>',
    b"&a;",
    b"\x00",
    b"\xff\xfe",
    b"\xef\xbb\xbf",
    b"\xc3",
    b"\xe9",
    b'<uniqueid type="tmdb">',
    b"</uniqueid>",
    b"https://www.themoviedb.org/movie/",
    b"tt0133093",
    b" / ",
    b"\n",
]
IMDB_PATTERN = re.compile(r"tt\d{5,}")


@st.composite
def mutated_fixtures(draw: st.DrawFn) -> bytes:
    """A fixture NFO damaged by truncation, deletions, insertions and byte flips."""
    data = bytearray(draw(st.sampled_from(FIXTURE_BYTES)))
    for _ in range(draw(st.integers(min_value=1, max_value=6))):
        position = draw(st.integers(min_value=0, max_value=len(data)))
        operation = draw(st.sampled_from(["truncate", "delete", "insert", "token", "byte"]))
        if operation == "truncate":
            del data[position:]
        elif operation == "delete":
            del data[position : position + draw(st.integers(min_value=1, max_value=64))]
        elif operation == "insert":
            data[position:position] = draw(st.binary(max_size=16))
        elif operation == "token":
            data[position:position] = draw(st.sampled_from(TOKENS))
        elif data:
            data[min(position, len(data) - 1)] = draw(st.integers(min_value=0, max_value=255))
    return bytes(data)


def assert_sane(doc: NfoDocument) -> None:
    """The invariants every result holds, whatever the input."""
    assert isinstance(doc, NfoDocument)
    assert doc.error is None or not doc.error.startswith("internal error")
    assert doc.kind
    assert doc.well_formed or doc.error
    assert doc.ids.tmdb is None or doc.ids.tmdb > 0
    assert doc.ids.tvdb is None or doc.ids.tvdb > 0
    assert doc.ids.imdb is None or IMDB_PATTERN.fullmatch(doc.ids.imdb)
    assert set(doc.conflicts) <= {"tmdb", "imdb", "tvdb"}


FUZZ_TAGS = [
    "title",
    "year",
    "premiered",
    "runtime",
    "rating",
    "votes",
    "userrating",
    "top250",
    "genre",
    "id",
    "tmdbid",
    "imdbid",
    "uniqueid",
    "set",
    "mpaa",
]


@st.composite
def structured_nfos(draw: st.DrawFn) -> bytes:
    """Well-formed NFOs whose element values and attributes are arbitrary text."""
    values = st.text(max_size=40)
    children = []
    for _ in range(draw(st.integers(min_value=0, max_value=12))):
        tag = draw(st.sampled_from([*FUZZ_TAGS, "actor", "ratings"]))
        if tag == "actor":
            inner = "".join(
                f"<{name}>{escape(draw(values))}</{name}>"
                for name in draw(st.lists(st.sampled_from(["name", "role", "order", "type"])))
            )
        elif tag == "ratings":
            inner = (
                f'<rating name="{escape(draw(values))}" max="{escape(draw(values))}" '
                f'default="{escape(draw(values))}"><value>{escape(draw(values))}</value>'
                f"<votes>{escape(draw(values))}</votes></rating>"
            )
        else:
            inner = escape(draw(values))
        attributes = f' type="{escape(draw(values))}" default="{escape(draw(values))}"'
        children.append(f"<{tag}{attributes}>{inner}</{tag}>")
    root = draw(st.sampled_from(["movie", "tvshow", "episodedetails", "musicvideo"]))
    return f"<{root}>{''.join(children)}</{root}>".encode("utf-8", "surrogatepass")


def escape(text: str) -> str:
    """Text as XML character data and attribute values, surrogates dropped."""
    text = "".join(ch for ch in text if not 0xD800 <= ord(ch) <= 0xDFFF)
    return text.replace("&", "&amp;").replace("<", "&lt;").replace('"', "&quot;")


FUZZ_SETTINGS = settings(
    max_examples=150,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@FUZZ_SETTINGS
@given(st.binary(max_size=2048))
def test_fuzz_random_bytes_never_raise(data: bytes) -> None:
    assert_sane(read_nfo(data))


@FUZZ_SETTINGS
@given(st.text(max_size=512))
def test_fuzz_random_text_never_raises(text: str) -> None:
    assert_sane(read_nfo(text.encode("utf-8", "surrogatepass")))


@settings(FUZZ_SETTINGS, max_examples=100)
@given(mutated_fixtures())
def test_fuzz_mutated_fixtures_never_raise(data: bytes) -> None:
    assert_sane(read_nfo(data))


@settings(FUZZ_SETTINGS, max_examples=40)  # generating these is the slow part
@given(structured_nfos())
def test_fuzz_arbitrary_values_never_raise(data: bytes) -> None:
    assert_sane(read_nfo(data))
