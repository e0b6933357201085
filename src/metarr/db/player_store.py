"""The SQL of player sync: players and groups as stored, what a sync needs to know about a
movie, and the per-movie sync state."""

from __future__ import annotations

import posixpath
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, delete, insert, select, update

from metarr.db.tables import Base, LibraryRow, MediaFileRow, MovieRow
from metarr.db.tables_players import PlayerGroupRow, PlayerRow, PlayerSyncRow
from metarr.db.tables_publish import PublishedMovieRow

_tables = Base.metadata.tables
PLAYERS = _tables[PlayerRow.__tablename__]
GROUPS = _tables[PlayerGroupRow.__tablename__]
STATES = _tables[PlayerSyncRow.__tablename__]
MOVIES = _tables[MovieRow.__tablename__]
FILES = _tables[MediaFileRow.__tablename__]
LIBRARIES = _tables[LibraryRow.__tablename__]
PUBLISHED = _tables[PublishedMovieRow.__tablename__]


@dataclass(frozen=True, slots=True)
class StoredPlayer:
    """A player row as stored (with its secret: never hand this to the API)."""

    id: int
    name: str
    type: str
    host: str
    port: int | None
    tcp_port: int | None
    https: bool
    base_path: str
    username: str | None
    secret: str | None
    library_ids: tuple[int, ...]
    group_id: int | None
    group_name: str | None
    path_mappings: tuple[tuple[str, str], ...]
    enabled: bool
    notify: bool
    ignore_playing: bool
    created_at: datetime
    updated_at: datetime

    def serves(self, library_id: int) -> bool:
        """Whether this player shows the library (no library list: every library)."""
        return not self.library_ids or library_id in self.library_ids

    @property
    def scope(self) -> str:
        """The sync unit it belongs to: `group:<id>`, or `player:<id>` on its own."""
        return f"group:{self.group_id}" if self.group_id is not None else f"player:{self.id}"


@dataclass(frozen=True, slots=True)
class StoredGroup:
    """A player group."""

    id: int
    name: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class SyncMovie:
    """What a sync needs to know about one movie."""

    id: int
    library_id: int
    title: str | None
    year: int | None
    deleted: bool
    videos: tuple[str, ...]  # absolute paths of the main video (parts in order)
    auto_sync: bool
    published_at: datetime | None = None  # when its files were last published


@dataclass(frozen=True, slots=True)
class SyncState:
    """The last sync of a movie to one player or group."""

    movie_id: int
    scope: str
    player_id: int | None
    status: str
    action: str | None
    error: str | None
    remote_id: str | None
    remote_path: str | None
    local_path: str | None
    calls: int
    seconds: float | None
    job_id: int | None
    attempted_at: datetime
    last_sync_at: datetime | None


def _aware(value: datetime | None) -> datetime | None:
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)


# -- players and groups -----------------------------------------------------------------


def _player_select() -> Any:
    return select(PLAYERS, GROUPS.c.name.label("group_name")).outerjoin(
        GROUPS, GROUPS.c.id == PLAYERS.c.group_id
    )


def _player(r: Any) -> StoredPlayer:
    mappings = tuple(
        (str(m["from"]), str(m["to"]))
        for m in r.path_mappings or []
        if isinstance(m, Mapping) and "from" in m and "to" in m
    )
    return StoredPlayer(
        id=r.id,
        name=r.name,
        type=r.type,
        host=r.host,
        port=r.port,
        tcp_port=r.tcp_port,
        https=bool(r.https),
        base_path=r.base_path or "",
        username=r.username,
        secret=r.secret,
        library_ids=tuple(int(i) for i in r.library_ids or []),
        group_id=r.group_id,
        group_name=r.group_name,
        path_mappings=mappings,
        enabled=bool(r.enabled),
        notify=bool(r.notify),
        ignore_playing=bool(r.ignore_playing),
        created_at=_aware(r.created_at) or r.created_at,
        updated_at=_aware(r.updated_at) or r.updated_at,
    )


