"""Tables of player sync: players, player groups and the sync state of each movie."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Float,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from metarr.db.tables import Base


class PlayerGroupRow(Base):
    """Players sharing one library database (Kodi on MySQL/MariaDB): one of them syncs."""

    __tablename__ = "player_groups"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    created_at: Mapped[datetime]


class PlayerRow(Base):
    """A media player Metarr keeps in sync (Kodi, Jellyfin, Plex)."""

    __tablename__ = "players"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    type: Mapped[str] = mapped_column(String(20))  # kodi | jellyfin | plex
    host: Mapped[str] = mapped_column(String(253))
    port: Mapped[int | None] = mapped_column(Integer)  # None: the type's default
    tcp_port: Mapped[int | None] = mapped_column(Integer)  # Kodi JSON-RPC TCP (9090)
    https: Mapped[bool] = mapped_column(Boolean, default=False)
    base_path: Mapped[str] = mapped_column(String(200), default="")
    username: Mapped[str | None] = mapped_column(String(200))  # Kodi web server user
    secret: Mapped[str | None] = mapped_column(Text)  # password or token: never returned
    # ids of the libraries this player shows; empty: every library
    library_ids: Mapped[list[Any]] = mapped_column(JSON, default=list)
    group_id: Mapped[int | None] = mapped_column(
        ForeignKey("player_groups.id", ondelete="SET NULL"), index=True
    )
    path_mappings: Mapped[list[Any]] = mapped_column(JSON, default=list)  # [{from, to}]
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    notify: Mapped[bool] = mapped_column(Boolean, default=False)  # on-screen message
    ignore_playing: Mapped[bool] = mapped_column(Boolean, default=False)  # sync while playing
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class PlayerSyncRow(Base):
    """The last sync of one movie to one player (or group): what was done, and when."""

    __tablename__ = "player_sync_state"
    __table_args__ = (UniqueConstraint("movie_id", "scope"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    movie_id: Mapped[int] = mapped_column(ForeignKey("movies.id", ondelete="CASCADE"))
    scope: Mapped[str] = mapped_column(String(40))  # player:<id> | group:<id>
    player_id: Mapped[int | None] = mapped_column(  # the member that did it
        ForeignKey("players.id", ondelete="SET NULL"), index=True
    )
    status: Mapped[str] = mapped_column(String(20))  # ok | failed | deferred
    action: Mapped[str | None] = mapped_column(String(20))  # added | refreshed | removed ...
    error: Mapped[str | None] = mapped_column(Text)
    remote_id: Mapped[str | None] = mapped_column(String(100))  # the player's id of the item
    remote_path: Mapped[str | None] = mapped_column(Text)  # the video as the player sees it
    local_path: Mapped[str | None] = mapped_column(Text)  # the video as Metarr sees it
    calls: Mapped[int] = mapped_column(Integer, default=0)
    seconds: Mapped[float | None] = mapped_column(Float)
    job_id: Mapped[int | None] = mapped_column(Integer)
    attempted_at: Mapped[datetime]
    last_sync_at: Mapped[datetime | None]  # the last successful sync
