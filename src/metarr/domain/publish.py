"""Publishing rules: the files a movie should have in its folder, and the plan to get there.

Pure functions. Names follow the players (Kodi wiki "Movie artwork" / "NFO files",
Jellyfin "Movies"):

* Kodi (default profile): everything is named after the main video's basename
  (the stack's base for multi-part movies), Unicode kept as it is:
  `<base>.nfo`, `<base>-poster.jpg`, `<base>-fanart.jpg`, extra fanart numbered
  `<base>-fanart1.jpg`..., `<base>-clearlogo.png`..., and `.actors/<Name>.jpg` with
  spaces turned into `_` (Kodi compares the file name without extension to the
  actor's name with spaces replaced). Disc structures (BDMV/VIDEO_TS) have no
  basename a player would use: short names in the movie folder, `movie.nfo`,
  `poster.jpg`, `fanart.jpg`, `fanart1.jpg`...
* Jellyfin/Emby: a movie alone in its folder (or a disc) gets the short names
  Jellyfin lists first (`poster.jpg`, `backdrop.jpg`, `backdrop1.jpg`, `logo.png`,
  `landscape.jpg`, `disc.png`...), a movie sharing its folder gets
  `<base>-poster.jpg`, `<base>-fanart.jpg`...; the NFO is `<base>.nfo` (`movie.nfo`
  for discs). Jellyfin has no key art, character art or `.actors/`: not written.

The plan compares what should be there with what is there (by hash) and with what
Metarr wrote before: create, replace, keep, or remove. Only files Metarr wrote are
ever removed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

from metarr.domain.media import ArtworkType


class Profile(StrEnum):
    """Naming profile of a library: which player's file names to write."""

    KODI = "kodi"
    JELLYFIN = "jellyfin"


class FileRole(StrEnum):
    """What a published file is."""

    NFO = "nfo"
    ARTWORK = "artwork"
    ACTOR = "actor"


class Action(StrEnum):
    """What publishing does with one path."""

    CREATE = "create"
    REPLACE = "replace"
    REMOVE = "remove"
    KEEP = "keep"


# Artwork types in the order they are written.
ARTWORK_ORDER: tuple[str, ...] = tuple(t.value for t in ArtworkType)

# Jellyfin's names for Kodi's artwork types (None: Jellyfin has no such image).
_JELLYFIN_NAMES: Mapping[str, str | None] = {
    ArtworkType.POSTER: "poster",
    ArtworkType.FANART: "backdrop",
    ArtworkType.BANNER: "banner",
    ArtworkType.CLEARLOGO: "logo",
    ArtworkType.CLEARART: "clearart",
    ArtworkType.DISCART: "disc",
    ArtworkType.LANDSCAPE: "landscape",
    ArtworkType.KEYART: None,
    ArtworkType.CHARACTERART: None,
}
# Extensions a player looks for; Kodi only tries .jpg and .png (its decoder then reads
# the content, so a WebP is published under .jpg).
_KODI_EXTENSIONS = {"jpg": "jpg", "jpeg": "jpg", "png": "png", "webp": "jpg"}
_JELLYFIN_EXTENSIONS = {"jpg": "jpg", "jpeg": "jpg", "png": "png", "webp": "webp"}
ACTORS_FOLDER = ".actors"
MAX_NAME_BYTES = 250
# Characters no file name can hold on the filesystems libraries live on.
_UNSAFE = str.maketrans({"/": "_", "\\": "_", "\0": "_"})


@dataclass(frozen=True, slots=True)
class MovieLayout:
    """Where a movie lives: folder (relative to the library root), basename, disc."""

    folder: str  # "" for the library root
    basename: str | None  # main video stem (stack base); None for a disc structure
    disc: bool = False
    own_folder: bool = True  # the folder holds this movie only


@dataclass(frozen=True, slots=True)
class Artwork:
    """A selected image of a movie: its type, cache hash and cached file extension."""

    type: str
    sha256: str
    ext: str


@dataclass(frozen=True, slots=True)
class ActorThumb:
    """A cast member's cached headshot."""

    name: str
    sha256: str
    ext: str


