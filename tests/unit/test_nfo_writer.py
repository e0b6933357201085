"""Tests of the Kodi NFO writer: golden files, round trip through the reader, quirks.

Golden files live in tests/fixtures/nfo/golden/ as `<case>.nfo.golden` (not `.nfo`, so
the reader's fixture census leaves them out). After an intended change of the output,
regenerate them with

    METARR_REGEN_GOLDEN=1 .venv/bin/pytest -q -p no:cacheprovider tests/unit/test_nfo_writer.py

and review the diff: the bytes are what publishing writes into every library.
"""

from __future__ import annotations

import os
import re
from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from metarr.domain.errors import InvalidInput
from metarr.domain.media import (
    Actor,
    ExternalIds,
    MovieInfo,
    MovieSet,
    NfoDocument,
    ProbeResult,
    Rating,
    Stream,
)
from metarr.nfo import NfoOptions, read_nfo, write_movie_nfo

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "nfo"
GOLDEN = FIXTURES / "golden"
REGENERATE = os.environ.get("METARR_REGEN_GOLDEN") == "1"
DECLARATION = b'<?xml version="1.0" encoding="UTF-8" standalone="yes" ?>\n'
REMOTE = re.compile(r"(?:https?|ftps?)://", re.IGNORECASE)


def read_back(data: bytes) -> NfoDocument:
    """Read writer output, which must always be a clean movie NFO."""
    doc = read_nfo(data)
    assert doc.kind == "movie"
    assert doc.well_formed, doc.error
    assert doc.conflicts == ()
    return doc


# --- golden cases -----------------------------------------------------------------

MATRIX_IDS = ExternalIds(tmdb=603, imdb="tt0133093")
MATRIX = MovieInfo(
    title="The Matrix",
    original_title="The Matrix",
    sort_title="Matrix 1",
    year=1999,
    plot=(
        "Set in the 22nd century, The Matrix tells the story of a computer hacker who joins "
        "a group of underground insurgents fighting the vast and powerful computers who now "
        "rule the earth."
    ),
    outline="A hacker learns the true nature of his reality.",
    tagline="Welcome to the Real World.",
    runtime=136,
    premiered="1999-03-30",
    certification="R",
    genres=["Action", "Science Fiction"],
    studios=["Warner Bros. Pictures", "Village Roadshow Pictures", "Silver Pictures"],
    countries=["United States of America", "Australia"],
    tags=["artificial intelligence", "simulated reality", "dystopia"],
    directors=["Lana Wachowski", "Lilly Wachowski"],
    writers=["Lana Wachowski", "Lilly Wachowski"],
    cast=[
        Actor("Carrie-Anne Moss", "Trinity", 2, "https://image.tmdb.org/t/p/original/c.jpg"),
        Actor("Keanu Reeves", "Neo", 0, "https://image.tmdb.org/t/p/original/k.jpg", "ab" * 32),
        Actor("Laurence Fishburne", "Morpheus", 1, "https://image.tmdb.org/t/p/original/l.jpg"),
        Actor("Hugo Weaving", "Agent Smith", 3, "https://image.tmdb.org/t/p/original/h.jpg"),
    ],
    # As enrichment delivers them: no rating flagged as the default.
    ratings=[
        Rating("themoviedb", 8.2, 24500, 10.0),
        Rating("imdb", 8.7, 2100000, 10.0),
        Rating("tomatometerallcritics", 83.0, None, 100.0),
        Rating("metacritic", 73.0, None, 100.0),
    ],
    set=MovieSet(
        "The Matrix Collection",
        "The Matrix is an American cyberpunk media franchise.",
        2344,
    ),
    userrating=9.0,
    top250=16,
    trailer="plugin://plugin.video.youtube/?action=play_video&videoid=vKQi3bBA1y8",
)
MATRIX_THUMBS = {
    "Keanu Reeves": ".actors/Keanu_Reeves.jpg",
    "Laurence Fishburne": ".actors/Laurence_Fishburne.jpg",
    "Carrie-Anne Moss": ".actors/Carrie-Anne_Moss.jpg",
    "Hugo Weaving": "https://image.tmdb.org/t/p/original/h.jpg",  # never published
}
MATRIX_PROBE = ProbeResult(
    ok=True,
    prober="mediainfo",
    container="mkv",
    duration=8170.6,
    streams=(
        Stream(0, "video", "h264", width=1920, height=800, aspect=2.4, frame_rate=23.976),
        Stream(1, "audio", "dts", "eng", default=True, channels=6),
        Stream(2, "audio", "ac3", "fre", channels=6),
        Stream(3, "subtitle", "srt", "eng"),
        Stream(4, "subtitle", "pgs", "fre", forced=True),
    ),
)

