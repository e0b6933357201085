"""Atomic writes into library folders and the recycle bin, on real files."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from metarr.domain.errors import InvalidInput, NotFound
from metarr.storage import atomic
from metarr.storage.recycle import META_NAME, RecycleBin


def temp_files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if atomic.is_temp_name(p.name))


def test_write_bytes_replaces_atomically_and_leaves_no_temp(tmp_path: Path) -> None:
    target = tmp_path / "Amélie (2001).nfo"
    target.write_bytes(b"old")
    written = atomic.write_bytes(target, b"<movie/>")
    assert target.read_bytes() == b"<movie/>"
    st = target.stat()
    assert (written.size, written.mtime_ns, written.linked) == (8, st.st_mtime_ns, False)
    assert temp_files(tmp_path) == []


def test_copy_refuses_bytes_that_do_not_match_their_hash(tmp_path: Path) -> None:
    source = tmp_path / "cache.jpg"
    source.write_bytes(b"damaged bytes")
    target = tmp_path / "poster.jpg"
    target.write_bytes(b"the current poster")
    with pytest.raises(atomic.ContentMismatch):
        atomic.copy_file(source, target, sha256=hashlib.sha256(b"original").hexdigest())
    assert target.read_bytes() == b"the current poster"
    assert temp_files(tmp_path) == []
    good = atomic.copy_file(source, target, sha256=hashlib.sha256(b"damaged bytes").hexdigest())
    assert target.read_bytes() == b"damaged bytes" and not good.linked


def test_install_links_when_asked_and_copies_otherwise(tmp_path: Path) -> None:
    source = tmp_path / "cache.jpg"
    source.write_bytes(b"image")
    linked = atomic.install(source, tmp_path / "a.jpg", hardlink=True)
    assert linked.linked and os.path.samefile(source, tmp_path / "a.jpg")
    copied = atomic.install(source, tmp_path / "b.jpg", hardlink=False)
    assert not copied.linked and not os.path.samefile(source, tmp_path / "b.jpg")
    assert (tmp_path / "b.jpg").read_bytes() == b"image"


def test_sweep_removes_temp_files_of_dead_writers_and_old_ones_only(tmp_path: Path) -> None:
    # a writer that died: a real process, gone (and reaped) by now
    child = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    dead = atomic.temp_path(tmp_path).name.replace(f"-{os.getpid()}-", f"-{child.stdout.strip()}-")
    (tmp_path / dead).write_bytes(b"partial")
    live = atomic.temp_path(tmp_path)  # ours: in flight
    live.write_bytes(b"being written")
    foreign = tmp_path / ".metarr-tmp-otherhost-123-abc"  # another host's: only by age
    foreign.write_bytes(b"x")
    old = tmp_path / ".metarr-tmp-otherhost-456-def"
    old.write_bytes(b"x")
    past = time.time() - 2 * atomic.DEFAULT_GRACE_SECONDS
    os.utime(old, (past, past))
    (tmp_path / "poster.jpg").write_bytes(b"not a temp file")

    removed = atomic.sweep(tmp_path)

    assert sorted(p.name for p in removed) == sorted([dead, old.name])
    assert temp_files(tmp_path) == sorted([live.name, foreign.name])
    assert (tmp_path / "poster.jpg").exists()
    assert atomic.sweep(tmp_path / "missing") == []


def test_recycle_replaced_and_removed_files_then_restore_byte_for_byte(tmp_path: Path) -> None:
    library = tmp_path / "lib"
    library.mkdir()
    poster = library / "Movie-poster.jpg"
    poster.write_bytes(b"\xff\xd8 the user's poster \x00\xff")
    os.utime(poster, ns=(1_600_000_000_000_000_000, 1_600_000_000_000_000_000))
    bin_ = RecycleBin(tmp_path / "data" / "recycle")

    kept = bin_.put(poster, reason="replaced", keep_original=True, meta={"rel_path": "x"})
    assert poster.exists()  # about to be replaced by a rename, never missing
    atomic.write_bytes(poster, b"new poster")
    stored = bin_.path_of(kept.stored)
    assert stored.read_bytes() == b"\xff\xd8 the user's poster \x00\xff"
    assert kept.sha256 == hashlib.sha256(stored.read_bytes()).hexdigest()
    assert (stored.parent / META_NAME).is_file()

    nfo = library / "Movie.nfo"
    nfo.write_text("<movie>ours</movie>", encoding="utf-8")
    moved = bin_.put(nfo, reason="removed", keep_original=False)
    assert not nfo.exists()

    entries = {e.stored: e for e in bin_.entries()}
    assert set(entries) == {kept.stored, moved.stored}
    assert entries[kept.stored].original == str(poster)
    assert entries[kept.stored].reason == "replaced"
    assert entries[kept.stored].meta == {"rel_path": "x"}

    size = bin_.restore(kept.stored, poster)
    assert poster.read_bytes() == b"\xff\xd8 the user's poster \x00\xff" and size == kept.size
    assert poster.stat().st_mtime_ns == 1_600_000_000_000_000_000
    assert not stored.exists() and not stored.parent.exists()
    assert temp_files(library) == []

    bin_.purge(moved.stored)
    assert list(bin_.entries()) == []
    with pytest.raises(NotFound):
        bin_.restore(moved.stored, nfo)


@pytest.mark.parametrize("stored", ["../../etc/passwd", "/etc/passwd", "a/b", "a/../c/d"])
def test_recycle_paths_cannot_leave_the_bin(tmp_path: Path, stored: str) -> None:
    with pytest.raises(InvalidInput):
        RecycleBin(tmp_path).path_of(stored)
