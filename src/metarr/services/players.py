"""Players: add (after a connection test), change, remove, group; path-mapping tests;
connection status. The sync jobs live in `player_sync`, the live status in `player_monitor`.

Secrets (a Kodi password, a Jellyfin/Plex token) are stored and used, never returned:
views say only whether one is set.
"""

from __future__ import annotations

import builtins
import hashlib
import logging
import threading
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError
from sqlalchemy.exc import IntegrityError

from metarr.db import player_store as store
from metarr.db.engine import Database
from metarr.domain import pathmap
from metarr.domain.errors import Conflict, InvalidInput, MetarrError, NotFound
from metarr.jobs import Breakers, BreakerState, Queue
from metarr.players.base import (
    PathMappingConfig,
    Player,
    PlayerConfig,
    PlayerType,
)
from metarr.players.kodi import KodiPlayer
from metarr.players.registry import PlayerRegistry, default_registry

log = logging.getLogger(__name__)

# Player fields a request may set (secrets arrive as `password` or `token`).
FIELDS = (
    "name",
    "type",
    "host",
    "port",
    "tcp_port",
    "https",
    "base_path",
    "username",
    "password",
    "token",
    "library_ids",
    "group",
    "path_mappings",
    "enabled",
    "notify",
    "ignore_playing",
)
# Changing one of these makes a saved player test its connection again.
CONNECTION_FIELDS = frozenset(
    {"type", "host", "port", "tcp_port", "https", "base_path", "username", "password", "token"}
)
DEFAULT_RETRY_SECONDS = 30.0  # a player found down is tried again after this long


class ConnectionTestFailed(InvalidInput):
    """The player did not pass its connection test: it is not saved."""

    code = "connection_test_failed"


@dataclass(frozen=True, slots=True)
class PlayerView:
    """A player as the API and UI show it (no secret)."""

    id: int
    name: str
    type: str
    host: str
    port: int | None
    effective_port: int
    tcp_port: int | None
    https: bool
    base_path: str
    username: str | None
    has_password: bool
    has_token: bool
    library_ids: list[int]
    group: str | None
    group_id: int | None
    path_mappings: list[dict[str, str]]
    enabled: bool
    notify: bool
    ignore_playing: bool
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class GroupView:
    """A player group and its members (names, in sync order)."""

    id: int
    name: str
    members: list[str]
    created_at: datetime


@dataclass(frozen=True, slots=True)
class TestResult:
    """The outcome of a connection test."""

    ok: bool
    version: str | None = None
    error: str | None = None
    server: str | None = None  # the server's or product's name
    api_version: str | None = None


@dataclass(frozen=True, slots=True)
class PathTest:
    """A path translated by a player's mappings, with the rule that applied."""

    input: str
    output: str
    direction: str  # to_player | from_player
    rule: dict[str, str] | None  # {"from", "to"} of the rule used; None: unchanged
    mapped: bool


@dataclass(frozen=True, slots=True)
class NowPlayingView:
    """One thing a player plays."""

    media_type: str
    title: str | None
    path: str | None
    paused: bool


@dataclass(frozen=True, slots=True)
class PlayerStatus:
    """A player's connection and activity, as last checked."""

    player_id: int
    name: str
    type: str
    connected: bool | None  # None: not checked yet
    version: str | None = None
    error: str | None = None
    checked_at: datetime | None = None
    playing: tuple[NowPlayingView, ...] = field(default=())

    @property
    def playing_video(self) -> bool:
        """Whether it plays video now."""
        return any(item.media_type == "video" for item in self.playing)


