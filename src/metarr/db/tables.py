"""SQLAlchemy tables: the relational schema of Metarr (migrations follow it)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    true,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

# Deterministic constraint names so Alembic migrations are identical on every backend.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Declarative base with the naming convention."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {dict[str, Any]: JSON, datetime: DateTime(timezone=True)}


class LibraryRow(Base):
    """A media library: a root folder of one kind."""

    __tablename__ = "libraries"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(String(20))
    path: Mapped[str] = mapped_column(Text)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    auto_enrich: Mapped[bool] = mapped_column(Boolean, default=False)
    auto_publish: Mapped[bool] = mapped_column(Boolean, default=False)
    auto_sync: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class IgnorePatternRow(Base):
    """A glob of files to ignore; `library_id` NULL means global."""

    __tablename__ = "ignore_patterns"
    __table_args__ = (UniqueConstraint("library_id", "pattern"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    library_id: Mapped[int | None] = mapped_column(
        ForeignKey("libraries.id", ondelete="CASCADE"), index=True
    )
    pattern: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime]


class MovieRow(Base):
    """A movie of one library (identity is per library)."""

    __tablename__ = "movies"
    __table_args__ = (
        UniqueConstraint("library_id", "key"),
        Index("ix_movies_library_status", "library_id", "status"),
        Index("ix_movies_sort", "library_id", "sort_key"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    library_id: Mapped[int] = mapped_column(ForeignKey("libraries.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(Text)  # folder, or folder/basename for loose files
    folder: Mapped[str] = mapped_column(Text)
    basename: Mapped[str | None] = mapped_column(Text)
    disc: Mapped[str | None] = mapped_column(String(10))
    title: Mapped[str | None] = mapped_column(Text)
    year: Mapped[int | None] = mapped_column(Integer)
    sort_key: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(20))
    monitored: Mapped[bool] = mapped_column(Boolean, default=True)
    parsed_title: Mapped[str | None] = mapped_column(Text)
    parsed_year: Mapped[int | None] = mapped_column(Integer)
    parse_key: Mapped[str | None] = mapped_column(Text)  # name+size+mtime the parse was made for
    review_reason: Mapped[str | None] = mapped_column(Text)
    artwork: Mapped[str] = mapped_column(Text, default="")  # comma list of artwork types present
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    deleted_at: Mapped[datetime | None] = mapped_column(index=True)

    files: Mapped[list[MediaFileRow]] = relationship(back_populates="movie", passive_deletes=True)


class ExternalIdRow(Base):
    """One provider id of a movie, with where it came from."""

    __tablename__ = "external_ids"
    __table_args__ = (
        UniqueConstraint("movie_id", "provider"),
        Index("ix_external_ids_lookup", "provider", "value"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    movie_id: Mapped[int] = mapped_column(ForeignKey("movies.id", ondelete="CASCADE"))
    provider: Mapped[str] = mapped_column(String(20))  # tmdb | imdb | tvdb
    value: Mapped[str] = mapped_column(String(40))
    source: Mapped[str] = mapped_column(String(20))  # nfo | name | webhook | user | provider
    updated_at: Mapped[datetime]


class MediaFileRow(Base):
    """A file in a library, with its classification and change markers."""

    __tablename__ = "media_files"
    __table_args__ = (
        UniqueConstraint("library_id", "path"),
        Index("ix_media_files_movie", "movie_id"),
        Index("ix_media_files_quick_hash", "library_id", "quick_hash"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    library_id: Mapped[int] = mapped_column(ForeignKey("libraries.id", ondelete="CASCADE"))
    movie_id: Mapped[int | None] = mapped_column(ForeignKey("movies.id", ondelete="CASCADE"))
    path: Mapped[str] = mapped_column(Text)  # relative to the library root, POSIX separators
    kind: Mapped[str] = mapped_column(String(20))
    role: Mapped[str | None] = mapped_column(String(40))
    language: Mapped[str | None] = mapped_column(String(20))
    forced: Mapped[bool] = mapped_column(Boolean, default=False)
    sdh: Mapped[bool] = mapped_column(Boolean, default=False)
    part: Mapped[int | None] = mapped_column(Integer)
    actor: Mapped[str | None] = mapped_column(Text)
    size: Mapped[int] = mapped_column(BigInteger)
    mtime_ns: Mapped[int] = mapped_column(BigInteger)
    quick_hash: Mapped[str | None] = mapped_column(String(64))
    container: Mapped[str | None] = mapped_column(String(40))
    duration: Mapped[float | None] = mapped_column(Float)
    probe_status: Mapped[str | None] = mapped_column(String(20))  # ok | unreadable | None
    prober: Mapped[str | None] = mapped_column(String(20))
    probe_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]

    movie: Mapped[MovieRow | None] = relationship(back_populates="files")


class StreamRow(Base):
    """One stream (video, audio, subtitle) of a media file."""

    __tablename__ = "streams"
    __table_args__ = (UniqueConstraint("file_id", "index"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    file_id: Mapped[int] = mapped_column(ForeignKey("media_files.id", ondelete="CASCADE"))
    index: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(20))
    codec: Mapped[str | None] = mapped_column(String(40))
    language: Mapped[str | None] = mapped_column(String(20))
    title: Mapped[str | None] = mapped_column(Text)
    is_default: Mapped[bool] = mapped_column(Boolean, default=False)
    forced: Mapped[bool] = mapped_column(Boolean, default=False)
    width: Mapped[int | None] = mapped_column(Integer)
    height: Mapped[int | None] = mapped_column(Integer)
    aspect: Mapped[float | None] = mapped_column(Float)
    frame_rate: Mapped[float | None] = mapped_column(Float)
    hdr: Mapped[str | None] = mapped_column(String(20))
    channels: Mapped[int | None] = mapped_column(Integer)


class MetadataFieldRow(Base):
    """One metadata field of a movie with its provenance (value, source, time)."""

    __tablename__ = "metadata_fields"
    __table_args__ = (UniqueConstraint("movie_id", "field"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    movie_id: Mapped[int] = mapped_column(ForeignKey("movies.id", ondelete="CASCADE"))
    field: Mapped[str] = mapped_column(String(40))
    value: Mapped[Any] = mapped_column(JSON)
    source: Mapped[str] = mapped_column(String(20))  # nfo | tmdb | fanart | omdb | user ...
    updated_at: Mapped[datetime]


class LockRow(Base):
    """A person's lock: a metadata field, `asset:<type>`, or `cast_order`."""

    __tablename__ = "locks"
    __table_args__ = (UniqueConstraint("movie_id", "target"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    movie_id: Mapped[int] = mapped_column(ForeignKey("movies.id", ondelete="CASCADE"))
    target: Mapped[str] = mapped_column(String(60))
    locked_by: Mapped[str] = mapped_column(String(40), default="user")
    created_at: Mapped[datetime]


class ScanRunRow(Base):
    """One scan of a library: status, counters, timings."""

    __tablename__ = "scan_runs"
    __table_args__ = (Index("ix_scan_runs_library", "library_id", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    library_id: Mapped[int] = mapped_column(ForeignKey("libraries.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(20))  # queued|running|succeeded|failed|cancelled
    job_id: Mapped[int | None] = mapped_column(Integer)  # the `scan` job running it
    trigger: Mapped[str] = mapped_column(String(40), default="manual")
    scope: Mapped[str | None] = mapped_column(Text)  # relative folder for a targeted scan
    phase: Mapped[str | None] = mapped_column(String(40))
    progress: Mapped[float] = mapped_column(Float, default=0.0)
    stats: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]


class HistoryRow(Base):
    """One recorded change of a movie: metadata field, lock or artwork (old -> new)."""

    __tablename__ = "history"
    __table_args__ = (Index("ix_history_movie", "movie_id", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    movie_id: Mapped[int] = mapped_column(ForeignKey("movies.id", ondelete="CASCADE"))
    at: Mapped[datetime]
    source: Mapped[str] = mapped_column(String(20))  # user | nfo | provider | webhook
    kind: Mapped[str] = mapped_column(String(20))  # field | lock | unlock | asset
    target: Mapped[str] = mapped_column(String(60))
    old: Mapped[Any] = mapped_column(JSON, nullable=True)
    new: Mapped[Any] = mapped_column(JSON, nullable=True)
