"""Publishing into a real temp library, on SQLite and PostgreSQL: names, bytes, idempotence,
profiles, the recycle bin and verification."""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from sqlalchemy import select

from metarr.bootstrap import Container
from metarr.db.tables import LockRow
from metarr.db.tables_publish import RecycleEntryRow
from metarr.jobs import JobStatus
from metarr.jobs.tables import JobRow
from metarr.nfo.reader import read_nfo
from metarr.testing.library_builder import LibraryBuilder
from tests.integration.publishing_env import (
    PublishEnv,
    ensure_sync_handler,
    image,
    snapshot,
    sync_jobs,
    temp_leftovers,
)

RED, GREEN, BLUE, GREY = (200, 30, 30), (30, 200, 30), (30, 30, 200), (90, 90, 90)


@pytest.fixture(scope="module")
def templates(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("templates")


@pytest.fixture
def env(container: Container, tmp_path: Path, templates: Path) -> PublishEnv:
    root = (tmp_path / "library").resolve()
    root.mkdir()
    return PublishEnv(container, LibraryBuilder(root, templates_dir=templates), root)


def recycle_rows(env: PublishEnv) -> list[RecycleEntryRow]:
    with env.container.db.session() as s:
        return list(s.scalars(select(RecycleEntryRow).order_by(RecycleEntryRow.id)))


def publish_jobs(env: PublishEnv) -> list[JobRow]:
    with env.container.db.session() as s:
        return list(s.scalars(select(JobRow).where(JobRow.type == "publish").order_by(JobRow.id)))


def test_publish_names_contents_and_actors(env: PublishEnv) -> None:
    env.builder.movie("Amélie", 2001, tmdb=194, artwork=())
    env.create_library()
    env.scan()
    movie = env.movie_id("Amélie (2001)")
    seeded = env.seed(
        movie,
        {
            "poster": [image(RED)],
            "fanart": [image(GREEN, (64, 36)), image(BLUE, (64, 36))],
            "clearlogo": [image((250, 250, 250, 0), (80, 31), "PNG")],
        },
        cast=[("Audrey Tautou", image(GREY, (30, 45))), ("Mathieu Kassovitz", None)],
    )

    [job_id] = env.container.publishing.enqueue_movie(movie)
    env.drain()

    folder = env.root / "Amélie (2001)"
    base = "Amélie (2001)"
    expected = {
        f"{base}-poster.jpg": seeded.art["poster"][0],
        f"{base}-fanart.jpg": seeded.art["fanart"][0],
        f"{base}-fanart1.jpg": seeded.art["fanart"][1],
        f"{base}-clearlogo.png": seeded.art["clearlogo"][0],
        ".actors/Audrey_Tautou.jpg": seeded.actors["Audrey Tautou"],
    }
    for name, sha in expected.items():
        assert (folder / name).read_bytes() == env.cached(sha), name
    nfo_bytes = (folder / f"{base}.nfo").read_bytes()
    doc = read_nfo(nfo_bytes)
    assert doc.ids.tmdb == 194 and doc.info.title == "Amélie"
    assert [a.name for a in doc.info.cast] == ["Audrey Tautou", "Mathieu Kassovitz"]
    assert b"http" not in nfo_bytes  # never remote artwork URLs
    assert not (folder / ".actors" / "Mathieu_Kassovitz.jpg").exists()  # no headshot cached
    nfo_sha = hashlib.sha256(nfo_bytes).hexdigest()
    records = env.records(movie)
    assert set(records) == {f"{base}/{n}" for n in [*expected, f"{base}.nfo"]}
    assert records[f"{base}/{base}.nfo"].sha256 == nfo_sha
    assert all(r.size == (env.root / p).stat().st_size for p, r in records.items())
    # the builder's NFO (the user's) was replaced: it is in the recycle bin
    [recycled] = recycle_rows(env)
    assert (recycled.rel_path, recycled.reason) == (f"{base}/{base}.nfo", "replaced")
    with env.container.db.session() as s:
        job = s.get(JobRow, job_id)
        assert job is not None and job.status == JobStatus.SUCCEEDED
        assert job.result is not None and job.result["created"] == 5
    assert temp_leftovers(env.root) == []


def test_republishing_an_unchanged_library_writes_nothing(env: PublishEnv) -> None:
    env.builder.movie("Heat", 1995, tmdb=949, artwork=())
    env.builder.movie("Alien", 1979, tmdb=348, artwork=())
    env.create_library(auto_publish=True)
    env.scan()
    for n, key in enumerate(["Heat (1995)", "Alien (1979)"]):
        env.seed(
            env.movie_id(key),
            {"poster": [image((n, 1, 2))], "fanart": [image((n, 2, 3), (64, 36))]},
            cast=[("Val Kilmer", image((n, 3, 4), (30, 45)))],
        )
    # player sync follows publishing (the library's auto-sync is on by default)
    ensure_sync_handler(env.container)
    env.container.publishing.enqueue_library(env.library_id)
    env.drain()
    [synced] = sync_jobs(env.container)
    assert sorted(synced["movie_ids"]) == sorted(
        env.movie_id(k) for k in ["Heat (1995)", "Alien (1979)"]
    )
    before = snapshot(env.root)

    env.container.publishing.enqueue_library(env.library_id)
    env.drain()

    assert snapshot(env.root) == before  # same inodes, sizes and mtimes
    [_, second] = publish_jobs(env)
    assert second.result is not None
    assert second.result["unchanged"] == 2 and second.result["changed"] == 0
    assert second.result["next_job_id"] is None  # nothing downstream
    assert len(sync_jobs(env.container)) == 1
    for key in ["Heat (1995)", "Alien (1979)"]:
        plan = env.container.publishing.plan(env.movie_id(key))
        assert {e.action.value for e in plan.entries} == {"keep"}
    # a touched file (same bytes, new mtime) is hashed, found equal and not rewritten
    poster = env.root / "Heat (1995)" / "Heat (1995)-poster.jpg"
    os.utime(poster, ns=(1_000_000_000, 1_000_000_000))
    result = env.container.publishing.publisher.publish([env.movie_id("Heat (1995)")])
    assert (result.changed, result.created, result.replaced) == (0, 0, 0)
    assert poster.stat().st_ino == before["Heat (1995)/Heat (1995)-poster.jpg"][0]


def test_discs_stacks_and_shared_folders(env: PublishEnv) -> None:
    env.builder.movie("Disc Film", 1999, tmdb=5, disc="bluray", artwork=(), nfo=False)
    env.builder.movie("Long Film", 2004, tmdb=6, parts=2, artwork=(), nfo=False)
    env.builder.movie("First", 2001, tmdb=7, layout="loose", subdir="Loose", artwork=(), nfo=False)
    env.builder.movie("Second", 2002, tmdb=8, layout="loose", subdir="Loose", artwork=(), nfo=False)
    env.create_library()
    env.scan()
    ids = {}
    for n, key in enumerate(
        ["Disc Film (1999)", "Long Film (2004)", "Loose/First (2001)", "Loose/Second (2002)"]
    ):
        ids[key] = env.movie_id(key)
        env.identify(ids[key], 100 + n)
        env.seed(
            ids[key],
            {
                "poster": [image((len(key), 5, 5))],
                "fanart": [image((len(key), 6, 6), (64, 36))],
            },
            cast=[("Shared Actor", image((len(key), 7, 7), (30, 45)))],
        )
    result = env.container.publishing.publisher.publish(list(ids.values()))
    assert result.failed == 0, result.errors

    files = set(snapshot(env.root))
    assert {
        "Disc Film (1999)/movie.nfo",
        "Disc Film (1999)/poster.jpg",
        "Disc Film (1999)/fanart.jpg",
        "Disc Film (1999)/.actors/Shared_Actor.jpg",
        "Long Film (2004)/Long Film (2004).nfo",
        "Long Film (2004)/Long Film (2004)-poster.jpg",
        "Loose/First (2001).nfo",
        "Loose/First (2001)-poster.jpg",
        "Loose/Second (2002)-fanart.jpg",
        "Loose/.actors/Shared_Actor.jpg",
    } <= files
    # movies sharing a folder share `.actors/`: the first one's headshot stays
    shared = env.records()["Loose/.actors/Shared_Actor.jpg"]
    assert shared.movie_id == ids["Loose/First (2001)"]
    before = snapshot(env.root)
    again = env.container.publishing.publisher.publish(list(ids.values()))
    assert again.unchanged == 4 and snapshot(env.root) == before


def test_jellyfin_profile(env: PublishEnv) -> None:
    env.builder.movie("Up", 2009, tmdb=14160, artwork=(), nfo=False)
    env.create_library()
    env.scan()
    movie = env.movie_id("Up (2009)")
    env.identify(movie, 14160)
    env.seed(
        movie,
        {
            "poster": [image(RED)],
            "fanart": [image(GREEN, (64, 36)), image(BLUE, (64, 36))],
            "clearlogo": [image((1, 2, 3, 0), (80, 31), "PNG")],
        },
        cast=[("Ed Asner", image(GREY, (30, 45)))],
    )
    view = env.container.publishing.update_settings(env.library_id, profile="jellyfin")
    assert view.profile == "jellyfin"
    env.container.publishing.publisher.publish([movie])
    names = {p for p in snapshot(env.root) if not p.endswith(".mkv")}
    assert names == {
        "Up (2009)/Up (2009).nfo",
        "Up (2009)/poster.jpg",
        "Up (2009)/backdrop.jpg",
        "Up (2009)/backdrop1.jpg",
        "Up (2009)/logo.png",
    }

    # back to Kodi: the Jellyfin names Metarr wrote go to the recycle bin
    env.container.publishing.update_settings(env.library_id, profile="kodi")
    result = env.container.publishing.publisher.publish([movie])
    assert result.removed == 4 and result.created == 5  # nfo kept, 4 images + actor created
    assert {r.reason for r in recycle_rows(env)} == {"removed"}
    assert not (env.root / "Up (2009)" / "poster.jpg").exists()


def test_replaced_file_is_restored_byte_for_byte(env: PublishEnv) -> None:
    env.builder.movie("Heat", 1995, tmdb=949, artwork=("poster",), nfo=False)
    env.create_library()
    env.scan()
    movie = env.movie_id("Heat (1995)")
    env.identify(movie, 949)
    poster = env.root / "Heat (1995)" / "Heat (1995)-poster.jpg"
    original = poster.read_bytes()
    original_mtime = poster.stat().st_mtime_ns
    seeded = env.seed(movie, {"poster": [image(RED)]})

    result = env.container.publishing.publisher.publish([movie])
    assert result.replaced == 1
    assert poster.read_bytes() == env.cached(seeded.art["poster"][0])
    [entry] = recycle_rows(env)
    assert (entry.reason, entry.rel_path) == ("replaced", "Heat (1995)/Heat (1995)-poster.jpg")

    restored = env.container.publishing.restore(entry.id)
    assert poster.read_bytes() == original
    assert poster.stat().st_mtime_ns == original_mtime
    assert restored.displaced_entry_id is not None  # what Metarr wrote is in the bin now
    assert "Heat (1995)/Heat (1995)-poster.jpg" not in env.records(movie)  # the user's again
    [displaced] = recycle_rows(env)
    assert displaced.sha256 == seeded.art["poster"][0]


def test_files_metarr_did_not_write_are_never_removed(env: PublishEnv) -> None:
    env.builder.movie("Alien", 1979, tmdb=348, artwork=(), nfo=False, unknown_files=["notes.txt"])
    env.create_library()
    env.scan()
    folder = env.root / "Alien (1979)"
    (folder / "poster.jpg").write_bytes(image(GREY))  # the user's short-name poster
    movie = env.movie_id("Alien (1979)")
    env.identify(movie, 348)
    env.seed(movie, {"fanart": [image(RED, (64, 36)), image(GREEN, (64, 36))]})
    env.container.publishing.publisher.publish([movie])
    assert (folder / "Alien (1979)-fanart1.jpg").exists()

    # one fanart less: the extra one Metarr wrote goes to the recycle bin, nothing else
    seeded = env.seed(movie, {"fanart": [image(BLUE, (64, 36))]})
    plan = env.container.publishing.plan(movie)
    actions = {e.path.rsplit("/", 1)[1]: e.action.value for e in plan.entries}
    assert actions == {
        "Alien (1979).nfo": "keep",
        "Alien (1979)-fanart.jpg": "replace",
        "Alien (1979)-fanart1.jpg": "remove",
    }
    env.container.publishing.publisher.publish([movie])
    assert (folder / "poster.jpg").exists() and (folder / "notes.txt").exists()
    assert not (folder / "Alien (1979)-fanart1.jpg").exists()
    assert (folder / "Alien (1979)-fanart.jpg").read_bytes() == env.cached(seeded.art["fanart"][0])
    assert sorted(r.reason for r in recycle_rows(env)) == ["removed", "replaced"]


class _Images(BaseHTTPRequestHandler):
    """Serves the bytes of `images` by path on 127.0.0.1."""

    images: dict[str, bytes] = {}

    def do_GET(self) -> None:
        data = self.images.get(self.path)
        self.send_response(200 if data is not None else 404)
        self.send_header("Content-Length", str(len(data or b"")))
        self.end_headers()
        self.wfile.write(data or b"")

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def image_server() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Images)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_verification_detects_and_repairs_the_library_and_the_cache(
    env: PublishEnv, image_server: str
) -> None:
    env.builder.movie("Heat", 1995, tmdb=949, artwork=(), nfo=False)
    env.create_library()
    env.scan()
    movie = env.movie_id("Heat (1995)")
    env.identify(movie, 949)
    fanart = image(GREEN, (64, 36))
    seeded = env.seed(movie, {"poster": [image(RED)], "fanart": [fanart]}, url_base=image_server)
    _Images.images = {f"/{movie}-fanart-0.jpg": fanart}
    env.container.publishing.publisher.publish([movie])
    folder = env.root / "Heat (1995)"
    poster, fanart_file = folder / "Heat (1995)-poster.jpg", folder / "Heat (1995)-fanart.jpg"

    # a person deletes the poster and the NFO and edits the fanart; the cached fanart rots
    nfo = folder / "Heat (1995).nfo"
    nfo_bytes = nfo.read_bytes()
    poster.unlink()
    nfo.unlink()
    fanart_file.write_bytes(b"edited by hand")
    cached_fanart = env.container.enrichment.cache.path_of(seeded.art["fanart"][0])
    os.chmod(cached_fanart, 0o644)
    cached_fanart.write_bytes(fanart[:-10] + b"0123456789")  # same size, other bytes
    # and something unknown to the scan shows up
    (folder / "Heat (1995)-poster (1).jpg").write_bytes(env.cached(seeded.art["poster"][0]))

    # report only first: nothing changes
    [report_job] = env.container.publishing.verify_library(env.library_id, repair=False)
    env.drain()
    [report] = env.container.publishing.verification(library_id=env.library_id)
    assert report["status"] == "succeeded" and report["repair"] is False
    kinds = sorted((f["kind"], f["path"]) for f in report["findings"])
    assert kinds == [
        ("cache_corrupt", seeded.art["fanart"][0]),
        ("missing", "Heat (1995)/Heat (1995)-poster.jpg"),
        ("missing", "Heat (1995)/Heat (1995).nfo"),
        ("modified", "Heat (1995)/Heat (1995)-fanart.jpg"),
        ("wrong_named", "Heat (1995)/Heat (1995)-poster (1).jpg"),
    ]
    assert not any(f["repaired"] for f in report["findings"])
    assert not poster.exists()

    # then repair (the default): the cache file is downloaded again, the library rewritten
    env.container.publishing.verify_movie(movie)
    env.drain()
    repaired = env.container.publishing.verification(library_id=env.library_id)[0]
    by_kind = {f["kind"]: f for f in repaired["findings"]}
    assert all(f["repaired"] for f in repaired["findings"] if f["kind"] == "missing")
    assert nfo.read_bytes() == nfo_bytes  # rendered again: the same bytes
    assert by_kind["cache_corrupt"]["repaired"]
    assert "downloaded again" in by_kind["cache_corrupt"]["repair"]
    assert by_kind["missing"]["repaired"] and by_kind["modified"]["repaired"]
    assert not by_kind["wrong_named"]["repaired"]  # not Metarr's file: reported only
    assert poster.read_bytes() == env.cached(seeded.art["poster"][0])
    assert fanart_file.read_bytes() == fanart == env.cached(seeded.art["fanart"][0])
    assert [r.reason for r in recycle_rows(env)] == ["repaired"]  # the hand-edited fanart

    # everything is in order now: a third run finds nothing but the stray copy
    env.container.publishing.verify_movie(movie)
    env.drain()
    last = env.container.publishing.verification(movie_id=movie)[0]
    assert [f["kind"] for f in last["findings"]] == []
    assert last["stats"]["hashed"] == 0 and last["stats"]["cache_hashed"] == 0
    assert report_job > 0


