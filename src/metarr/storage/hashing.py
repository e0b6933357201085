"""File hashing: a quick content fingerprint for move detection."""

from __future__ import annotations

import hashlib
import os

QUICK_CHUNK = 64 * 1024


def quick_hash(path: str) -> str | None:
    """Hash of size + first and last 64 KiB: cheap, and stable across renames.

    Returns None when the file cannot be read.
    """
    try:
        with open(path, "rb") as fh:
            size = os.fstat(fh.fileno()).st_size
            digest = hashlib.blake2b(str(size).encode(), digest_size=16)
            digest.update(fh.read(QUICK_CHUNK))
            if size > 2 * QUICK_CHUNK:
                fh.seek(-QUICK_CHUNK, os.SEEK_END)
                digest.update(fh.read(QUICK_CHUNK))
            return digest.hexdigest()
    except OSError:
        return None
