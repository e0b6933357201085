"""The session's real, headless Kodi (one per test session), shared by the Kodi test files
through tests/integration/conftest.py.

Skipped only when Kodi cannot be installed here (the reason is printed with -ra).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from metarr.players.kodi import KodiPlayer
from metarr.testing.kodi import KodiPeer, ensure_kodi, tiny_video


@dataclass
class Session:
    """The session's Kodi and a template video to copy into movie folders."""

    kodi: KodiPeer
    video: Path
    timings: dict[str, float]


@pytest.fixture(scope="session")
def kodi_session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Session]:
    problem = ensure_kodi()
    if problem is not None:
        pytest.skip(f"a real Kodi cannot run here: {problem}")
    base = tmp_path_factory.mktemp("kodi")
    video = tiny_video(base / "template.mkv", 1)
    peer = KodiPeer(base / "peer")
    peer.start()
    # Kodi's usual state: the whole source was scanned once, so its listing is cached
    # and a brand-new sub-folder "does not exist" for a plain targeted scan.
    with KodiPlayer(peer.config()) as player:
        player.kodi.scan_folder(str(peer.movies_dir))
    session = Session(peer, video, {"start": peer.start_seconds})
    try:
        yield session
    finally:
        peer.stop()
        print(f"\nKodi session timings: {session.timings}")


@pytest.fixture
def kodi(kodi_session: Session) -> KodiPeer:
    peer = kodi_session.kodi
    if not peer.running:  # a test stopped it (the stop tests run last in their files)
        peer.start(peer.http_port)
    return peer
