"""Content-addressed cache on real files: layout, dedupe, atomicity, caps, verify, gc."""

from __future__ import annotations

import hashlib
import os
import stat
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from metarr.domain.errors import InvalidInput, NotFound
from metarr.storage import cache as cache_module
from metarr.storage.cache import TEMP_PREFIX, AssetTooLarge, ContentCache

DATA = b"\xff\xd8\xff poster bytes " * 100
SHA = hashlib.sha256(DATA).hexdigest()


@pytest.fixture
def cache(tmp_path: Path) -> ContentCache:
    return ContentCache(tmp_path / "cache")


def all_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


def test_put_bytes_stores_by_hash(cache: ContentCache) -> None:
    stored = cache.put_bytes(DATA, "JPG")
    assert stored.sha256 == SHA
    assert stored.size == len(DATA)
    assert stored.path == cache.root / SHA[:2] / SHA[2:4] / f"{SHA}.jpg"
    assert stored.path.read_bytes() == DATA
    assert stat.S_IMODE(stored.path.stat().st_mode) == 0o444
    assert all_files(cache.root) == [stored.path]


def test_identical_content_is_stored_once(cache: ContentCache) -> None:
    first = cache.put_bytes(DATA, "jpg")
    inode = first.path.stat().st_ino
    second = cache.put_bytes(DATA, ".jpg")
    streamed = cache.put_stream([DATA[:7], DATA[7:]], "jpg")
    other_ext = cache.put_bytes(DATA, "jpeg")  # same content, any name: still one file
    assert first == second == streamed == other_ext
    assert first.path.stat().st_ino == inode  # not rewritten
    assert cache.stats().files == 1
    assert cache.stats().bytes == len(DATA)
    assert all_files(cache.root) == [first.path]


def test_put_file_streams_and_takes_the_suffix(cache: ContentCache, tmp_path: Path) -> None:
    source = tmp_path / "fanart.PNG"
    payload = os.urandom(3 * cache_module.CHUNK_SIZE + 17)
    source.write_bytes(payload)
    stored = cache.put_file(source)
    assert stored.path.name == f"{hashlib.sha256(payload).hexdigest()}.png"
    assert stored.path.read_bytes() == payload
    assert source.read_bytes() == payload  # the source is copied, not moved


def test_read_back(cache: ContentCache) -> None:
    cache.put_bytes(DATA, "jpg")
    with cache.open(SHA) as fh:
        assert fh.read() == DATA
    assert cache.exists(SHA)
    assert not cache.exists("0" * 64)
    with pytest.raises(NotFound):
        cache.path_of("0" * 64)


@pytest.mark.parametrize("bad", ["../../etc/passwd", "ABC", SHA.upper(), SHA[:-1], f"{SHA}x"])
def test_hashes_are_validated(cache: ContentCache, bad: str) -> None:
    with pytest.raises(InvalidInput):
        cache.path_of(bad)


@pytest.mark.parametrize("ext", ["", ".", "j/pg", "../x", "a" * 11, "jp g"])
def test_extensions_are_validated(cache: ContentCache, ext: str) -> None:
    with pytest.raises(InvalidInput):
        cache.put_bytes(DATA, ext)
    assert all_files(cache.root) == []


# -- atomicity ---------------------------------------------------------------


def failing_stream() -> Iterator[bytes]:
    yield b"first half of the image"
    raise ConnectionError("connection reset mid-download")


def test_a_failing_stream_leaves_nothing_behind(cache: ContentCache) -> None:
    with pytest.raises(ConnectionError):
        cache.put_stream(failing_stream(), "jpg")
    assert all_files(cache.root) == []


@pytest.mark.parametrize("failing", ["replace", "fdatasync"])
def test_a_failed_commit_leaves_no_partial_file(
    cache: ContentCache, monkeypatch: pytest.MonkeyPatch, failing: str
) -> None:
    def boom(*args: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, failing, boom)
    with pytest.raises(OSError, match="No space"):
        cache.put_bytes(DATA, "jpg")
    assert all_files(cache.root) == []
    with pytest.raises(OSError, match="No space"):
        cache.put_stream([DATA], "jpg")
    assert all_files(cache.root) == []
    monkeypatch.undo()
    assert cache.put_bytes(DATA, "jpg").path.read_bytes() == DATA  # and the cache still works


