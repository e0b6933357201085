"""The `library_schedules` table: when each recurring task of a library runs next."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from metarr.db.tables import Base


class LibraryScheduleRow(Base):
    """One recurring task of one library: its setting, last run and next run."""

    __tablename__ = "library_schedules"
    __table_args__ = (
        UniqueConstraint("library_id", "task"),
        # The scheduler asks "what is due next?" across every library.
        Index("ix_library_schedules_next_run_at", "next_run_at"),
        CheckConstraint("interval_hours BETWEEN 1 AND 8760", name="interval_range"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    library_id: Mapped[int] = mapped_column(ForeignKey("libraries.id", ondelete="CASCADE"))
    task: Mapped[str] = mapped_column(String(40))  # file_scan | provider_update | ...
    enabled: Mapped[bool] = mapped_column(Boolean)
    interval_hours: Mapped[int] = mapped_column(Integer)
    last_run_at: Mapped[datetime | None]
    next_run_at: Mapped[datetime | None]  # NULL while disabled
    # {"status": succeeded|failed|cancelled|error|unknown, "message", "job_id", "finished_at"}
    last_result: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    last_job_id: Mapped[int | None] = mapped_column(Integer)  # jobs are purged by retention
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