def test_verification_renames_files_published_under_an_old_basename(env: PublishEnv) -> None:
    env.builder.movie("Heat", 1995, tmdb=949, artwork=(), nfo=False)
    env.create_library()
    env.scan()
    movie = env.movie_id("Heat (1995)")
    env.identify(movie, 949)
    env.seed(movie, {"poster": [image(RED)]})
    env.container.publishing.publisher.publish([movie])
    folder = env.root / "Heat (1995)"
    (folder / "Heat (1995).mkv").rename(folder / "Heat (1995) Bluray-1080p.mkv")
    env.scan()

    result = env.container.publishing.verifier.verify(env.library_id)

    wrong = sorted(f.path for f in result.findings if f.kind == "wrong_named")
    assert wrong == ["Heat (1995)/Heat (1995)-poster.jpg", "Heat (1995)/Heat (1995).nfo"]
    assert all(f.repaired for f in result.findings if f.kind == "wrong_named")
    assert (folder / "Heat (1995) Bluray-1080p-poster.jpg").exists()
    assert (folder / "Heat (1995) Bluray-1080p.nfo").exists()
    assert not (folder / "Heat (1995)-poster.jpg").exists()
    # the records follow: publishing now finds everything in place
    assert env.container.publishing.publisher.publish([movie]).changed == 0