def list_players(conn: Connection) -> list[StoredPlayer]:
    """Every player, by name."""
    rows = conn.execute(_player_select().order_by(PLAYERS.c.name)).all()
    return [_player(r) for r in rows]


def get_player(conn: Connection, player_id: int) -> StoredPlayer | None:
    """One player, or None."""
    row = conn.execute(_player_select().where(PLAYERS.c.id == player_id)).first()
    return None if row is None else _player(row)


def player_named(conn: Connection, name: str) -> StoredPlayer | None:
    """The player called `name`, or None."""
    row = conn.execute(_player_select().where(PLAYERS.c.name == name)).first()
    return None if row is None else _player(row)


def insert_player(conn: Connection, values: Mapping[str, Any]) -> int:
    """Store a new player; returns its id."""
    result = conn.execute(insert(PLAYERS).values(**values).returning(PLAYERS.c.id))
    return int(result.scalar_one())


def update_player(conn: Connection, player_id: int, values: Mapping[str, Any]) -> None:
    """Change some columns of a player."""
    conn.execute(update(PLAYERS).where(PLAYERS.c.id == player_id).values(**values))


def delete_player(conn: Connection, player_id: int) -> bool:
    """Remove a player (its sync state stays, unattributed); False when it did not exist."""
    return bool(conn.execute(delete(PLAYERS).where(PLAYERS.c.id == player_id)).rowcount)


def list_groups(conn: Connection) -> list[StoredGroup]:
    """Every group, by name."""
    rows = conn.execute(select(GROUPS).order_by(GROUPS.c.name)).all()
    return [StoredGroup(r.id, r.name, _aware(r.created_at) or r.created_at) for r in rows]


def group_named(conn: Connection, name: str) -> StoredGroup | None:
    """The group called `name`, or None."""
    r = conn.execute(select(GROUPS).where(GROUPS.c.name == name)).first()
    return None if r is None else StoredGroup(r.id, r.name, _aware(r.created_at) or r.created_at)


def get_group(conn: Connection, group_id: int) -> StoredGroup | None:
    """One group, or None."""
    r = conn.execute(select(GROUPS).where(GROUPS.c.id == group_id)).first()
    return None if r is None else StoredGroup(r.id, r.name, _aware(r.created_at) or r.created_at)


def insert_group(conn: Connection, name: str, now: datetime) -> int:
    """Store a new group; returns its id."""
    result = conn.execute(insert(GROUPS).values(name=name, created_at=now).returning(GROUPS.c.id))
    return int(result.scalar_one())


def delete_group(conn: Connection, group_id: int) -> bool:
    """Remove a group (its players stay, on their own)."""
    return bool(conn.execute(delete(GROUPS).where(GROUPS.c.id == group_id)).rowcount)


def library_ids(conn: Connection) -> set[int]:
    """Ids of every library."""
    return {int(i) for i in conn.execute(select(LIBRARIES.c.id)).scalars()}


# -- movies -----------------------------------------------------------------------------


def movie_videos(conn: Connection, movie_ids: Sequence[int]) -> dict[int, list[str]]:
    """Absolute paths of each movie's main video files (stack parts in order)."""
    out: dict[int, list[str]] = {}
    if not movie_ids:
        return out
    rows = conn.execute(
        select(FILES.c.movie_id, FILES.c.path, LIBRARIES.c.path.label("root"))
        .join(LIBRARIES, LIBRARIES.c.id == FILES.c.library_id)
        .where(
            FILES.c.movie_id.in_(list(movie_ids)),
            FILES.c.kind == "video",
            FILES.c.role.in_(("main", "part")),
        )
        .order_by(FILES.c.movie_id, FILES.c.part, FILES.c.path)
    ).all()
    for r in rows:
        out.setdefault(int(r.movie_id), []).append(posixpath.join(r.root, r.path))
    return out


