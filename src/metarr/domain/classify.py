"""Classification of one library file by its path, relative to the movie it belongs to."""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from functools import lru_cache

from metarr.domain.media import ArtworkType, Classification, DiscType, FileKind, VideoRole
from metarr.domain.naming import language_from_tag

VIDEO_EXTENSIONS: frozenset[str] = frozenset(
    {
        "3g2", "3gp", "asf", "avi", "divx", "f4v", "flv", "iso", "m2ts", "m2v", "m4v",
        "mk3d", "mkv", "mov", "mp4", "mpe", "mpeg", "mpg", "mts", "ogm", "ogv", "rm",
        "rmvb", "ts", "vob", "webm", "wmv", "xvid",
    }
)  # fmt: skip
SUBTITLE_EXTENSIONS: frozenset[str] = frozenset(
    {"srt", "ass", "ssa", "vtt", "sub", "idx", "sup", "smi"}
)
IMAGE_EXTENSIONS: frozenset[str] = frozenset({"jpg", "jpeg", "png", "webp", "tbn", "gif", "bmp"})
AUDIO_EXTENSIONS: frozenset[str] = frozenset({"mp3", "flac", "m4a", "ogg", "wav", "aac", "opus"})

# The file a player opens for a disc structure; it stands for the movie's main video.
DISC_INDEX_NAMES: dict[str, DiscType] = {
    "index.bdmv": DiscType.BLURAY,
    "video_ts.ifo": DiscType.DVD,
}
# Folders of a disc structure directly below the disc's movie folder (lower-case).
DISC_FOLDERS: frozenset[str] = frozenset(
    {"bdmv", "certificate", "aacs", "bdsvm", "video_ts", "audio_ts"}
)

# Extras folders (Jellyfin's names, lower-case) and the role of the videos inside.
EXTRAS_FOLDERS: dict[str, VideoRole] = {
    "trailers": VideoRole.TRAILER,
    "trailer": VideoRole.TRAILER,
    "sample": VideoRole.SAMPLE,
    "samples": VideoRole.SAMPLE,
    "extras": VideoRole.EXTRA,
    "extra": VideoRole.EXTRA,
    "featurettes": VideoRole.EXTRA,
    "featurette": VideoRole.EXTRA,
    "behind the scenes": VideoRole.EXTRA,
    "deleted scenes": VideoRole.EXTRA,
    "interviews": VideoRole.EXTRA,
    "scenes": VideoRole.EXTRA,
    "shorts": VideoRole.EXTRA,
    "clips": VideoRole.EXTRA,
    "other": VideoRole.EXTRA,
    "backdrops": VideoRole.EXTRA,  # Jellyfin theme videos
}
_ACTORS = ".actors"
_EXTRAFANART = "extrafanart"
_EXTRATHUMBS = "extrathumbs"
_THEME_MUSIC = "theme-music"
_SUBS_FOLDERS = frozenset({"subs", "subtitles", "sub"})
# Folders that belong to the movie of their parent and are never movies themselves.
# "proof" holds scene release scans (Kodi excludes it from scans).
SPECIAL_FOLDERS: frozenset[str] = frozenset(
    {*EXTRAS_FOLDERS, _ACTORS, _EXTRAFANART, _EXTRATHUMBS, _THEME_MUSIC, *_SUBS_FOLDERS, "proof"}
)

# Kodi and Jellyfin artwork names, used alone (`poster.jpg`) or after the video's
# basename (`<base>-poster.jpg`). Jellyfin reads `art` as a backdrop and `thumb` as a
# landscape thumb.
ARTWORK_NAMES: dict[str, ArtworkType] = {
    "poster": ArtworkType.POSTER,
    "folder": ArtworkType.POSTER,
    "cover": ArtworkType.POSTER,
    "default": ArtworkType.POSTER,
    "movie": ArtworkType.POSTER,
    "fanart": ArtworkType.FANART,
    "backdrop": ArtworkType.FANART,
    "background": ArtworkType.FANART,
    "art": ArtworkType.FANART,
    "banner": ArtworkType.BANNER,
    "clearlogo": ArtworkType.CLEARLOGO,
    "logo": ArtworkType.CLEARLOGO,
    "clearart": ArtworkType.CLEARART,
    "discart": ArtworkType.DISCART,
    "disc": ArtworkType.DISCART,
    "cdart": ArtworkType.DISCART,
    "landscape": ArtworkType.LANDSCAPE,
    "thumb": ArtworkType.LANDSCAPE,
    "keyart": ArtworkType.KEYART,
    "characterart": ArtworkType.CHARACTERART,
}
# Numbered backdrops: Kodi `fanart1`, Jellyfin `fanart-1`, `backdrop1`, `background-1`.
_NUMBERED_FANART = re.compile(r"(fanart|backdrop|background|art)-?([0-9]{1,3})")

