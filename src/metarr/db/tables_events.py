"""Tables of what happened: the activity log, received webhooks, manager path mappings."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from metarr.db.tables import Base


class ActivityRow(Base):
    """One user-facing history entry: what happened, and why."""

    __tablename__ = "activity"
    __table_args__ = (
        Index("ix_activity_kind", "kind", "id"),
        Index("ix_activity_library", "library_id", "id"),
        Index("ix_activity_movie", "movie_id"),
        Index("ix_activity_created_at", "created_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    created_at: Mapped[datetime]
    kind: Mapped[str] = mapped_column(String(60))  # webhook.received, scan.finished...
    level: Mapped[str] = mapped_column(String(10))  # info | warning | error
    message: Mapped[str] = mapped_column(Text)
    # History outlives what it mentions: a deleted library or purged movie leaves NULL.
    library_id: Mapped[int | None] = mapped_column(ForeignKey("libraries.id", ondelete="SET NULL"))
    movie_id: Mapped[int | None] = mapped_column(ForeignKey("movies.id", ondelete="SET NULL"))
    job_id: Mapped[int | None] = mapped_column(Integer)  # jobs are purged by retention
    data: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class WebhookEventRow(Base):
    """One received webhook call: the raw payload first, then what was done about it."""

    __tablename__ = "webhook_events"
    __table_args__ = (
        Index("ix_webhook_events_source", "source", "id"),
        Index("ix_webhook_events_event_type", "event_type", "id"),
        Index("ix_webhook_events_received_at", "received_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source: Mapped[str] = mapped_column(String(10))  # radarr | sonarr | lidarr
    event_type: Mapped[str] = mapped_column(String(60))
    received_at: Mapped[datetime]
    remote_addr: Mapped[str | None] = mapped_column(String(100))
    body_size: Mapped[int] = mapped_column(Integer)  # bytes received
    raw_body: Mapped[str] = mapped_column(Text)  # decoded, capped at RAW_BODY_LIMIT
    payload: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(20))  # received|processed|ignored|failed
    outcome: Mapped[str | None] = mapped_column(Text)
    actions: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    scan_ids: Mapped[list[int]] = mapped_column(JSON, default=list)
    job_ids: Mapped[list[int]] = mapped_column(JSON, default=list)
    processed_at: Mapped[datetime | None]


class ManagerPathMappingRow(Base):
    """A downloader's path prefix and the folder Metarr sees it as."""

    __tablename__ = "manager_path_mappings"
    __table_args__ = (UniqueConstraint("source", "from_path"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source: Mapped[str] = mapped_column(String(10))  # radarr | sonarr | lidarr
    from_path: Mapped[str] = mapped_column(Text)  # normalized: forward slashes, no trailing /
    to_path: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime]
