"""Builds sample movie libraries of tiny real media files for tests and benchmarks."""

from __future__ import annotations

import io
import logging
import os
import random
import re
import shutil
import struct
import subprocess
import tempfile
import threading
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from hashlib import sha1
from pathlib import Path
from typing import Literal
from xml.sax.saxutils import escape

logger = logging.getLogger(__name__)

VideoKind = Literal["mkv", "mp4", "hdr10", "hlg", "dv", "avi", "m2ts", "vob"]
Layout = Literal["folder", "loose"]
ArtworkStyle = Literal["kodi", "short", "jellyfin"]
PartStyle = Literal["cd", "part", "disc", "folder"]
DiscKind = Literal["bluray", "dvd"]

VIDEO_KINDS: tuple[VideoKind, ...] = ("mkv", "mp4", "hdr10", "hlg", "dv", "avi", "m2ts", "vob")
_SUFFIX: dict[str, str] = {
    "mkv": ".mkv", "mp4": ".mp4", "hdr10": ".mkv", "hlg": ".mkv", "dv": ".mp4", "avi": ".avi",
    "m2ts": ".m2ts", "vob": ".vob", "mp3": ".mp3",
}  # fmt: skip
# Bump when a recipe changes meaning, so cached templates are rebuilt.
_RECIPE_VERSION = 1
_FFMPEG_TIMEOUT = 120.0