# Extras by name. Trailers and samples take any separator; Jellyfin's other suffixes
# only "-" so that "The.Big.Short.mkv" stays a movie.
_TRAILER_SAMPLE_SUFFIX = re.compile(r"\s*[-._]\s*(trailer|sample)[0-9]{0,2}$")
_EXTRA_SUFFIX = re.compile(
    r"-(featurette|behindthescenes|deletedscene|deleted|interview|scene|short|clip|other|extra)"
    r"[0-9]{0,2}$"
)
_SAMPLE_PREFIX = ("sample-", "sample.", "sample_")

# Kodi's stacking (AdvancedSettings.cpp), made stricter: the volume must be its own
# token, and the title is greedy so the last volume-like token wins.
_NUMBERED_STACK = re.compile(
    r"(?P<title>.*)(?:^|[ _.-]+)(?:cd|dvd|part|pt|dis[ck])[ _.-]*(?P<vol>[0-9]{1,3})"
    r"(?P<ignore>(?:[ _.\-\[\(].*)?)",
    re.IGNORECASE | re.DOTALL,
)
_WORD_LETTER_STACK = re.compile(
    r"(?P<title>.*)(?:^|[ _.-]+)(?:cd|dvd|part|pt|dis[ck])[ _.-]*(?P<vol>[a-d])"
    r"(?P<ignore>(?:[ _.\-\[\(].*)?)",
    re.IGNORECASE | re.DOTALL,
)
_LETTER_STACK = re.compile(
    r"(?P<title>.*)(?:^|[ _.-]+)(?P<vol>[a-d])(?P<ignore>(?:[ _.\-\[\(].*)?)",
    re.IGNORECASE | re.DOTALL,
)
# Tried in Kodi's order: numbers, then letters after a part word, then bare letters.
_STACK_PATTERNS = ((_NUMBERED_STACK, False), (_WORD_LETTER_STACK, True), (_LETTER_STACK, True))
# Kodi's folder stacking `((cd|dvd|dis[ck])[0-9]+)$`, separators allowed ("Disc 1").
_FOLDER_STACK = re.compile(
    r"(?:(?P<prefix>.*?)[ _.-]+)?(?:cd|dvd|dis[ck])[ _.-]*(?P<vol>[0-9]{1,3})",
    re.IGNORECASE | re.DOTALL,
)

_SEPARATORS = ".-_ "
_SUBTITLE_SPLIT = re.compile(r"[.\s\[\]\(\)\{\},]+")
_SUBTITLE_SUBSPLIT = re.compile(r"[-_]+")
_REGION_TAG = re.compile(r"[a-z]{2,3}[-_](?:[a-z]{2}|[a-z]{4}|[0-9]{3})")
_FORCED_TAGS = frozenset({"forced", "foreign"})
_SDH_TAGS = frozenset({"sdh", "cc"})
_NEUTRAL_TAGS = frozenset({"default", "full"})
_HINDI_OR_HEARING_IMPAIRED = "hi"

_UNKNOWN = Classification(FileKind.UNKNOWN)
# Enum members read once: `VideoRole.MAIN` costs a class attribute lookup per file.
_MAIN_ROLE = VideoRole.MAIN


@dataclass(frozen=True, slots=True)
class Stack:
    """Video files Kodi plays as one movie: `parts` (stems) in the order of `numbers`."""

    base: str  # stacked name without the part token, e.g. "Movie" for "Movie-cd1"
    parts: tuple[str, ...]
    numbers: tuple[int, ...]