def test_unidentified_and_deleted_movies_are_not_published(env: PublishEnv) -> None:
    env.builder.movie("Mystery Film", 2010, artwork=(), nfo=False)
    env.create_library()
    env.scan()
    movie = env.movie_id("Mystery Film (2010)")
    plan = env.container.publishing.plan(movie)
    assert plan.skipped is not None and "not identified" in plan.skipped and plan.entries == ()
    result = env.container.publishing.publisher.publish([movie])
    assert result.skipped == 1 and result.created == 0
    assert snapshot(env.root).keys() == {"Mystery Film (2010)/Mystery Film (2010).mkv"}


def test_locks_and_metadata_survive_publishing(env: PublishEnv) -> None:
    env.builder.movie("Heat", 1995, tmdb=949, artwork=(), nfo=False)
    env.create_library()
    env.scan()
    movie = env.movie_id("Heat (1995)")
    env.identify(movie, 949)
    env.container.edit.patch(movie, {"plot": "A person's own plot."})
    env.container.publishing.publisher.publish([movie])
    doc = read_nfo((env.root / "Heat (1995)" / "Heat (1995).nfo").read_bytes())
    assert doc.info.plot == "A person's own plot."
    with env.container.db.session() as s:
        assert "plot" in set(s.scalars(select(LockRow.target).where(LockRow.movie_id == movie)))


