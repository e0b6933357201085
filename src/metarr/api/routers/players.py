"""`/players`, `/player-groups`, `/path-mappings/test` and `/movies/{id}/sync`: players Metarr
keeps in sync (credentials are write-only), their groups, status and per-movie syncs."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Response, status
from pydantic import BaseModel, ConfigDict, Field

from metarr.api.deps import ContainerDep, PathId
from metarr.services.player_monitor import status_dict
from metarr.services.players import (
    GroupView,
    NowPlayingView,
    PathTest,
    PlayerView,
    TestResult,
)

router = APIRouter(tags=["players"])

PlayerKind = Literal["kodi", "jellyfin", "plex"]
SkipTest = Annotated[
    bool, Query(description="save without testing the connection first (player offline)")
]


class PathMappingIO(BaseModel):
    """Files under `from` (Metarr's path) are under `to` on the player."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    from_: str = Field(alias="from", min_length=1, max_length=4096, examples=["/srv/movies"])
    to: str = Field(min_length=1, max_length=4096, examples=["smb://nas/movies"])


class PlayerIn(BaseModel):
    """Body of `POST /players`."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=100)
    type: PlayerKind
    host: str = Field(min_length=1, max_length=253, examples=["192.168.1.20"])
    port: int | None = Field(
        default=None, ge=1, le=65535, description="default: Kodi 8080, Jellyfin 8096, Plex 32400"
    )
    tcp_port: int | None = Field(
        default=None, ge=1, le=65535, description="Kodi's JSON-RPC TCP port (default 9090)"
    )
    https: bool = False
    base_path: str = Field(default="", max_length=200, description="behind a reverse proxy")
    username: str | None = Field(default=None, max_length=200, description="Kodi web server")
    password: str | None = Field(default=None, max_length=500, description="Kodi; write-only")
    token: str | None = Field(
        default=None, max_length=500, description="Jellyfin API key or Plex token; write-only"
    )
    library_ids: list[int] = Field(default_factory=list, max_length=1000, description="[]: all")
    group: str | None = Field(default=None, max_length=100, description="created when new")
    path_mappings: list[PathMappingIO] = Field(default_factory=list, max_length=100)
    enabled: bool = True
    notify: bool = Field(default=False, description="on-screen message after a sync (Kodi)")
    ignore_playing: bool = Field(default=False, description="sync even while video plays")


class PlayerPatch(BaseModel):
    """Body of `PATCH /players/{id}`: only the given fields change (null clears a secret)."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=100)
    type: PlayerKind | None = None
    host: str | None = Field(default=None, min_length=1, max_length=253)
    port: int | None = Field(default=None, ge=1, le=65535)
    tcp_port: int | None = Field(default=None, ge=1, le=65535)
    https: bool | None = None
    base_path: str | None = Field(default=None, max_length=200)
    username: str | None = Field(default=None, max_length=200)
    password: str | None = Field(default=None, max_length=500)
    token: str | None = Field(default=None, max_length=500)
    library_ids: list[int] | None = Field(default=None, max_length=1000)
    group: str | None = Field(default=None, max_length=100)
    path_mappings: list[PathMappingIO] | None = Field(default=None, max_length=100)
    enabled: bool | None = None
    notify: bool | None = None
    ignore_playing: bool | None = None


class GroupIn(BaseModel):
    """Body of `POST /player-groups`."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=100)


class PathTestIn(BaseModel):
    """Translate `path` with a player's mappings, or with `mappings` (not saved)."""

    model_config = ConfigDict(extra="forbid")

    path: str = Field(min_length=1, max_length=4096)
    player_id: int | None = Field(default=None, ge=1, le=2**31 - 1)
    mappings: list[PathMappingIO] | None = Field(default=None, max_length=100)
    direction: Literal["to_player", "from_player"] = "to_player"


class StatusOut(BaseModel):
    """A player's connection and activity (as in the `player.status` event)."""

    player_id: int
    name: str
    type: str
    connected: bool | None
    version: str | None
    error: str | None
    checked_at: str | None
    playing: list[NowPlayingView]


class JobIdsOut(BaseModel):
    """Jobs queued."""

    job_ids: list[int]


class SyncStateOut(BaseModel):
    """The last sync of a movie to one player or group."""

    scope: str
    label: str
    player_id: int | None
    status: str
    action: str | None
    error: str | None
    remote_id: str | None
    remote_path: str | None
    calls: int
    seconds: float | None
    job_id: int | None
    attempted_at: datetime
    last_sync_at: datetime | None


def _mappings(items: list[PathMappingIO] | None) -> list[dict[str, str]] | None:
    return None if items is None else [{"from": m.from_, "to": m.to} for m in items]


def _body(model: BaseModel, *, unset: bool) -> dict[str, Any]:
    data = model.model_dump(exclude_unset=unset)
    if "path_mappings" in data:
        data["path_mappings"] = _mappings(getattr(model, "path_mappings"))  # noqa: B009
    return data


@router.get("/players")
def list_players(container: ContainerDep) -> list[PlayerView]:
    """Every player (no credentials)."""
    return container.players.list()


@router.post("/players", status_code=status.HTTP_201_CREATED)
def create_player(
    body: PlayerIn, container: ContainerDep, skip_test: SkipTest = False
) -> PlayerView:
    """Add a player after a successful connection test (422 with the error otherwise)."""
    return container.players.create(_body(body, unset=False), test=not skip_test)


@router.get("/players/{player_id}")
def get_player(player_id: PathId, container: ContainerDep) -> PlayerView:
    """One player."""
    return container.players.get(player_id)


@router.patch("/players/{player_id}")
def patch_player(
    player_id: PathId, body: PlayerPatch, container: ContainerDep, skip_test: SkipTest = False
) -> PlayerView:
    """Change some fields; a changed connection is tested first (unless `skip_test`)."""
    changes = _body(body, unset=True)
    return container.players.update(player_id, changes, test=not skip_test)


@router.delete("/players/{player_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_player(player_id: PathId, container: ContainerDep) -> Response:
    """Remove a player."""
    container.players.delete(player_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/players/{player_id}/test")
def test_player(player_id: PathId, container: ContainerDep) -> TestResult:
    """Test a saved player's connection now: `{ok, version, error}`."""
    return container.players.test(player_id)


@router.get("/players/{player_id}/status")
def player_status(player_id: PathId, container: ContainerDep) -> StatusOut:
    """Connected or not, version, last error, and what it plays now."""
    return StatusOut(**status_dict(container.player_monitor.status(player_id)))


@router.get("/player-groups")
def list_groups(container: ContainerDep) -> list[GroupView]:
    """Every player group with its members."""
    return container.players.groups()


@router.post("/player-groups", status_code=status.HTTP_201_CREATED)
def create_group(body: GroupIn, container: ContainerDep) -> GroupView:
    """A new group (players join it with `group` on create or PATCH)."""
    return container.players.create_group(body.name)


@router.delete("/player-groups/{group_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_group(group_id: PathId, container: ContainerDep) -> Response:
    """Remove a group; its players sync on their own."""
    container.players.delete_group(group_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/path-mappings/test")
def test_path_mapping(body: PathTestIn, container: ContainerDep) -> PathTest:
    """Translate a path (Metarr -> player, or back) and show which rule applied."""
    return container.players.test_path(
        body.path,
        player_id=body.player_id,
        mappings=_mappings(body.mappings),
        direction=body.direction,
    )


@router.post("/movies/{movie_id}/sync", status_code=status.HTTP_202_ACCEPTED)
def sync_movie(movie_id: PathId, container: ContainerDep) -> JobIdsOut:
    """Queue the sync of one movie to every player showing its library."""
    return JobIdsOut(job_ids=container.player_sync.sync_movie(movie_id))


@router.get("/movies/{movie_id}/sync")
def movie_sync_states(movie_id: PathId, container: ContainerDep) -> list[SyncStateOut]:
    """The last sync of the movie per player (or group)."""
    return [
        SyncStateOut(
            scope=s.scope,
            label=label,
            player_id=s.player_id,
            status=s.status,
            action=s.action,
            error=s.error,
            remote_id=s.remote_id,
            remote_path=s.remote_path,
            calls=s.calls,
            seconds=s.seconds,
            job_id=s.job_id,
            attempted_at=s.attempted_at,
            last_sync_at=s.last_sync_at,
        )
        for s, label in container.player_sync.states(movie_id)
    ]
