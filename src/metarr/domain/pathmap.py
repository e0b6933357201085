"""Path mapping between two views of the same files (a downloader's, Metarr's, a player's).

Paths are compared as whole components after normalisation, so `/data/movies`
never matches `/data/movies-4k`. Four spellings are understood:

* POSIX: `/srv/movies/Heat (1995)`;
* Windows drive: `D:\\Movies\\Heat (1995)` or `D:/Movies/...` (no case);
* UNC share: `\\\\nas\\media\\Movies` (no case);
* URL: `smb://nas/movies/...`, `nfs://nas/export/...` (scheme and host without case;
  SMB paths without case too).

A rule maps one prefix to another; the longest matching prefix wins, and the
result is written in the target's own style (backslashes for Windows, the URL's
scheme and host...). The same rules map back with `reverse=True`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Generic, Protocol, TypeVar


class PathStyle(StrEnum):
    """How a path is spelled."""

    POSIX = "posix"
    WINDOWS = "windows"  # drive letter
    UNC = "unc"  # \\server\share
    URL = "url"  # scheme://host/...


_DRIVE_RE = re.compile(r"^[A-Za-z]:(?:[\\/]|$)")
_URL_RE = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://([^/\\]*)(.*)$", re.DOTALL)
# URL schemes whose paths compare without case (SMB shares are case-insensitive)
_CASELESS_SCHEMES = frozenset({"smb", "cifs"})


def is_url_path(path: str) -> bool:
    """True for `scheme://...` paths (smb, nfs...)."""
    return bool(_URL_RE.match(path))


def is_windows_path(path: str) -> bool:
    """True for `C:\\...`, `C:/...` and UNC `\\\\server\\share` paths."""
    return bool(_DRIVE_RE.match(path)) or path.startswith("\\\\")


def path_style(path: str) -> PathStyle:
    """The style of `path`."""
    if is_url_path(path):
        return PathStyle.URL
    if path.startswith("\\\\"):
        return PathStyle.UNC
    if _DRIVE_RE.match(path):
        return PathStyle.WINDOWS
    return PathStyle.POSIX


def is_absolute_path(path: str) -> bool:
    """True for an absolute POSIX or Windows path, or a URL with a host."""
    return path.startswith("/") or is_windows_path(path) or is_url_path(path)


@dataclass(frozen=True, slots=True)
class SplitPath:
    """A path as anchor + components (`.` and `..` resolved, no empty parts)."""

    style: PathStyle
    anchor: str  # "/", "" (relative), "C:", "//server" or "smb://host"
    parts: tuple[str, ...]

    @property
    def caseless(self) -> bool:
        """Whether components compare without case."""
        if self.style is PathStyle.URL:
            return self.anchor.split(":", 1)[0] in _CASELESS_SCHEMES
        return self.style in (PathStyle.WINDOWS, PathStyle.UNC)

    def key(self) -> tuple[str, str, tuple[str, ...]]:
        """Comparable form (style, anchor, parts), folded where case does not matter."""
        anchor = self.anchor
        if self.style is PathStyle.URL:
            scheme, _, host = anchor.partition("://")
            anchor = scheme + "://" + host.rpartition("@")[2].casefold()  # user info ignored
        elif self.style is not PathStyle.POSIX:
            anchor = anchor.casefold()
        parts = tuple(p.casefold() for p in self.parts) if self.caseless else self.parts
        return self.style.value, anchor, parts

    @property
    def separator(self) -> str:
        """The separator the style writes natively."""
        return "\\" if self.style in (PathStyle.WINDOWS, PathStyle.UNC) else "/"

    def join(self, *, native: bool = True) -> str:
        """The path as text; `native=False` writes Windows paths with forward slashes."""
        sep = self.separator if native else "/"
        if self.style is PathStyle.POSIX:
            return self.anchor + "/".join(self.parts)
        if self.style is PathStyle.URL:
            return self.anchor + "/" + "/".join(self.parts)
        if self.style is PathStyle.UNC:
            head = self.anchor.replace("/", sep)
            return sep.join((head, *self.parts))
        return self.anchor + sep + sep.join(self.parts)

    def with_parts(self, parts: Iterable[str]) -> SplitPath:
        """The same anchor with other components."""
        return SplitPath(self.style, self.anchor, tuple(parts))


def split_path(path: str) -> SplitPath:
    """Parse `path` (any style) into a SplitPath."""
    style = path_style(path)
    if style is PathStyle.URL:
        match = _URL_RE.match(path)
        assert match is not None
        scheme, host, rest = match.groups()
        anchor, rest = f"{scheme.lower()}://{host}", rest
    elif style is PathStyle.UNC:
        anchor, rest = "//", path.replace("\\", "/")[2:]
    elif style is PathStyle.WINDOWS:
        anchor, rest = path[:2].upper(), path[2:].replace("\\", "/")
    elif path.startswith("/"):
        anchor, rest = "/", path
    else:
        anchor, rest = "", path
    parts: list[str] = []
    for part in rest.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if parts:
                parts.pop()
            continue
        parts.append(part)
    if style is PathStyle.UNC and parts:  # the server belongs to the anchor
        anchor, parts = "//" + parts[0], parts[1:]
    return SplitPath(style, anchor, tuple(parts))


def normalize_path(path: str, *, native: bool = True) -> str:
    """One spelling per folder: no trailing separator, `.`/`..` resolved.

    `native=False` writes Windows and UNC paths with forward slashes.
    """
    return split_path(path.strip()).join(native=native)


def as_directory(path: str) -> str:
    """`path` normalised with one trailing separator of its style (what Kodi wants)."""
    split = split_path(path.strip())
    text = split.join()
    return text if text.endswith(split.separator) else text + split.separator


def parent_path(path: str) -> str:
    """The folder holding `path` (itself when it is a root)."""
    split = split_path(path.strip())
    return split.with_parts(split.parts[:-1]).join()


def basename(path: str) -> str:
    """The last component of `path` ("" for a root)."""
    parts = split_path(path.strip()).parts
    return parts[-1] if parts else ""


def prefix_length(prefix: SplitPath, path: SplitPath) -> int | None:
    """Components of `prefix` when it is a whole-component prefix of `path`, else None."""
    p_style, p_anchor, p_parts = prefix.key()
    style, anchor, parts = path.key()
    if p_style != style or p_anchor != anchor or len(p_parts) > len(parts):
        return None
    return len(p_parts) if parts[: len(p_parts)] == p_parts else None


def relative_to(path: str, root: str) -> str | None:
    """`path` relative to `root` (whole components, `/`-joined; "" when equal), else None."""
    target, base = split_path(path.strip()), split_path(root.strip())
    length = prefix_length(base, target)
    if length is None:
        return None
    return "/".join(target.parts[length:])


def is_within(path: str, root: str) -> bool:
    """Whether `path` is `root` or below it (whole components)."""
    return relative_to(path, root) is not None


class Rule(Protocol):
    """Anything with a `from_path` and a `to_path` (DB rows, config models, PathRule)."""

    @property
    def from_path(self) -> str: ...

    @property
    def to_path(self) -> str: ...


R = TypeVar("R", bound=Rule)


@dataclass(frozen=True, slots=True)
class PathRule:
    """A plain mapping rule: paths under `from_path` live under `to_path` on the other side."""

    from_path: str
    to_path: str


@dataclass(frozen=True, slots=True)
class MappedPath(Generic[R]):
    """The result of mapping: the path on the other side and the rule used (None: as is)."""

    path: str
    rule: R | None

    @property
    def mapped(self) -> bool:
        """Whether a rule applied."""
        return self.rule is not None


def best_rule(path: str, rules: Iterable[R], *, reverse: bool = False) -> tuple[R, int] | None:
    """The rule with the longest whole-component prefix of `path`, with that length."""
    target = split_path(path.strip())
    best: tuple[R, int] | None = None
    for rule in rules:
        prefix = rule.to_path if reverse else rule.from_path
        length = prefix_length(split_path(prefix.strip()), target)
        if length is not None and (best is None or length > best[1]):
            best = (rule, length)
    return best


def map_path(path: str, rules: Iterable[R], *, reverse: bool = False) -> MappedPath[R]:
    """Map `path` with the rule whose source prefix is longest (whole components).

    Forward maps `from_path -> to_path`, `reverse=True` maps `to_path -> from_path`.
    The result is written in the target prefix's style (a Windows target gets
    backslashes, an `smb://` target keeps its scheme and host). Without a matching
    rule the path comes back normalised, in its own style.
    """
    found = best_rule(path, rules, reverse=reverse)
    target = split_path(path.strip())
    if found is None:
        return MappedPath(target.join(), None)
    rule, length = found
    destination = split_path((rule.from_path if reverse else rule.to_path).strip())
    mapped = destination.with_parts((*destination.parts, *target.parts[length:]))
    return MappedPath(mapped.join(), rule)


@dataclass(frozen=True, slots=True)
class PathMapper:
    """A fixed set of rules between "ours" (`from_path`) and "theirs" (`to_path`)."""

    rules: tuple[PathRule, ...] = ()

    def to_remote(self, path: str) -> MappedPath[PathRule]:
        """Our path as the other side sees it."""
        return map_path(path, self.rules)

    def to_local(self, path: str) -> MappedPath[PathRule]:
        """The other side's path as we see it."""
        return map_path(path, self.rules, reverse=True)
