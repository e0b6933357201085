"""Player sync benchmark against a real, headless Kodi 20: from "publish finished" to
"visible in Kodi" for new and for changed movies, JSON-RPC calls per item, library scans.

One command, makes its own Kodi, library and database (SQLite):

    .venv/bin/python benchmarks/player_sync.py [--movies 20] [--workdir DIR] [--keep]

Setup (not timed): a headless Kodi (scripts/kodi-test-peer.sh; the whole source scanned
once, as a Kodi in use would have it), a Metarr library inside Kodi's movie source with
N movies (tiny real MKVs, NFO ids), scanned, with a generated poster and fanart selected,
and the Kodi player added (after its connection test). The in-process job workers run as
under `metarr serve`.

Measured, each for N movies:
1. new: every movie is published (one `publish` job each, all queued at once); the phase
   chain queues `sync`, which scans exactly the movie's folder in Kodi;
2. changed: every movie gets a new plot and another poster, then is published again; the
   sync refreshes the movie in Kodi and purges its stale textures.

Latency = when Kodi first lists the movie as published (title for new ones, the new plot
for changed ones; Kodi polled every 25 ms over HTTP) minus when its publish job finished.
Calls per item are the JSON-RPC requests the sync jobs sent (HTTP and TCP), over the jobs
that called Kodi (a chained sync of a publish already shown is skipped); a library-wide
scan is a `VideoLibrary.Scan` without a directory or of the source root. Target: p95 <= 5 s
and no library-wide scans.
"""

from __future__ import annotations

import argparse
import io
import json
import shutil
import statistics
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from PIL import Image
from sqlalchemy import delete, insert, select

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from metarr.bootstrap import Container, build
from metarr.db.tables import MetadataFieldRow, MovieRow
from metarr.db.tables_assets import AssetCandidateRow
from metarr.jobs import JobStatus
from metarr.jobs.tables import JobRow
from metarr.players.kodi import KodiPlayer
from metarr.settings import Settings
from metarr.testing.kodi import KodiPeer, ensure_kodi
from metarr.testing.library_builder import LibraryBuilder

TARGET_P95 = 5.0
DEBUG = "--debug" in sys.argv
POLL = 0.025


def _image(color: tuple[int, int, int], size: tuple[int, int]) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, color).save(out, "JPEG", quality=80)
    return out.getvalue()


def _select_art(container: Container, movie_id: int, shade: int) -> None:
    """Cache a poster and a fanart and select them (what enrichment leaves)."""
    cache = container.enrichment.cache
    now = datetime.now(UTC)
    with container.db.session() as s:
        s.execute(delete(AssetCandidateRow).where(AssetCandidateRow.movie_id == movie_id))
        for kind, size in (("poster", (40, 60)), ("fanart", (64, 36))):
            sha = cache.put_bytes(_image((shade, 40, 255 - shade), size), "jpg").sha256
            s.execute(
                insert(AssetCandidateRow).values(
                    movie_id=movie_id,
                    type=kind,
                    url=f"https://image.tmdb.org/t/p/original/{movie_id}-{kind}-{shade}.jpg",
                    provider="tmdb",
                    votes=10,
                    score=100.0,
                    blocked=False,
                    selected=True,
                    selected_by="auto",
                    sha256=sha,
                    fetched_at=now,
                )
            )


def _set_plot(container: Container, movie_id: int, plot: str) -> None:
    with container.db.session() as s:
        s.execute(
            delete(MetadataFieldRow).where(
                MetadataFieldRow.movie_id == movie_id, MetadataFieldRow.field == "plot"
            )
        )
        s.execute(
            insert(MetadataFieldRow).values(
                movie_id=movie_id,
                field="plot",
                value=plot,
                source="user",
                updated_at=datetime.now(UTC),
            )
        )


class KodiWatcher(threading.Thread):
    """Polls Kodi's movie list; records when each file first matches what is expected."""

    def __init__(self, kodi: KodiPeer, expected: dict[str, str]) -> None:
        super().__init__(daemon=True)
        self.kodi = kodi
        self.expected = expected  # file -> plot Kodi must show
        self.seen: dict[str, float] = {}
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set() and len(self.seen) < len(self.expected):
            now = time.time()
            for movie in self.kodi.movies(["file", "plot"]):
                file = str(movie["file"])
                wanted = self.expected.get(file)
                if wanted is not None and file not in self.seen and movie.get("plot") == wanted:
                    self.seen[file] = now
            self.stop.wait(POLL)


