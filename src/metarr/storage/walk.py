"""Recursive library walk with `os.scandir`: one stat per file, no symlink loops."""

from __future__ import annotations

import logging
import os
import stat
from collections.abc import Callable
from dataclasses import dataclass, field

from metarr.domain.discovery import FileEntry
from metarr.domain.ignore import IgnoreMatcher

log = logging.getLogger(__name__)


@dataclass(slots=True)
class WalkResult:
    """Every file found under a root, plus the problems met on the way."""

    entries: list[FileEntry] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    ignored: int = 0
    directories: int = 0


def walk_library(
    root: str,
    *,
    ignore: IgnoreMatcher,
    scope: str | None = None,
    on_directory: Callable[[int], None] | None = None,
) -> WalkResult:
    """List every file under `root` (or under `root/scope`) as paths relative to `root`.

    Symlinked directories are followed once: a directory already visited (same
    device and inode) is skipped, which breaks loops. Unreadable directories are
    reported in `errors`, never raised.
    """
    result = WalkResult()
    root = os.path.abspath(root)
    start_rel = (scope or "").strip("/")
    seen: set[tuple[int, int]] = set()
    stack: list[str] = [start_rel]
    while stack:
        rel_dir = stack.pop()
        abs_dir = os.path.join(root, rel_dir) if rel_dir else root
        try:
            dir_stat = os.stat(abs_dir)
        except OSError as exc:
            result.errors.append(f"{rel_dir or '.'}: {exc.strerror or exc}")
            continue
        ident = (dir_stat.st_dev, dir_stat.st_ino)
        if ident in seen:
            log.info("skipping directory already visited (symlink loop?): %s", rel_dir)
            continue
        seen.add(ident)
        result.directories += 1
        if on_directory is not None:
            on_directory(result.directories)
        try:
            with os.scandir(abs_dir) as it:
                children = list(it)
        except OSError as exc:
            result.errors.append(f"{rel_dir or '.'}: {exc.strerror or exc}")
            continue
        prefix = rel_dir + "/" if rel_dir else ""
        subdirs: list[str] = []
        for entry in children:
            name = entry.name
            rel = prefix + name
            if "\x00" in name or ignore.matches(name, rel):
                result.ignored += 1
                continue
            try:
                # is_dir() answers from the directory listing (d_type) for plain entries
                if entry.is_dir():
                    subdirs.append(rel)
                    continue
                st = entry.stat()  # follows symlinks: a link to a file counts as that file
            except OSError as exc:
                result.errors.append(f"{rel}: {exc.strerror or exc}")
                continue
            if stat.S_ISREG(st.st_mode):
                result.entries.append(FileEntry(rel, st.st_size, st.st_mtime_ns))
        # reversed so the stack pops in name order (deterministic walk)
        stack.extend(sorted(subdirs, reverse=True))
    return result