def find_stacks(stems: Iterable[str]) -> list[Stack]:
    """The multi-part stacks among video file stems (same extension assumed), by base."""
    remaining = list(dict.fromkeys(stems))
    stacks: list[Stack] = []
    for regex, letters in _STACK_PATTERNS:
        groups: dict[tuple[str, str], list[tuple[int, str, str]]] = {}
        for stem in remaining:
            m = regex.fullmatch(stem)
            if m is None:
                continue
            vol = m["vol"]
            number = ord(vol.lower()) - ord("a") + 1 if letters else int(vol)
            title = m["title"].rstrip(" _.-")
            if letters and not title:
                continue  # "A.mkv" and "B.mkv" are two films, not parts A and B
            key = (title.casefold(), m["ignore"].casefold())
            groups.setdefault(key, []).append((number, stem, title + m["ignore"]))
        used: set[str] = set()
        for members in groups.values():
            numbers = [number for number, _, _ in members]
            if len(members) < 2 or len(set(numbers)) != len(numbers):
                continue
            members.sort()
            base = members[0][2].strip(" _.-") or members[0][1]
            stacks.append(
                Stack(base, tuple(s for _, s, _ in members), tuple(n for n, _, _ in members))
            )
            used.update(s for _, s, _ in members)
        remaining = [s for s in remaining if s not in used]
    stacks.sort(key=lambda s: s.base.casefold())
    return stacks


def folder_stack(name: str) -> tuple[str, int] | None:
    """(prefix, part number) when a folder name is a stack part such as `CD1` or `Disc 2`."""
    m = _FOLDER_STACK.fullmatch(name)
    if m is None:
        return None
    return (m["prefix"] or "").casefold(), int(m["vol"])


def video_role_from_name(stem: str) -> VideoRole | None:
    """Trailer, sample or extra role said by a video's own name, else None."""
    low = stem.lower()
    if low == "trailer":
        return VideoRole.TRAILER
    if low == "sample" or low.startswith(_SAMPLE_PREFIX):
        return VideoRole.SAMPLE
    m = _TRAILER_SAMPLE_SUFFIX.search(low)
    if m is not None:
        return VideoRole.TRAILER if m[1] == "trailer" else VideoRole.SAMPLE
    if _EXTRA_SUFFIX.search(low) is not None:
        return VideoRole.EXTRA
    return None


def is_video_name(name: str) -> bool:
    """True when the file name has a video extension."""
    _, dot, ext = name.rpartition(".")
    return bool(dot) and ext.lower() in VIDEO_EXTENSIONS


@dataclass(frozen=True, slots=True)
class _Context:
    """What classification needs to know about the movie's videos, lower-cased."""

    names: tuple[str, ...]  # video stems and stack bases, longest first
    parts: dict[str, int]  # stem -> part number, for stacked videos


def _context(basenames: Collection[str]) -> _Context:
    """The context of a movie from its video stems."""
    if len(basenames) == 1:
        for only in basenames:
            return _Context((only.lower(),) if only else (), {})
    names = {b.lower() for b in basenames if b}
    parts: dict[str, int] = {}
    for stack in find_stacks(sorted(basenames)):
        names.add(stack.base.lower())
        for stem, number in zip(stack.parts, stack.numbers, strict=True):
            parts[stem.lower()] = number
    return _Context(tuple(sorted(names, key=lambda n: (-len(n), n))), parts)


def _is_attached_folder(name: str) -> bool:
    """Folders that live inside a movie folder: special, disc and stack folders."""
    low = name.lower()
    return low in SPECIAL_FOLDERS or low in DISC_FOLDERS or folder_stack(low) is not None


def _subdirs(parent: str, folder: str | None) -> list[str]:
    """Folders between the movie folder and the file."""
    if folder is not None:
        if parent == folder:
            return []
        if not folder:
            return parent.split("/")
        if parent.startswith(folder + "/"):
            return parent[len(folder) + 1 :].split("/")
    # No (usable) movie folder: take the trailing run of folders that only exist inside
    # a movie folder.
    parts = parent.split("/") if parent else []
    start = len(parts)
    while start > 0 and _is_attached_folder(parts[start - 1]):
        start -= 1
    return parts[start:]


# Stands for the movie's basename in a name template: "<base>-poster" -> "\0-poster".
_MARK = "\0"


