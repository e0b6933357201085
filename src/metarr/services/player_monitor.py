"""Live player status: a background thread asks every enabled player whether it is up and
what it plays, and publishes `player.status` / `player.activity` when that changes.

It also keeps the sync jobs moving: a player found up closes its circuit breaker
(waiting jobs resume), and a player that stops playing video gets its deferred jobs
resumed at once instead of after the busy retry delay. A player in the middle of a
sync is skipped for that round (one request at a time per player).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

from metarr.services.events import Event, make_event
from metarr.services.players import PlayerService, PlayerStatus

log = logging.getLogger(__name__)

DEFAULT_INTERVAL = 10.0


def status_dict(status: PlayerStatus) -> dict[str, Any]:
    """A status as JSON-ready data (events, the API)."""
    return {
        "player_id": status.player_id,
        "name": status.name,
        "type": status.type,
        "connected": status.connected,
        "version": status.version,
        "error": status.error,
        "checked_at": status.checked_at.isoformat() if status.checked_at else None,
        "playing": [asdict(item) for item in status.playing],
    }


class PlayerMonitor:
    """Polls players every `interval` seconds while started; keeps the latest statuses."""

    def __init__(
        self,
        players: PlayerService,
        publish: Callable[[Event], None],
        *,
        interval: float = DEFAULT_INTERVAL,
    ) -> None:
        self.players = players
        self.publish = publish
        self.interval = interval
        self._lock = threading.Lock()
        self._latest: dict[int, PlayerStatus] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        players.on_status = self.record

    # -- lifecycle --------------------------------------------------------------------

    def start(self) -> None:
        """Start polling (no-op when running or when the interval is 0)."""
        if self._thread is not None or self.interval <= 0:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="metarr-players", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop polling."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
            self._thread = None

    @property
    def running(self) -> bool:
        """Whether the polling thread runs."""
        return self._thread is not None

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.check_all()
            except Exception:  # the database may be briefly away: try again next round
                log.exception("checking the players failed")
            self._stop.wait(self.interval)

    # -- checks -----------------------------------------------------------------------

    def check_all(self) -> list[PlayerStatus]:
        """Check every enabled player once (skipping those busy with a sync)."""
        checked = []
        known = set()
        for stored in self.players.all_stored():
            known.add(stored.id)
            if not stored.enabled or self._stop.is_set():
                continue
            lock = self.players.lock(stored.id)
            if not lock.acquire(blocking=False):
                continue  # a sync talks to it right now
            try:
                checked.append(self.players.check(stored))
            except Exception:
                log.exception("checking player %r failed", stored.name)
            finally:
                lock.release()
        with self._lock:
            for gone in set(self._latest) - known:
                del self._latest[gone]
        return checked

    def record(self, status: PlayerStatus) -> None:
        """Keep a fresh status; publish what changed; resume jobs a change unblocks."""
        with self._lock:
            old = self._latest.get(status.player_id)
            self._latest[status.player_id] = status
        data = status_dict(status)
        same_link = old is not None and (old.connected, old.version, old.error) == (
            status.connected,
            status.version,
            status.error,
        )
        if not same_link:
            self.publish(make_event("player.status", player=data))
        if old is None or old.playing != status.playing:
            self.publish(
                make_event(
                    "player.activity",
                    player_id=status.player_id,
                    name=status.name,
                    playing=data["playing"],
                )
            )
        idle_now = status.connected and not status.playing_video
        if idle_now and (old is None or old.playing_video or not old.connected):
            try:
                self.players.resume(self.players.stored(status.player_id).scope)
            except Exception:
                log.exception("could not resume the sync jobs of %r", status.name)

    def status(self, player_id: int) -> PlayerStatus:
        """A player's status: the last one polled when fresh, else checked now."""
        stored = self.players.stored(player_id)
        latest = self.latest(player_id)
        if self.running and latest is not None and latest.checked_at is not None:
            age = (datetime.now(UTC) - latest.checked_at).total_seconds()
            if age <= 2 * self.interval:
                return latest
        return self.players.check(stored)

    def latest(self, player_id: int) -> PlayerStatus | None:
        """The last status seen of a player."""
        with self._lock:
            return self._latest.get(player_id)

    def snapshot(self) -> dict[int, PlayerStatus]:
        """The last status of every player checked."""
        with self._lock:
            return dict(self._latest)