def test_a_failed_directory_sync_leaves_only_whole_files(
    cache: ContentCache, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The directory fsync comes after the rename: the file there is whole, no temp is left."""

    def boom(*args: object) -> None:
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(os, "fsync", boom)
    with pytest.raises(OSError, match="Input/output"):
        cache.put_bytes(DATA, "jpg")
    files = all_files(cache.root)
    assert all(not p.name.startswith(TEMP_PREFIX) for p in files)
    assert all(p.read_bytes() == DATA for p in files)
    monkeypatch.undo()
    assert cache.put_bytes(DATA, "jpg").path.read_bytes() == DATA


def test_temp_files_live_next_to_the_target(
    cache: ContentCache, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[tuple[str, str]] = []
    real_replace = os.replace

    def spy(src: str, dst: str) -> None:
        seen.append((str(src), str(dst)))
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", spy)
    stored = cache.put_bytes(DATA, "jpg")
    [(src, dst)] = seen
    assert Path(src).name.startswith(TEMP_PREFIX)
    assert Path(src).parent == Path(dst).parent == stored.path.parent


# -- size cap ----------------------------------------------------------------


def test_size_cap_on_streams(cache: ContentCache) -> None:
    chunks = [b"x" * 1000] * 10
    with pytest.raises(AssetTooLarge, match="9999"):
        cache.put_stream(iter(chunks), "jpg", max_bytes=9999)
    assert all_files(cache.root) == []
    assert cache.put_stream(iter(chunks), "jpg", max_bytes=10_000).size == 10_000


def test_size_cap_stops_reading_early(cache: ContentCache) -> None:
    pulled = 0

    def endless() -> Iterator[bytes]:
        nonlocal pulled
        while True:
            pulled += 1
            yield b"y" * 4096

    with pytest.raises(AssetTooLarge):
        cache.put_stream(endless(), "png", max_bytes=50_000)
    assert pulled <= 14
    assert all_files(cache.root) == []


def test_size_cap_on_bytes_and_files(cache: ContentCache, tmp_path: Path) -> None:
    with pytest.raises(AssetTooLarge):
        cache.put_bytes(DATA, "jpg", max_bytes=len(DATA) - 1)
    source = tmp_path / "big.jpg"
    source.write_bytes(DATA)
    with pytest.raises(AssetTooLarge):
        cache.put_file(source, max_bytes=10)
    assert all_files(cache.root) == []
    assert isinstance(AssetTooLarge("x"), InvalidInput)


# -- integrity ---------------------------------------------------------------


def test_verify_detects_a_modified_file(cache: ContentCache) -> None:
    stored = cache.put_bytes(DATA, "jpg")
    assert cache.verify(SHA)
    stored.path.chmod(0o644)
    stored.path.write_bytes(DATA[:-1] + b"!")  # same size, different content
    assert not cache.verify(SHA)
    assert not cache.verify("f" * 64)  # missing


def test_putting_again_repairs_a_truncated_file(cache: ContentCache) -> None:
    stored = cache.put_bytes(DATA, "jpg")
    stored.path.chmod(0o644)
    stored.path.write_bytes(DATA[:10])
    assert not cache.verify(SHA)
    repaired = cache.put_bytes(DATA, "jpg")
    assert repaired.path == stored.path
    assert cache.verify(SHA)
    assert stat.S_IMODE(repaired.path.stat().st_mode) == 0o444


# -- garbage collection ------------------------------------------------------


def age(path: Path, days: float) -> None:
    when = datetime.now(UTC).timestamp() - days * 86400
    os.utime(path, (when, when))


def test_gc_removes_only_unreferenced_files_past_the_grace(cache: ContentCache) -> None:
    kept = cache.put_bytes(b"referenced", "jpg")
    old = cache.put_bytes(b"unreferenced and old", "png")
    young = cache.put_bytes(b"unreferenced but new", "jpg")
    for item in (kept, old):
        age(item.path, 40)
    age(young.path, 2)

    result = cache.gc({kept.sha256}, timedelta(days=30))
    assert (result.files, result.bytes, result.temp_files) == (1, old.size, 0)
    assert kept.path.exists() and young.path.exists()
    assert not old.path.exists()
    assert cache.stats().files == 2

    later = datetime.now(UTC) + timedelta(days=29)
    assert cache.gc({kept.sha256}, timedelta(days=30), later).files == 1
    assert not young.path.exists()


def test_putting_again_restarts_the_grace_period(cache: ContentCache) -> None:
    item = cache.put_bytes(DATA, "jpg")
    age(item.path, 40)
    cache.put_bytes(DATA, "jpg")  # about to be referenced again
    assert cache.gc(set(), timedelta(days=30)).files == 0
    assert item.path.exists()


def test_gc_removes_stale_temp_files_and_leaves_strangers(cache: ContentCache) -> None:
    cache.put_bytes(DATA, "jpg")
    shard = cache.root / SHA[:2] / SHA[2:4]
    stale = shard / f"{TEMP_PREFIX}crashed"
    fresh = cache.root / f"{TEMP_PREFIX}in-progress"
    stranger = shard / "notes.txt"
    for path in (stale, fresh, stranger):
        path.write_bytes(b"partial")
    age(stale, 1)
    age(stranger, 400)

    result = cache.gc({SHA}, timedelta(days=30))
    assert result.temp_files == 1
    assert not stale.exists()
    assert fresh.exists()  # another process may still be writing it
    assert stranger.exists()
    assert cache.stats().files == 2  # the asset and the stranger; temp files never count


def test_gc_and_stats_on_an_empty_cache(cache: ContentCache) -> None:
    assert cache.stats() == cache_module.CacheStats(0, 0)
    assert cache.gc(set(), timedelta(0)) == cache_module.GcResult(0, 0, 0)