class FairLock:
    """A lock granted in arrival order (threading.Lock is not: a job that releases it and
    asks again at once could starve one that waits)."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._waiting: deque[object] = deque()
        self._held = False

    def acquire(self, blocking: bool = True, timeout: float | None = None) -> bool:
        """Take the lock (in turn); False when not blocking or after `timeout` seconds."""
        with self._cond:
            if not self._held and not self._waiting:
                self._held = True
                return True
            if not blocking:
                return False
            me = object()
            self._waiting.append(me)
            granted = self._cond.wait_for(
                lambda: not self._held and self._waiting[0] is me, timeout=timeout
            )
            if granted:
                self._waiting.popleft()
                self._held = True
                return True
            self._waiting.remove(me)
            self._cond.notify_all()
            return False

    def release(self) -> None:
        """Give the lock to the next in line."""
        with self._cond:
            self._held = False
            self._cond.notify_all()

    def locked(self) -> bool:
        """Whether someone holds it."""
        with self._cond:
            return self._held


def scope_needs(scope: str) -> str:
    """The job dependency name of a sync scope (`players:group:2`)."""
    return f"players:{scope}"


def breaker_name(player_id: int) -> str:
    """The circuit breaker of one player."""
    return f"player:{player_id}"


def _fingerprint(config: PlayerConfig) -> str:
    secrets = "\x00".join(config.secrets())
    return hashlib.sha256((config.model_dump_json() + secrets).encode()).hexdigest()


class PlayerService:
    """Player configuration and the shared runtime: built players, locks and breakers."""

    def __init__(
        self,
        db: Database,
        queue: Queue,
        *,
        registry: PlayerRegistry | None = None,
        breakers: Breakers | None = None,
        retry_seconds: float = DEFAULT_RETRY_SECONDS,
    ) -> None:
        self.db = db
        self.queue = queue
        self.registry = registry or default_registry()
        self.breakers = breakers or Breakers(failure_threshold=1, cooldown=retry_seconds)
        self.breakers.subscribe(self._breaker_changed)
        # called with (player_id, status) by whoever checks a connection (the monitor)
        self.on_status: Callable[[PlayerStatus], None] | None = None
        self.transport: Any = None  # tests may route HTTP elsewhere (httpx transport)
        self._lock = threading.Lock()
        self._built: dict[int, tuple[str, Player]] = {}
        self._locks: dict[int, FairLock] = {}

    # -- queries ----------------------------------------------------------------------

    def list(self) -> builtins.list[PlayerView]:
        """Every player, by name."""
        with self.db.session() as s:
            return [self._view(p) for p in store.list_players(s.connection())]

    def get(self, player_id: int) -> PlayerView:
        """One player or NotFound."""
        return self._view(self.stored(player_id))

    def stored(self, player_id: int) -> store.StoredPlayer:
        """One player as stored (with its secret), or NotFound."""
        with self.db.session() as s:
            found = store.get_player(s.connection(), player_id)
        if found is None:
            raise NotFound(f"player {player_id} does not exist")
        return found

    def all_stored(self) -> builtins.list[store.StoredPlayer]:
        """Every player as stored."""
        with self.db.session() as s:
            return store.list_players(s.connection())

    def members(self, scope: str) -> builtins.list[store.StoredPlayer]:
        """Enabled players of a sync scope, in sync order (by id)."""
        found = [p for p in self.all_stored() if p.scope == scope and p.enabled]
        return sorted(found, key=lambda p: p.id)

    def scopes_for(self, library_id: int) -> builtins.list[str]:
        """Sync scopes with at least one enabled player showing the library."""
        scopes = {p.scope for p in self.all_stored() if p.enabled and p.serves(library_id)}
        return sorted(scopes)

    def scope_label(self, scope: str) -> str:
        """A scope's display name: the group's or the player's."""
        kind, _, number = scope.partition(":")
        with self.db.session() as s:
            conn = s.connection()
            if kind == "group" and number.isdigit():
                group = store.get_group(conn, int(number))
                return f"group {group.name}" if group else f"deleted group {number}"
            if kind == "player" and number.isdigit():
                player = store.get_player(conn, int(number))
                return player.name if player else f"deleted player {number}"
        return scope

    # -- groups -----------------------------------------------------------------------

    def groups(self) -> builtins.list[GroupView]:
        """Every group with its members."""
        players = self.all_stored()
        with self.db.session() as s:
            groups = store.list_groups(s.connection())
        return [
            GroupView(
                g.id,
                g.name,
                [p.name for p in sorted(players, key=lambda p: p.id) if p.group_id == g.id],
                g.created_at,
            )
            for g in groups
        ]

    def create_group(self, name: str) -> GroupView:
        """A new, empty group."""
        name = _check_name(name, "name")
        with self.db.session() as s:
            conn = s.connection()
            if store.group_named(conn, name) is not None:
                raise Conflict(f"a player group named {name!r} already exists")
            group_id = store.insert_group(conn, name, datetime.now(UTC))
            group = store.get_group(conn, group_id)
        assert group is not None
        return GroupView(group.id, group.name, [], group.created_at)

    def delete_group(self, group_id: int) -> None:
        """Remove a group; its players sync on their own from now on."""
        with self.db.session() as s:
            if not store.delete_group(s.connection(), group_id):
                raise NotFound(f"player group {group_id} does not exist")
            store.forget_scopes(s.connection(), [f"group:{group_id}"])

    # -- changes ----------------------------------------------------------------------

    def create(self, data: Mapping[str, Any], *, test: bool = True) -> PlayerView:
        """Validate, test the connection (unless `test` is False) and store a new player."""
        values, config = self._validated(dict(data), None)
        if test:
            self._require_connection(config)
        now = datetime.now(UTC)
        with self.db.session() as s:
            conn = s.connection()
            self._check_unique(conn, config.name, None)
            row = self._row_values(conn, values, config)
            try:
                player_id = store.insert_player(conn, {**row, "created_at": now, "updated_at": now})
            except IntegrityError as exc:
                raise Conflict(f"a player named {config.name!r} already exists") from exc
            found = store.get_player(conn, player_id)
        assert found is not None
        return self._view(found)

    def update(
        self, player_id: int, changes: Mapping[str, Any], *, test: bool = True
    ) -> PlayerView:
        """Apply a partial change; a changed connection is tested first (unless `test`)."""
        current = self.stored(player_id)
        unknown = set(changes) - set(FIELDS)
        if unknown:
            raise InvalidInput(f"unknown field(s): {', '.join(sorted(unknown))}", field="body")
        merged = {**_as_input(current), **changes}
        retyped = "type" in changes and changes["type"] != current.type
        if retyped and "password" not in changes and "token" not in changes:
            # the secret means something else for another type: it must come anew
            merged["password"] = merged["token"] = None
        values, config = self._validated(merged, current)
        enabled = values["enabled"]
        if test and enabled and CONNECTION_FIELDS & set(changes):
            self._require_connection(config)
        with self.db.session() as s:
            conn = s.connection()
            self._check_unique(conn, config.name, player_id)
            row = self._row_values(conn, values, config)
            try:
                store.update_player(conn, player_id, {**row, "updated_at": datetime.now(UTC)})
            except IntegrityError as exc:
                raise Conflict(f"a player named {config.name!r} already exists") from exc
            if current.scope != _scope_of(player_id, row["group_id"]):
                store.forget_scopes(conn, [f"player:{player_id}"])
            found = store.get_player(conn, player_id)
        assert found is not None
        self._drop_built(player_id)
        return self._view(found)

    def delete(self, player_id: int) -> None:
        """Remove a player."""
        with self.db.session() as s:
            if not store.delete_player(s.connection(), player_id):
                raise NotFound(f"player {player_id} does not exist")
            store.forget_scopes(s.connection(), [f"player:{player_id}"])
        self._drop_built(player_id)

    # -- connection tests ------------------------------------------------------------

    def test(self, player_id: int) -> TestResult:
        """Test a saved player's connection (the result also feeds its breaker)."""
        stored = self.stored(player_id)
        result = self._run_test(self.config_of(stored), self.player(stored))
        breaker = self.breakers.get(breaker_name(player_id))
        if result.ok:
            breaker.record_success()
        return result

    def test_input(self, data: Mapping[str, Any], player_id: int | None = None) -> TestResult:
        """Test a configuration before saving it (with a saved player's secret if none given)."""
        current = self.stored(player_id) if player_id is not None else None
        merged = {**(_as_input(current) if current else {}), **data}
        try:
            _values, config = self._validated(merged, current)
        except InvalidInput as exc:
            return TestResult(False, error=str(exc))
        with self.registry.build(config, transport=self.transport) as player:
            return self._run_test(config, player)

    def _require_connection(self, config: PlayerConfig) -> None:
        with self.registry.build(config, transport=self.transport) as player:
            result = self._run_test(config, player)
        if not result.ok:
            raise ConnectionTestFailed(
                f"connection test failed: {result.error} (save with skip_test to keep it anyway)",
                field="connection",
            )

    @staticmethod
    def _run_test(config: PlayerConfig, player: Player) -> TestResult:
        try:
            info = player.test()
        except MetarrError as exc:
            return TestResult(False, error=str(exc))
        return TestResult(True, info.version, None, info.name, info.api_version)

    # -- path mappings ----------------------------------------------------------------

    def test_path(
        self,
        path: str,
        *,
        player_id: int | None = None,
        mappings: builtins.list[dict[str, str]] | None = None,
        direction: str = "to_player",
    ) -> PathTest:
        """Translate `path` with a player's mappings (or the given ones), naming the rule."""
        if direction not in ("to_player", "from_player"):
            raise InvalidInput("direction must be to_player or from_player", field="direction")
        path = (path or "").strip()
        if not path or not pathmap.is_absolute_path(path) or "\x00" in path:
            raise InvalidInput("path must be an absolute path", field="path")
        if mappings is None and player_id is None:
            raise InvalidInput("give a player_id or mappings to test with", field="player_id")
        if mappings is not None:
            rules = _mapping_configs(mappings)
        else:
            assert player_id is not None
            rules = self.config_of(self.stored(player_id)).path_mappings
        mapper = PlayerConfig(
            name="test", type=PlayerType.KODI, host="localhost", path_mappings=rules
        ).mapper()
        mapped = mapper.to_remote(path) if direction == "to_player" else mapper.to_local(path)
        rule = (
            {"from": mapped.rule.from_path, "to": mapped.rule.to_path}
            if mapped.rule is not None
            else None
        )
        return PathTest(path, mapped.path, direction, rule, mapped.mapped)

    # -- status -----------------------------------------------------------------------

    def check(self, stored: store.StoredPlayer) -> PlayerStatus:
        """Ask a player whether it is up and what it plays (feeds its breaker)."""
        player = self.player(stored)
        now = datetime.now(UTC)
        breaker = self.breakers.get(breaker_name(stored.id))
        try:
            info = player.test()
            playing = tuple(
                NowPlayingView(n.media_type, n.title, n.path, n.paused)
                for n in now_playing_details(player)
            )
        except MetarrError as exc:
            if _is_down(exc):
                breaker.record_failure()
            status = PlayerStatus(stored.id, stored.name, stored.type, False, None, str(exc), now)
        else:
            breaker.record_success()
            status = PlayerStatus(
                stored.id, stored.name, stored.type, True, info.version, None, now, playing
            )
        if self.on_status is not None:
            self.on_status(status)
        return status

    # -- the runtime: built players, locks, breakers ----------------------------------

    def config_of(self, stored: store.StoredPlayer) -> PlayerConfig:
        """The PlayerConfig of a stored player."""
        values = _config_values(_as_input(stored))
        try:
            return PlayerConfig.model_validate(values)
        except ValidationError as exc:  # stored before a rule tightened: say what is wrong
            raise InvalidInput(_validation_message(exc), field=_validation_field(exc)) from None

    def player(self, stored: store.StoredPlayer) -> Player:
        """The built player of a stored one (kept while its config is unchanged)."""
        config = self.config_of(stored)
        fingerprint = _fingerprint(config)
        with self._lock:
            built = self._built.get(stored.id)
            if built is not None and built[0] == fingerprint:
                return built[1]
            player = self.registry.build(config, transport=self.transport)
            old = self._built.get(stored.id)
            self._built[stored.id] = (fingerprint, player)
        if old is not None:
            _close_quietly(old[1])
        return player

    def lock(self, player_id: int) -> FairLock:
        """The lock that keeps one request at a time going to a player (in this process)."""
        with self._lock:
            return self._locks.setdefault(player_id, FairLock())

    def resume(self, scope: str) -> int:
        """Make jobs waiting on a scope eligible now (its player is back, or idle)."""
        return self.queue.resume_deferred(scope_needs(scope))

    def close(self) -> None:
        """Close every built player."""
        with self._lock:
            built, self._built = list(self._built.values()), {}
        for _, player in built:
            _close_quietly(player)

    def _drop_built(self, player_id: int) -> None:
        with self._lock:
            old = self._built.pop(player_id, None)
        if old is not None:
            _close_quietly(old[1])

    def _breaker_changed(self, name: str, old: BreakerState, new: BreakerState) -> None:
        if new is not BreakerState.CLOSED or not name.startswith("player:"):
            return
        number = name.removeprefix("player:")
        if not number.isdigit():
            return
        try:
            stored = self.stored(int(number))
            resumed = self.resume(stored.scope)
        except Exception:
            log.exception("could not resume sync jobs of player %s", number)
            return
        log.info("player %r is back: %d waiting sync job(s) resumed", stored.name, resumed)

    # -- validation -------------------------------------------------------------------

    def _validated(
        self, data: dict[str, Any], current: store.StoredPlayer | None
    ) -> tuple[dict[str, Any], PlayerConfig]:
        unknown = set(data) - set(FIELDS)
        if unknown:
            raise InvalidInput(f"unknown field(s): {', '.join(sorted(unknown))}", field="body")
        kind = data.get("type")
        if kind not in {t.value for t in PlayerType}:
            raise InvalidInput("type must be kodi, jellyfin or plex", field="type")
        if kind == PlayerType.KODI.value and data.get("token"):
            raise InvalidInput("Kodi uses a user name and password, not a token", field="token")
        if kind != PlayerType.KODI.value:
            if data.get("password"):
                raise InvalidInput(f"{kind} uses a token, not a password", field="password")
            if data.get("username"):
                raise InvalidInput(f"{kind} uses a token, not a user name", field="username")
        library_ids = data.get("library_ids") or []
        if not isinstance(library_ids, list) or not all(
            isinstance(i, int) and not isinstance(i, bool) for i in library_ids
        ):
            raise InvalidInput("library_ids must be a list of library ids", field="library_ids")
        group = data.get("group")
        if group is not None:
            group = _check_name(str(group), "group") if str(group).strip() else None
        try:
            config = PlayerConfig.model_validate(_config_values(data))
        except ValidationError as exc:
            raise InvalidInput(_validation_message(exc), field=_validation_field(exc)) from None
        secret = data.get("password") if kind == PlayerType.KODI.value else data.get("token")
        values = {
            "library_ids": sorted(set(library_ids)),
            "group": group,
            "enabled": bool(data.get("enabled", True)),
            "ignore_playing": bool(data.get("ignore_playing", False)),
            "secret": secret or None,
        }
        return values, config

    def _check_unique(self, conn: Any, name: str, player_id: int | None) -> None:
        found = store.player_named(conn, name)
        if found is not None and found.id != player_id:
            raise Conflict(f"a player named {name!r} already exists")

    def _row_values(
        self, conn: Any, values: dict[str, Any], config: PlayerConfig
    ) -> dict[str, Any]:
        known = store.library_ids(conn)
        missing = [i for i in values["library_ids"] if i not in known]
        if missing:
            raise InvalidInput(
                f"no such library: {', '.join(map(str, missing))}", field="library_ids"
            )
        group_id = None
        if values["group"] is not None:
            group = store.group_named(conn, values["group"])
            group_id = (
                group.id
                if group is not None
                else store.insert_group(conn, values["group"], datetime.now(UTC))
            )
        return {
            "name": config.name,
            "type": config.type.value,
            "host": config.host,
            "port": config.port,
            "tcp_port": config.tcp_port,
            "https": config.https,
            "base_path": config.base_path,
            "username": config.username or None,
            "secret": values["secret"],
            "library_ids": values["library_ids"],
            "group_id": group_id,
            "path_mappings": [{"from": m.from_path, "to": m.to_path} for m in config.path_mappings],
            "enabled": values["enabled"],
            "notify": config.notify,
            "ignore_playing": values["ignore_playing"],
        }

    def _view(self, p: store.StoredPlayer) -> PlayerView:
        kind = PlayerType(p.type) if p.type in {t.value for t in PlayerType} else PlayerType.KODI
        is_kodi = kind is PlayerType.KODI
        return PlayerView(
            id=p.id,
            name=p.name,
            type=p.type,
            host=p.host,
            port=p.port,
            effective_port=p.port if p.port is not None else _default_port(kind),
            tcp_port=p.tcp_port,
            https=p.https,
            base_path=p.base_path,
            username=p.username,
            has_password=is_kodi and bool(p.secret),
            has_token=not is_kodi and bool(p.secret),
            library_ids=list(p.library_ids),
            group=p.group_name,
            group_id=p.group_id,
            path_mappings=[{"from": a, "to": b} for a, b in p.path_mappings],
            enabled=p.enabled,
            notify=p.notify,
            ignore_playing=p.ignore_playing,
            created_at=p.created_at,
            updated_at=p.updated_at,
        )


