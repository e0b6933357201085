"""The `sync` job: make the players show what Metarr published (or forget what is gone).

One job per movie and sync scope (a player on its own, or a group of players sharing
one library database), target `players:<scope>/movie:<id>`: the queue's dedupe on the
target coalesces requests that arrive while one waits, and a per-player lock (in the
process, plus a PostgreSQL advisory lock across `metarr worker` processes) keeps one
request at a time going to each player. Library jobs (`library:<id>/`, from the phase
chain after publishing) fan out into those.

In a group the first healthy member does the work, the next one when it fails. A
player that plays video is not disturbed (unless its options say so) and a player
that is down opens its circuit breaker: either way the job is deferred without
consuming an attempt and resumed as soon as the player is idle or back.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from metarr.db import player_store as store
from metarr.db.advisory import AdvisoryLock
from metarr.db.engine import Database
from metarr.domain.errors import Conflict, MetarrError, NotFound
from metarr.jobs import Job, JobContext, JobDeferred, Priority, Queue, Registry
from metarr.players.base import (
    PlayerBusy,
    PlayerUnavailable,
    SyncAction,
    SyncKind,
    SyncRequest,
    SyncResult,
)
from metarr.services.players import PlayerService, breaker_name, scope_needs

log = logging.getLogger(__name__)

SYNC_JOB = "sync"
MAX_ATTEMPTS = 5
LOCK_WAIT = 10.0  # seconds a job waits for another sync of the same player
BUSY_RETRY = 60.0  # a player playing video is asked again after this long
MAX_DEFER = timedelta(days=7)  # past this age a deferred job fails with the player's error


def sync_target(scope: str, movie_id: int) -> str:
    """Job target of one movie in one scope: `players:<scope>/movie:<id>`."""
    return f"players:{scope}/movie:{movie_id}"


class PlayerSyncJobs:
    """Enqueues and runs `sync` jobs."""

    def __init__(
        self,
        db: Database,
        queue: Queue,
        players: PlayerService,
        *,
        busy_retry: float = BUSY_RETRY,
        lock_wait: float = LOCK_WAIT,
        max_defer: timedelta = MAX_DEFER,
    ) -> None:
        self.db = db
        self.queue = queue
        self.players = players
        self.busy_retry = busy_retry
        self.lock_wait = lock_wait
        self.max_defer = max_defer

    def register(self, registry: Registry) -> None:
        """Register the `sync` job handler."""
        registry.register(SYNC_JOB, self.handle, max_attempts=MAX_ATTEMPTS, priority=Priority.HIGH)

    # -- enqueueing -------------------------------------------------------------------

    def sync_movie(self, movie_id: int, *, priority: int | None = None) -> list[int]:
        """Queue the sync of one movie to every player showing its library (job ids)."""
        with self.db.session() as s:
            movie = store.sync_movie(s.connection(), movie_id)
        if movie is None:
            raise NotFound(f"movie {movie_id} does not exist")
        scopes = self.players.scopes_for(movie.library_id)
        if not scopes:
            raise Conflict(f"no enabled player shows library {movie.library_id}")
        return [j.id for j in self._enqueue(movie_id, scopes, {"manual": True}, priority)]

    def movie_removed(self, movie_id: int, paths: list[str]) -> list[int]:
        """Queue the removal of a deleted movie (`paths`: its videos, known before deletion)."""
        with self.db.session() as s:
            movie = store.sync_movie(s.connection(), movie_id)
        if movie is None:
            return []
        scopes = self.players.scopes_for(movie.library_id)
        extra = {"kind": SyncKind.REMOVE.value, "paths": list(paths)}
        return [j.id for j in self._enqueue(movie_id, scopes, extra, None)]

    def _enqueue(
        self,
        movie_id: int,
        scopes: list[str],
        extra: Mapping[str, Any],
        priority: int | None,
        parent_id: int | None = None,
    ) -> list[Job]:
        return [
            self.queue.enqueue(
                SYNC_JOB,
                sync_target(scope, movie_id),
                {"scope": scope, "movie_id": movie_id, **extra},
                priority=priority,
                needs=scope_needs(scope),
                parent_id=parent_id,
            )
            for scope in scopes
        ]

    # -- queries ----------------------------------------------------------------------

    def states(self, movie_id: int) -> list[tuple[store.SyncState, str]]:
        """The last sync of a movie per scope, with the scope's display name."""
        with self.db.session() as s:
            conn = s.connection()
            if store.sync_movie(conn, movie_id) is None:
                raise NotFound(f"movie {movie_id} does not exist")
            found = store.states(conn, movie_id)
        return [(state, self.players.scope_label(state.scope)) for state in found]

    def has_players(self, movie_id: int) -> bool:
        """Whether any enabled player shows the movie's library."""
        with self.db.session() as s:
            movie = store.sync_movie(s.connection(), movie_id)
        return movie is not None and bool(self.players.scopes_for(movie.library_id))

    # -- the handler ------------------------------------------------------------------

    def handle(self, ctx: JobContext) -> Mapping[str, Any]:
        """One movie in one scope, or a fan-out (a library, or a movie to all scopes)."""
        payload = ctx.payload
        if "scope" in payload:
            return self._sync(ctx, str(payload["scope"]), int(payload["movie_id"]))
        return self._fan_out(ctx)

    def _fan_out(self, ctx: JobContext) -> Mapping[str, Any]:
        payload = ctx.payload
        with self.db.session() as s:
            conn = s.connection()
            if "movie_id" in payload:
                movie = store.sync_movie(conn, int(payload["movie_id"]))
                if movie is None:
                    return {"skipped": "the movie no longer exists"}
                library_id, ids = movie.library_id, [movie.id]
            else:
                library_id = int(payload["library_id"])
                auto = store.library_auto_sync(conn, library_id)
                if auto is None:
                    return {"skipped": f"library {library_id} no longer exists"}
                if "movie_ids" in payload:  # after publishing: only when switched on
                    if not auto:
                        return {"skipped": "player sync is switched off for this library"}
                    ids = [int(i) for i in payload["movie_ids"]]
                    # a publish that finished while this job waited may have been folded
                    # into it by the queue's dedupe: its movies are picked up here
                    since = ctx.job.created_at - timedelta(seconds=1)
                    ids = sorted(set(ids) | set(store.published_since(conn, library_id, since)))
                else:
                    ids = store.live_movie_ids(conn, library_id)
        scopes = self.players.scopes_for(library_id)
        # asked for (not after publishing): sync even what looks up to date
        extra = {} if "movie_ids" in payload else {"manual": True}
        jobs: list[int] = []
        for movie_id in ids:
            ctx.check_cancelled()
            # the sync's own priority (high): players should not wait behind a backlog
            children = self._enqueue(movie_id, scopes, extra, None, ctx.job.id)
            jobs.extend(j.id for j in children)
        return {"library_id": library_id, "movies": len(ids), "scopes": scopes, "job_ids": jobs}

    def _sync(self, ctx: JobContext, scope: str, movie_id: int) -> Mapping[str, Any]:
        payload = ctx.payload
        ctx.check_cancelled()
        with self.db.session() as s:
            conn = s.connection()
            movie = store.sync_movie(conn, movie_id)
            previous = store.state(conn, movie_id, scope)
        members = self.players.members(scope)
        if movie is not None:
            members = [m for m in members if m.serves(movie.library_id)]
        if not members:
            return {"movie_id": movie_id, "scope": scope, "skipped": "no enabled player"}
        remove = movie is None or movie.deleted
        if remove:
            paths = [str(p) for p in payload.get("paths") or []]
            if not paths and previous is not None and previous.local_path:
                paths = [previous.local_path]
            if not paths:
                return {"movie_id": movie_id, "scope": scope, "skipped": "never synced"}
            path = paths[0]
        else:
            assert movie is not None
            if not movie.videos:
                return {"movie_id": movie_id, "scope": scope, "skipped": "no video file"}
            path = movie.videos[0]
            if not payload.get("manual") and _up_to_date(previous, movie, path):
                # a sync that started after the last publish already showed it
                return {
                    "movie_id": movie_id,
                    "scope": scope,
                    "skipped": "already synced since the last publish",
                }
        title = None
        if movie is not None and movie.title:
            title = f"{movie.title} ({movie.year})" if movie.year else movie.title
        request = SyncRequest(path, SyncKind.REMOVE if remove else SyncKind.UPDATE, title=title)
        return self._run(ctx, scope, movie_id, request, members)

    def _run(
        self,
        ctx: JobContext,
        scope: str,
        movie_id: int,
        request: SyncRequest,
        members: list[store.StoredPlayer],
    ) -> Mapping[str, Any]:
        """The first healthy member syncs; the next one on failure; defer when none could."""
        waits: list[float] = []  # seconds until a busy or down member may be asked again
        reasons: list[str] = []
        failure: MetarrError | None = None
        down: PlayerUnavailable | None = None
        for member in members:
            ctx.check_cancelled()
            breaker = self.players.breakers.get(breaker_name(member.id))
            if not breaker.allow():
                wait = breaker.seconds_until_probe()
                waits.append(wait)
                reasons.append(f"{member.name} is down (next try in {wait:.0f}s)")
                continue
            lock = self.players.lock(member.id)
            if not lock.acquire(timeout=self.lock_wait):
                breaker.release()
                waits.append(1.0)
                reasons.append(f"{member.name} is busy with another sync")
                continue
            shared = AdvisoryLock(self.db, member.id)  # other `metarr worker` processes
            if not shared.acquire(timeout=self.lock_wait):
                lock.release()
                breaker.release()
                waits.append(1.0)
                reasons.append(f"{member.name} is busy with a sync in another process")
                continue
            started = datetime.now(UTC)
            try:
                result = self.players.player(member).sync(
                    replace(request, force=member.ignore_playing)
                )
            except PlayerBusy as exc:
                breaker.record_success()
                waits.append(self.busy_retry)
                reasons.append(str(exc))
                continue
            except PlayerUnavailable as exc:
                breaker.record_failure()
                waits.append(breaker.seconds_until_probe())
                reasons.append(str(exc))
                down = exc
                continue
            except MetarrError as exc:
                breaker.record_success()  # it answered
                self._save(ctx, scope, movie_id, member, request, error=exc, started=started)
                failure = failure or exc
                log.warning("sync of movie %s on %r failed: %s", movie_id, member.name, exc)
                continue
            finally:
                shared.release()
                lock.release()
            breaker.record_success()
            self._save(ctx, scope, movie_id, member, request, result=result, started=started)
            return {
                "movie_id": movie_id,
                "scope": scope,
                "player": member.name,
                "action": result.action.value,
                "remote_path": result.remote_path,
                "remote_id": result.item_id,
                "rule": None
                if result.rule is None
                else {"from": result.rule.from_path, "to": result.rule.to_path},
                "calls": result.calls,
                "seconds": round(result.seconds, 3),
                "textures_purged": result.textures_purged,
            }
        if waits:
            message = "; ".join(reasons)
            age = datetime.now(UTC) - _aware(ctx.job.created_at)
            if age > self.max_defer:
                raise failure or down or PlayerUnavailable(message, player=members[0].name)
            self._save_deferred(ctx, scope, movie_id, members[0], request, message)
            raise JobDeferred(f"sync deferred: {message}", delay=max(min(waits), 0.5))
        assert failure is not None
        raise failure

    # -- state ------------------------------------------------------------------------

    def _save(
        self,
        ctx: JobContext,
        scope: str,
        movie_id: int,
        member: store.StoredPlayer,
        request: SyncRequest,
        *,
        result: SyncResult | None = None,
        error: BaseException | None = None,
        started: datetime,
    ) -> None:
        now = datetime.now(UTC)
        values: dict[str, Any] = {
            "player_id": member.id,
            "job_id": ctx.job.id,
            "attempted_at": started,  # what the player read is at least this recent
            "local_path": request.path,
        }
        if result is not None:
            values.update(
                status="ok",
                action=result.action.value,
                error=None,
                remote_id=result.item_id,
                remote_path=result.remote_path,
                calls=result.calls,
                seconds=result.seconds,
                last_sync_at=now,
            )
        else:
            values.update(status="failed", error=str(error)[:2000])
        with self.db.session() as s:
            store.save_state(s.connection(), movie_id, scope, values)

    def _save_deferred(
        self,
        ctx: JobContext,
        scope: str,
        movie_id: int,
        member: store.StoredPlayer,
        request: SyncRequest,
        message: str,
    ) -> None:
        values = {
            "player_id": member.id,
            "job_id": ctx.job.id,
            "attempted_at": datetime.now(UTC),
            "status": "deferred",
            "error": message[:2000],
            "local_path": request.path,
        }
        with self.db.session() as s:
            store.save_state(s.connection(), movie_id, scope, values)


def _up_to_date(previous: store.SyncState | None, movie: store.SyncMovie, path: str) -> bool:
    """Whether the last sync of this scope already showed the movie as last published."""
    return (
        previous is not None
        and previous.status == "ok"
        and previous.action in (SyncAction.ADDED.value, SyncAction.REFRESHED.value)
        and previous.local_path == path
        and movie.published_at is not None
        and previous.attempted_at >= movie.published_at
    )


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
