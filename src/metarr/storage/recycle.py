"""The recycle bin: files Metarr replaces or removes in a library, kept restorable.

Layout: `root/<YYYY-MM-DD>/<token>/<original name>` plus `entry.json` beside it
holding the original path, the reason and the time, so the bin describes itself
even without the database. A file about to be replaced is linked into the bin
(copied across filesystems) and the new content then renamed over it, so the
library path is never empty; a file removed is moved (renamed, or copied and then
deleted across filesystems). Restoring puts the exact bytes back atomically, with
their modification time.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from metarr.domain.errors import InvalidInput, NotFound
from metarr.storage.atomic import ensure_dir, fsync_dir, sha256_file, temp_path

META_NAME = "entry.json"


@dataclass(frozen=True, slots=True)
class RecycledFile:
    """A file now in the bin."""

    stored: str  # relative to the bin's root: "<date>/<token>/<name>"
    original: str  # absolute path it came from
    reason: str
    recycled_at: datetime
    size: int
    sha256: str
    mtime_ns: int
    meta: dict[str, Any]

    def index_values(self, rel_path: str | None, **extra: Any) -> dict[str, Any]:
        """What the database's index of the bin keeps about this file."""
        return {
            "original_path": self.original,
            "rel_path": rel_path,
            "stored_path": self.stored,
            "reason": self.reason,
            "size": self.size,
            "sha256": self.sha256,
            "mtime_ns": self.mtime_ns,
            "recycled_at": self.recycled_at,
            **extra,
        }


class RecycleBin:
    """A folder of recycled files (normally `data/recycle/`)."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def path_of(self, stored: str) -> Path:
        """The file of an entry; refuses paths that leave the bin."""
        parts = Path(stored).parts
        if (
            len(parts) != 3
            or any(p in ("", ".", "..") for p in parts)
            or Path(stored).is_absolute()
        ):
            raise InvalidInput(f"not a recycle bin entry: {stored!r}", field="stored")
        return self.root / stored

    def _new_slot(self, now: datetime) -> Path:
        self.root.mkdir(parents=True, exist_ok=True)
        day = self.root / now.strftime("%Y-%m-%d")
        ensure_dir(day)
        slot = day / secrets.token_hex(8)
        slot.mkdir()
        return slot

    def put(
        self,
        path: Path,
        *,
        reason: str,
        keep_original: bool,
        meta: dict[str, Any] | None = None,
        now: datetime | None = None,
    ) -> RecycledFile:
        """Put a library file in the bin.

        `keep_original`: the file stays where it is (it is about to be replaced by
        a rename); otherwise it is moved out of the library.
        """
        now = now or datetime.now(UTC)
        st = os.stat(path)
        sha = sha256_file(path)
        slot = self._new_slot(now)
        target = slot / path.name
        record = {
            "original": str(path),
            "reason": reason,
            "recycled_at": now.isoformat(),
            "size": st.st_size,
            "sha256": sha,
            "mtime_ns": st.st_mtime_ns,
            **(meta or {}),
        }
        (slot / META_NAME).write_text(json.dumps(record, ensure_ascii=False), encoding="utf-8")
        if keep_original:
            try:
                os.link(path, target)
            except OSError:
                _copy(path, target)
        else:
            try:
                os.rename(path, target)
            except OSError:
                _copy(path, target)
                path.unlink()
            fsync_dir(path.parent)
        fsync_dir(slot)
        return RecycledFile(
            stored=f"{slot.parent.name}/{slot.name}/{path.name}",
            original=str(path),
            reason=reason,
            recycled_at=now,
            size=st.st_size,
            sha256=sha,
            mtime_ns=st.st_mtime_ns,
            meta=meta or {},
        )

    def restore(self, stored: str, destination: Path) -> int:
        """Put an entry's bytes back at `destination` (atomically); returns the size.

        The entry is removed from the bin afterwards. Its mtime comes back too.
        """
        source = self.path_of(stored)
        if not source.is_file():
            raise NotFound(f"recycle bin entry {stored} has no file any more")
        if not destination.parent.is_dir():
            destination.parent.mkdir(parents=True, exist_ok=True)
        tmp = temp_path(destination.parent)
        try:
            try:
                os.link(source, tmp)
            except OSError:
                shutil.copy2(source, tmp)
                with open(tmp, "rb+") as fh:
                    os.fsync(fh.fileno())
            size = os.stat(tmp).st_size
            os.replace(tmp, destination)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        fsync_dir(destination.parent)
        self.purge(stored)
        return size

    def purge(self, stored: str) -> None:
        """Delete an entry's file and its slot (nothing to do when already gone)."""
        source = self.path_of(stored)
        slot = source.parent
        with contextlib.suppress(FileNotFoundError):
            source.unlink()
        with contextlib.suppress(FileNotFoundError):
            (slot / META_NAME).unlink()
        with contextlib.suppress(OSError):
            slot.rmdir()
        with contextlib.suppress(OSError):
            slot.parent.rmdir()  # the day folder, once empty

    def entries(self) -> Iterator[RecycledFile]:
        """Every entry on disk, from its `entry.json` (for adopting entries a crash orphaned)."""
        if not self.root.is_dir():
            return
        for day in sorted(self.root.iterdir()):
            if not day.is_dir():
                continue
            for slot in sorted(day.iterdir()):
                meta_file = slot / META_NAME
                try:
                    record = json.loads(meta_file.read_text(encoding="utf-8"))
                    files = [p for p in slot.iterdir() if p.name != META_NAME]
                except (OSError, ValueError):
                    continue
                if len(files) != 1 or not isinstance(record, dict):
                    continue
                known = {"original", "reason", "recycled_at", "size", "sha256", "mtime_ns"}
                try:
                    yield RecycledFile(
                        stored=f"{day.name}/{slot.name}/{files[0].name}",
                        original=str(record["original"]),
                        reason=str(record["reason"]),
                        recycled_at=datetime.fromisoformat(str(record["recycled_at"])),
                        size=int(record["size"]),
                        sha256=str(record["sha256"]),
                        mtime_ns=int(record["mtime_ns"]),
                        meta={k: v for k, v in record.items() if k not in known},
                    )
                except (KeyError, TypeError, ValueError):
                    continue


def _copy(source: Path, target: Path) -> None:
    """Copy with metadata and make it durable (the bin may be on another filesystem)."""
    shutil.copy2(source, target)
    with open(target, "rb+") as fh:
        os.fsync(fh.fileno())
