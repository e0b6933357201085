"""Provider settings layering, field priorities, asset limits, usage counters, form parsing."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from metarr.domain.errors import InvalidInput
from metarr.domain.priorities import (
    MAX_ASSET_LIMIT,
    PRIORITY_FIELDS,
    check_limits,
    check_priorities,
    default_order,
    may_replace,
)
from metarr.providers.settings import env_values, layered_config
from metarr.providers.usage import HOUR, ProviderUsage, UsageCounts, hour_of
from metarr.services.providers import ProviderSettingsView, ProviderView, clean_setting
from metarr.web.providers import card_changes, limits_changes, priorities_changes

ENV = {
    "METARR_TMDB_API_KEY": "env-key-0123456789",
    "METARR_TMDB_LANGUAGE": "de-DE",
    "METARR_TMDB_RATE_LIMIT": "20",
    "METARR_TMDB_REGION": "DE",
}


# -- defaults < env < database ----------------------------------------------------------


def test_defaults_when_nothing_is_set() -> None:
    config = layered_config("tmdb", {}, {})
    assert config.key is None and not config.active
    assert (config.base_url, config.rate_limit, config.language) == (
        "https://api.themoviedb.org/3",
        40.0,
        "en-US",
    )


def test_environment_overrides_defaults() -> None:
    config = layered_config("tmdb", ENV, None)
    assert config.key == "env-key-0123456789"
    assert (config.language, config.rate_limit, config.region) == ("de-DE", 20.0, "DE")
    assert config.base_url == "https://api.themoviedb.org/3"  # not in env: default


def test_database_overrides_environment_field_by_field() -> None:
    stored: dict[str, Any] = {
        "api_key": "db-key-abcdefghijkl",
        "language": None,  # NULL: not set here, the env value applies
        "rate_limit": 7.5,
        "enabled": None,
        "base_url": "http://127.0.0.1:9/3",
    }
    config = layered_config("tmdb", ENV, stored)
    assert config.key == "db-key-abcdefghijkl"
    assert config.language == "de-DE"
    assert config.rate_limit == 7.5
    assert config.base_url == "http://127.0.0.1:9/3"
    assert config.enabled


def test_env_key_still_works_without_a_database_key() -> None:
    config = layered_config("tmdb", ENV, {"api_key": None, "language": "fr-FR"})
    assert config.key == "env-key-0123456789" and config.language == "fr-FR"


def test_database_can_disable_and_clear_the_region() -> None:
    config = layered_config("tmdb", ENV, {"enabled": False, "region": ""})
    assert not config.enabled and not config.active
    assert config.region is None  # "" = explicitly no region, although env says DE
    assert "Providers page" in (config.disabled_reason() or "")


def test_a_bad_environment_variable_is_named() -> None:
    with pytest.raises(InvalidInput) as caught:
        layered_config("tmdb", {"METARR_TMDB_RATE_LIMIT": "-3"}, {"api_key": "x" * 20})
    assert caught.value.field == "METARR_TMDB_RATE_LIMIT"


def test_env_values_skip_blank_variables() -> None:
    assert env_values("omdb", {"METARR_OMDB_API_KEY": "  ", "METARR_OMDB_LANGUAGE": "en"}) == {
        "language": "en"
    }


# -- validation of one setting ------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("enabled", False, False),
        ("api_key", "  abc123  ", "abc123"),
        ("language", "pt-BR", "pt-BR"),
        ("region", "us", "US"),
        ("region", "", ""),
        ("certification_country", "gb", "GB"),
        ("rate_limit", 3, 3.0),
        ("base_url", " http://127.0.0.1:8080/3 ", "http://127.0.0.1:8080/3"),
        ("language", None, None),
    ],
)
def test_clean_accepts(key: str, value: Any, expected: Any) -> None:
    assert clean_setting(key, value) == expected


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("enabled", "yes"),
        ("api_key", ""),
        ("api_key", "two words"),
        ("api_key", "k" * 600),
        ("language", "english"),
        ("certification_country", ""),
        ("certification_country", "USA"),
        ("rate_limit", 0),
        ("rate_limit", 5000),
        ("rate_limit", True),
        ("rate_limit", "fast"),
        ("base_url", "ftp://example.org"),
        ("base_url", "http://"),
        ("base_url", "http://h/3?api_key=1"),
        ("timeout", 5),
    ],
)
def test_clean_refuses_with_the_field_named(key: str, value: Any) -> None:
    with pytest.raises(InvalidInput) as caught:
        clean_setting(key, value)
    assert caught.value.field == key


# -- field priorities ---------------------------------------------------------------------


def test_may_replace_follows_the_order() -> None:
    order = ("nfo", "tmdb")
    assert not may_replace(order, "nfo", "tmdb")  # a lower-ranked source keeps out
    assert may_replace(order, "tmdb", "nfo")
    assert may_replace(order, None, "tmdb")  # nobody wrote it yet
    assert may_replace(order, "tmdb", "tmdb")
    assert may_replace(order, "user", "tmdb")  # unlisted ranks last (an unlocked edit)
    assert not may_replace(("nfo",), "nfo", "tmdb")  # unlisted incoming ranks last
    assert may_replace(None, "nfo", "tmdb") and may_replace((), "nfo", "tmdb")  # built-in rule


def test_check_priorities() -> None:
    sources = default_order(["tmdb"])
    assert sources == ("tmdb", "nfo")
    assert check_priorities({"plot": ["nfo", "tmdb"], "title": ["tmdb"]}, sources) == {
        "plot": ("nfo", "tmdb"),
        "title": ("tmdb",),
    }
    assert "ratings" not in PRIORITY_FIELDS
    for bad, field in [
        ({"ratings": ["tmdb"]}, "ratings"),
        ({"nonsense": ["tmdb"]}, "nonsense"),
        ({"plot": []}, "plot"),
        ({"plot": "tmdb"}, "plot"),
        ({"plot": ["tmdb", "tmdb"]}, "plot"),
        ({"plot": ["imdb"]}, "plot"),
    ]:
        with pytest.raises(InvalidInput) as caught:
            check_priorities(bad, sources)
        assert caught.value.field == field
    with pytest.raises(InvalidInput):
        check_priorities(["plot"], sources)


def test_check_limits() -> None:
    assert check_limits({"fanart": 5, "poster": 0}) == {"fanart": 5, "poster": 0}
    for bad, field in [
        ({"fanart": -1}, "fanart"),
        ({"fanart": MAX_ASSET_LIMIT + 1}, "fanart"),
        ({"fanart": 1.5}, "fanart"),
        ({"fanart": "2"}, "fanart"),
        ({"fanart": True}, "fanart"),
        ({"headshot": 1}, "headshot"),
    ]:
        with pytest.raises(InvalidInput) as caught:
            check_limits(bad)
        assert caught.value.field == field


# -- usage counters -----------------------------------------------------------------------


def test_usage_counts_per_hour_and_drains() -> None:
    now = [10 * HOUR + 5.0]
    usage = ProviderUsage(clock=lambda: now[0])
    usage.count("tmdb", "requests")
    usage.count("tmdb", "rate_limited")
    now[0] += HOUR
    usage.count("tmdb", "requests", 2)
    usage.count("omdb", "cache_hits")
    assert usage.pending("tmdb", 11 * HOUR).requests == 2
    assert usage.pending("tmdb", 0).as_dict() == {
        "requests": 3,
        "rate_limited": 1,
        "errors": 0,
        "cache_hits": 0,
    }
    drained = usage.drain()
    assert set(drained) == {("tmdb", 10 * HOUR), ("tmdb", 11 * HOUR), ("omdb", 11 * HOUR)}
    assert usage.pending("tmdb", 0) == UsageCounts()
    usage.count("tmdb", "errors")
    usage.restore(drained)  # saving failed: they come back, added to newer counts
    assert usage.pending("tmdb", 11 * HOUR).as_dict() == {
        "requests": 2,
        "rate_limited": 0,
        "errors": 1,
        "cache_hits": 0,
    }
    assert hour_of(datetime(2026, 1, 1, 7, 59, tzinfo=UTC).timestamp()) == int(
        datetime(2026, 1, 1, 7, tzinfo=UTC).timestamp()
    )


# -- the web forms --------------------------------------------------------------------------


def _view(**settings: Any) -> ProviderView:
    values: dict[str, Any] = {
        "enabled": True,
        "has_key": True,
        "key_last4": "abcd",
        "key_source": "db",
        "language": "en-US",
        "region": None,
        "certification_country": "US",
        "rate_limit": 40.0,
        "base_url": "https://api.themoviedb.org/3",
        "sources": {},
        "updated_at": None,
    }
    values.update(settings)
    return ProviderView("tmdb", "TMDB", "ok", None, (), ProviderSettingsView(**values), {})


def test_card_changes_only_what_differs() -> None:
    form = {
        "enabled": "on",
        "api_key": "",
        "language": "en-US",
        "region": "",
        "certification_country": "US",
        "rate_limit": "40",
        "base_url": "https://api.themoviedb.org/3",
    }
    assert card_changes(_view(), form) == {}  # a blank key keeps the saved one
    changed = {**form, "api_key": " new-key ", "language": "de-DE", "rate_limit": "12.5"}
    del changed["enabled"]  # an unchecked box is not sent
    assert card_changes(_view(), changed) == {
        "enabled": False,
        "api_key": "new-key",
        "language": "de-DE",
        "rate_limit": 12.5,
    }
    assert card_changes(_view(), {**form, "remove_key": "on"}) == {"api_key": None}
    assert card_changes(_view(key_source="env"), {**form, "remove_key": "on"}) == {}
    assert card_changes(_view(), {**form, "base_url": ""}) == {"base_url": None}
    assert card_changes(_view(), {**form, "rate_limit": "fast"}) == {"rate_limit": "fast"}


def test_priority_and_limit_forms() -> None:
    form = {"plot.0": "nfo", "plot.1": "tmdb", "title.0": "tmdb", "title.1": ""}
    assert priorities_changes(form, ("plot", "title", "tagline"), 2) == {
        "plot": ["nfo", "tmdb"],
        "title": ["tmdb"],
    }
    limits = limits_changes(
        {"limit.fanart": "2", "limit.poster": "", "limit.banner": "x"},
        [
            "fanart",
            "poster",
            "banner",
        ],
    )
    assert limits == {"fanart": 2, "banner": "x"}
