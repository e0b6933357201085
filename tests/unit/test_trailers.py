"""Which provider trailer a movie gets (domain.trailers), and Kodi's URL for it."""

from __future__ import annotations

from metarr.domain.candidates import Trailer
from metarr.domain.trailers import KODI_YOUTUBE, best_trailer, kodi_trailer_url


def t(key: str, **kw: object) -> Trailer:
    values: dict[str, object] = {"site": "YouTube", "type": "Trailer", "official": True}
    values.update(kw)
    return Trailer(key=key, **values)  # type: ignore[arg-type]


def test_official_beats_a_fan_upload_even_in_the_preferred_language() -> None:
    fan = t("fanUpload01", official=False, language="de", size=2160)
    studio = t("studioUp001", official=True, language="en", size=720)
    assert best_trailer([fan, studio], "de-DE") == studio


def test_a_trailer_beats_a_teaser_and_other_videos_never_qualify() -> None:
    teaser = t("teaserVid01", type="Teaser", language="en")
    clip = t("clipVideo01", type="Clip", language="en")
    trailer = t("trailerVid1", language="fr")
    assert best_trailer([teaser, clip, trailer], "en") == trailer
    assert best_trailer([clip, t("featurette1", type="Featurette")], "en") is None
    assert best_trailer([teaser, clip], "en") == teaser


def test_language_order_preferred_then_english_then_none_then_other() -> None:
    other = t("frenchTrlr1", language="fr", size=1080)
    none = t("noLanguage1", language=None, size=1080)
    english = t("englishTrl1", language="en", size=1080)
    german = t("germanTrlr1", language="de", size=360)
    videos = [other, none, english, german]
    assert best_trailer(videos, "de-DE") == german
    assert best_trailer(videos, "ja") == english
    assert best_trailer([other, none], "ja") == none
    assert best_trailer([other], "ja") == other
    assert best_trailer(videos, None) == english  # no preference: English


def test_bigger_wins_then_the_providers_order() -> None:
    small = t("smallTrlr01", language="en", size=480)
    big = t("bigTrailer1", language="en", size=2160)
    unknown = t("unknownSize", language="en", size=None)
    assert best_trailer([small, unknown, big], "en") == big
    first, second = t("firstTrlr01", language="en"), t("secondTrlr1", language="en")
    assert best_trailer([first, second], "en") == first


def test_only_youtube_videos_with_a_plausible_key() -> None:
    vimeo = t("123456789", site="Vimeo")
    hostile = t('abc&xyz=1"><', language="en")
    assert best_trailer([vimeo, hostile], "en") is None
    youtube = t("dQw4w9WgXcQ", site="youtube")  # site case does not matter
    assert best_trailer([vimeo, hostile, youtube], "en") == youtube


def test_kodi_url() -> None:
    assert kodi_trailer_url(t("dQw4w9WgXcQ")) == (
        "plugin://plugin.video.youtube/play/?video_id=dQw4w9WgXcQ"
    )
    assert KODI_YOUTUBE.startswith("plugin://plugin.video.youtube/play/")
    assert kodi_trailer_url(None) is None
