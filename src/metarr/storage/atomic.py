"""Atomic writes into library folders: temp file beside the target, fsync, rename, fsync dir.

A reader (a player, a scan) sees either the old file or the new one, never a part.
Temp files are named `.metarr-tmp-<host>-<pid>-<random>` in the target's own folder,
so the rename never crosses a filesystem and a leftover is recognisable: `sweep`
removes the ones whose writer is gone (same host, process dead) or that are older
than a grace period (another host's, or an unreadable name). Scans ignore
`.metarr-*` names.

Content comes from bytes in memory, or from a cache file: hard-linked when asked
and possible (same filesystem, links allowed), copied otherwise. A copy is hashed
as it streams and refused when the bytes do not match the hash they were asked for,
so a damaged cache file never reaches the library.

Many files at once (publishing a library) go in two steps with the same
guarantees and far fewer flushes: `stage_*` writes temp files, `sync_files`
makes their data durable (one `syncfs` per filesystem on Linux, else an fsync
per file), `commit` renames each into place, and `sync_dirs` makes the renames
durable. A reader still only ever sees a whole old or a whole new file.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import hashlib
import os
import secrets
import socket
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

TEMP_PREFIX = ".metarr-tmp-"
DEFAULT_GRACE_SECONDS = 3600.0
CHUNK_SIZE = 1024 * 1024
FILE_MODE = 0o644
# Link failures that mean "copy instead": other filesystem, links not allowed/supported.
_NO_LINK = frozenset(
    {errno.EXDEV, errno.EPERM, errno.EMLINK, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EACCES}
)
_HOST = hashlib.blake2b(socket.gethostname().encode(), digest_size=4).hexdigest()


class ContentMismatch(Exception):
    """The source's bytes do not hash to what they should; nothing was written."""

    def __init__(self, source: Path, expected: str, actual: str) -> None:
        super().__init__(f"{source} hashes to {actual}, expected {expected}")
        self.source = source
        self.expected = expected
        self.actual = actual


@dataclass(frozen=True, slots=True)
class Written:
    """A file now in place: its size and mtime (as recorded for later comparison)."""

    size: int
    mtime_ns: int
    linked: bool = False


def is_temp_name(name: str) -> bool:
    """True for names of Metarr temp files."""
    return name.startswith(TEMP_PREFIX)


def temp_path(folder: Path) -> Path:
    """A fresh temp file name in `folder` carrying this host and process."""
    return folder / f"{TEMP_PREFIX}{_HOST}-{os.getpid()}-{secrets.token_hex(6)}"


def fsync_dir(path: Path) -> None:
    """Make a directory's entries (renames, new files) durable."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def ensure_dir(path: Path) -> None:
    """Create `path` (one level) if missing, durably."""
    if path.is_dir():
        return
    with contextlib.suppress(FileExistsError):
        path.mkdir()
    fsync_dir(path.parent)


def _commit(tmp: Path, target: Path, sync_dir: bool, linked: bool) -> Written:
    st = os.stat(tmp)
    os.replace(tmp, target)
    if sync_dir:
        fsync_dir(target.parent)
    return Written(st.st_size, st.st_mtime_ns, linked)


def write_bytes(target: Path, data: bytes, *, sync_dir: bool = True) -> Written:
    """Write `data` to `target` atomically (temp file, fsync, rename, fsync of the folder).

    With `sync_dir=False` the caller fsyncs the folder once after several writes.
    """
    tmp = temp_path(target.parent)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        return _commit(tmp, target, sync_dir, linked=False)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def copy_file(
    source: Path, target: Path, *, sha256: str | None = None, sync_dir: bool = True
) -> Written:
    """Copy `source` to `target` atomically; with `sha256`, refuse bytes that do not match."""
    tmp = temp_path(target.parent)
    _stage_copy(source, tmp, sha256, durable=True)
    try:
        return _commit(tmp, target, sync_dir, linked=False)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def link_file(source: Path, target: Path, *, sync_dir: bool = True) -> Written | None:
    """Hard-link `source` at `target` atomically; None when this filesystem cannot."""
    tmp = temp_path(target.parent)
    try:
        os.link(source, tmp)
    except OSError as exc:
        if exc.errno in _NO_LINK:
            return None
        raise
    try:
        return _commit(tmp, target, sync_dir, linked=True)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def install(
    source: Path,
    target: Path,
    *,
    sha256: str | None = None,
    hardlink: bool = False,
    sync_dir: bool = True,
) -> Written:
    """Put a cache file at `target`: a hard link when asked and possible, else a copy."""
    if hardlink:
        linked = link_file(source, target, sync_dir=sync_dir)
        if linked is not None:
            return linked
    return copy_file(source, target, sha256=sha256, sync_dir=sync_dir)


def same_filesystem(a: Path, b: Path) -> bool:
    """True when both paths are on one filesystem (a hard link can join them)."""
    try:
        return os.stat(a).st_dev == os.stat(b).st_dev
    except OSError:
        return False


def _writer_gone(name: str) -> bool:
    """True when the temp file's writer is a dead process of this host."""
    host, _, rest = name.removeprefix(TEMP_PREFIX).partition("-")
    pid_text, _, _ = rest.partition("-")
    if host != _HOST or not pid_text.isdigit():
        return False
    pid = int(pid_text)
    if pid == os.getpid():
        return False  # ours: in flight (failed writes remove their own temp file)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False  # alive, another user's
    return False


