"""Fixtures of the UI tests: a logged-in client and one scanned movie."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from metarr.api.app import create_app
from metarr.bootstrap import Container
from metarr.services.browse import MovieQuery
from metarr.testing.library_builder import LibraryBuilder
from tests.web.test_schedule_ui import UI


@pytest.fixture
def ui(container: Container) -> Iterator[UI]:
    """Logged in; no workers and no scheduler, so queued jobs stay queued."""
    app = create_app(container, close_on_shutdown=False, start_workers=False, start_scheduler=False)
    with TestClient(app) as tc:
        yield UI(tc, container.api_key)


@pytest.fixture
def movie_id(container: Container, tmp_path: Path) -> int:
    """One scanned movie (Heat, 1995) with an NFO plot, genres and one actor."""
    root = tmp_path / "films"
    LibraryBuilder(root).movie("Heat", 1995, plot="A heist goes wrong.", actors=[("Al", "Vincent")])
    library = container.libraries.create(name="Films", kind="movies", path=str(root))
    container.scans.run(container.scans.create(library.id)[0].id)
    items = container.browse.movies(MovieQuery()).items
    assert len(items) == 1
    return items[0].id