def _template(low_stem: str, names: tuple[str, ...]) -> str:
    """`low_stem` with the longest movie name it starts with (before a separator) marked."""
    for name in names:
        if low_stem.startswith(name):
            size = len(name)
            if len(low_stem) == size:
                return _MARK
            if low_stem[size] in _SEPARATORS:
                return _MARK + low_stem[size:]
    return low_stem


def _artwork(template: str) -> Classification:
    """Artwork type of an image in the movie folder, or unknown."""
    if template == _MARK:
        return Classification(FileKind.ARTWORK, ArtworkType.POSTER)  # Kodi `<base>.jpg`/`.tbn`
    label = template[2:] if template.startswith(_MARK + "-") else template
    art = ARTWORK_NAMES.get(label)
    if art is not None:
        return Classification(FileKind.ARTWORK, art)
    m = _NUMBERED_FANART.fullmatch(label)
    if m is not None:
        return Classification(FileKind.ARTWORK, ArtworkType.FANART, part=int(m[2]))
    return _UNKNOWN


@lru_cache(maxsize=16384)
def _in_folder(template: str, ext: str, in_disc_folder: bool) -> Classification:
    """Classify a file of the movie folder by its name template (one call per template)."""
    if ext in VIDEO_EXTENSIONS:
        return Classification(FileKind.VIDEO, video_role_from_name(template) or VideoRole.MAIN)
    if ext == "nfo":
        main = template in (_MARK, "movie", "video_ts") or (in_disc_folder and template == "index")
        return Classification(FileKind.NFO, "main" if main else "other")
    if ext in IMAGE_EXTENSIONS:
        return _artwork(template)
    if ext in SUBTITLE_EXTENSIONS:
        language, forced, sdh = subtitle_tags(template.removeprefix(_MARK))
        return Classification(FileKind.SUBTITLE, language=language, forced=forced, sdh=sdh)
    if ext in AUDIO_EXTENSIONS and template == "theme":
        return Classification(FileKind.AUDIO, "theme")
    return _UNKNOWN


@lru_cache(maxsize=4096)
def subtitle_tags(text: str) -> tuple[str | None, bool, bool]:
    """(language, forced, sdh) from the tags of a subtitle name, read from the right."""
    tokens: list[str] = []
    for raw in _SUBTITLE_SPLIT.split(text.lower()):
        if not raw:
            continue
        if _REGION_TAG.fullmatch(raw) and language_from_tag(raw) is not None:
            tokens.append(raw)
        else:
            tokens.extend(t for t in _SUBTITLE_SUBSPLIT.split(raw) if t)
    language: str | None = None
    forced = sdh = hearing_impaired = False
    # Tags sit at the end ("Movie.en.forced.srt"); stop at the first word that is not a
    # tag so a title word such as "It" is never read as Italian.
    for token in reversed(tokens):
        if token in _FORCED_TAGS:
            forced = True
        elif token in _SDH_TAGS:
            sdh = True
        elif token == _HINDI_OR_HEARING_IMPAIRED:
            hearing_impaired = True
        elif token in _NEUTRAL_TAGS or (token.isdigit() and len(token) <= 2):
            continue
        elif language is None and (code := language_from_tag(token)) is not None:
            language = code
        else:
            break
    # "hi" is both Hindi and the hearing-impaired tag (Bazarr's "en.hi"): hearing
    # impaired when another language is given, Hindi otherwise.
    if hearing_impaired:
        if language is None:
            language = "hi"
        else:
            sdh = True
    return language, forced, sdh


def _subtitle(stem: str, ctx: _Context, role: str | None) -> Classification:
    """A subtitle with the tags that follow the video's basename."""
    language, forced, sdh = subtitle_tags(_template(stem.lower(), ctx.names).removeprefix(_MARK))
    return Classification(FileKind.SUBTITLE, role, language=language, forced=forced, sdh=sdh)