SPECIAL = MovieInfo(
    title="Amélie",
    original_title="Le Fabuleux Destin d'Amélie Poulain",
    sort_title="Amelie",
    plot="Tom & Jerry <3 \"quotes\" & 'apostrophes' ]]> \x00\x08control\x1bchars\r\nCRLF\rCR",
    tagline="日本語 — 🎬 &amp; is not an entity",
    certification="FR:U",
    genres=["Comédie", "Romance"],
    tags=["Tom & Jerry <3", 'a "quoted" tag'],
    cast=[Actor("Audrey Tautou", 'Amélie "Poulain"', 0), Actor("Mathieu Kassovitz", "Nino", 1)],
    ratings=[Rating('rotten & "<tomatoes>"', 89.0, 180, 100.0, default=True)],
    set=MovieSet("Amélie & <Friends>", 'Overview with "quotes"'),
)
SPECIAL_IDS = ExternalIds(tmdb=194, imdb="tt0211915")
SPECIAL_THUMBS = {"Audrey Tautou": ".actors/Audrey_Tautou & Co.jpg"}


def part(duration: float, *streams: Stream) -> ProbeResult:
    """One probed file of a stacked or disc movie."""
    return ProbeResult(ok=True, prober="mediainfo", duration=duration, streams=streams)


CD_STREAMS = (
    Stream(0, "video", "mpeg4", width=720, height=304, aspect=2.368),
    Stream(1, "audio", "mp3", "eng", channels=2),
)
DISC_STREAMS = (
    Stream(0, "video", "hevc", width=3840, height=2160, aspect=1.778, hdr="Dolby Vision"),
    Stream(1, "audio", "truehd", "eng", channels=8),
    Stream(2, "audio", "ac3", "fre", channels=6),
    Stream(3, "subtitle", "pgs", "eng"),
    Stream(4, "subtitle", "pgs", None),
)

GOLDEN_CASES: dict[str, tuple[MovieInfo, ExternalIds, dict[str, object]]] = {
    "the_matrix": (
        MATRIX,
        MATRIX_IDS,
        {"streams": MATRIX_PROBE, "actor_thumbs": MATRIX_THUMBS},
    ),
    "the_matrix_kodi15": (
        MATRIX,
        MATRIX_IDS,
        {"streams": MATRIX_PROBE, "actor_thumbs": MATRIX_THUMBS, "options": NfoOptions(15)},
    ),
    "the_matrix_jellyfin": (
        MATRIX,
        MATRIX_IDS,
        {
            "streams": MATRIX_PROBE,
            "actor_thumbs": MATRIX_THUMBS,
            "options": NfoOptions(profile="jellyfin"),
        },
    ),
    "minimal": (MovieInfo(title="Minimal"), ExternalIds(), {}),
    "special_characters": (SPECIAL, SPECIAL_IDS, {"actor_thumbs": SPECIAL_THUMBS}),
    # CD1 + CD2: the first part's streams, the duration of both (6000.2 + 7000.6 s).
    "multi_part": (
        MovieInfo(title="Lawrence of Arabia", year=1962),
        ExternalIds(tmdb=947),
        {"streams": [part(6000.2, *CD_STREAMS), part(7000.6, *CD_STREAMS)]},
    ),
    # A Blu-ray whose feature spans two clips; an unreadable third file is ignored.
    "disc": (
        MovieInfo(title="Blade Runner 2049", year=2017),
        ExternalIds(tmdb=335984, imdb="tt1856101"),
        {
            "streams": [
                part(5000.0, *DISC_STREAMS),
                ProbeResult(ok=False, error="unreadable"),
                part(4900.5, *DISC_STREAMS),
            ]
        },
    ),
}