# -- helpers --------------------------------------------------------------------------


def now_playing_details(player: Player) -> builtins.list[Any]:
    """What a player plays, with titles and paths (Kodi needs 2 more calls per item)."""
    if isinstance(player, KodiPlayer):
        return player.kodi.now_playing(details=True)
    return player.now_playing()


def _is_down(exc: BaseException) -> bool:
    from metarr.domain.errors import ServiceUnavailable

    return isinstance(exc, ServiceUnavailable)


def _default_port(kind: PlayerType) -> int:
    from metarr.players.base import DEFAULT_PORTS

    return DEFAULT_PORTS[kind]


def _scope_of(player_id: int, group_id: int | None) -> str:
    return f"group:{group_id}" if group_id is not None else f"player:{player_id}"


def _as_input(p: store.StoredPlayer) -> dict[str, Any]:
    """A stored player in the shape of a create request (secret under its field)."""
    secret_field = "password" if p.type == PlayerType.KODI.value else "token"
    return {
        "name": p.name,
        "type": p.type,
        "host": p.host,
        "port": p.port,
        "tcp_port": p.tcp_port,
        "https": p.https,
        "base_path": p.base_path,
        "username": p.username,
        secret_field: p.secret,
        "library_ids": list(p.library_ids),
        "group": p.group_name,
        "path_mappings": [{"from": a, "to": b} for a, b in p.path_mappings],
        "enabled": p.enabled,
        "notify": p.notify,
        "ignore_playing": p.ignore_playing,
    }