def _in_subfolder(rest: list[str], name: str, ctx: _Context) -> Classification:
    """A file in a subfolder of the movie folder (not a disc or stack folder)."""
    stem, dot, ext = name.rpartition(".")
    if not dot:
        stem, ext = name, ""
    ext = ext.lower()
    first = rest[0].lower()
    if first in EXTRAS_FOLDERS or first == _THEME_MUSIC:
        if first == _THEME_MUSIC and ext in AUDIO_EXTENSIONS:
            return Classification(FileKind.AUDIO, "theme")
        if ext in VIDEO_EXTENSIONS or name.lower() in DISC_INDEX_NAMES:
            # The innermost extras folder decides: Extras/Trailers/x.mkv is a trailer.
            role = VideoRole.EXTRA
            for folder in reversed(rest):
                found = EXTRAS_FOLDERS.get(folder.lower())
                if found is not None:
                    role = found
                    break
            return Classification(FileKind.VIDEO, role)
        if ext in SUBTITLE_EXTENSIONS:
            return _subtitle(stem, ctx, "extra")
        if ext == "nfo":
            return Classification(FileKind.NFO, "extra")
        return _UNKNOWN
    if first in _SUBS_FOLDERS:
        return _subtitle(stem, ctx, None) if ext in SUBTITLE_EXTENSIONS else _UNKNOWN
    if len(rest) == 1 and ext in IMAGE_EXTENSIONS:
        if first == _ACTORS:
            # Kodi writes `.actors/Tom_Hanks.jpg` for "Tom Hanks".
            return Classification(FileKind.ACTOR, actor=stem.replace("_", " ").strip())
        if first == _EXTRAFANART:
            return Classification(FileKind.ARTWORK, ArtworkType.FANART)
        if first == _EXTRATHUMBS:
            return Classification(FileKind.ARTWORK, ArtworkType.LANDSCAPE)
    return _UNKNOWN


class FileClassifier:
    """Classifies the files of one movie: build it once per movie, call it per file."""

    __slots__ = ("_ctx", "_folder")

    def __init__(self, video_basenames: Collection[str], folder: str | None = None) -> None:
        """`video_basenames`: stems of the movie's main videos; `folder`: the movie folder.

        Without `folder`, trailing special, disc and stack folders in a path are taken
        as subfolders of the movie.
        """
        self._ctx = _context(video_basenames)
        self._folder = folder

    def classify(self, rel_path: str) -> Classification:
        """Classify one file by its path."""
        parent, _, name = rel_path.rpartition("/")
        return self.classify_names(parent, (name,))[0]

    def classify_names(self, parent: str, names: Iterable[str]) -> list[Classification]:
        """Classify the files `names` of one folder (`parent`, relative to the root)."""
        stack_part: int | None = None
        in_disc_folder = False
        if parent != self._folder:
            subdirs = _subdirs(parent, self._folder)
            # Disc folders and stack folders (CD1/) are part of the movie folder itself.
            for i, subdir in enumerate(subdirs):
                low = subdir.lower()
                if low in DISC_FOLDERS:
                    in_disc_folder = True
                elif stack_part is None and (stacked := folder_stack(low)) is not None:
                    stack_part = stacked[1]
                else:
                    rest = subdirs[i:]
                    return [_in_subfolder(rest, name, self._ctx) for name in names]
        names_, parts = self._ctx.names, self._ctx.parts
        results: list[Classification] = []
        for name in names:
            low = name.lower()
            stem, dot, ext = low.rpartition(".")
            if not dot:
                stem, ext = low, ""
            if not stem:
                result = _UNKNOWN
            elif low in DISC_INDEX_NAMES:
                if stack_part is not None:
                    result = Classification(FileKind.VIDEO, VideoRole.PART, part=stack_part)
                else:
                    result = Classification(FileKind.VIDEO, VideoRole.MAIN)
            else:
                result = _in_folder(_template(stem, names_), ext, in_disc_folder)
                if result.role is _MAIN_ROLE:
                    part = stack_part if stack_part is not None else parts.get(stem)
                    if part is not None:
                        result = Classification(FileKind.VIDEO, VideoRole.PART, part=part)
            results.append(result)
        return results


@lru_cache(maxsize=1024)
def _classifier(basenames: frozenset[str], folder: str | None) -> FileClassifier:
    """A classifier per movie, reused across calls."""
    return FileClassifier(basenames, folder)


def classify_file(
    rel_path: str, video_basenames: Collection[str], *, folder: str | None = None
) -> Classification:
    """Classify a file by its path, given the stems of its movie's main videos.

    `folder` is the movie's folder; without it, trailing special, disc and stack
    folders in the path are taken as subfolders of the movie.
    """
    return _classifier(frozenset(video_basenames), folder).classify(rel_path)
