"""Content-addressed cache: every asset stored once, by SHA-256, never modified in place.

Layout: `root/<aa>/<bb>/<sha256>.<ext>`, where `aa` and `bb` are the first two
byte pairs of the hash. Files are written atomically (temp file, fdatasync,
rename, fsync of the directory) and made read-only (0o444). A file is only ever
replaced whole, by rename, when a put finds the stored copy damaged.

Temp files carry the `.metarr-tmp-` prefix. When the hash is known up front
(`put_bytes`) the temp file sits in the target directory; when it is only known
at the end of a stream it sits in the cache root, which is on the same
filesystem, so the final rename is still atomic. Either way it is removed when
the write fails, and `gc` removes the ones a crashed process left behind.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import re
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import BinaryIO

from metarr.domain.errors import InvalidInput, NotFound

log = logging.getLogger(__name__)

TEMP_PREFIX = ".metarr-tmp-"
DEFAULT_TEMP_GRACE = timedelta(hours=1)
CHUNK_SIZE = 1024 * 1024
READ_ONLY = 0o444

_SHA256 = re.compile(r"[0-9a-f]{64}")
_EXT = re.compile(r"[a-z0-9]{1,10}")


class AssetTooLarge(InvalidInput):
    """The content is bigger than the size cap; nothing was stored."""

    code = "asset_too_large"


@dataclass(frozen=True, slots=True)
class CachedFile:
    """A file in the cache."""

    sha256: str
    path: Path
    size: int


@dataclass(frozen=True, slots=True)
class CacheStats:
    """How much the cache holds (temp files not counted)."""

    files: int
    bytes: int


@dataclass(frozen=True, slots=True)
class GcResult:
    """What one garbage collection removed."""

    files: int
    bytes: int
    temp_files: int


def _check_sha(sha256: str) -> str:
    if not _SHA256.fullmatch(sha256):
        raise InvalidInput(f"not a SHA-256 hex digest: {sha256!r}", field="sha256")
    return sha256


def _check_ext(ext: str) -> str:
    clean = ext.lower().lstrip(".")
    if not _EXT.fullmatch(clean):
        raise InvalidInput(f"unusable file extension: {ext!r}", field="ext")
    return clean


def _sync_data(fd: int) -> None:
    """Flush a new file's bytes (and size) before it is renamed into place.

    `fdatasync` skips the timestamps `fsync` would also flush, which nothing here
    needs; either way a power cut never leaves a name pointing at missing bytes.
    """
    sync = getattr(os, "fdatasync", os.fsync)  # not on every platform
    sync(fd)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class ContentCache:
    """A content-addressed file store under one root directory."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    # -- reading ---------------------------------------------------------------

    def _shard(self, sha256: str) -> Path:
        return self.root / sha256[:2] / sha256[2:4]

    def find(self, sha256: str) -> CachedFile | None:
        """The stored file for this hash, or None."""
        shard = self._shard(_check_sha(sha256))
        try:
            entries = list(os.scandir(shard))
        except FileNotFoundError:
            return None
        for entry in sorted(entries, key=lambda e: e.name):
            stem, dot, _ = entry.name.partition(".")
            if stem == sha256 and dot and entry.is_file(follow_symlinks=False):
                return CachedFile(sha256, Path(entry.path), entry.stat().st_size)
        return None

    def exists(self, sha256: str) -> bool:
        """True when content with this hash is stored."""
        return self.find(sha256) is not None

    def path_of(self, sha256: str) -> Path:
        """Path of the stored file; raises NotFound when it is not cached."""
        found = self.find(sha256)
        if found is None:
            raise NotFound(f"{sha256} is not in the cache")
        return found.path

    def open(self, sha256: str) -> BinaryIO:
        """The stored content, opened for reading."""
        return self.path_of(sha256).open("rb")

    def verify(self, sha256: str) -> bool:
        """Re-hash the stored file: False when it is missing or its content changed."""
        found = self.find(sha256)
        if found is None:
            return False
        digest = hashlib.sha256()
        try:
            with found.path.open("rb") as fh:
                while chunk := fh.read(CHUNK_SIZE):
                    digest.update(chunk)
        except OSError as exc:
            log.warning("cannot read cached file %s: %s", found.path, exc)
            return False
        return digest.hexdigest() == sha256

    # -- writing ---------------------------------------------------------------

    def put_bytes(self, data: bytes, ext: str, *, max_bytes: int | None = None) -> CachedFile:
        """Store `data` (once) and return where it lives."""
        ext = _check_ext(ext)
        if max_bytes is not None and len(data) > max_bytes:
            raise AssetTooLarge(f"content is {len(data)} bytes, the cap is {max_bytes}")
        sha256 = hashlib.sha256(data).hexdigest()
        existing = self._existing(sha256, len(data))
        if existing is not None:
            return existing
        shard = self._make_shard(sha256)
        fd, tmp_name = tempfile.mkstemp(prefix=TEMP_PREFIX, dir=shard)
        tmp = Path(tmp_name)
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                _sync_data(fh.fileno())
            return self._commit(tmp, sha256, ext, len(data))
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise

    def put_stream(
        self, chunks: Iterable[bytes], ext: str, *, max_bytes: int | None = None
    ) -> CachedFile:
        """Store content arriving in chunks, hashing as it streams.

        Raises AssetTooLarge as soon as more than `max_bytes` arrive; nothing is
        left behind then, nor when the iterable itself raises.
        """
        ext = _check_ext(ext)
        self.root.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=TEMP_PREFIX, dir=self.root)
        tmp = Path(tmp_name)
        try:
            digest = hashlib.sha256()
            size = 0
            with os.fdopen(fd, "wb") as fh:
                for chunk in chunks:
                    size += len(chunk)
                    if max_bytes is not None and size > max_bytes:
                        raise AssetTooLarge(f"content exceeds the cap of {max_bytes} bytes")
                    digest.update(chunk)
                    fh.write(chunk)
                fh.flush()
                _sync_data(fh.fileno())
            sha256 = digest.hexdigest()
            existing = self._existing(sha256, size)
            if existing is not None:
                tmp.unlink()
                return existing
            self._make_shard(sha256)
            return self._commit(tmp, sha256, ext, size)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise

    def put_file(
        self, path: Path, ext: str | None = None, *, max_bytes: int | None = None
    ) -> CachedFile:
        """Store a copy of a file (streamed); `ext` defaults to the file's suffix."""
        path = Path(path)
        ext = ext if ext is not None else path.suffix
        with path.open("rb") as fh:
            return self.put_stream(iter(lambda: fh.read(CHUNK_SIZE), b""), ext, max_bytes=max_bytes)

    def _existing(self, sha256: str, size: int) -> CachedFile | None:
        """The stored copy if it is intact by size; its mtime is refreshed.

        Refreshing the mtime restarts the gc grace period, so content put again
        just before its new reference is recorded is not collected in between.
        A copy of the wrong size is damaged: the caller replaces it.
        """
        found = self.find(sha256)
        if found is None:
            return None
        if found.size != size:
            log.warning(
                "cached file %s is damaged (size %d, expected %d)", found.path, found.size, size
            )
            return None
        with contextlib.suppress(OSError):
            os.utime(found.path)
        return found

    def _make_shard(self, sha256: str) -> Path:
        shard = self._shard(sha256)
        if not shard.is_dir():
            created: list[Path] = []
            for directory in (self.root, shard.parent, shard):
                if not directory.is_dir():
                    directory.mkdir(exist_ok=True)
                    created.append(directory)
            for directory in created:
                _fsync_dir(directory.parent)
        return shard

    def _commit(self, tmp: Path, sha256: str, ext: str, size: int) -> CachedFile:
        """Make the temp file read-only and rename it into place, durably."""
        os.chmod(tmp, READ_ONLY)
        final = self._shard(sha256) / f"{sha256}.{ext}"
        damaged = self.find(sha256)
        os.replace(tmp, final)
        if damaged is not None and damaged.path != final:
            damaged.path.unlink(missing_ok=True)
        _fsync_dir(final.parent)
        if tmp.parent != final.parent:
            _fsync_dir(tmp.parent)
        return CachedFile(sha256, final, size)

    # -- housekeeping ----------------------------------------------------------

    def _walk(self) -> Iterator[os.DirEntry[str]]:
        """Every regular file under the root: stored files and temp files."""
        stack = [self.root]
        while stack:
            try:
                entries = list(os.scandir(stack.pop()))
            except FileNotFoundError:
                continue
            for entry in entries:
                if entry.is_dir(follow_symlinks=False):
                    stack.append(Path(entry.path))
                elif entry.is_file(follow_symlinks=False):
                    yield entry

    def stats(self) -> CacheStats:
        """Number and total size of stored files."""
        files = size = 0
        for entry in self._walk():
            if not entry.name.startswith(TEMP_PREFIX):
                files += 1
                size += entry.stat(follow_symlinks=False).st_size
        return CacheStats(files, size)

    def gc(
        self,
        referenced: set[str],
        grace: timedelta,
        now: datetime | None = None,
        *,
        temp_grace: timedelta = DEFAULT_TEMP_GRACE,
    ) -> GcResult:
        """Remove stored files nobody references that are older than `grace`.

        Temp files older than `temp_grace` are leftovers of a crashed write and
        go too. Files that do not look like cache entries are left alone, and so
        are empty shard directories (removing them would race concurrent puts).
        """
        now_ts = (now or datetime.now(UTC)).timestamp()
        removed = freed = temps = 0
        for entry in self._walk():
            stat = entry.stat(follow_symlinks=False)
            age = now_ts - stat.st_mtime
            if entry.name.startswith(TEMP_PREFIX):
                if age > temp_grace.total_seconds():
                    Path(entry.path).unlink(missing_ok=True)
                    temps += 1
                continue
            stem = entry.name.partition(".")[0]
            if not _SHA256.fullmatch(stem) or stem in referenced:
                continue
            if age > grace.total_seconds():
                Path(entry.path).unlink(missing_ok=True)
                removed += 1
                freed += stat.st_size
        if removed or temps:
            log.info(
                "cache gc removed %d files (%d bytes) and %d temp files", removed, freed, temps
            )
        return GcResult(removed, freed, temps)
