"""Scanning real generated libraries: classification, identity, incremental rescans.

Every test runs on SQLite and PostgreSQL (the `container` fixture).
"""

from __future__ import annotations

import os
import shutil
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, func, select

from metarr.bootstrap import Container
from metarr.db.tables import LockRow, MediaFileRow, MetadataFieldRow, MovieRow
from metarr.domain.media import ProbeResult
from metarr.pipeline.scan import LibraryScanner, ScanCancelled, ScanOptions
from metarr.services.browse import MovieDetail, MovieQuery
from metarr.testing.library_builder import LibraryBuilder


@pytest.fixture(scope="module")
def templates(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("templates")


@pytest.fixture
def lib_root(tmp_path: Path) -> Path:
    root = tmp_path / "library"
    root.mkdir()
    return root


@pytest.fixture
def builder(lib_root: Path, templates: Path) -> LibraryBuilder:
    return LibraryBuilder(lib_root, templates_dir=templates)


class CountingProber:
    """Wraps the real prober and counts calls (to prove unchanged files are not re-probed)."""

    name = "counting"

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.calls: list[str] = []
        self._lock = threading.Lock()

    def probe(self, path: str) -> ProbeResult:
        with self._lock:
            self.calls.append(path)
        result: ProbeResult = self.inner.probe(path)
        return result


def scan(container: Container, library_id: int, **kw: Any) -> dict[str, Any]:
    run, _ = container.scans.create(library_id, scope=kw.pop("scope", None))
    result = container.scans.run(run.id, **kw)
    assert result.status == "succeeded", result.error
    return result.stats


def movie_by_title(container: Container, title: str) -> MovieDetail:
    page = container.browse.movies(MovieQuery(q=title, limit=10))
    matches = [m for m in page.items if m.title == title]
    assert len(matches) == 1, [m.title for m in page.items]
    return container.browse.movie(matches[0].id)


def roles(detail: MovieDetail) -> dict[str, tuple[str, str | None]]:
    return {f["path"].split("/")[-1]: (f["kind"], f["role"]) for f in detail.files}


def test_classification_and_identity(
    container: Container, builder: LibraryBuilder, lib_root: Path
) -> None:
    builder.movie(
        "The Matrix", 1999, tmdb=603, imdb="tt0133093",
        subtitles=[("en", False), ("fr", True)], trailer=True, sample=True,
        actors=["Keanu Reeves"], theme=True,
        artwork=["poster", "fanart", "banner", "clearlogo", "clearart", "discart", "landscape",
                 "keyart", "characterart"],
        extras=["featurettes/Making Of", "behind the scenes/Stunts"],
        unknown_files=["notes.txt"],
    )  # fmt: skip
    builder.movie("Alien", 1979, nfo=False, folder_tag="{tmdb-348}")
    builder.movie("Heat", 1995, nfo=False, folder_tag="[imdbid-tt0113277]")
    builder.movie("Unnamed Thing", 2005, nfo=False)
    builder.movie("Conflicted", 2001, nfo="conflict", tmdb=11)
    builder.movie("Only Url", 2003, nfo="url", tmdb=30287, imdb="tt0000030")
    builder.movie("Jelly", 2004, artwork_style="jellyfin", nfo_name="movie", tmdb=44)
    builder.movie("Stacked", 2006, parts=2, tmdb=55)
    builder.movie("Folder Stack", 2007, parts=2, part_style="folder", tmdb=56)
    builder.movie("Blu", 2010, disc="bluray", tmdb=66)
    builder.movie("Dvd", 2011, disc="dvd", tmdb=67)
    builder.movie("Loose One", 2012, layout="loose", tmdb=71, subdir="Loose")
    builder.movie("Loose Two", 2013, layout="loose", tmdb=72, subdir="Loose")
    builder.movie("Nested", 2014, subdir="A/B", tmdb=81)
    builder.movie(
        "Broken",
        2002,
        nfo='<movie><title>Broken</title><uniqueid type="tmdb">77</uniqueid><plot>cut',
    )
    (lib_root / ".DS_Store").write_bytes(b"x")
    (lib_root / "Alien (1979) {tmdb-348}" / "Thumbs.db").write_bytes(b"x")
    (lib_root / "download.part").write_bytes(b"x")
    lib = container.libraries.create(name="Movies", kind="movies", path=str(lib_root))

    stats = scan(container, lib.id)
    assert stats["movies"] == 15
    assert stats["added"] == 15
    assert stats["ignored"] >= 3
    assert stats["probe_failed"] == 0

    m = movie_by_title(container, "The Matrix")
    assert m.summary.status == "identified"
    assert m.summary.ids == {"tmdb": 603, "imdb": "tt0133093", "tvdb": None}
    assert m.id_sources == {"tmdb": "nfo", "imdb": "nfo"}
    r = roles(m)
    assert r["The Matrix (1999).mkv"] == ("video", "main")
    assert r["The Matrix (1999)-trailer.mkv"] == ("video", "trailer")
    assert r["The Matrix (1999)-sample.mkv"] == ("video", "sample")
    assert r["Making Of.mkv"] == ("video", "extra")
    assert r["Stunts.mkv"] == ("video", "extra")
    assert r["The Matrix (1999).nfo"] == ("nfo", "main")
    assert r["Keanu_Reeves.jpg"][0] == "actor"
    assert r["theme.mp3"] == ("audio", "theme")
    assert r["notes.txt"] == ("unknown", None)
    for art in ("poster", "fanart", "banner", "clearlogo", "clearart", "discart", "landscape",
                "keyart", "characterart"):  # fmt: skip
        assert any(v == ("artwork", art) for v in r.values()), art
    assert set(m.summary.artwork) >= {"poster", "fanart", "banner", "clearlogo", "keyart"}
    subs = {f["path"].split("/")[-1]: f for f in m.files if f["kind"] == "subtitle"}
    assert subs["The Matrix (1999).en.srt"]["language"] == "en"
    assert subs["The Matrix (1999).en.srt"]["forced"] is False
    assert subs["The Matrix (1999).fr.forced.srt"]["language"] == "fr"
    assert subs["The Matrix (1999).fr.forced.srt"]["forced"] is True
    actor = next(f for f in m.files if f["kind"] == "actor")
    assert actor["actor"] == "Keanu Reeves"
    # streams of the main video, read in-process
    main_streams = [s for s in m.streams if s["file"].endswith("The Matrix (1999).mkv")]
    video = next(s for s in main_streams if s["kind"] == "video")
    assert (video["width"], video["height"]) == (64, 36)
    assert any(s["kind"] == "audio" for s in main_streams)
    main_file = next(f for f in m.files if f["role"] == "main")
    assert main_file["probe_status"] == "ok" and main_file["duration"] > 0
    # metadata from the NFO, with provenance
    assert m.metadata["title"]["value"] == "The Matrix"
    assert m.metadata["title"]["source"] == "nfo"
    assert m.metadata["year"]["value"] == 1999
    assert m.metadata["genres"]["value"] == ["Drama"]
    assert m.metadata["plot"]["locked"] is False

    alien = movie_by_title(container, "Alien")
    assert alien.summary.ids["tmdb"] == 348 and alien.id_sources["tmdb"] == "name"
    assert alien.summary.status == "identified"
    assert "Thumbs.db" not in roles(alien)
    heat = movie_by_title(container, "Heat")
    assert heat.summary.ids["imdb"] == "tt0113277"

    unnamed = movie_by_title(container, "Unnamed Thing")
    assert unnamed.summary.status == "unidentified"
    assert unnamed.summary.year == 2005
    assert unnamed.summary.ids == {"tmdb": None, "imdb": None, "tvdb": None}

    conflicted = movie_by_title(container, "Conflicted")
    assert conflicted.summary.status == "needs_review"
    assert conflicted.review_reason and "tmdb" in conflicted.review_reason

    url = movie_by_title(container, "Only Url")
    assert url.summary.ids["tmdb"] == 30287 and url.summary.ids["imdb"] == "tt0000030"

    jelly = movie_by_title(container, "Jelly")
    jr = roles(jelly)
    assert jr["folder.jpg"] == ("artwork", "poster")
    assert jr["backdrop.jpg"] == ("artwork", "fanart")
    assert jr["movie.nfo"] == ("nfo", "main")

    stacked = movie_by_title(container, "Stacked")
    parts = sorted((f["part"], f["role"]) for f in stacked.files if f["kind"] == "video")
    assert parts == [(1, "part"), (2, "part")] or parts == [(1, "main"), (2, "part")]
    folder_stack = movie_by_title(container, "Folder Stack")
    assert len([f for f in folder_stack.files if f["kind"] == "video"]) == 2

    blu = movie_by_title(container, "Blu")
    assert blu.disc == "bluray"
    assert roles(blu)["index.bdmv"] == ("video", "main")
    assert blu.summary.ids["tmdb"] == 66  # from BDMV/index.nfo
    assert not any(f["path"].endswith(".m2ts") for f in blu.files)
    dvd = movie_by_title(container, "Dvd")
    assert dvd.disc == "dvd" and roles(dvd)["VIDEO_TS.IFO"] == ("video", "main")

    one, two = movie_by_title(container, "Loose One"), movie_by_title(container, "Loose Two")
    assert one.summary.id != two.summary.id
    assert one.summary.ids["tmdb"] == 71 and two.summary.ids["tmdb"] == 72
    assert all(f["path"].split("/")[-1].startswith("Loose One") for f in one.files)
    nested = movie_by_title(container, "Nested")
    assert nested.summary.path == "A/B/Nested (2014)"

    broken = movie_by_title(container, "Broken")
    assert broken.summary.ids["tmdb"] == 77  # recovered from a malformed NFO
    assert stats["nfo_errors"] >= 1


def test_incremental_rescans(container: Container, builder: LibraryBuilder, lib_root: Path) -> None:
    for i in range(6):
        builder.movie(f"Film {i}", 2000 + i, tmdb=1000 + i)
    lib = container.libraries.create(name="L", kind="movies", path=str(lib_root))
    counting = CountingProber(container.scans.prober)
    container.scans.prober = counting

    first = scan(container, lib.id)
    assert first["added"] == 6 and len(counting.calls) == 6
    with container.db.session() as s:
        before = {r.id: r.updated_at for r in s.scalars(select(MovieRow))}
        file_stamps = {r.path: r.updated_at for r in s.scalars(select(MediaFileRow))}

    counting.calls.clear()
    again = scan(container, lib.id)
    assert again["unchanged"] == 6 and again["added"] == again["updated"] == 0
    assert counting.calls == []  # unchanged files are not probed again
    with container.db.session() as s:
        assert {r.id: r.updated_at for r in s.scalars(select(MovieRow))} == before
        assert {r.path: r.updated_at for r in s.scalars(select(MediaFileRow))} == file_stamps

    # a changed NFO updates that movie only, and never a locked field
    film0 = movie_by_title(container, "Film 0")
    with container.db.session() as s:
        s.add(LockRow(movie_id=film0.summary.id, target="plot", created_at=datetime.now(UTC)))
        s.execute(
            MetadataFieldRow.__table__.update()
            .where(MetadataFieldRow.movie_id == film0.summary.id, MetadataFieldRow.field == "plot")
            .values(value="My own plot", source="user")
        )
    nfo = lib_root / "Film 0 (2000)" / "Film 0 (2000).nfo"
    text = nfo.read_text(encoding="utf-8")
    assert "<plot>" in text
    text = text.replace("<genre>Drama</genre>", "<genre>Comedy</genre>")
    text = text.split("<plot>")[0] + "<plot>NFO plot</plot>" + text.split("</plot>")[1]
    nfo.write_text(text, encoding="utf-8")
    os.utime(nfo, ns=(1, 1_700_000_000_000_000_000))
    counting.calls.clear()
    changed = scan(container, lib.id)
    assert changed["updated"] == 1 and changed["unchanged"] == 5
    assert counting.calls == []  # the video did not change
    film0 = movie_by_title(container, "Film 0")
    assert film0.metadata["genres"]["value"] == ["Comedy"]
    assert film0.metadata["plot"] == {
        "value": "My own plot",
        "source": "user",
        "updated_at": film0.metadata["plot"]["updated_at"],
        "locked": True,
    }

    # moved folder: same movie (same id, metadata kept), no new item
    film1 = movie_by_title(container, "Film 1")
    (lib_root / "Moved").mkdir()
    shutil.move(lib_root / "Film 1 (2001)", lib_root / "Moved" / "Film 1 (2001)")
    moved = scan(container, lib.id)
    assert moved["moved"] == 1 and moved["added"] == 0 and moved["deleted"] == 0
    assert movie_by_title(container, "Film 1").summary.id == film1.summary.id
    assert movie_by_title(container, "Film 1").summary.path == "Moved/Film 1 (2001)"

    # downloader upgrade: the video is replaced under a new name; identity and locks stay
    folder = lib_root / "Film 0 (2000)"
    (folder / "Film 0 (2000).mkv").unlink()
    builder.video(folder / "Film 0 (2000) Bluray-1080p.mkv")
    upgraded = scan(container, lib.id)
    assert upgraded["updated"] == 1 and upgraded["added"] == 0
    film0_after = movie_by_title(container, "Film 0")
    assert film0_after.summary.id == film0.summary.id
    assert film0_after.metadata["plot"]["value"] == "My own plot"
    assert film0_after.summary.ids["tmdb"] == 1000
    assert any(f["path"].endswith("Bluray-1080p.mkv") for f in film0_after.files)

    # deleted folder: soft-deleted, hidden, restored with its id when it comes back
    film2 = movie_by_title(container, "Film 2")
    shutil.move(lib_root / "Film 2 (2002)", lib_root.parent / "parked")
    gone = scan(container, lib.id)
    assert gone["deleted"] == 1
    assert container.browse.movies(MovieQuery(q="Film 2")).total == 0
    with container.db.session() as s:
        row = s.get(MovieRow, film2.summary.id)
        assert row is not None and row.deleted_at is not None
    shutil.move(lib_root.parent / "parked", lib_root / "Film 2 (2002)")
    back = scan(container, lib.id)
    assert back["restored"] == 1
    assert movie_by_title(container, "Film 2").summary.id == film2.summary.id


def test_grace_period_purge(container: Container, builder: LibraryBuilder, lib_root: Path) -> None:
    builder.movie("Gone Soon", 2001, tmdb=5)
    lib = container.libraries.create(name="L", kind="movies", path=str(lib_root))
    scan(container, lib.id)
    shutil.rmtree(lib_root / "Gone Soon (2001)")
    scan(container, lib.id)
    with container.db.session() as s:
        assert s.scalar(select(func.count()).select_from(MovieRow)) == 1
    later = datetime.now(UTC) + timedelta(days=31)
    scanner = LibraryScanner(container.db, container.scans.prober, clock=lambda: later)
    stats = scanner.scan(lib.id, str(lib_root), [])
    assert stats.purged == 1
    with container.db.session() as s:
        assert s.scalar(select(func.count()).select_from(MovieRow)) == 0


def test_unreadable_video_is_recorded_not_fatal(
    container: Container, builder: LibraryBuilder, lib_root: Path
) -> None:
    folder = lib_root / "Garbage (2000)"
    folder.mkdir()
    builder.garbage_video(folder / "Garbage (2000).mkv")
    builder.empty_video(lib_root / "Empty (2001).mkv")
    lib = container.libraries.create(name="L", kind="movies", path=str(lib_root))
    stats = scan(container, lib.id)
    assert stats["movies"] == 2 and stats["probe_failed"] == 2
    garbage = movie_by_title(container, "Garbage")
    main = next(f for f in garbage.files if f["role"] == "main")
    assert main["probe_status"] == "unreadable" and main["probe_error"]


def test_ignore_patterns(container: Container, builder: LibraryBuilder, lib_root: Path) -> None:
    builder.movie("Keep", 2000, tmdb=1)
    builder.movie("Skip", 2001, tmdb=2, subdir="Old")
    lib = container.libraries.create(
        name="L", kind="movies", path=str(lib_root), ignore_patterns=["Old"]
    )
    stats = scan(container, lib.id)
    assert stats["movies"] == 1
    assert container.browse.movies(MovieQuery(q="Skip")).total == 0


def test_scoped_scan_touches_only_that_folder(
    container: Container, builder: LibraryBuilder, lib_root: Path
) -> None:
    builder.movie("One", 2000, tmdb=1)
    builder.movie("Two", 2001, tmdb=2)
    lib = container.libraries.create(name="L", kind="movies", path=str(lib_root))
    scan(container, lib.id)
    shutil.rmtree(lib_root / "Two (2001)")
    builder.movie("Three", 2002, tmdb=3)
    stats = scan(container, lib.id, scope="Three (2002)")
    assert stats["added"] == 1 and stats["deleted"] == 0
    assert container.browse.movies(MovieQuery(q="Two")).total == 1  # untouched


def test_interrupted_scan_leaves_consistent_state(
    container: Container, builder: LibraryBuilder, lib_root: Path
) -> None:
    for i in range(7):
        builder.movie(f"Batch {i}", 2000 + i, tmdb=10 + i)
    lib = container.libraries.create(name="L", kind="movies", path=str(lib_root))
    calls = {"n": 0}

    def cancel_after_first_batch() -> bool:
        calls["n"] += 1
        return calls["n"] > 3

    scanner = LibraryScanner(
        container.db, container.scans.prober,
        options=ScanOptions(batch_size=3), should_cancel=cancel_after_first_batch,
    )  # fmt: skip
    with pytest.raises(ScanCancelled):
        scanner.scan(lib.id, str(lib_root), [])
    with container.db.session() as s:
        movies = s.scalars(select(MovieRow)).all()
        assert len(movies) == 3  # exactly the committed batch
        for movie in movies:  # each written movie is complete
            n_files = s.scalar(
                select(func.count())
                .select_from(MediaFileRow)
                .where(MediaFileRow.movie_id == movie.id)
            )
            assert n_files == 4  # mkv, nfo, poster, fanart
    stats = scan(container, lib.id)
    assert stats["added"] == 4 and stats["unchanged"] == 3


def test_sort_title_and_premiered_from_the_nfo_set_the_list_columns(
    container: Container, builder: LibraryBuilder, lib_root: Path
) -> None:
    builder.movie(
        "The Abyss",
        1989,
        nfo="<movie><title>The Abyss</title><sorttitle>Zzz Abyss</sorttitle>"
        "<premiered>1989-08-09</premiered></movie>",
    )
    builder.movie("The Birds", 1963, nfo=False)
    lib = container.libraries.create(name="L", kind="movies", path=str(lib_root))
    scan(container, lib.id)
    with container.db.session() as s:
        rows = {r.title: (r.year, r.sort_key) for r in s.scalars(select(MovieRow))}
    assert rows == {"The Abyss": (1989, "zzz abyss"), "The Birds": (1963, "birds")}
    page = container.browse.movies(MovieQuery(sort="title"))
    assert [m.title for m in page.items] == ["The Birds", "The Abyss"]


def test_rescan_statements_do_not_grow_with_changed_movies(
    container: Container, builder: LibraryBuilder, lib_root: Path
) -> None:
    """Stored state of changed movies is read and written per batch, not per movie."""
    for i in range(12):
        builder.movie(f"Film {i}", 2000 + i, tmdb=100 + i, imdb=f"tt{1000000 + i}")
    lib = container.libraries.create(name="L", kind="movies", path=str(lib_root))
    scan(container, lib.id)
    scanner = LibraryScanner(container.db, container.scans.prober)

    def change(numbers: range) -> None:
        for i in numbers:  # even: a new genre in the NFO; odd: a replaced video
            base = lib_root / f"Film {i} ({2000 + i})" / f"Film {i} ({2000 + i})"
            if i % 2 == 0:
                nfo = base.with_suffix(".nfo")
                nfo.write_text(
                    nfo.read_text(encoding="utf-8").replace("Drama", "Comedy"), encoding="utf-8"
                )
                os.utime(nfo, ns=(1, 1_700_000_000_000_000_000 + i))
            else:
                with open(base.with_suffix(".mkv"), "ab") as fh:
                    fh.write(b"\0" * 16)

    def statements_of_a_rescan() -> tuple[int, dict[str, Any]]:
        seen: list[str] = []

        def count(*args: Any) -> None:
            seen.append(args[2])

        event.listen(container.db.engine, "before_cursor_execute", count)
        try:
            stats = scanner.scan(lib.id, str(lib_root), [])
        finally:
            event.remove(container.db.engine, "before_cursor_execute", count)
        return len(seen), stats.as_dict()

    change(range(0, 2))
    few, few_stats = statements_of_a_rescan()
    change(range(2, 10))
    many, many_stats = statements_of_a_rescan()
    assert (few_stats["updated"], many_stats["updated"]) == (2, 8)
    assert many == few
    film4 = movie_by_title(container, "Film 4")
    assert film4.metadata["genres"]["value"] == ["Comedy"]
    assert film4.summary.ids == {"tmdb": 104, "imdb": "tt1000004", "tvdb": None}
