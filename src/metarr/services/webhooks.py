"""Downloader webhooks: store every call first, then act (scoped scans, soft deletes, log)."""

from __future__ import annotations

import builtins
import json
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, defer

from metarr.db import player_store, scan_store
from metarr.db.engine import Database
from metarr.db.tables import ExternalIdRow, LibraryRow, MovieRow
from metarr.db.tables_events import ManagerPathMappingRow, WebhookEventRow
from metarr.domain.errors import Conflict, InvalidInput, MetarrError, NotFound
from metarr.domain.webhooks import (
    SOURCES,
    ManagerEvent,
    PathMapping,
    Plan,
    WebhookAction,
    find_library,
    is_absolute_manager_path,
    map_manager_path,
    normalize_manager_path,
    plan_event,
    source_name,
)
from metarr.services.activity import ActivityService
from metarr.services.scans import ScanService

log = logging.getLogger(__name__)

# Characters of a body kept in the event log; the API refuses bodies over 1 MiB anyway.
RAW_BODY_LIMIT = 1_048_576
STATUSES: tuple[str, ...] = ("received", "processed", "ignored", "failed")
MAX_LIMIT = 500
# A downloader just changed this folder: its scan goes before scheduled work (1 = first).
SCAN_PRIORITY = 2
MAPPING_TIP = (
    "if the downloader sees the library under another path, add a path mapping "
    "(POST /api/v1/webhooks/path-mappings)"
)


@dataclass(frozen=True, slots=True)
class WebhookEvent:
    """A received webhook call as the event log lists it."""

    id: int
    source: str
    event_type: str
    received_at: datetime
    remote_addr: str | None
    body_size: int
    status: str
    outcome: str | None
    actions: tuple[dict[str, Any], ...]
    scan_ids: tuple[int, ...]
    job_ids: tuple[int, ...]
    processed_at: datetime | None


@dataclass(frozen=True, slots=True)
class WebhookEventDetail(WebhookEvent):
    """One webhook call with its raw body and parsed payload."""

    raw_body: str = ""
    payload: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class WebhookResult:
    """What the webhook call answers: the stored event, its status and the actions taken."""

    id: int
    status: str
    outcome: str | None
    actions: tuple[dict[str, Any], ...]


@dataclass(slots=True)
class _Outcome:
    status: str
    message: str
    actions: list[dict[str, Any]] = field(default_factory=list)
    scan_ids: list[int] = field(default_factory=list)
    job_ids: list[int] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class _Located:
    library_id: int
    library_name: str
    rel: str  # folder relative to the library root, "" for the root itself
    path: str  # Metarr's path of the folder


