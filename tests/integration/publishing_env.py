"""Helpers for the publishing tests: a scanned library of real files and its enrichment
written straight into the database and the cache (what the enrich phase would leave)."""

from __future__ import annotations

import io
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from PIL import Image
from sqlalchemy import delete, insert, select, update

from metarr.bootstrap import Container
from metarr.db.tables import ExternalIdRow, MetadataFieldRow, MovieRow
from metarr.db.tables_assets import AssetCandidateRow
from metarr.db.tables_publish import PublishedFileRow
from metarr.jobs import JobStatus, Worker
from metarr.jobs.tables import JobRow
from metarr.testing.library_builder import LibraryBuilder


def image(
    color: tuple[int, int, int], size: tuple[int, int] = (40, 60), fmt: str = "JPEG"
) -> bytes:
    """A small real image."""
    out = io.BytesIO()
    Image.new("RGBA" if fmt == "PNG" else "RGB", size, color).save(out, fmt)
    return out.getvalue()


@dataclass
class Seeded:
    """What was put in the cache for a movie: sha256 per artwork slot and actor."""

    art: dict[str, list[str]] = field(default_factory=dict)
    actors: dict[str, str] = field(default_factory=dict)


@dataclass
class PublishEnv:
    """A container, a library of real files under `root`, and a worker run in-thread."""

    container: Container
    builder: LibraryBuilder
    root: Path
    library_id: int = 0

    @property
    def worker(self) -> Worker:
        return Worker(self.container.db, self.container.registry, queue=self.container.queue)

    def create_library(self, **options: Any) -> int:
        lib = self.container.libraries.create(
            name="Movies", kind="movies", path=str(self.root), **options
        )
        self.library_id = lib.id
        return lib.id

    def scan(self) -> None:
        run, _ = self.container.scans.create(self.library_id)
        assert self.container.scans.run(run.id).status == "succeeded"

    def drain(self) -> None:
        """Run queued jobs in this thread until none is waiting."""
        worker = self.worker
        for _ in range(200):
            ran = worker.run_until_empty()
            stats = self.container.queue.stats().by_status
            if ran == 0 and not stats.get(JobStatus.QUEUED, 0):
                return
        raise AssertionError("jobs still pending")

    def movie_id(self, folder: str) -> int:
        with self.container.db.session() as s:
            found = s.scalar(select(MovieRow.id).where(MovieRow.key == folder))
        assert found is not None, folder
        return int(found)

    def identify(self, movie_id: int, tmdb: int) -> None:
        """What identification leaves: the TMDB id, status identified."""
        now = datetime.now(UTC)
        with self.container.db.session() as s:
            s.execute(
                delete(ExternalIdRow).where(
                    ExternalIdRow.movie_id == movie_id, ExternalIdRow.provider == "tmdb"
                )
            )
            s.execute(
                insert(ExternalIdRow).values(
                    movie_id=movie_id,
                    provider="tmdb",
                    value=str(tmdb),
                    source="provider",
                    updated_at=now,
                )
            )
            s.execute(update(MovieRow).where(MovieRow.id == movie_id).values(status="identified"))

    def seed(
        self,
        movie_id: int,
        art: dict[str, list[bytes]],
        cast: list[tuple[str, bytes | None]] = (),  # type: ignore[assignment]
        *,
        provider: str = "tmdb",
        url_base: str = "https://image.tmdb.org/t/p/original",
    ) -> Seeded:
        """Cache images, select them as candidates, give the cast headshots."""
        cache = self.container.enrichment.cache
        seeded = Seeded()
        now = datetime.now(UTC)
        with self.container.db.session() as s:
            s.execute(delete(AssetCandidateRow).where(AssetCandidateRow.movie_id == movie_id))
            for art_type, images in art.items():
                for n, data in enumerate(images):
                    ext = "png" if data.startswith(b"\x89PNG") else "jpg"
                    sha = cache.put_bytes(data, ext).sha256
                    seeded.art.setdefault(art_type, []).append(sha)
                    s.execute(
                        insert(AssetCandidateRow).values(
                            movie_id=movie_id,
                            type=art_type,
                            url=f"{url_base}/{movie_id}-{art_type}-{n}.{ext}",
                            provider=provider,
                            votes=10,
                            score=100.0 - n,
                            blocked=False,
                            selected=True,
                            selected_by="auto",
                            sha256=sha,
                            fetched_at=now,
                        )
                    )
            if cast:
                entries = []
                for order, (name, data) in enumerate(cast):
                    entry: dict[str, Any] = {
                        "name": name,
                        "role": f"Role {order}",
                        "order": order,
                        "thumb": f"https://image.tmdb.org/t/p/w185/{order}.jpg",
                    }
                    if data is not None:
                        entry["thumb_sha256"] = seeded.actors[name] = cache.put_bytes(
                            data, "jpg"
                        ).sha256
                    entries.append(entry)
                self.set_field(movie_id, "cast", entries, session=s)
        return seeded

    def set_field(self, movie_id: int, name: str, value: Any, *, session: Any = None) -> None:
        def write(s: Any) -> None:
            s.execute(
                delete(MetadataFieldRow).where(
                    MetadataFieldRow.movie_id == movie_id, MetadataFieldRow.field == name
                )
            )
            s.execute(
                insert(MetadataFieldRow).values(
                    movie_id=movie_id,
                    field=name,
                    value=value,
                    source="tmdb",
                    updated_at=datetime.now(UTC),
                )
            )

        if session is not None:
            write(session)
            return
        with self.container.db.session() as s:
            write(s)

    def cached(self, sha: str) -> bytes:
        return self.container.enrichment.cache.path_of(sha).read_bytes()

    def records(self, movie_id: int | None = None) -> dict[str, PublishedFileRow]:
        with self.container.db.session() as s:
            query = select(PublishedFileRow)
            if movie_id is not None:
                query = query.where(PublishedFileRow.movie_id == movie_id)
            return {r.path: r for r in s.scalars(query)}


def sync_jobs(container: Container) -> list[dict[str, Any]]:
    """Payloads of the `sync` jobs publishing queued (a stand-in handler when none exists)."""
    with container.db.session() as s:
        rows = s.scalars(select(JobRow).where(JobRow.type == "sync").order_by(JobRow.id))
        return [dict(r.payload) for r in rows]


def ensure_sync_handler(container: Container) -> None:
    """Player sync follows publishing only when a `sync` handler is registered."""
    if "sync" not in container.registry:
        container.registry.register("sync", lambda ctx: {})


def snapshot(root: Path) -> dict[str, tuple[int, int, int]]:
    """Every file under `root`: (inode, size, mtime_ns)."""
    out: dict[str, tuple[int, int, int]] = {}
    for path in sorted(root.rglob("*")):
        if path.is_file():
            st = path.stat()
            out[path.relative_to(root).as_posix()] = (st.st_ino, st.st_size, st.st_mtime_ns)
    return out


def temp_leftovers(root: Path) -> list[str]:
    """Metarr temp files anywhere under `root`."""
    return sorted(p.as_posix() for p in root.rglob(".metarr-tmp-*"))


def wait_jobs(container: Container, timeout: float = 60.0) -> None:
    """Wait until background workers have nothing queued or running."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        stats = container.queue.stats()
        busy = (
            stats.by_status.get(JobStatus.QUEUED, 0)
            + stats.by_status.get(JobStatus.RETRY_SCHEDULED, 0)
            + stats.running
        )
        if not busy:
            return
        time.sleep(0.05)
    raise AssertionError(f"jobs still running after {timeout}s: {container.queue.stats()}")
