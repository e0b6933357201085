"""Tables of publishing: library settings, published files, recycle bin, verification."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from metarr.db.tables import Base


class PublishSettingsRow(Base):
    """How a library is published: naming profile, hard links, verification repairs."""

    __tablename__ = "publish_settings"

    library_id: Mapped[int] = mapped_column(
        ForeignKey("libraries.id", ondelete="CASCADE"), primary_key=True
    )
    profile: Mapped[str] = mapped_column(String(20), default="kodi")  # kodi | jellyfin
    hardlinks: Mapped[bool] = mapped_column(Boolean, default=False)
    # verification rewrites what Metarr published from the cache (else it only reports)
    verify_repair: Mapped[bool] = mapped_column(Boolean, default=True)
    updated_at: Mapped[datetime]


class PublishedFileRow(Base):
    """A file Metarr wrote into a library, as it was right after the write."""

    __tablename__ = "published_files"
    __table_args__ = (
        UniqueConstraint("library_id", "path"),
        Index("ix_published_files_movie", "movie_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    library_id: Mapped[int] = mapped_column(ForeignKey("libraries.id", ondelete="CASCADE"))
    movie_id: Mapped[int] = mapped_column(ForeignKey("movies.id", ondelete="CASCADE"))
    path: Mapped[str] = mapped_column(Text)  # relative to the library root, POSIX separators
    kind: Mapped[str] = mapped_column(String(20))  # nfo | artwork | actor
    role: Mapped[str] = mapped_column(Text)  # nfo, poster, fanart1..., an actor's name
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(BigInteger)
    mtime_ns: Mapped[int] = mapped_column(BigInteger)
    linked: Mapped[bool] = mapped_column(Boolean, default=False)  # a hard link to the cache
    published_at: Mapped[datetime]


class PublishedMovieRow(Base):
    """When a movie was last published, and a fingerprint of everything that went in."""

    __tablename__ = "published_movies"

    movie_id: Mapped[int] = mapped_column(
        ForeignKey("movies.id", ondelete="CASCADE"), primary_key=True
    )
    fingerprint: Mapped[str] = mapped_column(String(64))
    files: Mapped[int] = mapped_column(Integer)
    published_at: Mapped[datetime]


class RecycleEntryRow(Base):
    """A file Metarr replaced or removed in a library, kept in `data/recycle/`."""

    __tablename__ = "recycle_bin"
    __table_args__ = (Index("ix_recycle_bin_recycled_at", "recycled_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    library_id: Mapped[int | None] = mapped_column(
        ForeignKey("libraries.id", ondelete="SET NULL"), index=True
    )
    movie_id: Mapped[int | None] = mapped_column(
        ForeignKey("movies.id", ondelete="SET NULL"), index=True
    )
    original_path: Mapped[str] = mapped_column(Text)  # absolute, where it was
    rel_path: Mapped[str | None] = mapped_column(Text)  # relative to the library root
    stored_path: Mapped[str] = mapped_column(Text, unique=True)  # relative to data/recycle/
    reason: Mapped[str] = mapped_column(String(40))  # replaced | removed | repaired | restored
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    mtime_ns: Mapped[int] = mapped_column(BigInteger)
    recycled_at: Mapped[datetime]


class VerificationRunRow(Base):
    """One verification of a library (or one movie of it)."""

    __tablename__ = "verification_runs"
    __table_args__ = (Index("ix_verification_runs_library", "library_id", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    library_id: Mapped[int] = mapped_column(ForeignKey("libraries.id", ondelete="CASCADE"))
    movie_id: Mapped[int | None] = mapped_column(ForeignKey("movies.id", ondelete="CASCADE"))
    job_id: Mapped[int | None] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(20))  # running | succeeded | failed
    repair: Mapped[bool] = mapped_column(Boolean)
    stats: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    error: Mapped[str | None] = mapped_column(Text)
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]


class VerificationFindingRow(Base):
    """Something verification found: a missing, modified, wrong-named or unknown file."""

    __tablename__ = "verification_findings"
    __table_args__ = (Index("ix_verification_findings_run", "run_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("verification_runs.id", ondelete="CASCADE"))
    movie_id: Mapped[int | None] = mapped_column(ForeignKey("movies.id", ondelete="CASCADE"))
    # missing | modified | wrong_named | unknown | cache_missing | cache_corrupt
    kind: Mapped[str] = mapped_column(String(20))
    path: Mapped[str] = mapped_column(Text)  # library-relative, or the cache hash
    detail: Mapped[str | None] = mapped_column(Text)
    repaired: Mapped[bool] = mapped_column(Boolean, default=False)
    repair: Mapped[str | None] = mapped_column(Text)  # what was done


class CacheCheckRow(Base):
    """The last time a cache file's bytes were found to match its hash (size, mtime then)."""

    __tablename__ = "cache_checks"

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    size: Mapped[int] = mapped_column(BigInteger)
    mtime_ns: Mapped[int] = mapped_column(BigInteger)
    checked_at: Mapped[datetime]