def _publish_round(
    container: Container, kodi: KodiPeer, movies: dict[int, str], plots: dict[int, str]
) -> tuple[list[float], list[int], int]:
    """Publish every movie; returns latencies (s), the sync jobs' call counts, and the
    sync jobs skipped as already done (a publish picked up by two chained jobs)."""
    watcher = KodiWatcher(kodi, {movies[m]: plots[m] for m in movies})
    watcher.start()
    first_job = _max_job_id(container)
    for movie_id in movies:
        container.publishing.enqueue_movie(movie_id)
    deadline = time.monotonic() + 300
    while watcher.is_alive() and time.monotonic() < deadline:
        watcher.join(0.2)
    watcher.stop.set()
    _wait_idle(container)
    finished = _publish_finished(container, first_job)
    missing = [movies[m] for m in movies if movies[m] not in watcher.seen]
    if missing:
        raise SystemExit(f"not visible in Kodi after 300 s: {missing[:3]}...")
    latencies = [watcher.seen[movies[m]] - finished[m] for m in movies]
    calls, skipped = _sync_calls(container, first_job)
    return latencies, calls, skipped


def _max_job_id(container: Container) -> int:
    with container.db.session() as s:
        return int(s.scalar(select(JobRow.id).order_by(JobRow.id.desc()).limit(1)) or 0)