def test_daily_verification_and_recycle_retention(env: PublishEnv) -> None:
    env.builder.movie("Heat", 1995, tmdb=949, artwork=("poster",))
    env.create_library()
    env.scan()
    movie = env.movie_id("Heat (1995)")
    env.seed(movie, {"poster": [image(RED)]})
    env.container.publishing.publisher.publish([movie])
    entries = recycle_rows(env)
    assert {e.reason for e in entries} == {"replaced"}  # the builder's NFO and poster

    schedule = env.container.schedules.get(env.library_id).tasks["verification"]
    assert (schedule.available, schedule.enabled, schedule.interval_hours) == (True, True, 24)
    run = env.container.schedules.run_now(env.library_id, "verification")
    env.drain()
    [verification] = env.container.publishing.verification(library_id=env.library_id)
    assert verification["job_id"] == run.job_id and verification["status"] == "succeeded"

    # the cleanup task purges what is past the retention period (30 days), nothing younger
    old, young = entries
    with env.container.db.session() as s:
        row = s.get(RecycleEntryRow, old.id)
        assert row is not None
        row.recycled_at = datetime.now(UTC) - timedelta(days=31)
    stored = env.container.publishing.recycle.path_of(old.stored_path)
    assert stored.exists()
    env.container.schedules.run_now(env.library_id, "cleanup")
    env.drain()
    assert [e.id for e in recycle_rows(env)] == [young.id]
    assert not stored.exists()
    assert env.container.publishing.recycle.path_of(young.stored_path).exists()


