"""Discovery: group a library's files into movies (PRODUCT.md §1.2), without disk access."""

from __future__ import annotations

import dataclasses
import gc
import operator
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TypeAlias

from metarr.domain.classify import (
    DISC_FOLDERS,
    DISC_INDEX_NAMES,
    SPECIAL_FOLDERS,
    VIDEO_EXTENSIONS,
    FileClassifier,
    find_stacks,
    folder_stack,
    video_role_from_name,
)
from metarr.domain.media import ArtworkType, Classification, DiscType, FileKind, VideoRole

DEFAULT_SAMPLE_MAX_BYTES = 50 * 1024 * 1024

_UNKNOWN = Classification(FileKind.UNKNOWN)
# Enum members read once: a class attribute lookup per file is measurable at 50k files.
_VIDEO_KIND = FileKind.VIDEO
_MAIN_ROLES = frozenset({VideoRole.MAIN, VideoRole.PART})
# Files of a DVD copied flat into the movie folder (no VIDEO_TS folder).
_FLAT_DVD_CONTENT = re.compile(r"video_ts\.(?:bup|vob)|vts_[0-9]{2}_[0-9]\.(?:ifo|bup|vob)")
# Inside a disc's BDMV/ or VIDEO_TS/ folder only these survive: the index and NFOs.
_DISC_INDEX_FOLDERS = frozenset({"bdmv", "video_ts"})
_LOOSE_SEPARATORS = frozenset(".-_")
_DISC_INDEX_EXTENSIONS = frozenset({"bdmv", "ifo"})
_ENTRY_PATH = operator.attrgetter("entry.path")
_NAME = operator.itemgetter(0)
_NUMBERED_FOLDERS = {"extrafanart": ArtworkType.FANART, "extrathumbs": ArtworkType.LANDSCAPE}


@dataclass(frozen=True, slots=True)
class FileEntry:
    """One file as the walker saw it: POSIX path relative to the library root."""

    path: str
    size: int
    mtime_ns: int


@dataclass(slots=True)
class ClassifiedFile:
    """A file and what it is to its movie."""

    entry: FileEntry
    cls: Classification


@dataclass(slots=True)
class MovieUnit:
    """The files of one movie: a movie folder, or one loose video in a folder of many."""

    key: str  # folder path, or "<folder>/<basename>" for a loose video
    folder: str
    basename: str | None  # main video stem (stack base); None for disc structures
    disc: DiscType | None
    files: list[ClassifiedFile]

    def main_videos(self) -> list[ClassifiedFile]:
        """The main video, or the parts of a stack in part order."""
        videos = [
            f
            for f in self.files
            if f.cls.kind is FileKind.VIDEO and f.cls.role in (VideoRole.MAIN, VideoRole.PART)
        ]
        videos.sort(key=lambda f: (f.cls.part or 0, f.entry.path))
        return videos

    def nfo_candidates(self) -> list[ClassifiedFile]:
        """The movie's NFO files, most trusted first (extras' NFOs excluded)."""
        if self.disc is not None:
            first = {"index", "video_ts"}
        else:
            first = {self.basename.casefold()} if self.basename else set()
            for video in self.main_videos():
                first.add(_stem(video.entry.path).casefold())

        def rank(f: ClassifiedFile) -> tuple[int, int, str]:
            stem = _stem(f.entry.path).casefold()
            if stem in first:
                tier = 0
            elif stem == "movie":
                tier = 1
            else:
                tier = 2
            return tier, f.entry.path.count("/"), f.entry.path

        nfos = [f for f in self.files if f.cls.kind is FileKind.NFO and f.cls.role != "extra"]
        return sorted(nfos, key=rank)


@dataclass(slots=True)
class Discovery:
    """The movies found in a library, and the files that belong to none of them."""

    units: list[MovieUnit]
    orphans: list[ClassifiedFile]


