"""What publishing a movie starts from: its NFO, the files it wants, what is there.

Pure of side effects (reads only): the publisher (`publish.py`) plans and writes
with these, verification renders NFOs again with `render_nfo`.
"""

from __future__ import annotations

import hashlib
import os
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from metarr import __version__
from metarr.db import publish_store as store
from metarr.domain import publish as rules
from metarr.domain.fields import fields_to_info
from metarr.domain.media import ExternalIds, MovieStatus
from metarr.domain.publish import DesiredFile, FileRole, OnDisk, Profile
from metarr.nfo import writer as nfo_writer
from metarr.nfo.writer import NfoOptions, write_movie_nfo
from metarr.storage import atomic
from metarr.storage.cache import ContentCache


def _writer_id() -> str:
    """Changes whenever the NFO writer's code does, so its new output gets published."""
    try:
        return hashlib.sha256(Path(nfo_writer.__file__).read_bytes()).hexdigest()
    except OSError:
        return __version__


WRITER_ID = _writer_id()


@dataclass(frozen=True, slots=True)
class PublishOptions:
    """How the publisher works: threads for file I/O, movies per transaction, NFO format."""

    threads: int = 8
    batch_size: int = 500
    kodi_version: int = 20
    include_fileinfo: bool = True


@dataclass(slots=True)
class Prepared:
    """A movie ready to plan: what it wants, and the bytes/cache files behind each hash."""

    desired: list[DesiredFile]
    nfo: bytes
    sources: dict[str, Path]  # sha256 -> cache file
    sizes: dict[str, int]  # sha256 -> size
    missing: list[str]


def render_nfo(src: store.MovieSource, profile: Profile, options: PublishOptions) -> bytes:
    """The NFO of a movie, as bytes (deterministic: same inputs, same bytes)."""
    info = fields_to_info(src.fields())
    # not enriched yet: the title and year the scan read from the name, as Kodi would
    info.title = info.title or src.title
    info.year = info.year or src.year
    # Kodi finds `<base>-trailer.*` itself; a relative path or a web URL would not play.
    info.trailer = None
    return write_movie_nfo(
        info,
        external_ids(src.ids),
        streams=src.videos() or None,
        options=NfoOptions(
            kodi_version=options.kodi_version,
            include_fileinfo=options.include_fileinfo,
            profile=profile.value,
        ),
    )


def prepare(
    src: store.MovieSource,
    settings: store.PublishSettings,
    foreign: set[str],
    cache: ContentCache,
    options: PublishOptions,
) -> Prepared:
    """Render the NFO, find the artwork and headshots in the cache, name the files."""
    profile = settings.profile
    layout = rules.MovieLayout(
        src.folder, src.basename, disc=src.disc is not None, own_folder=src.own_folder
    )
    nfo = render_nfo(src, profile, options)
    nfo_sha = hashlib.sha256(nfo).hexdigest()
    sources: dict[str, Path] = {}
    sizes: dict[str, int] = {nfo_sha: len(nfo)}
    missing: list[str] = []
    artwork: list[rules.Artwork] = []
    for art_type, sha in src.artwork:
        found = cache.find(sha)
        if found is None:
            missing.append(f"{art_type} {sha}")
            continue
        sources[sha], sizes[sha] = found.path, found.size
        artwork.append(rules.Artwork(art_type, sha, found.path.suffix.lstrip(".")))
    actors: list[rules.ActorThumb] = []
    kept_headshots = published_headshots(src)
    for actor in fields_to_info(src.fields()).cast:
        # A cast read back from an NFO has no headshot hashes (an NFO never carries
        # them): the headshot published for that actor stays until a new one is known.
        headshot = actor.thumb_sha256 or kept_headshots.get(actor.name)
        if not headshot:
            continue
        found = cache.find(headshot)
        if found is None:
            continue  # a headshot that was never cached is not an error
        sources[found.sha256], sizes[found.sha256] = found.path, found.size
        actors.append(rules.ActorThumb(actor.name, found.sha256, found.path.suffix.lstrip(".")))
    desired = rules.desired_files(
        layout, profile, nfo_sha256=nfo_sha, artwork=artwork, actors=actors
    )
    desired = [d for d in desired if not (d.kind is FileRole.ACTOR and d.path in foreign)]
    return Prepared(desired=desired, nfo=nfo, sources=sources, sizes=sizes, missing=missing)