@pytest.mark.parametrize("auto_publish", [True, False])
def test_enrichment_is_followed_by_publishing_the_movie(
    env: PublishEnv, auto_publish: bool
) -> None:
    env.builder.movie("Heat", 1995, tmdb=949, artwork=())
    env.create_library(auto_publish=auto_publish)
    env.scan()
    movie = env.movie_id("Heat (1995)")
    # the enrich job calls this hook once a movie is enriched (bootstrap wires it)
    assert env.container.enrichment.after_enrich == env.container.publishing.after_enrich
    seen: list[int | None] = []
    env.container.registry.register(
        "enrich_done", lambda ctx: seen.append(env.container.publishing.after_enrich(ctx, movie))
    )
    env.container.queue.enqueue("enrich_done", f"movie:{movie}", {})
    env.drain()
    published = [j for j in publish_jobs(env) if j.target == f"movie:{movie}"]
    if not auto_publish:
        assert seen == [None] and published == []
        return
    [job] = published
    assert seen == [job.id] and job.status == JobStatus.SUCCEEDED and job.parent_id is not None
    assert (env.root / "Heat (1995)" / "Heat (1995).nfo").exists()


def test_rescan_does_not_read_back_metarrs_own_nfo(env: PublishEnv) -> None:
    """The published NFO is Metarr's rendering: a rescan keeps provider values and headshots;
    an NFO someone then edits by hand is read as usual."""
    env.builder.movie("Heat", 1995, tmdb=949, artwork=())
    env.create_library()
    env.scan()
    movie = env.movie_id("Heat (1995)")
    seeded = env.seed(movie, {"poster": [image(RED)]}, cast=[("Al Pacino", image(GREY, (30, 45)))])
    env.set_field(movie, "plot", "A provider plot.")
    env.container.publishing.enqueue_movie(movie)
    env.drain()
    nfo = env.root / "Heat (1995)" / "Heat (1995).nfo"
    assert b"A provider plot." in nfo.read_bytes()

    env.scan()  # the folder changed (Metarr wrote into it): its NFO is read again
    meta = env.container.browse.movie(movie).metadata
    [actor] = meta["cast"]["value"]
    assert actor["thumb_sha256"] == seeded.actors["Al Pacino"]
    assert meta["cast"]["source"] != "nfo" and meta["plot"]["source"] != "nfo"

    nfo.write_bytes(nfo.read_bytes().replace(b"A provider plot.", b"My own plot."))
    os.utime(nfo, ns=(time_ns := nfo.stat().st_mtime_ns + 10**9, time_ns))
    env.scan()
    meta = env.container.browse.movie(movie).metadata
    assert (meta["plot"]["value"], meta["plot"]["source"]) == ("My own plot.", "nfo")