def _config_values(data: Mapping[str, Any]) -> dict[str, Any]:
    """The PlayerConfig fields of a request (the rest is Metarr's own)."""
    values = {
        key: data[key]
        for key in ("name", "type", "host", "port", "tcp_port", "base_path", "username")
        if data.get(key) is not None
    }
    values["https"] = bool(data.get("https", False))
    values["notify"] = bool(data.get("notify", False))
    if data.get("type") == PlayerType.KODI.value:
        if data.get("password"):
            values["password"] = data["password"]
    elif data.get("token"):
        values["token"] = data["token"]
    mappings = data.get("path_mappings") or []
    if not isinstance(mappings, list):
        raise InvalidInput("path_mappings must be a list of {from, to}", field="path_mappings")
    values["path_mappings"] = _mapping_configs(mappings)
    return values


def _mapping_configs(mappings: builtins.list[Any]) -> tuple[PathMappingConfig, ...]:
    out: builtins.list[PathMappingConfig] = []
    for n, item in enumerate(mappings):
        try:
            out.append(PathMappingConfig.model_validate(item))
        except ValidationError as exc:
            raise InvalidInput(
                f"path_mappings[{n}]: {_validation_message(exc)}", field="path_mappings"
            ) from None
    sources = [pathmap.split_path(m.from_path).key() for m in out]
    if len(set(sources)) != len(sources):
        raise InvalidInput("two path mappings have the same 'from' path", field="path_mappings")
    return tuple(out)


def _validation_field(exc: ValidationError) -> str:
    loc = exc.errors()[0].get("loc") or ()
    return str(loc[0]) if loc else "body"


def _validation_message(exc: ValidationError) -> str:
    first = exc.errors()[0]
    loc = ".".join(str(p) for p in first.get("loc") or ())
    message = str(first.get("msg", "invalid")).removeprefix("Value error, ")
    return f"{loc}: {message}" if loc else message


def _check_name(value: str, what: str) -> str:
    value = value.strip()
    if not value or len(value) > 100 or "\x00" in value:
        raise InvalidInput(f"{what} must be 1-100 characters", field=what)
    return value


def _close_quietly(player: Player) -> None:
    try:
        player.close()
    except Exception:
        log.debug("closing player %r failed", player.name, exc_info=True)