class WebhookService:
    """Receives downloader events, keeps a log of them, and manages manager path mappings."""

    def __init__(self, db: Database, scans: ScanService, activity: ActivityService) -> None:
        self.db = db
        self.scans = scans
        self.activity = activity
        # set by the composition root: (movie id, its video paths) -> sync job ids, so the
        # players forget a movie the downloader deleted
        self.on_movie_deleted: Callable[[int, list[str]], list[int]] | None = None

    # -- receiving -----------------------------------------------------------

    def reject(self, source: str, reason: str, *, remote: str | None, body_size: int) -> None:
        """Note a call whose body was unusable; nothing is stored in the event log."""
        log.warning("rejected %s webhook from %s (%d bytes): %s", source, remote, body_size, reason)
        self.activity.record(
            "webhook.rejected",
            f"{source_name(source)} webhook rejected: {reason}",
            level="warning",
            data={"source": source, "remote_addr": remote, "body_size": body_size},
        )

    def receive(
        self,
        source: str,
        *,
        raw: bytes,
        payload: dict[str, Any],
        event: ManagerEvent | None,
        problem: str | None = None,
        remote: str | None = None,
    ) -> WebhookResult:
        """Store the call (its own transaction), then act on `event`.

        `event` is None when the payload's shape was not understood (`problem`
        says why): the call is kept with status `failed`.
        """
        event_id = self._store(source, raw, payload, remote)
        data = {"webhook_event_id": event_id, "source": source}
        if event is None:
            outcome = _Outcome("failed", f"payload not understood: {problem or 'unknown shape'}")
            self.activity.record(
                "webhook.failed",
                f"{source_name(source)} webhook not understood: {problem}",
                level="error",
                data=data,
            )
        else:
            data["event_type"] = event.event_type
            try:
                outcome = self._act(event, data)
            except Exception as exc:  # kept as `failed`: the payload is stored for a look
                log.exception("webhook event %s could not be handled", event_id)
                outcome = _Outcome("failed", f"handling failed: {type(exc).__name__}: {exc}")
                self.activity.record(
                    "webhook.failed",
                    f"{source_name(source)} {event.event_type} could not be handled: {exc}",
                    level="error",
                    data=data,
                )
        self._finish(event_id, outcome)
        return WebhookResult(event_id, outcome.status, outcome.message, tuple(outcome.actions))

    def _store(self, source: str, raw: bytes, payload: dict[str, Any], remote: str | None) -> int:
        event_type = payload.get("eventType")
        with self.db.session() as s:
            row = WebhookEventRow(
                source=source,
                event_type=str(event_type)[:60],
                received_at=datetime.now(UTC),
                remote_addr=remote[:100] if remote else None,
                body_size=len(raw),
                raw_body=_raw_text(raw),
                payload=payload,
                status="received",
                actions=[],
                scan_ids=[],
                job_ids=[],
            )
            s.add(row)
            s.flush()
            return row.id

    def _finish(self, event_id: int, outcome: _Outcome) -> None:
        with self.db.session() as s:
            row = s.get(WebhookEventRow, event_id)
            assert row is not None
            row.status = outcome.status
            row.outcome = outcome.message[:4000]
            row.actions = outcome.actions
            row.scan_ids = outcome.scan_ids
            row.job_ids = outcome.job_ids
            row.processed_at = datetime.now(UTC)

    def _act(self, event: ManagerEvent, data: dict[str, Any]) -> _Outcome:
        plan = plan_event(event)
        if plan.action is WebhookAction.TEST:
            self.activity.record(plan.kind, plan.message, level=plan.level, data=data)
            return _Outcome("processed", plan.message, [{"action": "test"}])
        if plan.action is WebhookAction.RECORD:
            self.activity.record(plan.kind, plan.message, level=plan.level, data=data)
            return _Outcome("processed", plan.message, [{"action": "activity", "kind": plan.kind}])
        if plan.action is WebhookAction.SCAN:
            return self._scan(event, plan, data)
        if plan.action is WebhookAction.SOFT_DELETE:
            return self._soft_delete(event, plan, data)
        # KEEP (an upgrade replaces the file) and IGNORE: noted, nothing done
        self.activity.record(plan.kind, plan.message, level=plan.level, data=data)
        return _Outcome("ignored", plan.message)

    def _scan(self, event: ManagerEvent, plan: Plan, data: dict[str, Any]) -> _Outcome:
        located = self._locate(event)
        if isinstance(located, str):
            return self._ignored(plan, located, data)
        if plan.folder_must_exist and not os.path.isdir(located.path):
            reason = f"folder {located.path!r} does not exist here; {MAPPING_TIP}"
            return self._ignored(plan, reason, data, library_id=located.library_id)
        hint = None if event.ids.is_empty() else event.ids
        try:
            run = self.scans.submit(
                located.library_id,
                trigger="webhook",
                scope=located.rel or None,
                hint_ids=hint,
                priority=SCAN_PRIORITY,
            )
        except MetarrError as exc:  # disabled or vanished library
            return self._ignored(plan, str(exc), data, library_id=located.library_id)
        where = f"folder {located.rel!r}" if located.rel else "the whole library"
        message = f"{plan.message}: scanning {where} of library {located.library_name!r}"
        self.activity.record(
            plan.kind,
            message,
            level=plan.level,
            library_id=located.library_id,
            job_id=run.job_id,
            data={**data, "scan_id": run.id},
        )
        action = {
            "action": "scan",
            "library_id": located.library_id,
            "scan_id": run.id,
            "job_id": run.job_id,
            "scope": located.rel or None,
        }
        jobs = [run.job_id] if run.job_id is not None else []
        return _Outcome("processed", message, [action], [run.id], jobs)

    def _soft_delete(self, event: ManagerEvent, plan: Plan, data: dict[str, Any]) -> _Outcome:
        located = self._locate(event)
        if isinstance(located, str):
            return self._ignored(plan, located, data)
        now = datetime.now(UTC)
        videos: list[str] = []
        with self.db.session() as s:
            movie_id = _find_movie(s, located, event)
            if movie_id is not None:
                # the players are told by path: keep it before the files are forgotten
                videos = player_store.movie_videos(s.connection(), [movie_id]).get(movie_id, [])
                scan_store.soft_delete_movies(s.connection(), [movie_id], now)
        if movie_id is None:
            reason = (
                f"no Metarr movie in {located.rel or 'the root'!r} of library "
                f"{located.library_name!r} (never scanned, or already deleted)"
            )
            return self._ignored(plan, reason, data, library_id=located.library_id)
        message = f"{plan.message}: movie {movie_id} marked deleted (files on disk untouched)"
        self.activity.record(
            plan.kind,
            message,
            level=plan.level,
            library_id=located.library_id,
            movie_id=movie_id,
            data=data,
        )
        action = {"action": "soft_delete", "library_id": located.library_id, "movie_id": movie_id}
        jobs: list[int] = []
        if self.on_movie_deleted is not None:
            try:
                jobs = self.on_movie_deleted(movie_id, videos)
            except MetarrError as exc:
                log.warning("players not told about deleted movie %s: %s", movie_id, exc)
        if jobs:
            action["sync_job_ids"] = jobs
        return _Outcome("processed", message, [action], job_ids=jobs)

    def _ignored(
        self, plan: Plan, reason: str, data: dict[str, Any], *, library_id: int | None = None
    ) -> _Outcome:
        message = f"{plan.message}; ignored: {reason}"
        self.activity.record(plan.kind, message, level="warning", library_id=library_id, data=data)
        return _Outcome("ignored", message)

    def _locate(self, event: ManagerEvent) -> _Located | str:
        """The library and folder of an event's path, or why there is none."""
        if not event.folder_path:
            return "the payload names no folder"
        mapped = map_manager_path(event.folder_path, self.mappings(event.source))
        with self.db.session() as s:
            libraries = s.execute(
                select(LibraryRow.id, LibraryRow.name, LibraryRow.path).where(
                    LibraryRow.kind == "movies"
                )
            ).all()
        found = find_library(mapped.path, [(lib_id, path) for lib_id, _name, path in libraries])
        if found is None:
            via = f" (mapped from {event.folder_path!r})" if mapped.mapping else ""
            return f"folder {mapped.path!r}{via} is not under any library; {MAPPING_TIP}"
        library_id, rel = found
        name = next(n for lib_id, n, _path in libraries if lib_id == library_id)
        return _Located(library_id, name, rel, mapped.path)

    # -- the event log -------------------------------------------------------

    def list_events(
        self,
        source: str | None = None,
        event_type: str | None = None,
        status: str | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> tuple[builtins.list[WebhookEvent], int]:
        """Received calls, newest first, with the total matching the filters."""
        if source is not None and source not in SOURCES:
            raise InvalidInput(f"source must be one of {', '.join(SOURCES)}", field="source")
        if status is not None and status not in STATUSES:
            raise InvalidInput(f"status must be one of {', '.join(STATUSES)}", field="status")
        if not 1 <= limit <= MAX_LIMIT:
            raise InvalidInput(f"limit must be between 1 and {MAX_LIMIT}", field="limit")
        if offset < 0:
            raise InvalidInput("offset must not be negative", field="offset")
        conditions: builtins.list[Any] = []
        if source is not None:
            conditions.append(WebhookEventRow.source == source)
        if event_type is not None:
            conditions.append(WebhookEventRow.event_type == event_type)
        if status is not None:
            conditions.append(WebhookEventRow.status == status)
        with self.db.session() as s:
            total = s.scalar(select(func.count()).select_from(WebhookEventRow).where(*conditions))
            rows = s.scalars(
                select(WebhookEventRow)
                .options(defer(WebhookEventRow.raw_body), defer(WebhookEventRow.payload))
                .where(*conditions)
                .order_by(WebhookEventRow.id.desc())
                .limit(limit)
                .offset(offset)
            ).all()
            return [WebhookEvent(**_summary(r)) for r in rows], int(total or 0)

    def get_event(self, event_id: int) -> WebhookEventDetail:
        """One received call with its raw body, or NotFound."""
        with self.db.session() as s:
            row = s.get(WebhookEventRow, event_id)
            if row is None:
                raise NotFound(f"webhook event {event_id} does not exist")
            return WebhookEventDetail(**_summary(row), raw_body=row.raw_body, payload=row.payload)

    # -- manager path mappings -----------------------------------------------

    def mappings(self, source: str | None = None) -> builtins.list[PathMapping]:
        """Path mappings, of one source or all."""
        query = select(ManagerPathMappingRow).order_by(
            ManagerPathMappingRow.source, ManagerPathMappingRow.from_path
        )
        if source is not None:
            query = query.where(ManagerPathMappingRow.source == source)
        with self.db.session() as s:
            return [PathMapping(r.id, r.source, r.from_path, r.to_path) for r in s.scalars(query)]

    def add_mapping(self, source: str, from_path: str, to_path: str) -> PathMapping:
        """Validate and store a mapping from a downloader's path to Metarr's."""
        if source not in SOURCES:
            raise InvalidInput(f"source must be one of {', '.join(SOURCES)}", field="source")
        from_norm = _check_from_path(from_path)
        to_real = _check_to_path(to_path)
        with self.db.session() as s:
            row = ManagerPathMappingRow(
                source=source, from_path=from_norm, to_path=to_real, created_at=datetime.now(UTC)
            )
            s.add(row)
            try:
                s.flush()
            except IntegrityError as exc:
                raise Conflict(f"a {source} mapping for {from_norm!r} already exists") from exc
            return PathMapping(row.id, row.source, row.from_path, row.to_path)

    def delete_mapping(self, mapping_id: int) -> None:
        """Remove a mapping."""
        with self.db.session() as s:
            row = s.get(ManagerPathMappingRow, mapping_id)
            if row is None:
                raise NotFound(f"path mapping {mapping_id} does not exist")
            s.delete(row)


def _find_movie(s: Session, located: _Located, event: ManagerEvent) -> int | None:
    """The live movie of a downloader's folder: by folder key, else by tmdb/imdb id."""
    alive = (MovieRow.library_id == located.library_id, MovieRow.deleted_at.is_(None))
    if located.rel:
        found: int | None = s.scalar(select(MovieRow.id).where(*alive, MovieRow.key == located.rel))
        if found is not None:
            return found
    for provider, value in (("tmdb", event.ids.tmdb), ("imdb", event.ids.imdb)):
        if value is None:
            continue
        found = s.scalar(
            select(MovieRow.id)
            .join(ExternalIdRow, ExternalIdRow.movie_id == MovieRow.id)
            .where(*alive, ExternalIdRow.provider == provider, ExternalIdRow.value == str(value))
            .order_by(MovieRow.id)
            .limit(1)
        )
        if found is not None:
            return found
    if located.rel:  # a loose file inside the folder: only when it is the one movie there
        under = s.scalars(
            select(MovieRow.id)
            .where(*alive, MovieRow.key.startswith(located.rel + "/", autoescape=True))
            .limit(2)
        ).all()
        if len(under) == 1:
            return int(under[0])
    return None


def _check_from_path(path: str) -> str:
    path = path.strip()
    if "\x00" in path:
        raise InvalidInput("from_path must not contain NUL bytes", field="from_path")
    if not path or not is_absolute_manager_path(path):
        raise InvalidInput(
            "from_path must be an absolute path as the downloader sees it "
            "(/data/movies or D:\\Movies)",
            field="from_path",
        )
    return normalize_manager_path(path)


def _check_to_path(path: str) -> str:
    path = path.strip()
    if "\x00" in path:
        raise InvalidInput("to_path must not contain NUL bytes", field="to_path")
    if not path or not os.path.isabs(path):
        raise InvalidInput("to_path must be an absolute path", field="to_path")
    if not os.path.exists(path):
        raise InvalidInput(f"to_path {path!r} does not exist", field="to_path")
    if not os.path.isdir(path):
        raise InvalidInput(f"to_path {path!r} is not a directory", field="to_path")
    # Library roots are stored resolved; mapped paths must compare with them.
    return os.path.realpath(path)


def _raw_text(raw: bytes) -> str:
    """The body as text, decoded the way `json.loads` read it (UTF-8, or UTF-16/32)."""
    text = raw.decode(json.detect_encoding(raw), errors="replace")
    # PostgreSQL text cannot hold NUL; valid JSON never has a raw one anyway
    return text.replace("\x00", "\ufffd")[:RAW_BODY_LIMIT]


def _summary(row: WebhookEventRow) -> dict[str, Any]:
    return {
        "id": row.id,
        "source": row.source,
        "event_type": row.event_type,
        "received_at": row.received_at,
        "remote_addr": row.remote_addr,
        "body_size": row.body_size,
        "status": row.status,
        "outcome": row.outcome,
        "actions": tuple(row.actions or ()),
        "scan_ids": tuple(row.scan_ids or ()),
        "job_ids": tuple(row.job_ids or ()),
        "processed_at": row.processed_at,
    }
