"""Publish benchmark: 10,000 enriched movies; first publish, no-op re-publish, verification.

One command, makes its own data:

    .venv/bin/python benchmarks/publish.py [--movies 10000] [--workdir DIR] [--keep]

Setup (not timed) writes a library of movie folders, each with a tiny stand-in
video, and fills a SQLite database the way scanning and enrichment would leave it:
the movie, its ids, ~16 metadata fields (cast of 5, two ratings, a collection), a
probed main video with three streams, and a selected poster and fanart whose small
generated images sit in the content cache (written directly, without the cache's
per-file fsync, to keep the setup fast). Each measurement then runs the real
job through the queue (`publish` / `verify` of the library) in this process:

1. first publish: NFO + poster + fanart written into every folder (atomic,
   flushed), records and fingerprints stored;
2. no-op re-publish: nothing changed, so nothing may be written;
3. verification of the whole library: published files and cache files compared
   by size and mtime against their records (hashing only what changed).

Prints a table with the targets (<= 60 s, <= 5 s, <= 10 s).
"""

from __future__ import annotations

import argparse
import hashlib
import io
import os
import shutil
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from PIL import Image
from sqlalchemy import insert

TARGETS = {"first publish": 60.0, "no-op re-publish": 5.0, "verification": 10.0}
CHUNK = 2000


def _image(size: tuple[int, int], color: tuple[int, int, int]) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, color).save(out, "JPEG", quality=70)
    return out.getvalue()


def _cache_file(cache_root: Path, data: bytes, ext: str) -> str:
    """Put bytes where ContentCache keeps them (no fsync: setup only)."""
    sha = hashlib.sha256(data).hexdigest()
    shard = cache_root / sha[:2] / sha[2:4]
    shard.mkdir(parents=True, exist_ok=True)
    path = shard / f"{sha}.{ext}"
    path.write_bytes(data)
    os.chmod(path, 0o444)
    return sha


def _fields(n: int, title: str, year: int) -> dict[str, Any]:
    return {
        "title": title,
        "original_title": title,
        "year": year,
        "plot": f"Plot of {title}. " * 8,
        "outline": f"Outline of {title}.",
        "tagline": "Nothing is what it seems.",
        "runtime": 90 + n % 60,
        "premiered": f"{year}-0{1 + n % 9}-1{n % 10}",
        "certification": "PG-13",
        "genres": ["Drama", "Thriller"],
        "studios": ["Generated Pictures"],
        "countries": ["United States of America"],
        "directors": [f"Director {n % 500}"],
        "writers": [f"Writer {n % 700}", f"Writer {(n + 1) % 700}"],
        "cast": [
            {"name": f"Actor {(n + k) % 3000}", "role": f"Role {k}", "order": k, "thumb": None}
            for k in range(5)
        ],
        "ratings": [
            {"source": "themoviedb", "value": 7.1, "votes": 1200, "max": 10.0, "default": True},
            {"source": "imdb", "value": 7.3, "votes": 54000, "max": 10.0, "default": False},
        ],
        "set": {
            "name": f"Collection {n % 300}",
            "overview": "A collection.",
            "tmdb": 9000 + n % 300,
        },
    }


def setup(container: Any, root: Path, movies: int) -> int:
    """The library on disk and in the database; returns the library id."""
    from metarr.db.tables import (
        ExternalIdRow,
        MediaFileRow,
        MetadataFieldRow,
        MovieRow,
        StreamRow,
    )
    from metarr.db.tables_assets import AssetCandidateRow

    cache_root = Path(container.settings.data_dir) / "cache"
    poster_base = _image((40, 60), (150, 40, 40))
    fanart_base = _image((64, 36), (40, 40, 150))
    lib = container.libraries.create(name="Bench", kind="movies", path=str(root))
    now = datetime.now(UTC)
    rows: dict[str, list[dict[str, Any]]] = {
        k: [] for k in ("movies", "ids", "files", "streams", "fields", "assets")
    }
    for n in range(1, movies + 1):
        year = 1950 + n % 70
        title = f"Generated Movie {n:05d}"
        folder = f"{title} ({year})"
        (root / folder).mkdir()
        video = root / folder / f"{folder}.mkv"
        video.write_bytes(b"\x1a\x45\xdf\xa3 stand-in video %d" % n)
        st = video.stat()
        rows["movies"].append(
            {
                "id": n,
                "library_id": lib.id,
                "key": folder,
                "folder": folder,
                "basename": folder,
                "disc": None,
                "title": title,
                "year": year,
                "sort_key": title.lower(),
                "status": "identified",
                "monitored": True,
                "parsed_title": title,
                "parsed_year": year,
                "artwork": "",
                "created_at": now,
                "updated_at": now,
            }
        )
        rows["ids"] += [
            {"movie_id": n, "provider": "tmdb", "value": str(100000 + n), "source": "provider"},
            {"movie_id": n, "provider": "imdb", "value": f"tt{1000000 + n}", "source": "provider"},
        ]
        rows["files"].append(
            {
                "id": n,
                "library_id": lib.id,
                "movie_id": n,
                "path": f"{folder}/{folder}.mkv",
                "kind": "video",
                "role": "main",
                "size": st.st_size,
                "mtime_ns": st.st_mtime_ns,
                "container": "matroska",
                "duration": 5400.0 + n % 600,
                "probe_status": "ok",
                "prober": "mediainfo",
                "created_at": now,
                "updated_at": now,
            }
        )
        rows["streams"] += [
            {
                "file_id": n,
                "index": 0,
                "kind": "video",
                "codec": "h264",
                "width": 1920,
                "height": 1080,
                "aspect": 1.778,
                "frame_rate": 23.976,
                "is_default": True,
                "forced": False,
            },
            {
                "file_id": n,
                "index": 1,
                "kind": "audio",
                "codec": "ac3",
                "language": "eng",
                "channels": 6,
                "is_default": True,
                "forced": False,
            },
            {
                "file_id": n,
                "index": 2,
                "kind": "subtitle",
                "codec": "subrip",
                "language": "eng",
                "is_default": False,
                "forced": False,
            },
        ]
        rows["fields"] += [
            {"movie_id": n, "field": k, "value": v, "source": "tmdb", "updated_at": now}
            for k, v in _fields(n, title, year).items()
        ]
        for art_type, base in (("poster", poster_base), ("fanart", fanart_base)):
            sha = _cache_file(cache_root, base + b"bench-%s-%d" % (art_type.encode(), n), "jpg")
            rows["assets"].append(
                {
                    "movie_id": n,
                    "type": art_type,
                    "url": f"https://image.example/{art_type}/{n}.jpg",
                    "provider": "tmdb",
                    "votes": 10,
                    "score": 90.0,
                    "blocked": False,
                    "selected": True,
                    "selected_by": "auto",
                    "sha256": sha,
                    "fetched_at": now,
                }
            )
    for table, key in (
        (MovieRow, "movies"),
        (ExternalIdRow, "ids"),
        (MediaFileRow, "files"),
        (StreamRow, "streams"),
        (MetadataFieldRow, "fields"),
        (AssetCandidateRow, "assets"),
    ):
        values = rows[key]
        if key == "ids":
            values = [{**v, "updated_at": now} for v in values]
        for start in range(0, len(values), CHUNK):
            with container.db.session() as s:
                s.execute(insert(table), values[start : start + CHUNK])
    return int(lib.id)


