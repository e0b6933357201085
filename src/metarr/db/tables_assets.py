"""Tables of the enrichment phases: artwork candidates and identification candidates."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from metarr.db.tables import Base


class AssetCandidateRow(Base):
    """One artwork image offered for a movie, its score, and whether it is selected.

    `selected_by` is "auto" (selection) or "user" (a person's choice, never dropped);
    `rejected` says why automation will not pick it again (invalid_image,
    near_duplicate, too_large); provider "local" rows are artwork found on disk.
    """

    __tablename__ = "asset_candidates"
    __table_args__ = (
        UniqueConstraint("movie_id", "type", "url"),
        # the same image offered to another movie is found by URL (cached_hashes_by_url)
        Index("ix_asset_candidates_url", "url"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    movie_id: Mapped[int] = mapped_column(ForeignKey("movies.id", ondelete="CASCADE"))
    type: Mapped[str] = mapped_column(String(20))
    url: Mapped[str] = mapped_column(Text)
    provider: Mapped[str] = mapped_column(String(20))
    width: Mapped[int | None] = mapped_column(Integer)
    height: Mapped[int | None] = mapped_column(Integer)
    language: Mapped[str | None] = mapped_column(String(20))
    votes: Mapped[int] = mapped_column(Integer, default=0)
    vote_average: Mapped[float | None] = mapped_column(Float)
    score: Mapped[float] = mapped_column(Float, default=0.0)
    blocked: Mapped[bool] = mapped_column(Boolean, default=False)
    selected: Mapped[bool] = mapped_column(Boolean, default=False)
    selected_by: Mapped[str | None] = mapped_column(String(10))
    rejected: Mapped[str | None] = mapped_column(String(40))
    sha256: Mapped[str | None] = mapped_column(String(64))
    fetched_at: Mapped[datetime | None]


class IdentifyCandidateRow(Base):
    """A search result kept for a person to choose from (movie `needs_review`)."""

    __tablename__ = "identify_candidates"
    __table_args__ = (Index("ix_identify_candidates_movie", "movie_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    movie_id: Mapped[int] = mapped_column(ForeignKey("movies.id", ondelete="CASCADE"))
    provider: Mapped[str] = mapped_column(String(20))
    ref: Mapped[str] = mapped_column(String(40))
    title: Mapped[str] = mapped_column(Text)
    year: Mapped[int | None] = mapped_column(Integer)
    score: Mapped[float] = mapped_column(Float)
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
