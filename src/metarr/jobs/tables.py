"""The `jobs` table: the persistent queue and its history."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from metarr.db.tables import Base

# Partial-index predicates, spelled identically for both backends.
_PENDING = "status IN ('queued', 'retry_scheduled')"
_STATUSES = "'queued', 'running', 'retry_scheduled', 'succeeded', 'failed', 'cancelled'"


def _where(predicate: str) -> dict[str, Any]:
    return {"sqlite_where": text(predicate), "postgresql_where": text(predicate)}


class JobRow(Base):
    """One job: queued work, running work (with a lease) or finished history."""

    __tablename__ = "jobs"
    __table_args__ = (
        # The claim scans this small index in (priority, id) order: pending jobs only.
        Index("ix_jobs_claim", "priority", "id", **_where(_PENDING)),
        # Dedupe: at most one pending job per key; race-safe on both backends.
        Index("uq_jobs_dedupe_key", "dedupe_key", unique=True, **_where(_PENDING)),
        # Listing by status; also serves the reclaim scan over the (few) running jobs.
        Index("ix_jobs_status", "status", "id"),
        Index("ix_jobs_target", "target", "id"),
        Index("ix_jobs_parent", "parent_id"),
        Index("ix_jobs_finished_at", "finished_at"),
        CheckConstraint("priority BETWEEN 1 AND 10", name="priority_range"),
        CheckConstraint(f"status IN ({_STATUSES})", name="status_known"),
        {"sqlite_autoincrement": True},  # ids are never reused after a purge
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    type: Mapped[str] = mapped_column(String(100))
    target: Mapped[str] = mapped_column(String(255))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    priority: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(20))
    attempts: Mapped[int] = mapped_column(Integer)
    max_attempts: Mapped[int] = mapped_column(Integer)
    run_at: Mapped[datetime]
    created_at: Mapped[datetime]
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    heartbeat_at: Mapped[datetime | None]
    lease_expires_at: Mapped[datetime | None]
    worker_id: Mapped[str | None] = mapped_column(String(200))
    progress: Mapped[float] = mapped_column(Float)
    progress_message: Mapped[str | None] = mapped_column(Text)
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    last_error: Mapped[str | None] = mapped_column(Text)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("jobs.id", ondelete="SET NULL"))
    dedupe_key: Mapped[str | None] = mapped_column(String(400))
    needs: Mapped[str | None] = mapped_column(String(50))
    cancel_requested: Mapped[bool] = mapped_column(Boolean)