def run_job(container: Any, kind: str, library_id: int) -> tuple[float, dict[str, Any]]:
    """Queue the library's `publish` or `verify` job, run it here; wall time and result."""
    from metarr.jobs import Worker

    service = container.publishing
    start = time.perf_counter()
    [job_id] = (
        service.enqueue_library(library_id)
        if kind == "publish"
        else service.verify_library(library_id)
    )
    Worker(container.db, container.registry, queue=container.queue).run_until_empty()
    wall = time.perf_counter() - start
    job = container.queue.get(job_id)
    if job.status.value != "succeeded":
        raise SystemExit(f"{kind} failed: {job.last_error}")
    return wall, dict(job.result or {})


def count_files(root: Path) -> tuple[int, int]:
    """Files under the library (all, and Metarr temp files)."""
    total = temp = 0
    for _, _, names in os.walk(root):
        total += len(names)
        temp += sum(1 for n in names if n.startswith(".metarr-tmp-"))
    return total, temp


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--movies", type=int, default=10_000)
    parser.add_argument("--workdir", type=Path)
    parser.add_argument("--keep", action="store_true", help="keep the work dir")
    args = parser.parse_args()
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
    from metarr.bootstrap import build
    from metarr.settings import Settings

    work = args.workdir or Path(tempfile.mkdtemp(prefix="metarr-publish-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    root, data = work / "library", work / "data"
    shutil.rmtree(root, ignore_errors=True)
    shutil.rmtree(data, ignore_errors=True)
    root.mkdir()
    container = build(Settings(data_dir=data, api_key="bench", workers=0))
    try:
        start = time.perf_counter()
        library_id = setup(container, root, args.movies)
        print(f"setup: {args.movies} movies in {time.perf_counter() - start:.1f} s", flush=True)
        results: list[tuple[str, float, str]] = []
        wall, out = run_job(container, "publish", library_id)
        files, temps = count_files(root)
        results.append(
            (
                "first publish",
                wall,
                f"{out['created']} created, {out['replaced']} replaced, {out['failed']} failed; "
                f"{files} files in the library, {temps} temp",
            )
        )
        before = {p: p.stat().st_mtime_ns for p in root.glob("*/*.nfo")}
        wall, out = run_job(container, "publish", library_id)
        after = {p: p.stat().st_mtime_ns for p in root.glob("*/*.nfo")}
        written = sum(1 for p, m in before.items() if after.get(p) != m)
        results.append(
            (
                "no-op re-publish",
                wall,
                f"{out['unchanged']} unchanged, {out['created'] + out['replaced']} written, "
                f"NFO mtimes changed: {written}",
            )
        )
        wall, out = run_job(container, "verify", library_id)
        stats = out["stats"]
        found = {
            k: v
            for k, v in stats.items()
            if k not in {"movies", "files", "hashed", "cache_files", "cache_hashed", "repaired"}
        }
        results.append(
            (
                "verification",
                wall,
                f"{stats['files']} files, {stats['cache_files']} cache files, "
                f"hashed {stats['hashed']} + {stats['cache_hashed']}, findings {found or 0}",
            )
        )
    finally:
        container.close()
        if not args.keep and args.workdir is None:
            shutil.rmtree(work, ignore_errors=True)
    load = os.getloadavg()[0]
    print(f"\n{args.movies:,} movies, SQLite, load average {load:.2f} at the end\n")
    print(f"| {'measurement':<17} | {'wall':>8} | {'target':>7} | ok  | detail")
    print(f"|{'-' * 19}|{'-' * 10}|{'-' * 9}|-----|-------")
    for name, wall, detail in results:
        target = TARGETS[name]
        ok = "yes" if wall <= target else "NO"
        print(f"| {name:<17} | {wall:>6.2f} s | {target:>5.0f} s | {ok:<3} | {detail}")


if __name__ == "__main__":
    main()
