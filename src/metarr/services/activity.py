"""The activity log: a user-facing history of what happened and why."""

from __future__ import annotations

import builtins
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select

from metarr.db.engine import Database
from metarr.db.tables_events import ActivityRow
from metarr.domain.errors import InvalidInput

log = logging.getLogger(__name__)

LEVELS: tuple[str, ...] = ("info", "warning", "error")
MAX_MESSAGE = 2000
MAX_KIND = 60
MAX_LIMIT = 500


@dataclass(frozen=True, slots=True)
class Activity:
    """One entry of the activity log."""

    id: int
    created_at: datetime
    kind: str
    level: str
    message: str
    library_id: int | None
    movie_id: int | None
    job_id: int | None
    data: dict[str, Any]


class ActivityService:
    """Writes and lists activity entries; writing never fails its caller."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def record(
        self,
        kind: str,
        message: str,
        *,
        level: str = "info",
        library_id: int | None = None,
        movie_id: int | None = None,
        job_id: int | None = None,
        data: dict[str, Any] | None = None,
    ) -> int:
        """Store an entry and return its id; 0 when it could not be stored (logged, not raised)."""
        if level not in LEVELS:
            log.warning("activity level %r unknown, recorded as info", level)
            level = "info"
        try:
            with self.db.session() as s:
                row = ActivityRow(
                    created_at=datetime.now(UTC),
                    kind=kind[:MAX_KIND],
                    level=level,
                    message=message[:MAX_MESSAGE],
                    library_id=library_id,
                    movie_id=movie_id,
                    job_id=job_id,
                    data=data or None,
                )
                s.add(row)
                s.flush()
                return row.id
        except Exception:  # history must never break the work it describes
            log.exception("could not record activity %s: %s", kind, message[:200])
            return 0

    def list(
        self,
        kind: str | None = None,
        level: str | None = None,
        library_id: int | None = None,
        since: datetime | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> tuple[builtins.list[Activity], int]:
        """Entries newest first with the total matching the filters."""
        if level is not None and level not in LEVELS:
            raise InvalidInput(f"level must be one of {', '.join(LEVELS)}", field="level")
        if not 1 <= limit <= MAX_LIMIT:
            raise InvalidInput(f"limit must be between 1 and {MAX_LIMIT}", field="limit")
        if offset < 0:
            raise InvalidInput("offset must not be negative", field="offset")
        conditions: builtins.list[Any] = []
        if kind is not None:
            # `webhook` matches every `webhook.*` kind, `webhook.received` only itself.
            conditions.append(
                ActivityRow.kind == kind
                if "." in kind
                else (ActivityRow.kind == kind)
                | ActivityRow.kind.startswith(kind + ".", autoescape=True)
            )
        if level is not None:
            conditions.append(ActivityRow.level == level)
        if library_id is not None:
            conditions.append(ActivityRow.library_id == library_id)
        if since is not None:
            # stored in UTC; a naive `since` is taken as UTC too
            since = since.astimezone(UTC) if since.tzinfo else since.replace(tzinfo=UTC)
            conditions.append(ActivityRow.created_at >= since)
        with self.db.session() as s:
            total = s.scalar(select(func.count()).select_from(ActivityRow).where(*conditions))
            rows = s.scalars(
                select(ActivityRow)
                .where(*conditions)
                .order_by(ActivityRow.id.desc())
                .limit(limit)
                .offset(offset)
            ).all()
            return [_to_domain(r) for r in rows], int(total or 0)


def _to_domain(row: ActivityRow) -> Activity:
    return Activity(
        id=row.id,
        created_at=row.created_at,
        kind=row.kind,
        level=row.level,
        message=row.message,
        library_id=row.library_id,
        movie_id=row.movie_id,
        job_id=row.job_id,
        data=dict(row.data or {}),
    )