def _wait_idle(container: Container, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        stats = container.queue.stats()
        pending = stats.by_status.get(JobStatus.QUEUED, 0) + stats.by_status.get(
            JobStatus.RETRY_SCHEDULED, 0
        )
        if not pending and not stats.running:
            return
        time.sleep(0.05)
    raise SystemExit(f"jobs still pending: {container.queue.stats()}")


def _publish_finished(container: Container, after: int) -> dict[int, float]:
    with container.db.session() as s:
        rows = s.execute(
            select(JobRow.payload, JobRow.finished_at, JobRow.status).where(
                JobRow.type == "publish", JobRow.id > after
            )
        ).all()
    out = {}
    for payload, finished_at, status in rows:
        if status != JobStatus.SUCCEEDED or finished_at is None:
            raise SystemExit(f"a publish job did not succeed: {payload} {status}")
        when = finished_at if finished_at.tzinfo else finished_at.replace(tzinfo=UTC)
        out[int(payload["movie_id"])] = when.timestamp()
    return out


def _sync_calls(container: Container, after: int) -> tuple[list[int], int]:
    with container.db.session() as s:
        rows = s.execute(
            select(
                JobRow.result,
                JobRow.status,
                JobRow.last_error,
                JobRow.created_at,
                JobRow.started_at,
                JobRow.finished_at,
            ).where(JobRow.type == "sync", JobRow.id > after, JobRow.target.like("players:%"))
        ).all()
    calls, skipped = [], 0
    for result, status, error, created, started, finished in rows:
        if DEBUG:
            print(
                f"sync waited {(started - created).total_seconds():.2f}s, ran "
                f"{(finished - started).total_seconds():.2f}s, player "
                f"{(result or {}).get('seconds')}s"
            )
        if status != JobStatus.SUCCEEDED:
            raise SystemExit(f"a sync job did not succeed: {status} {error}")
        if (result or {}).get("skipped"):
            skipped += 1
        else:
            calls.append(int((result or {}).get("calls", 0)))
    return calls, skipped


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--movies", type=int, default=20)
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    parser.add_argument("--debug", action="store_true", help="print each sync job's timing")
    args = parser.parse_args()
    problem = ensure_kodi()
    if problem is not None:
        print(f"a real Kodi cannot run here: {problem}", file=sys.stderr)
        return 2
    work = args.workdir or Path(tempfile.mkdtemp(prefix="metarr-player-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    kodi = KodiPeer(work / "kodi")
    container: Container | None = None
    try:
        kodi.start()
        source = kodi.movies_dir
        with KodiPlayer(kodi.config()) as warm:  # a Kodi in use: the source listed once
            warm.kodi.scan_folder(str(source))
        root = source / "library"
        builder = LibraryBuilder(root, templates_dir=work / "templates")
        for n in range(args.movies):
            builder.movie(f"Bench Movie {n:03d}", 2000 + n % 20, tmdb=10_000 + n, artwork=())
        settings = Settings(
            data_dir=work / "data",
            database_url=f"sqlite:///{work / 'metarr.db'}",
            api_key="bench",
            workers=2,
        )
        container = build(settings)
        library = container.libraries.create(name="Bench", kind="movies", path=str(root))
        container.scans.run(container.scans.create(library.id)[0].id)
        with container.db.session() as s:
            ids = {
                int(r.id): str(root / r.key / f"{r.key}.mkv")
                for r in s.execute(select(MovieRow.id, MovieRow.key)).all()
            }
        for movie_id in ids:
            _select_art(container, movie_id, 30)
            _set_plot(container, movie_id, f"First plot of {movie_id}.")
        view = container.players.create(
            {
                "name": "Kodi",
                "type": "kodi",
                "host": "127.0.0.1",
                "port": kodi.http_port,
                "tcp_port": kodi.tcp_port,
            }
        )
        player = container.players.player(container.players.stored(view.id))
        assert isinstance(player, KodiPlayer)
        sent: list[tuple[str, Any]] = []
        call = player.kodi.client.call

        def recording(method: str, params: Any = None) -> Any:
            sent.append((method, params))
            return call(method, params)

        player.kodi.client.call = recording  # type: ignore[method-assign]
        container.start_workers()

        new_lat, new_calls, new_skipped = _publish_round(
            container, kodi, ids, {m: f"First plot of {m}." for m in ids}
        )
        for movie_id in ids:
            _select_art(container, movie_id, 200)
            _set_plot(container, movie_id, f"Second plot of {movie_id}.")
        changed_lat, changed_calls, changed_skipped = _publish_round(
            container, kodi, ids, {m: f"Second plot of {m}." for m in ids}
        )
        scans = [p for m, p in sent if m == "VideoLibrary.Scan"]
        roots = {f"{source}/", f"{root}/", str(source), str(root)}
        library_wide = [
            p for p in scans if not (p or {}).get("directory") or p["directory"] in roots
        ]
        rows = [("new", new_lat, new_calls), ("changed", changed_lat, changed_calls)]
        print(f"\nPlayer sync, real Kodi 20 (headless), {args.movies} movies per round")
        print("| round | p50 | p95 | max | JSON-RPC calls per item (mean, max) | target |")
        print("|---|---|---|---|---|---|")
        for name, lat, calls in rows:
            p50, p95 = statistics.median(lat), _pct(lat, 0.95)
            print(
                f"| {name} | {p50:.2f} s | {p95:.2f} s | {max(lat):.2f} s "
                f"| {statistics.mean(calls):.1f}, {max(calls)} "
                f"| p95 <= {TARGET_P95:g} s {'OK' if p95 <= TARGET_P95 else 'MISSED'} |"
            )
        print(
            f"\nsync jobs that called Kodi: {len(new_calls)} + {len(changed_calls)} "
            f"(skipped as already synced: {new_skipped} + {changed_skipped}); "
            f"VideoLibrary.Scan calls: {len(scans)} (each of one movie folder); "
            f"library-wide: {len(library_wide)} (target 0)"
        )
        summary = {
            "movies": args.movies,
            "new": {"p50": statistics.median(new_lat), "p95": _pct(new_lat, 0.95)},
            "changed": {"p50": statistics.median(changed_lat), "p95": _pct(changed_lat, 0.95)},
            "calls_per_item": {
                "new": statistics.mean(new_calls),
                "changed": statistics.mean(changed_calls),
            },
            "scans": len(scans),
            "library_wide_scans": len(library_wide),
        }
        print(json.dumps(summary))
        ok = (
            summary["library_wide_scans"] == 0
            and max(summary["new"]["p95"], summary["changed"]["p95"]) <= TARGET_P95
        )
        return 0 if ok else 1
    finally:
        if container is not None:
            container.close()
        kodi.stop()
        if not args.keep and args.workdir is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