def sweep(
    folder: Path, *, grace_seconds: float = DEFAULT_GRACE_SECONDS, now: float | None = None
) -> list[Path]:
    """Remove leftover temp files in `folder`; returns what was removed.

    A temp file goes when its writer was a process of this host that no longer
    exists, or when it is older than `grace_seconds` whoever wrote it.
    """
    removed: list[Path] = []
    try:
        entries = list(os.scandir(folder))
    except (FileNotFoundError, NotADirectoryError):
        return removed
    now = time.time() if now is None else now
    for entry in entries:
        if not is_temp_name(entry.name):
            continue
        try:
            if not entry.is_file(follow_symlinks=False):
                continue
            old = now - entry.stat(follow_symlinks=False).st_mtime > grace_seconds
        except FileNotFoundError:
            continue
        if old or _writer_gone(entry.name):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(entry.path)
            removed.append(Path(entry.path))
    return removed


def _stage_copy(source: Path, tmp: Path, sha256: str | None, *, durable: bool) -> None:
    digest = hashlib.sha256()
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    try:
        with os.fdopen(fd, "wb") as out, source.open("rb") as src:
            while chunk := src.read(CHUNK_SIZE):
                digest.update(chunk)
                out.write(chunk)
            out.flush()
            if sha256 is not None and digest.hexdigest() != sha256:
                raise ContentMismatch(source, sha256, digest.hexdigest())
            if durable:
                os.fsync(out.fileno())
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def stage_bytes(target: Path, data: bytes) -> Path:
    """Write `data` to a temp file beside `target` (not yet flushed nor renamed)."""
    tmp = temp_path(target.parent)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return tmp


def stage_file(
    source: Path, target: Path, *, sha256: str | None = None, hardlink: bool = False
) -> tuple[Path, bool]:
    """A temp file beside `target` holding `source`: (path, hard-linked?).

    Linked when asked and possible, else copied (refused when `sha256` does not match).
    """
    tmp = temp_path(target.parent)
    if hardlink:
        try:
            os.link(source, tmp)
            return tmp, True
        except OSError as exc:
            if exc.errno not in _NO_LINK:
                raise
    _stage_copy(source, tmp, sha256, durable=False)
    return tmp, False


def commit(tmp: Path, target: Path, *, linked: bool = False) -> Written:
    """Rename a staged temp file into place (flush it first: `sync_files`)."""
    try:
        return _commit(tmp, target, sync_dir=False, linked=linked)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _syncfs() -> object | None:
    """libc's `syncfs` (Linux), or None."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.syncfs
    except (OSError, AttributeError):
        return None


_SYNCFS = _syncfs()


def _by_filesystem(paths: Iterable[Path]) -> dict[int, list[Path]]:
    groups: dict[int, list[Path]] = {}
    for path in paths:
        with contextlib.suppress(OSError):
            groups.setdefault(os.stat(path).st_dev, []).append(path)
    return groups


def _syncfs_ok(path: Path) -> bool:
    """`syncfs` of the filesystem holding `path`; False when not available or it failed."""
    if _SYNCFS is None:
        return False
    fd = os.open(path, os.O_RDONLY)
    try:
        return bool(_SYNCFS(fd) == 0)  # type: ignore[operator]
    finally:
        os.close(fd)


def _fsync_path(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | (getattr(os, "O_DIRECTORY", 0) if path.is_dir() else 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def sync_files(paths: Iterable[Path]) -> None:
    """Make the content of these (staged) files durable: one `syncfs` per filesystem
    where the system has it, an fsync per file otherwise."""
    for group in _by_filesystem(paths).values():
        if not _syncfs_ok(group[0]):
            for path in group:
                _fsync_path(path)


def sync_dirs(dirs: Iterable[Path]) -> None:
    """Make renames and new entries in these folders durable (as `sync_files`)."""
    sync_files(sorted(set(dirs)))


def sha256_file(path: Path) -> str:
    """SHA-256 of a file's content."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(CHUNK_SIZE):
            digest.update(chunk)
    return digest.hexdigest()