def sync_movie(conn: Connection, movie_id: int) -> SyncMovie | None:
    """A movie as a sync sees it (deleted ones too), or None when it does not exist."""
    r = conn.execute(
        select(
            MOVIES.c.id,
            MOVIES.c.library_id,
            MOVIES.c.title,
            MOVIES.c.year,
            MOVIES.c.deleted_at,
            LIBRARIES.c.auto_sync,
            PUBLISHED.c.published_at,
        )
        .join(LIBRARIES, LIBRARIES.c.id == MOVIES.c.library_id)
        .outerjoin(PUBLISHED, PUBLISHED.c.movie_id == MOVIES.c.id)
        .where(MOVIES.c.id == movie_id)
    ).first()
    if r is None:
        return None
    videos = movie_videos(conn, [movie_id]).get(movie_id, [])
    return SyncMovie(
        id=r.id,
        library_id=r.library_id,
        title=r.title,
        year=r.year,
        deleted=r.deleted_at is not None,
        videos=tuple(videos),
        auto_sync=bool(r.auto_sync),
        published_at=_aware(r.published_at),
    )


def library_auto_sync(conn: Connection, library_id: int) -> bool | None:
    """The library's auto_sync switch, or None when the library does not exist."""
    value = conn.execute(
        select(LIBRARIES.c.auto_sync).where(LIBRARIES.c.id == library_id)
    ).scalar_one_or_none()
    return None if value is None else bool(value)


def live_movie_ids(conn: Connection, library_id: int) -> list[int]:
    """Movies of a library that are not deleted, by id."""
    return [
        int(i)
        for i in conn.execute(
            select(MOVIES.c.id)
            .where(MOVIES.c.library_id == library_id, MOVIES.c.deleted_at.is_(None))
            .order_by(MOVIES.c.id)
        ).scalars()
    ]


def published_since(conn: Connection, library_id: int, since: datetime) -> list[int]:
    """Movies of a library published at or after `since`."""
    return [
        int(i)
        for i in conn.execute(
            select(PUBLISHED.c.movie_id)
            .join(MOVIES, MOVIES.c.id == PUBLISHED.c.movie_id)
            .where(MOVIES.c.library_id == library_id, PUBLISHED.c.published_at >= since)
            .order_by(PUBLISHED.c.movie_id)
        ).scalars()
    ]


# -- sync state -------------------------------------------------------------------------


def _state(r: Any) -> SyncState:
    return SyncState(
        movie_id=r.movie_id,
        scope=r.scope,
        player_id=r.player_id,
        status=r.status,
        action=r.action,
        error=r.error,
        remote_id=r.remote_id,
        remote_path=r.remote_path,
        local_path=r.local_path,
        calls=int(r.calls or 0),
        seconds=r.seconds,
        job_id=r.job_id,
        attempted_at=_aware(r.attempted_at) or r.attempted_at,
        last_sync_at=_aware(r.last_sync_at),
    )


def states(conn: Connection, movie_id: int) -> list[SyncState]:
    """Every sync state of a movie."""
    rows = conn.execute(
        select(STATES).where(STATES.c.movie_id == movie_id).order_by(STATES.c.scope)
    ).all()
    return [_state(r) for r in rows]


def state(conn: Connection, movie_id: int, scope: str) -> SyncState | None:
    """The sync state of a movie in one scope, or None."""
    r = conn.execute(
        select(STATES).where(STATES.c.movie_id == movie_id, STATES.c.scope == scope)
    ).first()
    return None if r is None else _state(r)


def save_state(conn: Connection, movie_id: int, scope: str, values: Mapping[str, Any]) -> None:
    """Insert or update the sync state of a movie in one scope."""
    found = conn.execute(
        update(STATES)
        .where(STATES.c.movie_id == movie_id, STATES.c.scope == scope)
        .values(**values)
    ).rowcount
    if not found:
        conn.execute(insert(STATES).values(movie_id=movie_id, scope=scope, **values))


def forget_scopes(conn: Connection, scopes: Iterable[str]) -> None:
    """Drop the sync state of scopes that no longer exist."""
    scopes = list(scopes)
    if scopes:
        conn.execute(delete(STATES).where(STATES.c.scope.in_(scopes)))