def disk_state(
    root: Path, prepared: Prepared, published: dict[str, store.PublishedRecord]
) -> dict[str, OnDisk]:
    """What is at each wanted or recorded path (hashing only what might match)."""
    wanted = {d.path: d.sha256 for d in prepared.desired}
    state: dict[str, OnDisk] = {}
    for path in {*wanted, *published}:
        try:
            st = os.stat(root / path)
        except (FileNotFoundError, NotADirectoryError):
            state[path] = rules.ABSENT
            continue
        record = published.get(path)
        if record is not None and (record.size, record.mtime_ns) == (
            st.st_size,
            st.st_mtime_ns,
        ):
            state[path] = OnDisk(True, record.sha256)
            continue
        want = wanted.get(path)
        if want is not None and prepared.sizes.get(want) not in (None, st.st_size):
            state[path] = OnDisk(True, None)  # differs: no need to read it
            continue
        state[path] = OnDisk(True, atomic.sha256_file(root / path))
    return state


def shared_owners(conn: Any, sources: Sequence[store.MovieSource]) -> dict[int, dict[str, int]]:
    """Per library: `.actors/` paths in shared folders -> the movie that published them."""
    shared: dict[int, set[str]] = defaultdict(set)
    for src in sources:
        if not src.own_folder:
            shared[src.library_id].add(src.folder)
    return {lib: store.actor_owners(conn, lib, folders) for lib, folders in shared.items()}


def foreign_paths(owners: dict[str, int], movie_id: int) -> set[str]:
    """Headshot paths another movie of the folder published."""
    return {path for path, owner in owners.items() if owner != movie_id}


def skip_reason(src: store.MovieSource) -> str | None:
    if src.deleted:
        return "deleted"
    if src.status != MovieStatus.IDENTIFIED:
        return f"not identified ({src.status})"
    return None


def external_ids(ids: dict[str, str]) -> ExternalIds:
    tmdb, tvdb = ids.get("tmdb"), ids.get("tvdb")
    return ExternalIds(
        tmdb=int(tmdb) if tmdb and tmdb.isdigit() else None,
        imdb=ids.get("imdb"),
        tvdb=int(tvdb) if tvdb and tvdb.isdigit() else None,
    )


def published_view(src: store.MovieSource) -> dict[str, rules.Published]:
    return {p: rules.Published(r.path, r.kind, r.role, r.sha256) for p, r in src.published.items()}


def published_headshots(src: store.MovieSource) -> dict[str, str]:
    """Actor name -> hash of the headshot this movie published for them."""
    return {r.role: r.sha256 for r in src.published.values() if r.kind is FileRole.ACTOR and r.role}


def fingerprint(
    src: store.MovieSource,
    settings: store.PublishSettings,
    options: PublishOptions,
    foreign: Iterable[str],
    headshots: Iterable[tuple[str, str]],
) -> str:
    """A hash of everything publishing the movie depends on (metadata as stored text).

    `headshots` are the movie's `.actors/` files: a cast read back from an NFO keeps
    the headshots published before, so they are inputs too.
    """
    parts = [
        WRITER_ID,
        settings.profile.value,
        str(options.kodi_version),
        str(options.include_fileinfo),
        src.folder,
        str(src.basename),
        str(src.disc),
        str(src.own_folder),
        src.status,
        str(src.title),
        str(src.year),
        src.fields_blob,
        repr(sorted(src.ids.items())),
        repr(src.video_rows),
        repr(src.artwork),
        repr(sorted(headshots)),
        repr(sorted(foreign)),
    ]
    return hashlib.sha256("\x1e".join(parts).encode("utf-8", "surrogatepass")).hexdigest()


def records_intact(root: Path, src: store.MovieSource) -> bool:
    """True when every recorded file is still there with its recorded size and mtime."""
    base = str(root)
    for path, record in src.published.items():
        try:
            st = os.stat(f"{base}/{path}")
        except OSError:
            return False
        if st.st_size != record.size or st.st_mtime_ns != record.mtime_ns:
            return False
    return True