def _stem(path: str) -> str:
    """File name without folder and extension."""
    name = path.rpartition("/")[2]
    stem, dot, _ = name.rpartition(".")
    return stem if dot else name


def _leaf(folder: str) -> str:
    """Last component of a folder path."""
    return folder.rpartition("/")[2]


class _Item:
    """One movie's videos inside one folder, before it becomes a unit."""

    __slots__ = ("basename", "disc", "stems")

    def __init__(self, basename: str | None, stems: set[str], disc: DiscType | None = None) -> None:
        self.basename = basename
        self.stems = stems  # video stems, the `video_basenames` of classification
        self.disc = disc

    def names(self) -> set[str]:
        """Lower-case names the files of this movie start with, in a folder of many."""
        names = {s.lower() for s in self.stems}
        if self.basename:
            names.add(self.basename.lower())
        return names


@dataclass(slots=True)
class _Builder:
    """A unit while files are assigned to it."""

    key: str
    folder: str
    basename: str | None
    disc: DiscType | None
    stems: set[str]
    # (folder, [(name, entry)...]): files arrive folder by folder, and are classified so.
    chunks: list[tuple[str, list[tuple[str, FileEntry]]]] = field(default_factory=list)


class _Loose:
    """A folder of several movies: files go to the movie whose name they start with."""

    __slots__ = ("by_name",)

    def __init__(self, by_name: dict[str, _Builder]) -> None:
        self.by_name = by_name

    def find(self, name: str) -> _Builder | None:
        """The movie with the longest name `name` starts with, before a separator."""
        low = name.lower()
        by_name = self.by_name
        for i in range(len(low) - 1, 0, -1):
            if low[i] in _LOOSE_SEPARATORS:
                builder = by_name.get(low[:i])
                if builder is not None:
                    return builder
        return None


_Ctx: TypeAlias = _Builder | _Loose | None


