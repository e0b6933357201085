"""A publish killed with SIGKILL halfway: the next run leaves no temp file and completes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from sqlalchemy import select

from metarr.bootstrap import Container
from metarr.db.tables_publish import RecycleEntryRow
from metarr.settings import Settings
from metarr.testing.library_builder import LibraryBuilder
from tests.integration.publishing_env import PublishEnv, image, snapshot, temp_leftovers

MOVIES = 24
PAUSE_AT = 30  # the child stops for good after this many files, with a temp file written

CHILD = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path

    from metarr.bootstrap import build
    from metarr.pipeline.publish import PublishOptions
    from metarr.settings import Settings
    from metarr.storage import atomic

    data_dir, database_url, marker, pause_at = sys.argv[1:5]
    container = build(Settings(data_dir=data_dir, database_url=database_url, api_key="k"))
    publisher = container.publishing.publisher
    publisher.options = PublishOptions(threads=2, batch_size=4)
    commit = atomic._commit
    done = []

    def commit_or_hang(tmp, target, sync_dir, linked):
        done.append(target)
        if len(done) == int(pause_at):  # the temp file is written and fsynced: hang here
            Path(marker).write_text(str(tmp))
            time.sleep(3600)
        return commit(tmp, target, sync_dir, linked)

    atomic._commit = commit_or_hang
    ids = publisher.library_movies(int(sys.argv[5]))
    publisher.publish(ids)
    print("finished without being killed", flush=True)
    """
)


@pytest.fixture(scope="module")
def templates(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("templates")


def test_sigkill_mid_publish_is_cleaned_up_by_the_next_run(
    container: Container, settings: Settings, db_url: str, tmp_path: Path, templates: Path
) -> None:
    root = (tmp_path / "library").resolve()
    root.mkdir()
    env = PublishEnv(container, LibraryBuilder(root, templates_dir=templates), root)
    for n in range(MOVIES):
        env.builder.movie(f"Film {n:02d}", 2000 + n, tmdb=1000 + n, artwork=())
    env.create_library()
    env.scan()
    for n in range(MOVIES):
        env.seed(
            env.movie_id(f"Film {n:02d} ({2000 + n})"),
            {"poster": [image((n, 10, 10))], "fanart": [image((n, 20, 20), (64, 36))]},
        )
    marker = tmp_path / "paused"

    child = subprocess.Popen(
        [
            sys.executable,
            "-c",
            CHILD,
            str(settings.data_dir),
            db_url,
            str(marker),
            str(PAUSE_AT),
            str(env.library_id),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 120
        while not marker.exists():
            assert child.poll() is None, child.communicate()
            assert time.monotonic() < deadline, "the child never reached the pause"
            time.sleep(0.05)
        time.sleep(0.2)  # let the other thread get on with its files
        assert Path(marker.read_text()).exists()  # a temp file is on disk right now
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.communicate()  # reaped: its pid is gone
    assert child.returncode == -signal.SIGKILL
    left = temp_leftovers(root)
    assert left, "the kill should have left a temp file behind"
    published_before = len(env.records())
    assert 0 < published_before < 3 * MOVIES  # some batches were recorded, not all

    result = container.publishing.publisher.publish(
        container.publishing.publisher.library_movies(env.library_id)
    )

    assert result.failed == 0, result.errors
    assert result.temp_swept >= len(left)
    assert temp_leftovers(root) == []
    records = env.records()
    assert len(records) == 3 * MOVIES  # NFO, poster and fanart of every movie
    publisher = container.publishing.publisher
    for path, record in records.items():
        data = (root / path).read_bytes()
        if record.kind == "nfo":
            assert data == publisher.render_nfo(record.movie_id), path
        else:
            assert data == env.cached(record.sha256), path
    before = snapshot(root)
    again = container.publishing.publisher.publish(
        container.publishing.publisher.library_movies(env.library_id)
    )
    assert again.unchanged == MOVIES and snapshot(root) == before
    # the user's NFOs went to the recycle bin; the cleanup indexes what the kill left unindexed
    container.publishing.purge_expired()
    on_disk = {e.stored for e in container.publishing.recycle.entries()}
    with container.db.session() as s:
        indexed = set(s.scalars(select(RecycleEntryRow.stored_path)))
    assert indexed == on_disk and len(indexed) >= MOVIES