def golden_bytes(case: str) -> bytes:
    """The writer's output for a golden case."""
    info, ids, kwargs = GOLDEN_CASES[case]
    return write_movie_nfo(info, ids, **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize("case", sorted(GOLDEN_CASES))
def test_golden_files(case: str) -> None:
    path = GOLDEN / f"{case}.nfo.golden"
    data = golden_bytes(case)
    if REGENERATE:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    assert data == path.read_bytes()
    assert data.startswith(DECLARATION)
    assert data.endswith(b"</movie>\n") or data.endswith(b"<movie />\n")
    read_back(data)


def test_golden_full_movie_reads_back_as_published() -> None:
    doc = read_back(golden_bytes("the_matrix"))
    assert doc.ids == MATRIX_IDS
    expected_cast = [
        Actor("Keanu Reeves", "Neo", 0, ".actors/Keanu_Reeves.jpg"),
        Actor("Laurence Fishburne", "Morpheus", 1, ".actors/Laurence_Fishburne.jpg"),
        Actor("Carrie-Anne Moss", "Trinity", 2, ".actors/Carrie-Anne_Moss.jpg"),
        Actor("Hugo Weaving", "Agent Smith", 3, None),
    ]
    expected_ratings = [replace(MATRIX.ratings[0], default=True), *MATRIX.ratings[1:]]
    assert doc.info == replace(MATRIX, cast=expected_cast, ratings=expected_ratings)


def test_golden_full_movie_shape() -> None:
    text = golden_bytes("the_matrix").decode()
    assert '<uniqueid type="tmdb" default="true">603</uniqueid>' in text
    assert '<uniqueid type="imdb">tt0133093</uniqueid>' in text
    assert "<id>603</id>" in text
    assert '<rating name="themoviedb" max="10" default="true">' in text
    assert '<rating name="metacritic" max="100">' in text
    assert "<mpaa>R</mpaa>" in text
    assert '<set tmdbcolid="2344">' in text
    assert "<durationinseconds>8170</durationinseconds>" in text
    assert "<aspect>2.400000</aspect>" in text
    # Kodi's element order.
    tags = re.findall(r"^    <(\w+)", text, re.MULTILINE)
    order = ["title", "ratings", "userrating", "top250", "plot", "runtime", "mpaa", "id"]
    order += ["uniqueid", "genre", "country", "set", "tag", "credits", "director"]
    order += ["premiered", "year", "studio", "trailer", "fileinfo", "actor"]
    assert [tag for tag in dict.fromkeys(tags) if tag in order] == order


def test_golden_special_characters_are_escaped_and_cleaned() -> None:
    data = golden_bytes("special_characters")
    text = data.decode("utf-8")
    assert "<title>Amélie</title>" in text  # UTF-8 as is, no character references
    assert "Tom &amp; Jerry &lt;3 \"quotes\" &amp; 'apostrophes' ]]&gt;" in text
    assert "&amp;amp; is not an entity" in text
    assert '<rating name="rotten &amp; &quot;&lt;tomatoes&gt;&quot;" max="100"' in text
    assert not re.search("[\x00-\x08\x0b\x0c\x0e-\x1f\r]", text)
    doc = read_back(data)
    assert doc.info.plot == ("Tom & Jerry <3 \"quotes\" & 'apostrophes' ]]> controlchars\nCRLF\nCR")
    expected_cast = [
        Actor("Audrey Tautou", 'Amélie "Poulain"', 0, ".actors/Audrey_Tautou & Co.jpg"),
        Actor("Mathieu Kassovitz", "Nino", 1),
    ]
    assert doc.info == replace(SPECIAL, plot=doc.info.plot, cast=expected_cast)
    assert doc.ids == SPECIAL_IDS


def test_golden_multi_part_and_disc_stream_details() -> None:
    multi = golden_bytes("multi_part").decode()
    assert multi.count("<video>") == 1
    assert "<durationinseconds>13000</durationinseconds>" in multi
    disc = golden_bytes("disc").decode()
    assert disc.count("<video>") == 1
    assert disc.count("<audio>") == 2
    assert disc.count("<subtitle") == 2
    assert "<durationinseconds>9900</durationinseconds>" in disc  # 9900.5 s, cut to whole seconds
    assert "<hdrtype>dolbyvision</hdrtype>" in disc
    assert "<subtitle />" in disc  # a subtitle without a language is still listed


# --- round trip -------------------------------------------------------------------

XML_ILLEGAL = "".join(chr(c) for c in [*range(0x09), 0x0B, 0x0C, *range(0x0E, 0x20)])
# Text XML can carry (the utf-8 codec leaves surrogates out); "\r" is a line-end variant.
ALPHABET = st.characters(codec="utf-8", exclude_characters=XML_ILLEGAL + "\r\ufffe\uffff")
SPECIAL_PIECES = st.sampled_from(
    ["&", "<", ">", '"', "'", "]]>", "&amp;", "Amélie", " / ", "\n", "\t", "\u00a0", "🎬"]
)
RAW_TEXT = st.lists(st.one_of(st.text(ALPHABET, max_size=6), SPECIAL_PIECES), max_size=5).map(
    "".join
)
TEXT = RAW_TEXT.map(str.strip).filter(bool)
# List items as Kodi reads them: " / " separates items, ",;" and blanks trim them.
ITEM = RAW_TEXT.map(lambda s: s.strip(" \t\n,;")).filter(lambda s: s and " / " not in s)
ITEMS = st.lists(ITEM, max_size=4, unique=True)
IDS = st.integers(min_value=1, max_value=2**31 - 1)
LOCAL_PATH = TEXT.filter(lambda s: not REMOTE.match(s))


@st.composite
def canonical_ratings(draw: st.DrawFn) -> list[Rating]:
    """Ratings as the reader returns them: one per source, exactly one default."""
    sources = draw(st.lists(TEXT, max_size=4, unique=True))
    ratings = []
    for source in sources:
        scale = draw(st.sampled_from([5, 10, 100]))
        value = draw(st.integers(min_value=1, max_value=scale * 1000)) / 1000
        votes = draw(st.none() | st.integers(min_value=0, max_value=10**12))
        ratings.append(Rating(source, value, votes, float(scale)))
    if ratings:
        chosen = draw(st.integers(min_value=0, max_value=len(ratings) - 1))
        ratings[chosen] = replace(ratings[chosen], default=True)
    return ratings


@st.composite
def canonical_movies(draw: st.DrawFn) -> tuple[MovieInfo, dict[str, str]]:
    """A movie the reader gives back unchanged, and the actor thumbs to publish."""
    premiered = draw(st.none() | st.dates(date(1850, 1, 1), date(2200, 12, 31)))
    year = draw(st.none() | st.integers(min_value=1850, max_value=2200))
    if premiered is not None and (year is None or draw(st.booleans())):
        year = premiered.year  # the reader takes the year from the date when missing
    people = draw(st.lists(st.tuples(TEXT, st.none() | TEXT), max_size=5, unique=True))
    orders = sorted(draw(st.lists(st.integers(0, 500), min_size=len(people), max_size=len(people))))
    thumbs = draw(st.dictionaries(st.sampled_from([n for n, _ in people] or ["x"]), LOCAL_PATH))
    cast = [
        Actor(name, role, order, thumbs.get(name))
        for (name, role), order in zip(people, orders, strict=True)
    ]
    movie_set = draw(st.none() | st.builds(MovieSet, TEXT, st.none() | TEXT, st.none() | IDS))
    info = MovieInfo(
        title=draw(st.none() | TEXT),
        original_title=draw(st.none() | TEXT),
        sort_title=draw(st.none() | TEXT),
        year=year,
        plot=draw(st.none() | TEXT),
        outline=draw(st.none() | TEXT),
        tagline=draw(st.none() | TEXT),
        runtime=draw(st.none() | st.integers(min_value=1, max_value=10_000)),
        premiered=premiered.isoformat() if premiered else None,
        certification=draw(st.none() | TEXT),
        genres=draw(ITEMS),
        studios=draw(ITEMS),
        countries=draw(ITEMS),
        tags=draw(ITEMS),
        directors=draw(ITEMS),
        writers=draw(ITEMS),
        cast=cast,
        ratings=draw(canonical_ratings()),
        set=movie_set,
        userrating=draw(st.none() | st.integers(min_value=1, max_value=100).map(lambda n: n / 10)),
        top250=draw(st.none() | st.integers(min_value=1, max_value=250)),
        trailer=draw(st.none() | LOCAL_PATH),
    )
    return info, thumbs


EXTERNAL_IDS = st.builds(
    ExternalIds,
    tmdb=st.none() | IDS,
    imdb=st.none() | st.from_regex(r"tt[0-9]{7,8}", fullmatch=True),
    tvdb=st.none() | IDS,
)
MODERN_OPTIONS = st.builds(
    NfoOptions,
    kodi_version=st.integers(min_value=18, max_value=22),
    include_fileinfo=st.booleans(),
    profile=st.sampled_from(["kodi", "jellyfin"]),
)
PROPERTY_SETTINGS = settings(
    max_examples=200,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)


@PROPERTY_SETTINGS
@given(canonical_movies(), EXTERNAL_IDS, MODERN_OPTIONS)
def test_round_trip_gives_back_every_managed_field(
    movie: tuple[MovieInfo, dict[str, str]], ids: ExternalIds, options: NfoOptions
) -> None:
    info, thumbs = movie
    data = write_movie_nfo(info, ids, actor_thumbs=thumbs, streams=MATRIX_PROBE, options=options)
    doc = read_back(data)
    assert doc.info == info
    assert doc.ids == ids


# Anything at all: control characters, surrogates, NaN, huge and negative numbers.
ANY_TEXT = st.none() | st.text(max_size=12) | SPECIAL_PIECES
ANY_FLOAT = st.floats(allow_nan=True, allow_infinity=True) | st.integers(-5, 200)
ANY_INT = st.none() | st.integers(min_value=-(2**40), max_value=2**64)
ANY_ITEMS = st.lists(st.text(max_size=12) | SPECIAL_PIECES, max_size=3)
ANY_ACTOR = st.builds(Actor, st.text(max_size=8), ANY_TEXT, ANY_INT, ANY_TEXT)
ANY_RATING = st.builds(Rating, st.text(max_size=6), ANY_FLOAT, ANY_INT, ANY_FLOAT, st.booleans())
ANY_MOVIE = st.builds(
    MovieInfo,
    title=ANY_TEXT,
    original_title=ANY_TEXT,
    plot=ANY_TEXT,
    year=ANY_INT,
    runtime=ANY_INT,
    premiered=ANY_TEXT | st.dates().map(date.isoformat),
    certification=ANY_TEXT,
    genres=ANY_ITEMS,
    tags=ANY_ITEMS,
    writers=ANY_ITEMS,
    cast=st.lists(ANY_ACTOR, max_size=4),
    ratings=st.lists(ANY_RATING, max_size=4),
    set=st.none() | st.builds(MovieSet, st.text(max_size=8), ANY_TEXT, ANY_INT),
    userrating=st.none() | ANY_FLOAT,
    top250=ANY_INT,
    trailer=ANY_TEXT,
)
ANY_IDS = st.builds(ExternalIds, tmdb=ANY_INT, imdb=ANY_TEXT, tvdb=ANY_INT)


@PROPERTY_SETTINGS
@given(ANY_MOVIE, ANY_IDS, st.booleans(), MODERN_OPTIONS)
def test_any_input_gives_a_clean_nfo_that_is_a_fixed_point(
    info: MovieInfo, ids: ExternalIds, with_thumbs: bool, options: NfoOptions
) -> None:
    thumbs = {actor.name: ".actors/someone.jpg" for actor in info.cast} if with_thumbs else {}
    first = write_movie_nfo(info, ids, actor_thumbs=thumbs, options=options)
    doc = read_back(first)
    again = {actor.name: ".actors/someone.jpg" for actor in doc.info.cast} if with_thumbs else {}
    # Writing what was read changes nothing: publishing stays idempotent across rescans.
    assert write_movie_nfo(doc.info, doc.ids, actor_thumbs=again, options=options) == first
    assert not REMOTE.search(first.decode())


@pytest.mark.parametrize("path", sorted(FIXTURES.glob("*/*.nfo")), ids=lambda path: path.name)
def test_every_fixture_nfo_survives_a_write(path: Path) -> None:
    original = read_nfo(path.read_bytes())
    data = write_movie_nfo(original.info, original.ids)
    doc = read_back(data)
    # What publishing changes on purpose: no remote thumbs, a default rating marked.
    ratings = original.info.ratings
    if ratings and not any(rating.default for rating in ratings):
        ratings = [replace(ratings[0], default=True), *ratings[1:]]
    cast = [replace(actor, thumb=None) for actor in original.info.cast]
    assert doc.info == replace(original.info, cast=cast, ratings=ratings)
    assert doc.ids == original.ids
    assert write_movie_nfo(doc.info, doc.ids) == data


def test_fixture_census_includes_every_movie_fixture() -> None:
    assert len(sorted(FIXTURES.glob("movie/*.nfo"))) == 4
    assert len(sorted(FIXTURES.glob("*/*.nfo"))) == 16


# --- rules --------------------------------------------------------------------------


def test_same_input_gives_identical_bytes() -> None:
    first = write_movie_nfo(MATRIX, MATRIX_IDS, streams=MATRIX_PROBE, actor_thumbs=MATRIX_THUMBS)
    reordered = dict(reversed(MATRIX_THUMBS.items()))
    second = write_movie_nfo(
        replace(MATRIX), MATRIX_IDS, streams=[MATRIX_PROBE], actor_thumbs=reordered
    )
    assert first == second


def test_no_artwork_or_web_urls_are_ever_written() -> None:
    info = replace(
        MATRIX,
        trailer="https://www.youtube.com/watch?v=vKQi3bBA1y8",
        cast=[Actor("Keanu Reeves", "Neo", 0, "https://image.tmdb.org/k.jpg")],
    )
    thumbs = {"Keanu Reeves": "HTTP://example.org/k.jpg"}
    text = write_movie_nfo(info, MATRIX_IDS, actor_thumbs=thumbs).decode()
    assert "http" not in text.lower()
    assert "<trailer>" not in text
    assert "<thumb>" not in text
    assert "<fanart" not in text
    local = write_movie_nfo(replace(MATRIX, trailer="/media/trailers/matrix.mkv"), MATRIX_IDS)
    assert b"<trailer>/media/trailers/matrix.mkv</trailer>" in local


def test_actor_thumb_only_from_the_mapping() -> None:
    info = MovieInfo(title="T", cast=[Actor("A", thumb=".actors/A.jpg"), Actor("B")])
    assert b"<thumb>" not in write_movie_nfo(info, ExternalIds())
    text = write_movie_nfo(info, ExternalIds(), actor_thumbs={"B": ".actors/B.jpg"}).decode()
    assert text.count("<thumb>") == 1
    assert "<thumb>.actors/B.jpg</thumb>" in text


def test_flagged_default_rating_wins_and_only_one_is_marked() -> None:
    info = MovieInfo(
        ratings=[
            Rating("themoviedb", 8.0),
            Rating("imdb", 8.5, default=True),
            Rating("metacritic", 70, max=100, default=True),
            Rating("imdb", 1.0),  # same source again: dropped
            Rating("broken", 11.0),  # above the scale: dropped
            Rating("half", 2.5, max=2.5),  # not a whole scale: rescaled to 10
        ]
    )
    doc = read_back(write_movie_nfo(info, ExternalIds()))
    assert doc.info.ratings == [
        Rating("themoviedb", 8.0, None, 10.0, False),
        Rating("imdb", 8.5, None, 10.0, True),
        Rating("metacritic", 70.0, None, 100.0, False),
        Rating("half", 10.0, None, 10.0, False),
    ]


def test_default_uniqueid_falls_back_from_tmdb_to_imdb_to_tvdb() -> None:
    imdb_only = write_movie_nfo(MovieInfo(), ExternalIds(imdb="tt0133093")).decode()
    assert "<id>tt0133093</id>" in imdb_only
    assert '<uniqueid type="imdb" default="true">tt0133093</uniqueid>' in imdb_only
    tvdb_only = write_movie_nfo(MovieInfo(), ExternalIds(tvdb=81189)).decode()
    assert '<uniqueid type="tvdb" default="true">81189</uniqueid>' in tvdb_only
    assert read_back(tvdb_only.encode()).ids == ExternalIds(tvdb=81189)
    invalid = write_movie_nfo(MovieInfo(), ExternalIds(tmdb=-3, imdb="nm0000206", tvdb=0))
    assert b"id" not in invalid


def test_kodi_version_quirks() -> None:
    v15 = write_movie_nfo(MATRIX, MATRIX_IDS, streams=MATRIX_PROBE, options=NfoOptions(15))
    text = v15.decode()
    assert "<ratings>" not in text
    assert "<rating>8.2</rating>" in text
    assert "<votes>24500</votes>" in text
    assert "<uniqueid" not in text
    assert "<id>tt0133093</id>" in text
    assert '<set tmdbcolid="2344">The Matrix Collection</set>' in text
    assert "<hdrtype>" not in text
    doc = read_back(v15)
    assert doc.ids == ExternalIds(imdb="tt0133093")
    assert doc.info.ratings == [Rating("default", 8.2, 24500, 10.0, True)]
    assert doc.info.set == MovieSet("The Matrix Collection", None, 2344)

    v17 = write_movie_nfo(MATRIX, MATRIX_IDS, options=NfoOptions(17)).decode()
    assert "<ratings>" in v17
    assert "<uniqueid" not in v17
    v18 = write_movie_nfo(MATRIX, MATRIX_IDS, options=NfoOptions(18)).decode()
    assert '<uniqueid type="tmdb" default="true">603</uniqueid>' in v18

    hdr = ProbeResult(ok=True, streams=(Stream(0, "video", "hevc", hdr="HDR10+"),))
    assert b"<hdrtype>hdr10</hdrtype>" in write_movie_nfo(MovieInfo(), ExternalIds(), streams=hdr)
    assert b"<hdrtype>" not in write_movie_nfo(
        MovieInfo(), ExternalIds(), streams=hdr, options=NfoOptions(19)
    )


def test_jellyfin_profile_adds_a_ten_point_default_rating_after_ratings() -> None:
    info = MovieInfo(ratings=[Rating("imdb", 8.7, default=True), Rating("metacritic", 73, max=100)])
    text = write_movie_nfo(info, ExternalIds(), options=NfoOptions(profile="jellyfin")).decode()
    assert text.index("</ratings>") < text.index("<rating>8.7</rating>")
    metacritic_default = MovieInfo(ratings=[Rating("metacritic", 73, max=100)])
    jellyfin = NfoOptions(profile="jellyfin")
    assert b"<rating>7.3</rating>" in write_movie_nfo(
        metacritic_default, ExternalIds(), options=jellyfin
    )
    assert read_back(text.encode()).info.ratings == info.ratings  # the reader ignores it
    assert b"<rating>" not in write_movie_nfo(info, ExternalIds())


def test_streams_do_not_change_metadata_and_can_be_left_out() -> None:
    with_streams = write_movie_nfo(MATRIX, MATRIX_IDS, streams=MATRIX_PROBE)
    without = write_movie_nfo(
        MATRIX, MATRIX_IDS, streams=MATRIX_PROBE, options=NfoOptions(include_fileinfo=False)
    )
    assert b"<fileinfo>" in with_streams
    assert b"<fileinfo>" not in without
    assert read_back(with_streams).info == read_back(without).info
    failed = [ProbeResult(ok=False, error="boom"), ProbeResult(ok=True, duration=5.0)]
    assert b"<fileinfo>" not in write_movie_nfo(MATRIX, MATRIX_IDS, streams=failed)


def test_stream_order_and_values() -> None:
    probe = ProbeResult(
        ok=True,
        duration=float("nan"),
        streams=(
            Stream(2, "subtitle", "srt", "ENG"),
            Stream(1, "audio", "AC3", None, channels=0),
            Stream(0, "video", "H264", width=-1, aspect=float("inf")),
            Stream(3, "data"),
        ),
    )
    text = write_movie_nfo(MovieInfo(), ExternalIds(), streams=probe).decode()
    details = text[text.index("<streamdetails>") : text.index("</streamdetails>")]
    assert re.findall(r"<(video|audio|subtitle)\b", details) == ["video", "audio", "subtitle"]
    assert "<codec>h264</codec>" in details
    assert "<codec>ac3</codec>" in details
    assert "<language>eng</language>" in details
    for absent in ("width", "aspect", "durationinseconds", "channels", "data"):
        assert f"<{absent}>" not in details


def test_year_comes_from_premiered_when_missing() -> None:
    text = write_movie_nfo(MovieInfo(premiered="2001-04-25T00:00:00"), ExternalIds()).decode()
    assert "<premiered>2001-04-25</premiered>" in text
    assert "<year>2001</year>" in text


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"profile": "plex"}, "profile"),
        ({"kodi_version": 5}, "kodi_version"),
        ({"kodi_version": 100}, "kodi_version"),
        ({"kodi_version": "20"}, "kodi_version"),
        ({"kodi_version": True}, "kodi_version"),
    ],
)
def test_invalid_options_are_refused(kwargs: dict[str, object], field: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        NfoOptions(**kwargs)  # type: ignore[arg-type]
    assert caught.value.field == field
