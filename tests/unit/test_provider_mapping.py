"""Pure mapping of every recorded provider payload to the domain (no I/O but reading fixtures)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from metarr.domain.candidates import AssetCandidate
from metarr.domain.media import ArtworkType, MovieSet, Rating
from metarr.providers.fanart import mapping as fanart_mapping
from metarr.providers.fanart import schemas as fanart_schemas
from metarr.providers.omdb import mapping as omdb_mapping
from metarr.providers.omdb import schemas as omdb_schemas
from metarr.providers.settings import SEVEN_DAYS, ProviderConfig
from metarr.providers.tmdb import mapping, schemas
from metarr.providers.tmdb.mapping import ImageBase

FIXTURES = Path(__file__).parents[1] / "fixtures"
IMAGES = ImageBase("https://image.tmdb.org/t/p/")
APPEND_550 = "movie_550_append_credits_images_videos_release_dates_external_ids_keywords.json"
LEGACY_87421 = "movie_87421_append_all_legacy_2014.json"


def load(*parts: str) -> Any:
    return json.loads((FIXTURES.joinpath(*parts)).read_text(encoding="utf-8"))


def movie(name: str) -> schemas.Movie:
    return schemas.Movie.model_validate(load("tmdb", name))


# -- TMDB details -----------------------------------------------------------------------


def test_fight_club_details_map_every_field() -> None:
    details = mapping.details_from_payload(movie(APPEND_550), IMAGES, country="US")
    info = details.info

    assert details.provider == "tmdb"
    assert details.ids.tmdb == 550
    assert details.ids.imdb == "tt0137523"
    assert info.title == "Fight Club"
    assert info.original_title == "Fight Club"
    assert info.year == 1999
    assert info.premiered == "1999-10-15"
    assert info.runtime == 139
    assert info.tagline == "Mischief. Mayhem. Soap."
    assert info.plot is not None and info.plot.startswith("A ticking-time-bomb insomniac")
    assert info.genres == ["Drama"]
    assert info.studios == [
        "Fox 2000 Pictures",
        "Regency Enterprises",
        "The Linson Company",
        "20th Century Fox",
        "Taurus Film",
    ]
    assert info.countries == ["Germany", "United States of America"]
    assert info.directors == ["David Fincher"]
    assert info.writers == ["Chuck Palahniuk", "Jim Uhls"]  # the Writing department only
    assert info.tags[:3] == ["dual identity", "rage and hate", "based on novel or book"]
    assert len(info.tags) == 14
    assert info.ratings == [Rating(source="themoviedb", value=8.44, votes=27917)]
    assert info.set is None and details.collection is None
    assert details.original_language == "en"
    assert details.popularity == pytest.approx(93.958)


def test_cast_keeps_billing_order_roles_and_profile_urls() -> None:
    cast = mapping.details_from_payload(movie(APPEND_550), IMAGES).cast

    assert len(cast) == 76
    assert [(a.name, a.role, a.order) for a in cast[:3]] == [
        ("Edward Norton", "Narrator", 0),
        ("Brad Pitt", "Tyler Durden", 1),
        ("Helena Bonham Carter", "Marla Singer", 2),
    ]
    assert cast[0].thumb == "https://image.tmdb.org/t/p/original/5XBzD5WuTyVQZeS4VI25z2moMeY.jpg"
    assert [a.order for a in cast] == sorted(a.order or 0 for a in cast)
    assert any(a.thumb is None for a in cast)  # no profile_path -> no thumb, not a broken URL


def test_certification_prefers_theatrical_and_skips_empty() -> None:
    payload = movie(APPEND_550)
    certs = mapping.certifications(payload.release_dates)

    # US: two premieres (type 1) have "", the theatrical (type 3) says R
    assert certs["US"] == "R"
    # FR: theatrical 16 (1999) beats the empty re-release and the type 4 "18"
    assert certs["FR"] == "16"
    assert certs["DE"] == "18"
    assert certs["GB"] == "18"
    assert "AE" not in certs  # only an empty certification there
    assert mapping.certification_for(payload.release_dates, "fr") == "16"
    assert mapping.certification_for(payload.release_dates, "AE") is None
    details = mapping.details_from_payload(payload, IMAGES, country="DE")
    assert details.info.certification == "18"


def test_certification_type_order_and_date_tiebreak() -> None:
    releases = schemas.ReleaseDates.model_validate(
        {
            "results": [
                {
                    "iso_3166_1": "NL",
                    "release_dates": [
                        {"certification": "16", "type": 5, "release_date": "2001-01-01"},
                        {"certification": "12", "type": 4, "release_date": "2000-01-01"},
                        {"certification": "", "type": 3, "release_date": "1999-01-01"},
                        {"certification": "AL", "type": 1, "release_date": "1998-01-01"},
                    ],
                },
                {
                    "iso_3166_1": "SE",
                    "release_dates": [
                        {"certification": "15", "type": 3, "release_date": "2005-01-01"},
                        {"certification": "11", "type": 3, "release_date": "2004-01-01"},
                    ],
                },
            ]
        }
    )
    certs = mapping.certifications(releases)
    assert certs["NL"] == "12"  # digital beats physical and premiere when theatrical is empty
    assert certs["SE"] == "11"  # same type: the earliest release wins


def test_legacy_riddick_payload_with_string_numbers() -> None:
    payload = movie(LEGACY_87421)
    assert payload.popularity == pytest.approx(93.4917224393659)  # a string in 2014
    details = mapping.details_from_payload(payload, IMAGES, country="US")
    info = details.info

    assert details.ids.tmdb == 87421
    assert details.ids.imdb == "tt1411250"
    assert (info.title, info.year, info.runtime) == ("Riddick", 2013, 119)
    assert info.genres == ["Action", "Science Fiction", "Thriller"]
    assert info.directors == ["David Twohy"]
    assert info.writers == ["David Twohy"]
    assert info.cast[0].name == "Vin Diesel" and info.cast[0].role == "Riddick"
    assert info.certification == "R"
    assert details.certifications["DE"] == "16"
    assert details.certifications["BR"] == "16 anos"  # only in legacy `releases`
    assert info.tags == ["planet", "aliens", "revenge", "riddick"]
    assert info.set == MovieSet(name="The Chronicles of Riddick Collection", tmdb=2794)
    assert details.collection == info.set
    assert [t.key for t in details.trailers] == ["zH3O-CeZckE", "F1Dm9zRogpE"]
    assert info.trailer == "plugin://plugin.video.youtube/play/?video_id=zH3O-CeZckE"
    assert "Riddick 3" in details.alternative_titles
    vote_averages = [a.vote_average for a in details.assets if a.type is ArtworkType.POSTER]
    assert all(isinstance(v, float) for v in vote_averages)  # strings parsed


def test_plain_details_without_appends() -> None:
    details = mapping.details_from_payload(movie("movie_550.json"), IMAGES)
    assert details.info.title == "Fight Club"
    assert details.info.cast == [] and details.assets == [] and details.trailers == []
    assert details.info.certification is None
    assert details.ids.imdb == "tt0137523"


# -- TMDB images -> candidates ------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "expected"),
    [(None, None), ("", None), ("xx", None), ("00", None), ("EN", "en"), ("pt", "pt")],
)
def test_language_normalisation(code: str | None, expected: str | None) -> None:
    assert mapping.normalise_language(code) == expected


def test_candidates_from_fight_club_images() -> None:
    payload = movie(APPEND_550)
    assert payload.images is not None
    assets = mapping.candidates_from_images(payload.images, IMAGES)
    by_type: dict[ArtworkType, list[AssetCandidate]] = {}
    for asset in assets:
        by_type.setdefault(asset.type, []).append(asset)

    assert len(by_type[ArtworkType.POSTER]) == 102
    assert len(by_type[ArtworkType.FANART]) == 55
    assert len(by_type[ArtworkType.CLEARLOGO]) == 45
    first = by_type[ArtworkType.POSTER][0]
    assert first == AssetCandidate(
        type=ArtworkType.POSTER,
        url="https://image.tmdb.org/t/p/original/pB8BM7pdSp6B6Ih7QZ4DrQ3PmJK.jpg",
        provider="tmdb",
        width=2000,
        height=3000,
        language="en",
        votes=56,
        vote_average=5.35,
        remote_id="/pB8BM7pdSp6B6Ih7QZ4DrQ3PmJK.jpg",
    )
    assert any(a.language is None for a in by_type[ArtworkType.FANART])  # null = no text
    assert all(a.width and a.height for a in assets)


def test_legacy_xx_backdrops_are_textless() -> None:
    payload = movie(LEGACY_87421)
    assert payload.images is not None
    raw = {i.iso_639_1 for i in payload.images.backdrops}
    assert "xx" in raw
    fanart = [
        a
        for a in mapping.candidates_from_images(payload.images, IMAGES)
        if a.type is ArtworkType.FANART
    ]
    assert len(fanart) == 20
    assert {a.language for a in fanart} == {None}


# -- TMDB search, find, configuration, changes ---------------------------------------------


def test_search_results() -> None:
    page = schemas.SearchPage.model_validate(load("tmdb", "search_movie_fight_club.json"))
    results = mapping.search_results(page, IMAGES)
    assert len(results) == 20
    top = results[0]
    assert (top.tmdb, top.title, top.year) == (550, "Fight Club", 1999)
    assert top.poster_url == "https://image.tmdb.org/t/p/w342/pB8BM7pdSp6B6Ih7QZ4DrQ3PmJK.jpg"
    assert top.popularity == pytest.approx(73.433)
    assert all(r.year is None or r.year > 1900 for r in results)

    other = schemas.SearchPage.model_validate(load("tmdb", "search_movie_rrrrrrr.json"))
    (hit,) = mapping.search_results(other, IMAGES)
    assert (hit.tmdb, hit.title, hit.original_language, hit.year) == (
        21778,
        "RRRrrrr!!!",
        "fr",
        2004,
    )


def test_find_by_imdb() -> None:
    found = schemas.FindResult.model_validate(load("tmdb", "find_imdb_id_movie_result_avatar.json"))
    (hit,) = mapping.find_results(found, IMAGES)
    assert (hit.tmdb, hit.title, hit.year) == (19995, "Avatar", 2009)


def test_configuration_gives_the_https_image_base() -> None:
    config = schemas.Configuration.model_validate(load("tmdb", "configuration.json"))
    base = mapping.image_base_from_configuration(config)
    assert base.url("/a.jpg") == "https://image.tmdb.org/t/p/original/a.jpg"
    assert base.url("/a.jpg", "w500") == "https://image.tmdb.org/t/p/w500/a.jpg"
    assert base.url(None) is None


def test_changes_page() -> None:
    page = schemas.ChangesPage.model_validate(load("tmdb", "movie_changes.json"))
    ids = mapping.changed_ids(page)
    assert ids[:3] == [118488, 797420, 595674]
    assert page.total_pages == 62
    assert len(ids) == 100


def test_collection_mapping() -> None:
    payload = schemas.Collection.model_validate(
        {
            "id": 2794,
            "name": "The Chronicles of Riddick Collection",
            "overview": "",
            "poster_path": "/p.jpg",
            "backdrop_path": None,
            "parts": [
                {"id": 87421, "title": "Riddick", "release_date": "2013-09-06"},
                {"id": 2787, "title": "Pitch Black", "release_date": "2000-02-18"},
            ],
        }
    )
    details = mapping.collection_from_payload(payload, IMAGES)
    assert details.set == MovieSet("The Chronicles of Riddick Collection", None, 2794)
    assert [p.tmdb for p in details.parts] == [2787, 87421]  # by release year
    assert [a.type for a in details.assets] == [ArtworkType.POSTER]


# -- fanart.tv --------------------------------------------------------------------------


def test_fanart_lotr_docs_example() -> None:
    payload = fanart_schemas.MovieImages.model_validate(
        load("fanart", "movie_120_lotr_api_docs_example.json")
    )
    assets = fanart_mapping.candidates(payload)
    types = [a.type for a in assets]
    assert types.count(ArtworkType.CLEARLOGO) == 2  # hdmovielogo + movielogo
    assert types.count(ArtworkType.CLEARART) == 2  # hdmovieclearart + movieart
    for kind in (
        ArtworkType.DISCART,
        ArtworkType.BANNER,
        ArtworkType.LANDSCAPE,
        ArtworkType.POSTER,
        ArtworkType.FANART,
    ):
        assert types.count(kind) == 1
    logo = assets[0]
    assert logo.provider == "fanart"
    assert (logo.width, logo.height) == (800, 310)
    assert logo.votes == 7 and isinstance(logo.votes, int)  # "7" in the payload
    assert logo.remote_id == "50927"
    assert logo.language == "en"
    assert logo.vote_average is None


def test_fanart_your_name_languages() -> None:
    payload = fanart_schemas.MovieImages.model_validate(
        load("fanart", "movie_372058_your_name.json")
    )
    assets = fanart_mapping.candidates(payload)
    assert len(assets) == 7 + 9 + 17 + 8 + 4 + 3 + 3
    backgrounds = [a for a in assets if a.type is ArtworkType.FANART]
    assert len(backgrounds) == 9 and {a.language for a in backgrounds} == {None}  # lang ""
    languages = {a.language for a in assets}
    assert "00" not in languages and "" not in languages
    assert {"en", "ja", "ru", "zh", "es", None} <= languages
    discs = [a for a in assets if a.type is ArtworkType.DISCART]
    assert len(discs) == 8 and all((a.width, a.height) == (1000, 1000) for a in discs)
    assert all(isinstance(a.votes, int) for a in assets)


@pytest.mark.parametrize(
    ("lang", "expected"), [("", None), ("00", None), ("EN", "en"), (None, None)]
)
def test_fanart_language_normalisation(lang: str | None, expected: str | None) -> None:
    assert fanart_mapping.normalise_language(lang) == expected


# -- OMDb -------------------------------------------------------------------------------

# Constructed in OMDb's documented shape (no recording is available).
OMDB_FIGHT_CLUB = {
    "Title": "Fight Club",
    "Year": "1999",
    "Ratings": [
        {"Source": "Internet Movie Database", "Value": "8.8/10"},
        {"Source": "Rotten Tomatoes", "Value": "87%"},
        {"Source": "Metacritic", "Value": "74/100"},
    ],
    "Metascore": "74",
    "imdbRating": "8.8",
    "imdbVotes": "2,455,214",
    "imdbID": "tt0137523",
    "Type": "movie",
    "Response": "True",
}


def test_omdb_ratings() -> None:
    ratings = omdb_mapping.ratings(omdb_schemas.Title.model_validate(OMDB_FIGHT_CLUB))
    assert ratings == [
        Rating(source="imdb", value=8.8, votes=2455214, max=10.0),
        Rating(source="tomatometerallcritics", value=87.0, votes=None, max=100.0),
        Rating(source="metacritic", value=74.0, votes=None, max=100.0),
    ]


def test_omdb_not_available_values_are_skipped() -> None:
    payload = {
        **OMDB_FIGHT_CLUB,
        "Ratings": [
            {"Source": "Internet Movie Database", "Value": "N/A"},
            {"Source": "Rotten Tomatoes", "Value": "N/A"},
        ],
        "Metascore": "N/A",
        "imdbRating": "7.1",
        "imdbVotes": "N/A",
    }
    ratings = omdb_mapping.ratings(omdb_schemas.Title.model_validate(payload))
    assert ratings == [Rating(source="imdb", value=7.1, votes=None, max=10.0)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("8.8/10", (8.8, 10.0)),
        ("87%", (87.0, 100.0)),
        ("74/100", (74.0, 100.0)),
        ("N/A", None),
        ("", None),
        (None, None),
    ],
)
def test_omdb_value_parsing(text: str | None, expected: tuple[float, float] | None) -> None:
    assert omdb_mapping.parse_value(text) == expected


# -- settings ---------------------------------------------------------------------------


def test_config_from_env_and_disabled_reason() -> None:
    env = {
        "METARR_TMDB_API_KEY": "k" * 32,
        "METARR_TMDB_BASE_URL": "http://127.0.0.1:1/3",
        "METARR_TMDB_RATE_LIMIT": "20",
        "METARR_TMDB_LANGUAGE": "de-DE",
        "METARR_TMDB_CERTIFICATION_COUNTRY": "DE",
    }
    tmdb = ProviderConfig.from_env("tmdb", env)
    assert tmdb.active and tmdb.key == "k" * 32
    assert (tmdb.base_url, tmdb.rate_limit, tmdb.image_language) == (
        "http://127.0.0.1:1/3",
        20,
        "de",
    )
    assert tmdb.cache_ttl == SEVEN_DAYS
    assert "k" * 32 not in repr(tmdb)

    fanart = ProviderConfig.from_env("fanart", {})
    assert not fanart.active
    assert fanart.base_url == "https://webservice.fanart.tv/v3"
    assert fanart.disabled_reason() == (
        "fanart has no API key: set one on the Providers page "
        "or in METARR_FANART_API_KEY to enable it"
    )
    off = ProviderConfig.from_env(
        "omdb", {"METARR_OMDB_API_KEY": "x", "METARR_OMDB_ENABLED": "false"}
    )
    assert not off.active and "METARR_OMDB_ENABLED" in (off.disabled_reason() or "")
