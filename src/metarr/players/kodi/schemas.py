"""Typed views of the Kodi JSON-RPC answers we use, and Kodi's own path spellings."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

# Properties fetched for a movie: enough to verify a sync and purge its artwork.
MOVIE_PROPERTIES = ["title", "year", "plot", "uniqueid", "art", "file"]

# Kodi's CURL::Encode keeps these bytes; everything else becomes %xx (lower-case hex).
_KEEP = frozenset(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._!()~")


class KodiFeature(StrEnum):
    """JSON-RPC features that appeared over Kodi versions."""

    TEXTURES = "textures"  # Textures.GetTextures / RemoveTexture (API 6.9)
    SCAN_SHOWDIALOGS = "scan_showdialogs"  # VideoLibrary.Scan showdialogs (API 6.19)
    UNIQUEID = "uniqueid"  # movie property uniqueid (API 8, Kodi 17)


_FEATURE_SINCE: dict[KodiFeature, tuple[int, int, int]] = {
    KodiFeature.TEXTURES: (6, 9, 0),
    KodiFeature.SCAN_SHOWDIALOGS: (6, 19, 0),
    KodiFeature.UNIQUEID: (8, 0, 0),
}
MIN_API = (6, 0, 0)  # Kodi 12 Frodo


@dataclass(frozen=True, slots=True)
class KodiVersion:
    """JSON-RPC API version (JSONRPC.Version) and Kodi's own (Application.GetProperties)."""

    api: tuple[int, int, int]
    app: str | None = None
    name: str = "Kodi"

    @property
    def features(self) -> frozenset[KodiFeature]:
        """The features this API version offers."""
        return frozenset(f for f, since in _FEATURE_SINCE.items() if self.api >= since)

    @property
    def api_text(self) -> str:
        """`13.0.0`."""
        return ".".join(str(p) for p in self.api)


def parse_api_version(result: Any) -> tuple[int, int, int]:
    """`JSONRPC.Version`'s result: `{"version": {...}}` (6.25+) or the bare triple."""
    data = result.get("version", result) if isinstance(result, dict) else {}
    if not isinstance(data, dict):
        return (0, 0, 0)
    try:
        return int(data.get("major", 0)), int(data.get("minor", 0)), int(data.get("patch", 0))
    except (TypeError, ValueError):
        return (0, 0, 0)


def parse_app_version(result: Any) -> str | None:
    """`20.1 stable` from `Application.GetProperties` ["version"]."""
    version = result.get("version") if isinstance(result, dict) else None
    if not isinstance(version, dict):
        return None
    text = f"{version.get('major', '?')}.{version.get('minor', '?')}"
    tag = version.get("tag")
    return f"{text} {tag}" if isinstance(tag, str) and tag else text


@dataclass(frozen=True, slots=True)
class KodiMovie:
    """One movie as Kodi reports it (paths are Kodi's)."""

    movieid: int
    file: str
    title: str = ""
    year: int | None = None
    plot: str = ""
    uniqueid: dict[str, str] = field(default_factory=dict)
    art: dict[str, str] = field(default_factory=dict)

    @classmethod
    def parse(cls, data: dict[str, Any]) -> KodiMovie:
        """From one `VideoLibrary.GetMovies` entry."""
        year = data.get("year")
        uniqueid = data.get("uniqueid")
        art = data.get("art")
        return cls(
            movieid=int(data["movieid"]),
            file=str(data.get("file") or ""),
            title=str(data.get("title") or data.get("label") or ""),
            year=year if isinstance(year, int) and year > 0 else None,
            plot=str(data.get("plot") or ""),
            uniqueid={str(k): str(v) for k, v in uniqueid.items()}
            if isinstance(uniqueid, dict)
            else {},
            art={str(k): str(v) for k, v in art.items()} if isinstance(art, dict) else {},
        )

    @property
    def files(self) -> list[str]:
        """The video files: one, or the parts of a `stack://` file."""
        return stack_parts(self.file)


def stack_parts(file: str) -> list[str]:
    """`stack://a , b` -> [a, b] (`,,` in a name is an escaped comma); else [file]."""
    if not file.startswith("stack://"):
        return [file]
    body = file[len("stack://") :]
    parts = [p.replace(",,", ",") for p in body.split(" , ")]
    return [p for p in parts if p]


def kodi_url_encode(text: str) -> str:
    """Kodi's CURL::Encode: every byte but A-Za-z0-9-._!()~ as %xx (lower-case hex)."""
    return "".join(chr(b) if b in _KEEP else f"%{b:02x}" for b in text.encode("utf-8"))


def image_url(path: str) -> str:
    """How Kodi wraps a local art path: `image://<encoded path>/`."""
    return "image://" + kodi_url_encode(path) + "/"


def unwrap_image_url(url: str) -> str:
    """The inner path of `image://...` (as Kodi decodes it), else `url` unchanged."""
    if not url.startswith("image://"):
        return url
    inner = url[len("image://") :].removesuffix("/")
    if inner.startswith("video@"):
        inner = inner[len("video@") :]
    out = bytearray()
    i = 0
    data = inner.encode("utf-8")
    while i < len(data):
        if data[i] == 0x25 and _is_hex(data[i + 1 : i + 3]):  # %xx
            out.append(int(data[i + 1 : i + 3], 16))
            i += 3
        else:
            out.append(data[i])
            i += 1
    return out.decode("utf-8", errors="replace")


def _is_hex(chunk: bytes) -> bool:
    return len(chunk) == 2 and all(c in b"0123456789abcdefABCDEF" for c in chunk)
