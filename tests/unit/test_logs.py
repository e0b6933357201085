"""Secrets redaction in log events (pure processors, no handlers)."""

from __future__ import annotations

import pytest
from structlog.typing import EventDict

from metarr.logs import REDACTED, is_sensitive_key, redact_secrets, redact_text


def _process(**event: object) -> EventDict:
    return redact_secrets(None, "info", dict(event))


@pytest.mark.parametrize(
    "key",
    [
        "api_key",
        "apikey",
        "ApiKey",
        "API_KEY",
        "x-api-key",
        "X-Api-Key",
        "password",
        "token",
        "secret",
        "authorization",
        "Authorization",
        "cookie",
        "tmdb_api_key",
        "access_token",
        "client_secret",
        "admin_password",
    ],
)
def test_credential_keys_are_sensitive(key: str) -> None:
    assert is_sensitive_key(key)


@pytest.mark.parametrize(
    "key", ["event", "path", "tokens", "token_count", "key", "cache_key", "secretary", "status"]
)
def test_ordinary_keys_are_not_sensitive(key: str) -> None:
    assert not is_sensitive_key(key)


def test_sensitive_top_level_values_are_masked() -> None:
    event = _process(
        event="provider call", api_key="abc123", password="hunter2", **{"X-Api-Key": "k"}
    )

    assert event == {
        "event": "provider call",
        "api_key": REDACTED,
        "password": REDACTED,
        "X-Api-Key": REDACTED,
    }


def test_missing_secret_stays_visible_as_none() -> None:
    # "no key configured" is useful to see and reveals nothing.
    assert _process(event="e", api_key=None)["api_key"] is None


def test_nested_mappings_and_header_pairs_are_masked() -> None:
    event = _process(
        event="request",
        headers={"Authorization": "Bearer t0k", "Accept": "*/*"},
        raw_headers=[(b"x-api-key", b"k3y"), (b"host", b"localhost")],
        nested={"provider": {"token": "t", "name": "tmdb"}},
    )

    assert event["headers"] == {"Authorization": REDACTED, "Accept": "*/*"}
    assert event["raw_headers"] == [(b"x-api-key", REDACTED), (b"host", b"localhost")]
    assert event["nested"] == {"provider": {"token": REDACTED, "name": "tmdb"}}


def test_ordinary_values_are_untouched() -> None:
    event = _process(event="scan done", count=3, ratio=0.5, tags=["a", "b"], path="/movies/x")

    assert event == {
        "event": "scan done",
        "count": 3,
        "ratio": 0.5,
        "tags": ["a", "b"],
        "path": "/movies/x",
    }


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("GET /api/v1/movies?apikey=secret123&limit=5", "GET /api/v1/movies?apikey=***&limit=5"),
        (
            "https://api.tmdb.org/3/movie/1?api_key=abc",
            "https://api.tmdb.org/3/movie/1?api_key=***",
        ),
        ("x?a=1&API_KEY=abc#frag", "x?a=1&API_KEY=***#frag"),
        ("tmdb_api_key=q other=1", "tmdb_api_key=*** other=1"),
        ("access_token=xyz;next", "access_token=***;next"),
        ("Authorization: Bearer abc.def", "Authorization: Bearer ***"),
        ("{'X-Api-Key': 'hdr'}", "{'X-Api-Key': '***'}"),
        ('{"password": "pw", "user": "me"}', '{"password": "***", "user": "me"}'),
        ("postgresql+psycopg://metarr:pw@db/metarr", "postgresql+psycopg://metarr:***@db/metarr"),
    ],
)
def test_secrets_inside_strings_are_masked(text: str, expected: str) -> None:
    assert redact_text(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "scan finished: 12 movies",
        "tokens=5 secret_santa=bob",
        "https://example.org/movie?id=5&page=2",
        "ratio: 16:9",
    ],
)
def test_text_without_secrets_is_unchanged(text: str) -> None:
    assert redact_text(text) == text


def test_event_message_and_nested_strings_are_masked() -> None:
    event = _process(
        event="GET https://api.tmdb.org/3/search?api_key=zzz",
        calls=["https://fanart.tv/v3/movies/1?api_key=yyy"],
    )

    assert event["event"] == "GET https://api.tmdb.org/3/search?api_key=***"
    assert event["calls"] == ["https://fanart.tv/v3/movies/1?api_key=***"]


def test_redaction_is_idempotent() -> None:
    once = _process(event="u?apikey=a", token="t", headers={"cookie": "c"})

    assert _process(**once) == once


def test_deeply_nested_structures_do_not_recurse_forever() -> None:
    deep: dict[str, object] = {"api_key": "k"}
    for _ in range(50):
        deep = {"inner": deep}

    event = _process(event="deep", data=deep)

    assert event["event"] == "deep"