# Artwork: (width, height, format) per type, small but with the real aspect ratio.
_IMAGE_SPECS: dict[str, tuple[int, int, str]] = {
    "poster": (40, 60, "JPEG"), "fanart": (64, 36, "JPEG"), "landscape": (64, 36, "JPEG"),
    "banner": (100, 18, "JPEG"), "keyart": (40, 60, "JPEG"), "clearlogo": (80, 31, "PNG"),
    "clearart": (100, 56, "PNG"), "discart": (50, 50, "PNG"), "characterart": (50, 70, "PNG"),
    "actor": (30, 45, "JPEG"),
}  # fmt: skip
_SHORT_NAMES: dict[str, str] = {t: t for t in _IMAGE_SPECS}
_JELLYFIN_NAMES: dict[str, str] = {
    **_SHORT_NAMES,
    "poster": "folder",
    "fanart": "backdrop",
    "clearlogo": "logo",
    "discart": "disc",
    "landscape": "thumb",
}
_UNSAFE = re.compile(r'[<>:"/\\|?*\x00-\x1f]')
_WORDS_A = (
    "Silent", "Crimson", "Hidden", "Last", "Broken", "Golden", "Distant", "Electric", "Frozen",
    "Burning", "Midnight", "Lonely", "Savage", "Quiet", "Endless", "Wandering", "Velvet", "Iron",
)  # fmt: skip
_WORDS_B = (
    "Harbor", "Empire", "Garden", "Signal", "Horizon", "Witness", "Kingdom", "Machine", "Voyage",
    "River", "Summer", "Shadow", "Island", "Protocol", "Frontier", "Letter", "Mirror", "Station",
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class BuiltMovie:
    """What `LibraryBuilder.movie` wrote for one movie."""

    title: str
    year: int | None
    folder: Path
    videos: tuple[Path, ...]  # main video(s) in part order; for discs the stream file
    nfos: tuple[Path, ...]
    files: tuple[Path, ...]  # every file written, in writing order
    tmdb: int | None = None
    imdb: str | None = None

    @property
    def video(self) -> Path:
        """The (first) main video file."""
        return self.videos[0]


class LibraryBuilder:
    """Writes movies into `root`, copying cached tiny ffmpeg-made templates.

    Each written file is unique (a per-file token goes into a container padding
    element or an image comment), so no two files share a hash.
    """

    _lock = threading.Lock()
    _bytes_cache: dict[tuple[Path, str], bytes] = {}

    def __init__(self, root: Path, templates_dir: Path | None = None) -> None:
        self.root = Path(root)
        self.templates_dir = Path(templates_dir) if templates_dir else default_templates_dir()
        self.movies: list[BuiltMovie] = []
        self._serial = 0

    # -- templates -------------------------------------------------------------

    def video_template(self, kind: VideoKind | Literal["mp3"] = "mkv") -> Path:
        """The cached template file of `kind`, made with ffmpeg on first use."""
        args = _recipe(kind, self.templates_dir)
        digest = sha1(repr((_RECIPE_VERSION, args)).encode(), usedforsecurity=False)
        path = self.templates_dir / f"{kind}-{digest.hexdigest()[:10]}{_SUFFIX[kind]}"
        with self._lock:
            if not path.is_file():
                self.templates_dir.mkdir(parents=True, exist_ok=True)
                _run_ffmpeg(args, path, _add_dovi_config if kind == "dv" else None)
        return path

    def template_bytes(self, kind: VideoKind | Literal["mp3"] = "mkv") -> bytes:
        """The bytes of a template, read once per process."""
        key = (self.templates_dir, kind)
        data = self._bytes_cache.get(key)
        if data is None:
            data = self._bytes_cache[key] = self.video_template(kind).read_bytes()
        return data

    # -- single files ----------------------------------------------------------

    def video(self, path: Path | str, kind: VideoKind = "mkv", *, token: str | None = None) -> Path:
        """Write a unique copy of the `kind` template at `path` (relative to root)."""
        target = self._abs(path)
        unique = (token or self._token(target)).encode()
        return _write(target, uniquify(kind, self.template_bytes(kind), unique))

    def image(self, path: Path | str, art_type: str = "poster") -> Path:
        """Write a small unique image for `art_type` (poster, fanart2, clearlogo...)."""
        target = self._abs(path)
        base = _art_base(art_type)
        data, token = _image_bytes(base), self._token(target).encode()
        tagged = _tag_png(data, token) if _IMAGE_SPECS[base][2] == "PNG" else _tag_jpeg(data, token)
        return _write(target, tagged)

    def garbage_video(self, path: Path | str, size: int = 4096) -> Path:
        """Write random bytes under a video name: no prober can read it."""
        target = self._abs(path)
        rng = random.Random(str(target))
        return _write(target, b"\x00garbage" + rng.randbytes(max(size - 8, 0)))

    def empty_video(self, path: Path | str) -> Path:
        """Write a zero-byte video file."""
        return _write(self._abs(path), b"")

    def truncated_video(self, path: Path | str, kind: VideoKind = "mkv", keep: int = 200) -> Path:
        """Write only the first `keep` bytes of a template (a cut-off download)."""
        return _write(self._abs(path), self.template_bytes(kind)[:keep])

    # -- movies ----------------------------------------------------------------

    def movie(
        self,
        title: str,
        year: int | None = None,
        *,
        layout: Layout = "folder",
        kind: VideoKind = "mkv",
        nfo: bool | str = True,
        nfo_name: Literal["basename", "movie"] = "basename",
        tmdb: int | None = None,
        imdb: str | None = None,
        artwork: Sequence[str] = ("poster", "fanart"),
        artwork_style: ArtworkStyle = "kodi",
        subtitles: Sequence[str | tuple[str, bool]] = (),
        trailer: bool = False,
        extras: Sequence[str] = (),
        sample: bool = False,
        parts: int = 1,
        part_style: PartStyle = "cd",
        disc: DiscKind | None = None,
        actors: Sequence[str | tuple[str, str]] = (),
        theme: bool = False,
        folder_tag: str | None = None,
        unknown_files: Sequence[str] = (),
        subdir: str | Path = "",
        plot: str | None = None,
        genres: Sequence[str] = ("Drama",),
    ) -> Path:
        """Write one movie and return its folder (for `loose`, the shared folder).

        `nfo`: True (a full Kodi NFO), False, "url" (URL-only NFO), "conflict"
        (`<base>.nfo` and `movie.nfo` disagreeing on the tmdb id), "broken"
        (malformed XML), or any other string, written as the NFO text. Ids go
        into NFOs only when given. `subtitles`: "en", "fr.forced.sdh" or
        ("fr", forced). `extras`: paths under the movie folder
        ("trailers/Teaser"). `folder_tag` ("{tmdb-603}") goes on the folder, or
        on the file name for `loose`. Disc layouts take the stream files of
        `m2ts`/`vob` and folder-level artwork names. Each movie is also
        recorded in `self.movies`.
        """
        base = _safe(f"{title} ({year})" if year else title)
        if layout == "loose":
            if extras or theme or actors or disc or part_style == "folder":
                raise ValueError("extras, theme, actors, discs and folder stacks need a folder")
            if artwork_style != "kodi" or nfo_name != "basename":
                raise ValueError("loose movies only take <base>-named artwork and NFO")
            folder = self._abs(subdir)
            base = _safe(f"{base} {folder_tag}") if folder_tag else base
        else:
            folder = self._abs(Path(subdir) / _safe(f"{base} {folder_tag}" if folder_tag else base))
        folder.mkdir(parents=True, exist_ok=True)

        files: list[Path] = []
        if disc is not None:
            videos = self._disc(folder, disc, files)
            nfo_base = folder / ("BDMV/index" if disc == "bluray" else "VIDEO_TS/VIDEO_TS")
        else:
            names = _part_names(base, parts, part_style, kind)
            videos = [self.video(folder / name, kind) for name in names]
            files += videos
            nfo_base = folder / base
        actor_list = [(a, "") if isinstance(a, str) else a for a in actors]
        nfos: list[Path] = []
        if nfo is not False:
            nfo_path = folder / "movie.nfo" if nfo_name == "movie" else nfo_base.with_suffix(".nfo")
            info = _MovieInfo(title, year, tmdb, imdb, plot, tuple(genres), tuple(actor_list))
            other = folder / ("movie.nfo" if nfo_path.name != "movie.nfo" else f"{base}.nfo")
            nfos = self._nfo(nfo_path, nfo, info, other)
            files += nfos
        # Stacks and discs share one set of artwork named after the movie.
        prefix = f"{base}-" if disc is None and artwork_style == "kodi" else ""
        files += self._artwork(folder, prefix, artwork, artwork_style)
        for sub in subtitles:
            tag = sub if isinstance(sub, str) else (f"{sub[0]}.forced" if sub[1] else sub[0])
            files.append(_write(folder / f"{base}.{tag}.srt", _srt(title, tag)))
        if trailer:
            files.append(self.video(folder / f"{base}-trailer{_SUFFIX[kind]}", kind))
        if sample:
            files.append(self.video(folder / f"{base}-sample{_SUFFIX[kind]}", kind))
        for extra in extras:
            rel = Path(extra)
            files.append(self.video(folder / (rel if rel.suffix else rel.with_suffix(".mkv"))))
        for name, _ in actor_list:
            files.append(self.image(folder / ".actors" / f"{name.replace(' ', '_')}.jpg", "actor"))
        if theme:
            path = folder / "theme.mp3"
            files.append(_write(path, _tag_mp3(self.template_bytes("mp3"), self._token(path))))
        for unknown in unknown_files:
            files.append(_write(folder / unknown, f"{unknown} of {base}\n".encode()))

        built = BuiltMovie(
            title, year, folder, tuple(videos), tuple(nfos), tuple(files), tmdb, imdb
        )
        self.movies.append(built)
        return folder

    def bulk(
        self,
        n: int,
        *,
        nfo_ratio: float = 0.9,
        subs_every: int = 0,
        trailer_every: int = 0,
        seed: int = 0,
        artwork: Sequence[str] = ("poster", "fanart"),
        kind: VideoKind = "mkv",
        subdir: str | Path = "",
    ) -> list[Path]:
        """Write `n` movies fast (template copies, no subprocess per movie).

        Every movie gets a distinct title, a tmdb id (100000 + i) and an imdb id;
        exactly round(n * nfo_ratio) of them get an NFO carrying those ids;
        every `subs_every`-th an English subtitle, every `trailer_every`-th a trailer.
        """
        rng = random.Random(seed)
        with_nfo = set(rng.sample(range(n), round(n * nfo_ratio)))
        folders: list[Path] = []
        seen: set[tuple[str, int]] = set()
        for i in range(n):
            title = f"{rng.choice(_WORDS_A)} {rng.choice(_WORDS_B)}"
            year = rng.randint(1950, 2024)
            if (title, year) in seen:
                title = f"{title} {i}"
            seen.add((title, year))
            folder = self.movie(
                title,
                year,
                kind=kind,
                nfo=i in with_nfo,
                tmdb=100_000 + i,
                imdb=f"tt{9_000_000 + i:07d}",
                artwork=artwork,
                subtitles=("en",) if subs_every and i % subs_every == 0 else (),
                trailer=bool(trailer_every) and i % trailer_every == 0,
                subdir=subdir,
            )
            folders.append(folder)
        return folders

    # -- internals -------------------------------------------------------------

    def _nfo(self, path: Path, mode: bool | str, info: _MovieInfo, other: Path) -> list[Path]:
        """Write the NFO(s) of one movie; `other` is the second one of a conflict."""
        if mode is True:
            return [_write(path, info.nfo().encode())]
        if mode == "url":
            return [_write(path, _url_nfo(info.tmdb, info.imdb, info.title).encode())]
        if mode == "broken":
            broken = f"<movie>\n  <title>{escape(info.title)}</title>\n  <year>{info.year}</ye"
            return [_write(path, broken.encode())]
        if mode == "conflict":
            tmdb = info.tmdb if info.tmdb is not None else _fake_tmdb(info.title)
            first = replace(info, tmdb=tmdb).nfo()
            second = replace(info, tmdb=tmdb + 1, imdb=None).nfo()
            return [_write(path, first.encode()), _write(other, second.encode())]
        return [_write(path, str(mode).encode())]

    def _artwork(
        self, folder: Path, prefix: str, artwork: Sequence[str], style: ArtworkStyle
    ) -> list[Path]:
        """Write the artwork files named in `style`."""
        names = _JELLYFIN_NAMES if style == "jellyfin" else _SHORT_NAMES
        written = []
        for art in artwork:
            art_type = _art_base(art)
            ext = ".png" if _IMAGE_SPECS[art_type][2] == "PNG" else ".jpg"
            name = names[art_type] + art[len(art_type) :]  # keeps fanart2's index
            written.append(self.image(folder / f"{prefix}{name}{ext}", art))
        return written

    def _disc(self, folder: Path, disc: DiscKind, files: list[Path]) -> list[Path]:
        """Write a Blu-ray or DVD folder structure; return its stream file."""
        if disc == "bluray":
            stream = self.video(folder / "BDMV/STREAM/00000.m2ts", "m2ts")
            files += [
                _write(folder / "BDMV/index.bdmv", b"INDX0200" + bytes(32)),
                _write(folder / "BDMV/MovieObject.bdmv", b"MOBJ0200" + bytes(32)),
                _write(folder / "BDMV/PLAYLIST/00000.mpls", b"MPLS0200" + bytes(32)),
                _write(folder / "BDMV/CLIPINF/00000.clpi", b"HDMV0200" + bytes(32)),
                stream,
            ]
            (folder / "CERTIFICATE").mkdir(exist_ok=True)
        else:
            stream = self.video(folder / "VIDEO_TS/VTS_01_1.VOB", "vob")
            vmg = b"DVDVIDEO-VMG" + bytes(500)
            files += [
                _write(folder / "VIDEO_TS/VIDEO_TS.IFO", vmg),
                _write(folder / "VIDEO_TS/VIDEO_TS.BUP", vmg),
                _write(folder / "VIDEO_TS/VTS_01_0.IFO", b"DVDVIDEO-VTS" + bytes(500)),
                stream,
            ]
        return [stream]

    def _abs(self, path: Path | str) -> Path:
        """`path` made absolute under the library root."""
        p = Path(path)
        return p if p.is_absolute() else self.root / p

    def _token(self, path: Path) -> str:
        """A token unique to this file within the builder."""
        self._serial += 1
        return f"metarr-sample:{self._serial}:{path}"


@dataclass(frozen=True, slots=True)
class _MovieInfo:
    """What goes into a generated NFO."""

    title: str
    year: int | None
    tmdb: int | None
    imdb: str | None
    plot: str | None
    genres: tuple[str, ...]
    actors: tuple[tuple[str, str], ...]

    def nfo(self) -> str:
        """This movie as a Kodi NFO."""
        return movie_nfo(
            self.title,
            self.year,
            tmdb=self.tmdb,
            imdb=self.imdb,
            plot=self.plot,
            genres=self.genres,
            actors=self.actors,
        )


def default_templates_dir() -> Path:
    """Per-user cache folder for templates, shared by test sessions and benchmarks."""
    uid = os.getuid() if hasattr(os, "getuid") else 0
    return Path(tempfile.gettempdir()) / f"metarr-media-templates-{uid}"


def movie_nfo(
    title: str,
    year: int | None,
    *,
    tmdb: int | None = None,
    imdb: str | None = None,
    plot: str | None = None,
    genres: Sequence[str] = ("Drama",),
    actors: Sequence[tuple[str, str]] = (),
) -> str:
    """A minimal Kodi `<movie>` NFO; ids are included only when given."""
    lines = ['<?xml version="1.0" encoding="UTF-8" standalone="yes" ?>', "<movie>"]
    lines.append(f"  <title>{escape(title)}</title>")
    if year:
        lines.append(f"  <year>{year}</year>")
    lines.append(f"  <plot>{escape(plot or f'A sample film called {title}.')}</plot>")
    if tmdb is not None:
        lines.append(f'  <uniqueid type="tmdb" default="true">{tmdb}</uniqueid>')
    if imdb is not None:
        default = "" if tmdb is not None else ' default="true"'
        lines.append(f'  <uniqueid type="imdb"{default}>{escape(imdb)}</uniqueid>')
    lines += [f"  <genre>{escape(g)}</genre>" for g in genres]
    for order, (name, role) in enumerate(actors or [("Sam Placeholder", "Narrator")]):
        lines.append(
            f"  <actor><name>{escape(name)}</name><role>{escape(role)}</role>"
            f"<order>{order}</order></actor>"
        )
    lines.append("</movie>")
    return "\n".join(lines) + "\n"


def uniquify(kind: str, data: bytes, token: bytes) -> bytes:
    """`data` of a `kind` template with `token` added where every reader skips it."""
    if kind in ("mkv", "hdr10", "hlg"):
        return _mkv_void(data, token)
    if kind in ("mp4", "dv"):
        return data + struct.pack(">I", 8 + len(token)) + b"free" + token
    if kind == "avi":
        chunk = b"JUNK" + struct.pack("<I", len(token)) + token + b"\x00" * (len(token) % 2)
        riff_size = struct.unpack_from("<I", data, 4)[0] + len(chunk)
        return data[:4] + struct.pack("<I", riff_size) + data[8:] + chunk
    if kind == "m2ts":
        # Null packets (PID 0x1FFF) that demuxers drop, 4-byte BDAV header each.
        out = bytearray(data)
        for start in range(0, len(token), 184):
            payload = token[start : start + 184].ljust(184, b"\xff")
            out += b"\x00\x00\x00\x00\x47\x1f\xff\x10" + payload
        return bytes(out)
    if kind == "vob":
        # An MPEG-PS padding packet before the program end code.
        end = b"\x00\x00\x01\xb9"
        body, tail = (data[:-4], end) if data.endswith(end) else (data, b"")
        return body + b"\x00\x00\x01\xbe" + struct.pack(">H", len(token)) + token + tail
    raise ValueError(f"unknown template kind {kind!r}")


def _mkv_void(data: bytes, token: bytes) -> bytes:
    """Append an EBML Void element inside the Matroska Segment."""
    void = b"\xec" + b"\x01" + len(token).to_bytes(7, "big") + token
    _, header_size, pos = _ebml_element(data, 0)  # EBML header
    seg_id, seg_size, seg_data = _ebml_element(data, pos + header_size)
    width = seg_data - (pos + header_size) - 4
    unknown = seg_size == (1 << (7 * width)) - 1
    if seg_id != 0x18538067 or unknown or seg_data + seg_size != len(data):
        return data + void  # no known-size segment reaching EOF: a level-0 Void is still valid
    new_size = seg_size + len(void)
    if new_size >= (1 << (7 * width)) - 1:
        return data + void
    marker = 1 << (8 * width - width)
    size_field = (marker | new_size).to_bytes(width, "big")
    start = pos + header_size + 4
    return data[:start] + size_field + data[seg_data:] + void


def _ebml_element(data: bytes, pos: int) -> tuple[int, int, int]:
    """(id, size, data offset) of the EBML element at `pos` (4-byte ids only)."""
    element_id = int.from_bytes(data[pos : pos + 4], "big")
    first = data[pos + 4]
    width = 1
    while width <= 8 and not first & (0x80 >> (width - 1)):
        width += 1
    raw = int.from_bytes(data[pos + 4 : pos + 4 + width], "big")
    size = raw & ((1 << (7 * width)) - 1)
    return element_id, size, pos + 4 + width


def _tag_jpeg(data: bytes, token: bytes) -> bytes:
    """Insert a COM segment with `token` after the JPEG SOI and JFIF markers."""
    at = 2
    if data[2:4] == b"\xff\xe0":  # JFIF wants its APP0 segment first
        at = 4 + struct.unpack_from(">H", data, 4)[0]
    return data[:at] + b"\xff\xfe" + struct.pack(">H", len(token) + 2) + token + data[at:]


def _tag_png(data: bytes, token: bytes) -> bytes:
    """Insert a tEXt chunk with `token` before the PNG IEND chunk."""
    body = b"Comment\x00" + token
    chunk = struct.pack(">I", len(body)) + b"tEXt" + body
    chunk += struct.pack(">I", zlib.crc32(b"tEXt" + body) & 0xFFFFFFFF)
    return data[:-12] + chunk + data[-12:]


def _tag_mp3(data: bytes, token: str) -> bytes:
    """Prepend an ID3v2.3 tag with a TXXX frame holding `token`."""
    value = b"\x00metarr\x00" + token.encode("latin-1", "replace")
    frame = b"TXXX" + struct.pack(">I", len(value)) + b"\x00\x00" + value
    size = len(frame)
    syncsafe = bytes((size >> shift) & 0x7F for shift in (21, 14, 7, 0))
    return b"ID3\x03\x00\x00" + syncsafe + frame + data


_image_cache: dict[str, bytes] = {}


def _image_bytes(art_type: str) -> bytes:
    """A small image for `art_type`, drawn once per process."""
    data = _image_cache.get(art_type)
    if data is None:
        from PIL import Image  # imported lazily: only builders need Pillow

        width, height, fmt = _IMAGE_SPECS[art_type]
        colour = tuple(zlib.crc32(art_type.encode()).to_bytes(4, "big")[:3])
        mode = "RGBA" if fmt == "PNG" else "RGB"
        image = Image.new(mode, (width, height), colour)
        buffer = io.BytesIO()
        image.save(buffer, fmt)
        data = buffer.getvalue()
        _image_cache[art_type] = data
    return data


def _art_base(art: str) -> str:
    """The artwork type of a name like "fanart2"."""
    base = art.rstrip("0123456789")
    if base not in _IMAGE_SPECS:
        raise ValueError(f"unknown artwork type {art!r}")
    return base


def _part_names(base: str, parts: int, style: PartStyle, kind: VideoKind) -> list[str]:
    """File names (relative to the movie folder) of the main video or its parts."""
    suffix = _SUFFIX[kind]
    if parts <= 1:
        return [base + suffix]
    if style == "folder":
        return [f"CD{i}/{base}{suffix}" for i in range(1, parts + 1)]
    return [f"{base}-{style}{i}{suffix}" for i in range(1, parts + 1)]


def _url_nfo(tmdb: int | None, imdb: str | None, title: str) -> str:
    """A URL-only NFO as scrapers accept it."""
    lines = []
    if tmdb is not None:
        lines.append(f"https://www.themoviedb.org/movie/{tmdb}")
    if imdb is not None:
        lines.append(f"https://www.imdb.com/title/{imdb}/")
    return "\n".join(lines or [f"https://www.themoviedb.org/search?query={title}"]) + "\n"


def _srt(title: str, tag: str) -> bytes:
    """A one-cue SubRip file."""
    return f"1\n00:00:00,000 --> 00:00:00,900\n{title} [{tag}]\n".encode()


def _fake_tmdb(base: str) -> int:
    """A stable made-up TMDB id for a movie name."""
    return 500_000 + zlib.crc32(base.encode()) % 400_000


def _safe(name: str) -> str:
    """`name` without characters file systems refuse, colons as Radarr writes them."""
    name = _UNSAFE.sub("", name.replace(": ", " - ").replace(":", "-"))
    return " ".join(name.split()).strip(" .") or "untitled"


def _write(path: Path, data: bytes) -> Path:
    """Write `data` to `path`, creating parent folders."""
    try:
        path.write_bytes(data)
    except FileNotFoundError:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return path


# -- ffmpeg recipes ------------------------------------------------------------

_encoders: set[str] | None = None


def ffmpeg_encoders() -> set[str]:
    """Names of the encoders the local ffmpeg offers (empty without ffmpeg)."""
    global _encoders
    if _encoders is None:
        if shutil.which("ffmpeg") is None:
            _encoders = set()
        else:
            out = subprocess.run(
                ["ffmpeg", "-hide_banner", "-encoders"],
                capture_output=True,
                text=True,
                timeout=_FFMPEG_TIMEOUT,
                check=False,
            ).stdout
            _encoders = {
                line.split()[1] for line in out.splitlines() if line[:2] in (" V", " A", " S")
            }
    return _encoders


def _recipe(kind: str, templates_dir: Path) -> list[str]:
    """ffmpeg arguments (without the output path) that make a `kind` template."""
    encoders = ffmpeg_encoders()
    rate = 25 if kind == "vob" else 5  # MPEG-2 only allows standard frame rates
    video_in = ["-f", "lavfi", "-i", f"testsrc=size=64x36:rate={rate}:duration=1"]
    audio_in = ["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000:duration=1"]
    h264 = ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"]
    if "libx264" not in encoders:
        h264 = ["-c:v", "mpeg4"]
    aac = ["-c:a", "aac", "-b:a", "32k", "-ac", "2", "-metadata:s:a:0", "language=eng"]
    common = ["-map_metadata", "-1", "-threads", "1", "-disposition:v:0", "default"]
    common += ["-disposition:a:0", "default"]
    if kind == "mkv":
        srt = templates_dir / "cue.srt"
        if not srt.is_file():
            _write(srt, _srt("Sample", "embedded"))
        subs = ["-f", "srt", "-i", str(srt), "-f", "srt", "-i", str(srt)]
        maps = ["-map", "0:v", "-map", "1:a", "-map", "2:s", "-map", "3:s", "-c:s", "srt"]
        tags = ["-metadata:s:s:0", "language=eng", "-metadata:s:s:1", "language=fre"]
        tags += ["-metadata:s:s:1", "title=Forced", "-disposition:s:1", "forced"]
        return video_in + audio_in + subs + maps + h264 + aac + tags + common
    if kind == "mp4":
        return video_in + audio_in + h264 + aac + common
    if kind in ("hdr10", "hlg", "dv"):
        trc = "arib-std-b67" if kind == "hlg" else "smpte2084"
        tags = ["-color_primaries", "bt2020", "-color_trc", trc, "-colorspace", "bt2020nc"]
        if "libx265" not in encoders:
            # Without x265 only the container colour tags (and dvcC) say HDR.
            return video_in + audio_in + h264 + tags + aac + common
        params = f"log-level=error:colorprim=bt2020:transfer={trc}:colormatrix=bt2020nc"
        if kind != "hlg":
            params += (
                ":hdr10=1:max-cll=1000,400:master-display="
                "G(13250,34500)B(7500,3000)R(34000,16000)WP(15635,16450)L(10000000,1)"
            )
        hevc = ["-c:v", "libx265", "-preset", "ultrafast", "-pix_fmt", "yuv420p10le"]
        hevc += ["-tag:v", "hvc1"] if kind == "dv" else []
        return video_in + audio_in + hevc + ["-x265-params", params, *tags, *aac, *common]
    if kind == "avi":
        mp3 = ["-c:a", "libmp3lame" if "libmp3lame" in encoders else "mp2", "-b:a", "32k"]
        return video_in + audio_in + ["-c:v", "mpeg4", *mp3, *common]
    if kind == "m2ts":
        ac3 = ["-c:a", "ac3", "-b:a", "64k", "-metadata:s:a:0", "language=eng"]
        return video_in + audio_in + h264 + ac3 + ["-f", "mpegts", "-mpegts_m2ts_mode", "1"]
    if kind == "vob":
        return (
            video_in + audio_in + ["-c:v", "mpeg2video", "-c:a", "ac3", "-b:a", "64k", "-f", "vob"]
        )
    if kind == "mp3":
        return [*audio_in, "-c:a", "libmp3lame" if "libmp3lame" in encoders else "mp2", "-f", "mp3"]
    raise ValueError(f"unknown template kind {kind!r}")


def _add_dovi_config(data: bytes) -> bytes:
    """Add a Dolby Vision profile 8.1 `dvcC` box to an MP4's video sample entry.

    ffmpeg cannot encode Dolby Vision; this is the container signalling that
    players and probers read. The moov box must follow mdat (ffmpeg's default)
    so that no chunk offset moves.
    """
    out = bytearray(data)
    parents: list[int] = []
    start, end = 0, len(out)
    # (box, header bytes before its children): stsd has version and count,
    # a visual sample entry 78 bytes of fields.
    path = [(b"moov", 8), (b"trak", 8), (b"mdia", 8), (b"minf", 8), (b"stbl", 8), (b"stsd", 16)]
    for name, header in [*path, (b"", 86)]:
        pos = start
        while pos < end:
            size, box = struct.unpack_from(">I4s", out, pos)
            if box == name or (not name and box in (b"hvc1", b"hev1", b"avc1")):
                break
            pos += size
        else:
            raise ValueError(f"no {name.decode() or 'video sample entry'} box in the template")
        parents.append(pos)
        start, end = pos + header, pos + size
    if out.find(b"mdat") > parents[0]:
        raise ValueError("moov precedes mdat: inserting a box would move the media data")
    # version 1.0; profile 8, level 1, RPU + base layer; base layer compatible with HDR10.
    flags = (8 << 9) | (1 << 3) | (1 << 2) | 1
    payload = bytes([1, 0]) + struct.pack(">H", flags) + bytes([1 << 4]) + bytes(19)
    box = struct.pack(">I", 8 + len(payload)) + b"dvcC" + payload
    out[end:end] = box
    for pos in parents:
        struct.pack_into(">I", out, pos, struct.unpack_from(">I", out, pos)[0] + len(box))
    return bytes(out)


def _run_ffmpeg(
    args: list[str], target: Path, finish: Callable[[bytes], bytes] | None = None
) -> None:
    """Run ffmpeg into a temporary file, `finish` it, then move it into place atomically."""
    if shutil.which("ffmpeg") is None:
        raise RuntimeError("ffmpeg is required to build sample media files")
    tmp = target.with_name(f".{target.stem}.{os.getpid()}.{threading.get_ident()}{target.suffix}")
    command = ["ffmpeg", "-nostdin", "-v", "error", "-y", *args, str(tmp)]
    logger.debug("making template %s", target.name)
    done = subprocess.run(
        command, capture_output=True, text=True, timeout=_FFMPEG_TIMEOUT, check=False
    )
    if done.returncode != 0 or not tmp.is_file():
        tmp.unlink(missing_ok=True)
        raise RuntimeError(f"ffmpeg failed to make {target.name}: {done.stderr.strip()[-500:]}")
    if finish is not None:
        tmp.write_bytes(finish(tmp.read_bytes()))
    os.replace(tmp, target)