@dataclass(frozen=True, slots=True)
class DesiredFile:
    """A file publishing should leave in the library, with the content it should hold."""

    path: str  # relative to the library root, POSIX separators
    kind: FileRole
    role: str  # "nfo", the artwork slot ("poster", "fanart1"), or the actor's name
    sha256: str


@dataclass(frozen=True, slots=True)
class OnDisk:
    """What is at a path now: nothing, or a file (`sha256` None: known to differ, not hashed)."""

    exists: bool
    sha256: str | None = None


ABSENT = OnDisk(False)


@dataclass(frozen=True, slots=True)
class Published:
    """A file Metarr wrote earlier, as recorded."""

    path: str
    kind: FileRole
    role: str
    sha256: str


@dataclass(frozen=True, slots=True)
class PlanEntry:
    """One step of a publish plan."""

    path: str
    action: Action
    kind: FileRole
    role: str
    sha256: str | None  # the content to write or keep; for a removal, the recorded one


def join(folder: str, name: str) -> str:
    """A path relative to the library root."""
    return f"{folder}/{name}" if folder else name


def _short_names(layout: MovieLayout, profile: Profile) -> bool:
    if layout.disc or not layout.basename:
        return True
    return profile is Profile.JELLYFIN and layout.own_folder


def nfo_path(layout: MovieLayout) -> str:
    """Where the movie's NFO goes (Kodi and Jellyfin both read `<base>.nfo`)."""
    if layout.disc or not layout.basename:
        return join(layout.folder, "movie.nfo")
    return join(layout.folder, f"{layout.basename}.nfo")


def published_ext(ext: str, profile: Profile) -> str:
    """The extension an image is published under."""
    table = _KODI_EXTENSIONS if profile is Profile.KODI else _JELLYFIN_EXTENSIONS
    return table.get(ext.lower().lstrip("."), "jpg")


def artwork_label(art_type: str, index: int, profile: Profile, *, short: bool) -> str | None:
    """The name part of an artwork file: `poster`, `fanart1`, `backdrop2`... (None: not used)."""
    if profile is Profile.KODI:
        base = art_type
    else:
        base_or_none = _JELLYFIN_NAMES.get(art_type)
        if base_or_none is None:
            return None
        # Jellyfin reads `<base>-fanart` next to other movies; `backdrop` alone in a folder
        base = base_or_none if short or art_type != ArtworkType.FANART else "fanart"
    if index == 0:
        return base
    if art_type != ArtworkType.FANART:
        return None  # only fanart comes numbered
    return f"{base}{index}"


def artwork_files(
    layout: MovieLayout, profile: Profile, artwork: Sequence[Artwork]
) -> list[DesiredFile]:
    """The artwork files of a movie, in the given order within each type."""
    short = _short_names(layout, profile)
    by_type: dict[str, list[Artwork]] = {}
    for art in artwork:
        by_type.setdefault(art.type, []).append(art)
    out: list[DesiredFile] = []
    # other types (collection art such as `set.poster`) do not live beside the movie
    for art_type in ARTWORK_ORDER:
        seen: set[str] = set()
        index = 0
        for art in by_type.get(art_type, []):
            if art.sha256 in seen:
                continue  # the same image twice is one file
            label = artwork_label(art_type, index, profile, short=short)
            if label is None:
                break
            seen.add(art.sha256)
            ext = published_ext(art.ext, profile)
            name = f"{label}.{ext}" if short else f"{layout.basename}-{label}.{ext}"
            slot = art_type if index == 0 else f"{art_type}{index}"
            out.append(DesiredFile(join(layout.folder, name), FileRole.ARTWORK, slot, art.sha256))
            index += 1
    return out


def actor_file_stem(name: str) -> str | None:
    """Kodi's `.actors/` file stem for an actor: spaces become `_` (None: unusable name)."""
    stem = name.strip().replace(" ", "_").translate(_UNSAFE)
    if not stem or stem in (".", "..") or stem.startswith(".metarr-"):
        return None
    if len(stem.encode("utf-8", "surrogateescape")) > MAX_NAME_BYTES:
        return None
    return stem


