"""Ignore patterns: globs naming files and folders a scan must not look at."""

from __future__ import annotations

import re
from collections.abc import Iterable

# System junk, partial downloads, and Metarr's own temp files. Sample videos are not
# here: classification recognises them and keeps them with their movie.
DEFAULT_IGNORE_PATTERNS: tuple[str, ...] = (
    ".DS_Store",
    "Thumbs.db",
    "desktop.ini",
    "@eaDir",
    "*.part",
    "*.!ut",
    "*.crdownload",
    "*.tmp",
    "*.torrent",
    "*.nzb",
    "RARBG*",
    ".AppleDouble",
    "._*",
    "lost+found",
    "$RECYCLE.BIN",
    ".Trash-*",
    ".metarr-*",
)

MAX_PATTERN_LENGTH = 255


def validate_pattern(pattern: str) -> str:
    """The pattern, trimmed, or ValueError saying why it cannot be used."""
    trimmed = pattern.strip()
    if not trimmed:
        raise ValueError("ignore pattern is empty")
    if "\0" in trimmed:
        raise ValueError(f"ignore pattern {trimmed!r} contains a NUL byte")
    if len(trimmed) > MAX_PATTERN_LENGTH:
        raise ValueError(f"ignore pattern is longer than {MAX_PATTERN_LENGTH} characters")
    if trimmed.startswith(("/", "\\")) or re.match(r"[A-Za-z]:[\\/]", trimmed):
        raise ValueError(
            f"ignore pattern {trimmed!r} is absolute; patterns are relative to the library root"
        )
    if not trimmed.rstrip("/"):
        raise ValueError(f"ignore pattern {trimmed!r} names no file or folder")
    return trimmed


def _glob_to_regex(glob: str, *, cross_slash: bool) -> str:
    """Regex source for a glob; `*`/`?` match "/" only when `cross_slash` (fnmatch style)."""
    any_char = "." if cross_slash else "[^/]"
    out: list[str] = []
    i, n = 0, len(glob)
    while i < n:
        c = glob[i]
        i += 1
        if c == "*":
            while i < n and glob[i] == "*":
                i += 1
            out.append(any_char + "*")
        elif c == "?":
            out.append(any_char)
        elif c == "[":
            j = i
            if j < n and glob[j] == "!":
                j += 1
            if j < n and glob[j] == "]":
                j += 1
            while j < n and glob[j] != "]":
                j += 1
            if j >= n:
                out.append(re.escape(c))  # unclosed: a literal "[" as fnmatch treats it
                continue
            body = glob[i:j].replace("\\", "\\\\")
            i = j + 1
            if body.startswith("!"):
                # A negated class must not match the separator either.
                body = "^" + ("/" if not cross_slash else "") + body[1:]
            elif body.startswith("^"):
                body = "\\" + body
            out.append(f"[{body}]")
        else:
            out.append(re.escape(c))
    return "".join(out)


class IgnoreMatcher:
    """Decides whether a file or folder is ignored; all patterns are compiled into one regex."""

    __slots__ = ("_regex", "patterns")

    def __init__(self, patterns: Iterable[str]) -> None:
        """Validate and compile `patterns` (raises ValueError on an invalid one)."""
        self.patterns: tuple[str, ...] = tuple(validate_pattern(p) for p in patterns)
        name_parts: list[str] = []
        path_parts: list[str] = []
        for pattern in self.patterns:
            # A trailing "/" only says "a folder"; matching a folder ignores all below it.
            glob = pattern.rstrip("/")
            if "/" in glob:
                path_parts.append(_glob_to_regex(glob.removeprefix("./"), cross_slash=True))
            else:
                name_parts.append(_glob_to_regex(glob, cross_slash=False))
        alternatives: list[str] = []
        if name_parts:
            # Any component of the path: anchored at "/" boundaries.
            alternatives.append(f"(?:^|/)(?:{'|'.join(name_parts)})(?:/|$)")
        if path_parts:
            # The path itself or any folder above it.
            alternatives.append(f"^(?:{'|'.join(path_parts)})(?:/|$)")
        self._regex: re.Pattern[str] | None = (
            re.compile("|".join(alternatives), re.IGNORECASE | re.DOTALL) if alternatives else None
        )

    @classmethod
    def with_defaults(cls, extra: Iterable[str] = ()) -> IgnoreMatcher:
        """A matcher for the default patterns plus `extra` (user patterns)."""
        return cls((*DEFAULT_IGNORE_PATTERNS, *extra))

    def matches(self, name: str, rel_path: str) -> bool:
        """True when the entry `name` at `rel_path` (POSIX, relative to the root) is ignored."""
        regex = self._regex
        if regex is None:
            return False
        if regex.search(rel_path) is not None:
            return True
        # Callers normally pass name == last component of rel_path; check it anyway when
        # it is not, so a bare name is enough to test a name pattern.
        if rel_path != name and not rel_path.endswith("/" + name):
            return regex.search(name) is not None
        return False
