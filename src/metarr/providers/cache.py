"""Response cache with a TTL: a small interface, in memory or as files under the data dir.

Decision: no database table. Provider responses are a disposable cache, not data;
files under `<data_dir>/cache/providers/<provider>/<aa>/<key>` survive restarts,
are shared by every process on the host, need no migration, and can be deleted
at any time. `MemoryResponseCache` serves tests and single-shot tools.

Keys are SHA-256 of (provider, path, query without secrets); see `cache_key`.
Only successful (200) bodies are stored. Both implementations are thread-safe.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Protocol

log = logging.getLogger(__name__)

SECRET_PARAMS = frozenset({"api_key", "apikey", "client_key"})


def cache_key(provider: str, path: str, params: Iterable[tuple[str, str]]) -> str:
    """A stable key for one request; secrets are left out so a new key keeps the cache."""
    query = "&".join(f"{k}={v}" for k, v in sorted(params) if k.lower() not in SECRET_PARAMS)
    return hashlib.sha256(f"{provider}\n{path}\n{query}".encode()).hexdigest()


class ResponseCache(Protocol):
    """Where provider responses are kept for a while."""

    def get(self, key: str) -> bytes | None:
        """The body stored under `key`, or None when missing or expired."""
        ...

    def put(self, key: str, body: bytes, ttl: float) -> None:
        """Store `body` under `key` for `ttl` seconds."""
        ...

    def clear(self) -> None:
        """Forget everything."""
        ...


class MemoryResponseCache:
    """An in-process LRU cache with expiry; `clock` is injectable for tests."""

    def __init__(
        self, *, max_entries: int = 10_000, clock: Callable[[], float] = time.time
    ) -> None:
        self.max_entries = max_entries
        self._clock = clock
        self._lock = threading.Lock()
        self._entries: OrderedDict[str, tuple[float, bytes]] = OrderedDict()

    def get(self, key: str) -> bytes | None:
        """The body stored under `key`, or None when missing or expired."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            expires_at, body = entry
            if self._clock() >= expires_at:
                del self._entries[key]
                return None
            self._entries.move_to_end(key)
            return body

    def put(self, key: str, body: bytes, ttl: float) -> None:
        """Store `body` under `key` for `ttl` seconds (evicting the oldest when full)."""
        if ttl <= 0:
            return
        with self._lock:
            self._entries[key] = (self._clock() + ttl, body)
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)

    def clear(self) -> None:
        """Forget everything."""
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)


_MAGIC = b"metarr-response-v1"


class FileResponseCache:
    """One file per response under `root`: a header line with the expiry, then the body."""

    def __init__(self, root: Path, *, clock: Callable[[], float] = time.time) -> None:
        self.root = root
        self._clock = clock

    @classmethod
    def in_data_dir(cls, data_dir: Path) -> FileResponseCache:
        """The cache at its usual place, `<data_dir>/cache/providers`."""
        return cls(data_dir / "cache" / "providers")

    def _path(self, key: str) -> Path:
        return self.root / key[:2] / key

    def get(self, key: str) -> bytes | None:
        """The body stored under `key`, or None when missing, expired or unreadable."""
        path = self._path(key)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            log.warning("provider cache unreadable (%s): %s", path, exc)
            return None
        header, sep, body = data.partition(b"\n")
        parts = header.split(b" ")
        if not sep or len(parts) != 2 or parts[0] != _MAGIC:
            return None
        try:
            expires_at = float(parts[1])
        except ValueError:
            return None
        if self._clock() >= expires_at:
            path.unlink(missing_ok=True)
            return None
        return body

    def put(self, key: str, body: bytes, ttl: float) -> None:
        """Store `body` atomically (temp file + rename); errors are logged, never raised."""
        if ttl <= 0:
            return
        path = self._path(key)
        header = _MAGIC + b" " + repr(self._clock() + ttl).encode() + b"\n"
        tmp = path.with_name(f".{key}.{os.getpid()}.{threading.get_ident()}.tmp")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp.write_bytes(header + body)
            tmp.replace(path)
        except OSError as exc:
            log.warning("provider cache not writable (%s): %s", path, exc)
            tmp.unlink(missing_ok=True)

    def clear(self) -> None:
        """Forget everything."""
        for path in self.root.glob("*/*"):
            path.unlink(missing_ok=True)

    def purge_expired(self) -> int:
        """Delete expired entries; return how many (for a periodic housekeeping job)."""
        removed = 0
        for path in self.root.glob("*/*"):
            if path.name.startswith("."):
                continue
            if self.get(path.name) is None:
                path.unlink(missing_ok=True)
                removed += 1
        return removed
