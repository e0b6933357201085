"""Kodi's TCP stream splitting and JSON-RPC payload parsing, without I/O."""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from metarr.players.base import PlayerRejected, PlayerUnavailable
from metarr.players.kodi.client import rpc_result
from metarr.players.kodi.notifications import JsonStreamSplitter, KodiProtocolError
from metarr.players.kodi.schemas import (
    KodiFeature,
    KodiMovie,
    KodiVersion,
    image_url,
    kodi_url_encode,
    parse_api_version,
    parse_app_version,
    stack_parts,
    unwrap_image_url,
)

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "kodi"


def fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


def recorded_stream() -> tuple[bytes, list[Any]]:
    """The recorded notifications and answers, written back to back as Kodi does."""
    names = [
        "VideoLibrary.OnScanStarted.notification.json",
        "VideoLibrary.OnUpdate.notification.json",
        "VideoLibrary.Scan.response.json",
        "VideoLibrary.OnScanFinished.notification.json",
    ]
    values = [fixture(n) for n in names]
    return b"".join(json.dumps(v, separators=(",", ":")).encode() for v in values), values


def feed_all(chunks: list[bytes]) -> list[Any]:
    splitter = JsonStreamSplitter()
    out: list[Any] = []
    for chunk in chunks:
        out.extend(splitter.feed(chunk))
    assert splitter.pending == 0
    return out


def test_concatenated_objects_without_delimiter() -> None:
    data, values = recorded_stream()
    assert feed_all([data]) == values


def test_every_split_point_gives_the_same_messages() -> None:
    data, values = recorded_stream()
    for cut in range(1, len(data)):
        assert feed_all([data[:cut], data[cut:]]) == values, cut


def test_byte_by_byte_with_multibyte_utf8_and_tricky_strings() -> None:
    tricky = [
        {"jsonrpc": "2.0", "method": "x", "params": {"data": {"title": 'Amélie {}[] "q" \\'}}},
        {"id": 7, "result": {"plot": "ends with a backslash \\", "s": '\\"}{'}},
        [{"id": 1, "result": "OK"}, {"id": 2, "result": "pong"}],
        {"text": "日本語 \U0001f3ac", "escaped": "\u00e9\\u00e9"},
    ]
    data = b" \n".join(json.dumps(v, ensure_ascii=False).encode() for v in tricky) + b"\r\n"
    assert feed_all([data[i : i + 1] for i in range(len(data))]) == tricky


def test_a_value_split_inside_an_escape_waits_for_the_rest() -> None:
    splitter = JsonStreamSplitter()
    assert splitter.feed(b'{"a":"x\\') == []
    assert splitter.feed(b'"y"}{"b":') == [{"a": 'x"y'}]
    assert splitter.feed(b"1}") == [{"b": 1}]


def test_garbage_between_messages_is_a_protocol_error() -> None:
    splitter = JsonStreamSplitter()
    assert splitter.feed(b'{"a":1}') == [{"a": 1}]
    with pytest.raises(KodiProtocolError):
        splitter.feed(b"HTTP/1.1 400 Bad Request\r\n")


def test_malformed_json_inside_a_value_is_a_protocol_error() -> None:
    with pytest.raises(KodiProtocolError) as err:
        JsonStreamSplitter().feed(b'{"a": tru}')
    assert isinstance(err.value, PlayerUnavailable)  # the connection is dropped, retried later


def test_invalid_utf8_and_oversized_messages_are_protocol_errors() -> None:
    with pytest.raises(KodiProtocolError):
        JsonStreamSplitter().feed(b'{"a":"\xff"}')
    splitter = JsonStreamSplitter(max_message=64)
    with pytest.raises(KodiProtocolError):
        splitter.feed(b'{"a":"' + b"x" * 100)


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=8,
)