def actor_files(
    layout: MovieLayout, profile: Profile, actors: Iterable[ActorThumb]
) -> list[DesiredFile]:
    """`.actors/<Name>.jpg` for every cast member with a cached headshot (Kodi only)."""
    if profile is not Profile.KODI:
        return []
    out: list[DesiredFile] = []
    taken: set[str] = set()
    for actor in actors:
        stem = actor_file_stem(actor.name)
        if stem is None or stem.casefold() in taken:
            continue  # Kodi matches the first actor of that name; one file is enough
        taken.add(stem.casefold())
        name = f"{stem}.{published_ext(actor.ext, profile)}"
        out.append(
            DesiredFile(
                join(layout.folder, f"{ACTORS_FOLDER}/{name}"),
                FileRole.ACTOR,
                actor.name,
                actor.sha256,
            )
        )
    return out


def desired_files(
    layout: MovieLayout,
    profile: Profile,
    *,
    nfo_sha256: str | None,
    artwork: Sequence[Artwork] = (),
    actors: Sequence[ActorThumb] = (),
) -> list[DesiredFile]:
    """Everything a movie should have in the library (the first of two equal paths wins)."""
    files: list[DesiredFile] = []
    if nfo_sha256 is not None:
        files.append(DesiredFile(nfo_path(layout), FileRole.NFO, "nfo", nfo_sha256))
    files += artwork_files(layout, profile, artwork)
    files += actor_files(layout, profile, actors)
    out: list[DesiredFile] = []
    seen: set[str] = set()
    for f in files:
        if f.path not in seen:
            seen.add(f.path)
            out.append(f)
    return out


def expected_path(layout: MovieLayout, profile: Profile, published: Published) -> str | None:
    """Where a published file belongs under the movie's current layout (None: unknown).

    After a downloader renames the video, files published under the old basename
    are wrong-named: this is the name they should have now.
    """
    ext = published.path.rpartition(".")[2] if "." in published.path else ""
    if published.kind is FileRole.NFO:
        return nfo_path(layout)
    if published.kind is FileRole.ACTOR:
        stem = actor_file_stem(published.role)
        if stem is None or profile is not Profile.KODI:
            return None
        return join(layout.folder, f"{ACTORS_FOLDER}/{stem}.{ext}")
    art_type = published.role.rstrip("0123456789")
    digits = published.role[len(art_type) :]
    short = _short_names(layout, profile)
    label = artwork_label(art_type, int(digits) if digits else 0, profile, short=short)
    if label is None:
        return None
    name = f"{label}.{ext}" if short else f"{layout.basename}-{label}.{ext}"
    return join(layout.folder, name)


def plan(
    desired: Sequence[DesiredFile],
    on_disk: Mapping[str, OnDisk],
    published: Mapping[str, Published],
) -> list[PlanEntry]:
    """What to do per path: desired files are created, replaced or kept by hash; files
    Metarr wrote that are no longer wanted are removed; nothing else is touched.

    A published path that is gone from disk and no longer wanted needs no step.
    """
    entries: list[PlanEntry] = []
    wanted = set()
    for want in desired:
        wanted.add(want.path)
        state = on_disk.get(want.path, ABSENT)
        if not state.exists:
            action = Action.CREATE
        elif state.sha256 == want.sha256:
            action = Action.KEEP
        else:
            action = Action.REPLACE
        entries.append(PlanEntry(want.path, action, want.kind, want.role, want.sha256))
    for path in sorted(published):
        if path in wanted or not on_disk.get(path, ABSENT).exists:
            continue
        rec = published[path]
        entries.append(PlanEntry(path, Action.REMOVE, rec.kind, rec.role, rec.sha256))
    return entries


def changes(entries: Iterable[PlanEntry]) -> list[PlanEntry]:
    """The entries that touch the disk (everything but keep)."""
    return [e for e in entries if e.action is not Action.KEEP]
