"""Scan benchmark: 10,000 generated movies; first scan, no-change rescan, 1 % changed.

One command, makes its own data:

    .venv/bin/python benchmarks/scan.py [--movies 10000] [--workdir DIR] [--keep]

Each scan runs in a fresh child process (SQLite under the work dir, as
`metarr serve` would) so its peak RSS is measured on its own. Prints a table.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def child(data_dir: str, library_path: str) -> None:
    """Run one scan of the library in this process and print its numbers as JSON."""
    from metarr.bootstrap import build
    from metarr.settings import Settings

    settings = Settings(data_dir=Path(data_dir), api_key="bench")
    container = build(settings)
    try:
        libs = container.libraries.list()
        lib = (
            libs[0]
            if libs
            else container.libraries.create(name="Bench", kind="movies", path=library_path)
        )
        run, _ = container.scans.create(lib.id, trigger="benchmark")
        start = time.perf_counter()
        result = container.scans.run(run.id)
        wall = time.perf_counter() - start
    finally:
        container.close()
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(
        json.dumps(
            {
                "status": result.status,
                "error": result.error,
                "wall": wall,
                "stats": result.stats,
                "peak_rss_mb": peak_kb / 1024,
            }
        )
    )


def run_scan(data_dir: Path, library: Path) -> dict[str, object]:
    """Scan in a child process and return its report."""
    out = subprocess.run(
        [sys.executable, __file__, "--child", str(data_dir), str(library)],
        check=True,
        capture_output=True,
        text=True,
    )
    report: dict[str, object] = json.loads(out.stdout.strip().splitlines()[-1])
    if report["status"] != "succeeded":
        raise SystemExit(f"scan failed: {report['error']}")
    return report


def time_find(library: Path) -> float:
    """Wall time of `find <lib> -printf '%p %s %T@\\n'` (best of 3, page cache warm)."""
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        subprocess.run(
            ["find", str(library), "-printf", r"%p %s %T@\n"], check=True, stdout=subprocess.DEVNULL
        )
        best = min(best, time.perf_counter() - start)
    return best


def change_some(library: Path, fraction: float, seed: int = 7) -> int:
    """Touch the NFO (new plot) or replace the video of `fraction` of the movies."""
    folders = sorted(p for p in library.iterdir() if p.is_dir())
    rng = random.Random(seed)
    picked = rng.sample(folders, max(1, int(len(folders) * fraction)))
    for i, folder in enumerate(picked):
        nfos = list(folder.glob("*.nfo"))
        if nfos and i % 2 == 0:
            text = nfos[0].read_text(encoding="utf-8")
            nfos[0].write_text(
                text.replace("</movie>", "<tag>changed</tag></movie>"), encoding="utf-8"
            )
        else:
            video = next(folder.glob("*.mkv"))
            with open(video, "ab") as fh:
                fh.write(os.urandom(16))
    return len(picked)


def main() -> None:
    """Build the library, run the scans, print the table."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--movies", type=int, default=10_000)
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--keep", action="store_true", help="keep the generated data")
    parser.add_argument("--child", nargs=2, metavar=("DATA_DIR", "LIBRARY"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return

    from metarr.testing.library_builder import LibraryBuilder

    work = args.workdir or Path(tempfile.mkdtemp(prefix="metarr-bench-scan-"))
    library, data = work / "library", work / "data"
    shutil.rmtree(library, ignore_errors=True)
    shutil.rmtree(data, ignore_errors=True)
    library.mkdir(parents=True)
    t0 = time.perf_counter()
    LibraryBuilder(library).bulk(args.movies, nfo_ratio=0.9, subs_every=5, trailer_every=10)
    build_s = time.perf_counter() - t0
    n_files = sum(len(f) for _, _, f in os.walk(library))
    print(
        f"built {args.movies} movies ({n_files} files) in {build_s:.1f}s under {library}",
        flush=True,
    )

    first = run_scan(data, library)
    find_s = time_find(library)
    again = run_scan(data, library)
    changed = change_some(library, 0.01)
    partial = run_scan(data, library)

    def row(name: str, r: dict[str, object], extra: str = "") -> str:
        stats = r["stats"]
        assert isinstance(stats, dict)
        wall = float(r["wall"])  # type: ignore[arg-type]
        return (
            f"| {name:<26} | {wall:8.2f} s | {stats['files'] / wall:10.0f} | "
            f"{float(r['peak_rss_mb']):7.0f} MB | {stats['added']:>6} | {stats['updated']:>6} | "  # type: ignore[arg-type]
            f"{stats['unchanged']:>6} | {stats['probed']:>6} | {extra}"
        )

    print()
    print(f"movies: {args.movies}, files: {n_files}, CPU cores: {os.cpu_count()}")
    head = ("scan", "wall", "files/s", "peak RSS", "added", "updated", "unchgd", "probed", "note")
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    print(row("first scan", first, "target <= 120 s, RSS <= 300 MB"))
    ratio = float(again["wall"]) / find_s  # type: ignore[arg-type]
    print(
        row(
            "no-change rescan",
            again,
            f"target <= 3 s and <= 10x find; find = {find_s:.3f} s, ratio {ratio:.1f}x",
        )
    )
    print(row(f"rescan, 1 % changed ({changed})", partial))
    if not args.keep and args.workdir is None:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