class _Discoverer:
    """One run of `discover`: folder index, per-folder movies, then assignment."""

    def __init__(self, entries: Iterable[FileEntry], sample_max_bytes: int) -> None:
        self.sample_max_bytes = sample_max_bytes
        self.files: dict[str, list[tuple[str, FileEntry]]] = {}
        # folder -> [(stem, extension, entry)] of its videos, spotted in the same pass.
        self.videos: dict[str, list[tuple[str, str, FileEntry]]] = {}
        # (folder, name, entry) of files named like a disc index, checked by find_discs.
        self.index_files: list[tuple[str, str, FileEntry]] = []
        files, videos = self.files, self.videos
        for entry in entries:
            folder, _, name = entry.path.rpartition("/")
            bucket = files.get(folder)
            if bucket is None:
                files[folder] = [(name, entry)]
            else:
                bucket.append((name, entry))
            dot = name.rfind(".")
            if dot > 0:
                ext = name[dot + 1 :].lower()
                if ext in VIDEO_EXTENSIONS:
                    found = videos.get(folder)
                    if found is None:
                        videos[folder] = [(name[:dot], ext, entry)]
                    else:
                        found.append((name[:dot], ext, entry))
                elif ext in _DISC_INDEX_EXTENSIONS:
                    self.index_files.append((folder, name, entry))
        self.discs: dict[str, tuple[DiscType, FileEntry]] = {}
        self.role_overrides: dict[str, VideoRole] = {}
        self.items: dict[str, list[_Item]] = {}
        self.absorbed: set[str] = set()
        self.builders: list[_Builder] = []
        self.orphans: list[FileEntry] = []

    # -- disc structures ---------------------------------------------------------------

    def find_discs(self) -> None:
        """Find disc structures and drop their content, keeping each index and NFOs."""
        for folder, name, entry in self.index_files:
            disc = DISC_INDEX_NAMES.get(name.lower())
            if disc is None:
                continue
            leaf = _leaf(folder).lower()
            if leaf in _DISC_INDEX_FOLDERS:
                if (leaf == "bdmv") != (disc is DiscType.BLURAY):
                    continue
                root = folder.rpartition("/")[0]
            elif disc is DiscType.DVD:
                root = folder
            else:
                continue  # index.bdmv outside BDMV/ (BDMV/BACKUP/) is disc content
            known = self.discs.get(root)
            if known is None or (known[0] is DiscType.DVD and disc is DiscType.BLURAY):
                self.discs[root] = (disc, entry)
        if not self.discs:
            return
        indexes = {entry.path for _, entry in self.discs.values()}
        for folder in list(self.files):
            top = self._disc_folder(folder)
            files = self.files[folder]
            if top is not None:
                keep_nfo = top == folder and _leaf(folder).lower() in _DISC_INDEX_FOLDERS
                kept = [
                    (n, e)
                    for n, e in files
                    if e.path in indexes or (keep_nfo and n.lower().endswith(".nfo"))
                ]
            elif folder in self.discs and self.discs[folder][0] is DiscType.DVD:
                kept = [(n, e) for n, e in files if not _FLAT_DVD_CONTENT.fullmatch(n.lower())]
            else:
                continue
            if kept:
                self.files[folder] = kept
            else:
                del self.files[folder]
            if folder in self.videos:
                paths = {e.path for _, e in kept}
                self.videos[folder] = [v for v in self.videos[folder] if v[2].path in paths]

    def _disc_folder(self, folder: str) -> str | None:
        """The disc folder (BDMV/, VIDEO_TS/, CERTIFICATE/...) `folder` is in, if any."""
        current = folder
        while current:
            parent, _, leaf = current.rpartition("/")
            if parent in self.discs and leaf.lower() in DISC_FOLDERS:
                return current
            current = parent
        return None

    # -- movies of each folder ---------------------------------------------------------

    def find_items(self) -> None:
        """Decide, folder by folder, which videos are movies."""
        for folder in self.videos.keys() | self.discs.keys():
            if folder and _leaf(folder).lower() in SPECIAL_FOLDERS:
                continue
            items = self._folder_items(folder, self.videos.get(folder, ()))
            if items:
                self.items[folder] = items

    def _folder_items(
        self, folder: str, videos: Iterable[tuple[str, str, FileEntry]]
    ) -> list[_Item]:
        """The movies whose videos sit directly in `folder`."""
        candidates = [v for v in videos if video_role_from_name(v[0]) is None]
        disc = self.discs.get(folder)
        if disc is not None:
            # A disc folder is one movie; other videos next to the disc are its extras.
            for _, _, entry in candidates:
                self.role_overrides[entry.path] = VideoRole.EXTRA
            return [_Item(None, {_stem(disc[1].path)}, disc[0])]
        if not candidates:
            return []
        if len(candidates) == 1:
            stem = candidates[0][0]
            return [_Item(stem, {stem})]

        by_ext: dict[str, list[str]] = {}
        for stem, ext, _ in candidates:
            by_ext.setdefault(ext, []).append(stem)
        items: list[_Item] = []
        stacked: set[str] = set()
        for stems in by_ext.values():
            if len(stems) < 2:
                continue
            for stack in find_stacks(stems):
                items.append(_Item(stack.base, set(stack.parts)))
                stacked.update(stack.parts)

        singles = [c for c in candidates if c[0] not in stacked]
        if len(candidates) >= 2 and singles:
            # A small video among bigger ones is a sample, not a second movie.
            largest = max(entry.size for _, _, entry in candidates)
            limit = self.sample_max_bytes
            kept = []
            for single in singles:
                size = single[2].size
                if size < limit and size * 10 < largest:
                    self.role_overrides[single[2].path] = VideoRole.SAMPLE
                else:
                    kept.append(single)
            singles = kept
        for stem, _, _ in singles:
            items.append(_Item(stem, {stem}))

        # One movie per basename: "Movie.mkv" + "Movie.avi" are two files of one movie.
        merged: dict[str, _Item] = {}
        for item in items:
            assert item.basename is not None
            key = item.basename.casefold()
            known = merged.get(key)
            if known is None:
                merged[key] = item
            else:
                known.stems |= item.stems
        return list(merged.values())

    def find_folder_stacks(self, children: dict[str, list[str]]) -> None:
        """Turn a folder whose CD1/, CD2/ subfolders each hold one video into one movie."""
        for folder, kids in children.items():
            # The library root is never a movie folder, only a folder of loose movies.
            if not folder or folder in self.items or folder in self.discs:
                continue
            if _leaf(folder).lower() in SPECIAL_FOLDERS:
                continue
            groups: dict[str, list[tuple[int, str, _Item]]] = {}
            for kid in kids:
                kid_items = self.items.get(kid)
                if kid_items is None or len(kid_items) != 1:
                    continue
                stacked = folder_stack(_leaf(kid))
                if stacked is None:
                    continue
                item = kid_items[0]
                if item.disc is None and len(item.stems) != 1:
                    continue  # the part folder itself holds a stack
                groups.setdefault(stacked[0], []).append((stacked[1], kid, item))
            parts_groups = [g for g in groups.values() if len(g) >= 2]
            if len(parts_groups) != 1:
                continue
            parts = sorted(parts_groups[0], key=lambda p: p[0])
            numbers = [number for number, _, _ in parts]
            discs = {item.disc for _, _, item in parts}
            if len(set(numbers)) != len(numbers) or len(discs) != 1:
                continue
            disc = discs.pop()
            stems = [s for _, _, item in parts for s in sorted(item.stems)]
            basename: str | None = None
            if disc is None:
                found = find_stacks(stems)
                if len(found) == 1 and len(found[0].parts) == len(set(stems)):
                    basename = found[0].base
                else:
                    basename = stems[0]
            self.items[folder] = [_Item(basename, set(stems), disc=disc)]
            self.absorbed.update(kid for _, kid, _ in parts)

    # -- assignment --------------------------------------------------------------------

    def assign(self, children: dict[str, list[str]]) -> None:
        """Walk the folder tree and give every file to a movie or to the orphans."""
        special = SPECIAL_FOLDERS
        work: list[tuple[str, _Ctx, bool]] = [("", None, False)]
        while work:
            folder, ctx, attached = work.pop()
            files = self.files.get(folder, [])
            kids = children.get(folder, ())
            if attached or (folder and _leaf(folder).lower() in special):
                # Inside a movie, a special folder's whole tree is the movie's; outside
                # any movie its own files are orphans and its subfolders may be movies.
                if ctx is None:
                    self.orphans.extend(e for _, e in files)
                    work.extend((kid, None, False) for kid in kids)
                else:
                    self._attach(ctx, folder, files)
                    work.extend((kid, ctx, True) for kid in kids)
                continue
            if folder in self.absorbed:
                # A CD1/ part folder is part of its parent's movie folder.
                self._attach(ctx, folder, files)
                work.extend((kid, ctx, False) for kid in kids)
                continue
            items = self.items.get(folder)
            if items is None:
                own: _Ctx = ctx if isinstance(ctx, _Builder) else None
                self._attach(own, folder, files)
                work.extend((kid, own, False) for kid in kids)
                continue
            if (folder == "" and items[0].disc is None) or len(items) > 1:
                loose = self._loose_units(folder, items)
                self._attach(loose, folder, files)
                for kid in kids:
                    is_special = _leaf(kid).lower() in special
                    work.append((kid, loose if is_special else None, False))
                continue
            item = items[0]
            builder = _Builder(folder, folder, item.basename, item.disc, item.stems)
            self.builders.append(builder)
            self._attach(builder, folder, files)
            work.extend((kid, builder, False) for kid in kids)

    def _loose_units(self, folder: str, items: list[_Item]) -> _Loose:
        """One unit per loose movie in a folder of many."""
        by_name: dict[str, _Builder] = {}
        for item in items:
            assert item.basename is not None
            key = f"{folder}/{item.basename}" if folder else item.basename
            builder = _Builder(key, folder, item.basename, None, item.stems)
            self.builders.append(builder)
            for name in item.names():
                by_name[name] = builder
        return _Loose(by_name)

    def _attach(self, ctx: _Ctx, folder: str, files: list[tuple[str, FileEntry]]) -> None:
        """Give the files of `folder` to the movie of `ctx`, or to the orphans."""
        if not files:
            return
        if isinstance(ctx, _Builder):
            ctx.chunks.append((folder, files))
        elif ctx is None:
            self.orphans.extend(entry for _, entry in files)
        else:
            shares: dict[int, tuple[_Builder, list[tuple[str, FileEntry]]]] = {}
            for name, entry in files:
                builder = ctx.find(name)
                if builder is None:
                    self.orphans.append(entry)
                else:
                    share = shares.get(id(builder))
                    if share is None:
                        shares[id(builder)] = (builder, [(name, entry)])
                    else:
                        share[1].append((name, entry))
            for builder, share_files in shares.values():
                builder.chunks.append((folder, share_files))

    # -- result ------------------------------------------------------------------------

    def build(self, builder: _Builder) -> MovieUnit:
        """Classify the files of one unit."""
        overrides = self.role_overrides
        classifier = FileClassifier(builder.stems, builder.folder)
        files: list[ClassifiedFile] = []
        for folder, chunk in builder.chunks:
            numbered = _NUMBERED_FOLDERS.get(_leaf(folder).lower()) if folder else None
            if numbered is not None:
                chunk = sorted(chunk, key=_NAME)  # extrafanart/ images count in name order
            count = 0
            classes = classifier.classify_names(folder, [name for name, _ in chunk])
            for (_, entry), cls in zip(chunk, classes, strict=True):
                if cls.kind is _VIDEO_KIND:
                    role = overrides.get(entry.path) if overrides else None
                    if role is not None and cls.role in _MAIN_ROLES:
                        cls = Classification(FileKind.VIDEO, role)
                elif numbered is not None and cls.role == numbered and cls.part is None:
                    count += 1
                    cls = dataclasses.replace(cls, part=count)
                files.append(ClassifiedFile(entry, cls))
        files.sort(key=_ENTRY_PATH)
        return MovieUnit(builder.key, builder.folder, builder.basename, builder.disc, files)

    def run(self) -> Discovery:
        """All phases, in order."""
        self.find_discs()
        children: dict[str, list[str]] = {}
        linked = {""}
        for folder in self.files:
            current = folder
            while current not in linked:
                linked.add(current)
                parent = current.rpartition("/")[0]
                children.setdefault(parent, []).append(current)
                current = parent
        self.find_items()
        self.find_folder_stacks(children)
        self.assign(children)
        units = [self.build(b) for b in self.builders]
        units.sort(key=lambda u: u.key)
        orphans = [ClassifiedFile(e, _UNKNOWN) for e in self.orphans]
        orphans.sort(key=_ENTRY_PATH)
        return Discovery(units, orphans)


def discover(
    entries: Iterable[FileEntry], *, sample_max_bytes: int = DEFAULT_SAMPLE_MAX_BYTES
) -> Discovery:
    """Group files into movies and classify each file; disc content is left out."""
    # A lazy walk of the disk runs here, with the collector on.
    files = entries if isinstance(entries, list | tuple) else list(entries)
    # Discovery allocates a few small objects per file and no reference cycles, so the
    # cyclic collector would only rescan them: pausing it is ~20% of the run time on a
    # 50,000-file library. Re-enabled as soon as the result is built.
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        return _Discoverer(files, sample_max_bytes).run()
    finally:
        if was_enabled:
            gc.enable()