@settings(max_examples=150)
@given(
    messages=st.lists(
        st.dictionaries(st.text(max_size=6), _JSON, max_size=4), min_size=1, max_size=6
    ),
    cuts=st.lists(st.integers(min_value=0, max_value=10_000), max_size=8),
    ascii_only=st.booleans(),
)
def test_any_stream_any_chunking(
    messages: list[dict[str, Any]], cuts: list[int], ascii_only: bool
) -> None:
    data = b"".join(json.dumps(m, ensure_ascii=ascii_only).encode() for m in messages)
    points = sorted({c % (len(data) + 1) for c in cuts} | {0, len(data)})
    chunks = [data[a:b] for a, b in itertools.pairwise(points)]
    assert feed_all(chunks) == messages


# -- answers --------------------------------------------------------------------------


def test_rpc_result_and_errors() -> None:
    assert rpc_result(fixture("VideoLibrary.Scan.response.json"), "VideoLibrary.Scan", "k") == "OK"
    with pytest.raises(PlayerRejected) as err:
        rpc_result(
            {"id": 1, "jsonrpc": "2.0", "error": {"code": -32602, "message": "Invalid params."}},
            "VideoLibrary.RefreshMovie",
            "living room",
        )
    assert err.value.remote_code == -32602
    assert "Invalid params." in str(err.value) and "living room" in str(err.value)
    with pytest.raises(PlayerUnavailable):
        rpc_result({"id": 1}, "JSONRPC.Ping", "k")


def test_versions_and_features() -> None:
    old = parse_api_version(fixture("JSONRPC.Version.response.json")["result"])
    assert old == (12, 2, 1)
    assert parse_api_version({"major": 6, "minor": 0, "patch": 3}) == (6, 0, 3)  # pre-6.25 shape
    assert parse_api_version("nonsense") == (0, 0, 0)
    nexus = KodiVersion((13, 0, 0), "20.1 stable")
    assert nexus.features == frozenset(KodiFeature)
    assert KodiVersion((6, 10, 0)).features == {KodiFeature.TEXTURES}
    assert KodiVersion((7, 0, 0)).features == {KodiFeature.TEXTURES, KodiFeature.SCAN_SHOWDIALOGS}
    props = {"name": "Kodi", "version": {"major": 20, "minor": 1, "tag": "stable"}}
    assert parse_app_version(props) == "20.1 stable"
    assert parse_app_version({}) is None


def test_recorded_movies_parse() -> None:
    movies = [
        KodiMovie.parse(m)
        for m in fixture("VideoLibrary.GetMovies.response.json")["result"]["movies"]
    ]
    assert len(movies) == 6
    first = movies[0]
    assert (first.movieid, first.title, first.year) == (1, "300", 2006)
    assert first.file == "/home/amsilva/Public/Movies/300/300.mp4"
    assert first.uniqueid == {}  # Kodi 14 had no uniqueid
    assert first.art["poster"].startswith("image://http%3a%2f%2fimage.tmdb.org")
    assert unwrap_image_url(first.art["poster"]).startswith("http://image.tmdb.org/t/p/original/")


def test_stack_and_image_urls() -> None:
    assert stack_parts("/m/X/X.mkv") == ["/m/X/X.mkv"]
    assert stack_parts("stack:///m/X/cd1.avi , /m/X/cd2,,b.avi") == [
        "/m/X/cd1.avi",
        "/m/X/cd2,b.avi",
    ]
    path = "/tmp/m/Amélie (2001)/poster.jpg"
    assert kodi_url_encode("a b~(c)!") == "a%20b~(c)!"
    assert image_url(path) == "image://%2ftmp%2fm%2fAm%c3%a9lie%20(2001)%2fposter.jpg/"
    assert unwrap_image_url(image_url(path)) == path
    assert unwrap_image_url("image://video@%2fm%2fX.mkv/") == "/m/X.mkv"
    assert unwrap_image_url("image://DefaultVideo.png/") == "DefaultVideo.png"
    assert unwrap_image_url("/plain") == "/plain"
