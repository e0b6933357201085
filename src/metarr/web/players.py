"""Players: list with live status and activity, add (type first, then its form, tested
before save), groups, path mappings with a "test a path" box; the movie page's sync section;
a library's player-sync switch."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.datastructures import FormData

from metarr.domain.errors import Conflict, InvalidInput, MetarrError, NotFound
from metarr.players.base import DEFAULT_PORTS, KODI_TCP_PORT, PlayerType
from metarr.services.libraries import LibraryChanges
from metarr.services.player_monitor import PlayerMonitor
from metarr.services.player_sync import PlayerSyncJobs
from metarr.services.players import PlayerService, PlayerStatus, PlayerView, TestResult
from metarr.web.deps import is_htmx, row_id, services
from metarr.web.rendering import not_found, render
from metarr.web.session import require_csrf, require_login

router = APIRouter(include_in_schema=False, dependencies=[Depends(require_login)])
csrf = [Depends(require_csrf)]

TYPES: dict[str, dict[str, Any]] = {
    "kodi": {
        "title": "Kodi",
        "port": DEFAULT_PORTS[PlayerType.KODI],
        "tcp_port": KODI_TCP_PORT,
        "help": "Kodi: Settings → Services → Control: allow remote control via HTTP (port "
        "8080) and by applications on other systems (JSON-RPC over TCP, port 9090).",
    },
    "jellyfin": {
        "title": "Jellyfin",
        "port": DEFAULT_PORTS[PlayerType.JELLYFIN],
        "help": "Jellyfin: Dashboard → API Keys → + to create a key for Metarr.",
    },
    "plex": {
        "title": "Plex",
        "port": DEFAULT_PORTS[PlayerType.PLEX],
        "help": "Plex: your X-Plex-Token (Plex support article 'Finding an authentication token').",
    },
}
MAPPING_ROWS = 2  # blank rows offered below the saved mappings


def _players(request: Request) -> PlayerService:
    return services(request).players


def _monitor(request: Request) -> PlayerMonitor:
    return services(request).player_monitor


def _sync(request: Request) -> PlayerSyncJobs:
    return services(request).player_sync


def form_to_player(form: FormData) -> dict[str, Any]:
    """The add form's fields as a create request (blank fields left out)."""
    data: dict[str, Any] = {}
    for key in ("name", "type", "host", "base_path", "username", "password", "token", "group"):
        value = str(form.get(key) or "").strip()
        if value:
            data[key] = value
    for key in ("port", "tcp_port"):
        raw = str(form.get(key) or "").strip()
        if raw:
            try:
                data[key] = int(raw)
            except ValueError:
                raise InvalidInput(f"{key.replace('_', ' ')} must be a number", field=key) from None
    for key in ("https", "notify", "ignore_playing"):
        data[key] = bool(form.get(key))
    data["library_ids"] = [
        int(v) for v in form.getlist("library_ids") if isinstance(v, str) and v.isdigit()
    ]
    mappings = mapping_rows({k: str(v) for k, v in form.items()})
    if mappings:
        data["path_mappings"] = mappings
    return data


def mapping_rows(form: Mapping[str, str]) -> list[dict[str, str]]:
    """`from.N`/`to.N` rows of a mappings editor (blank rows skipped)."""
    rows = []
    for n in range(100):
        source, target = form.get(f"from.{n}"), form.get(f"to.{n}")
        if source is None and target is None:
            break
        source, target = (source or "").strip(), (target or "").strip()
        if source or target:
            rows.append({"from": source, "to": target})
    return rows


def _statuses(request: Request, views: list[PlayerView]) -> dict[int, PlayerStatus]:
    snapshot = _monitor(request).snapshot()
    return {v.id: snapshot[v.id] for v in views if v.id in snapshot}


def _page_context(request: Request, **extra: Any) -> dict[str, Any]:
    svc = services(request)
    views = _players(request).list()
    return {
        "players": views,
        "statuses": _statuses(request, views),
        "groups": _players(request).groups(),
        "libraries": svc.libraries.list(),
        "types": TYPES,
        "mapping_rows": MAPPING_ROWS,
        "kind": None,
        "form": {},
        "errors": {},
        "test": None,
        **extra,
    }


@router.get("/players")
def players_page(request: Request) -> HTMLResponse:
    """Every player with its status and activity; add, groups, path test."""
    return render(request, "players.html", _page_context(request))


@router.get("/players/new")
def new_player_form(request: Request, type: str = "") -> HTMLResponse:
    """Step two of adding a player: the form of the chosen type, with its defaults."""
    kind = type if type in TYPES else None
    context = {
        "kind": kind,
        "types": TYPES,
        "form": {},
        "errors": {},
        "test": None,
        "libraries": services(request).libraries.list(),
        "groups": _players(request).groups(),
    }
    return render(request, "partials/player_form.html", context)


@router.post("/players/test-new", dependencies=csrf)
async def test_new_player(request: Request) -> HTMLResponse:
    """Test the add form's connection without saving it."""
    form = await request.form()
    try:
        data = form_to_player(form)
        result = _players(request).test_input(data)
    except InvalidInput as exc:
        result = TestResult(False, error=str(exc))
    return render(request, "partials/player_test.html", {"test": result, "target": "new"})


@router.post("/players", dependencies=csrf)
async def add_player(request: Request) -> Response:
    """Save a new player after a successful connection test; refusals show in the form."""
    form = await request.form()
    raw = {k: str(v) for k, v in form.items()}
    kind = raw.get("type") if raw.get("type") in TYPES else None
    try:
        data = form_to_player(form)
        view = _players(request).create(data, test=not raw.get("skip_test"))
    except (InvalidInput, Conflict) as exc:
        field = getattr(exc, "field", None) or "form"
        context = {
            "kind": kind,
            "types": TYPES,
            "form": raw,
            "errors": {field: str(exc)},
            "test": None,
            "libraries": services(request).libraries.list(),
            "groups": _players(request).groups(),
        }
        status = 409 if isinstance(exc, Conflict) else 422
        if not is_htmx(request):
            return render(
                request, "players.html", _page_context(request, **context), status_code=status
            )
        return render(request, "partials/player_form.html", context, status_code=status)
    if not is_htmx(request):
        return RedirectResponse("/players", status_code=303)
    return render(
        request,
        "partials/player_added.html",
        {**_page_context(request), "added": view},
        status_code=201,
    )


def _player_or_404(request: Request, player_id: int) -> PlayerView:
    return _players(request).get(row_id(player_id, "player"))


@router.post("/players/{player_id}/test", dependencies=csrf)
def test_player(request: Request, player_id: int) -> Response:
    """Test a saved player; its status follows."""
    try:
        _player_or_404(request, player_id)
        result = _players(request).test(player_id)
        status = _monitor(request).status(player_id)
    except NotFound:
        return not_found(request, f"There is no player number {player_id}.")
    if not is_htmx(request):
        return RedirectResponse("/players", status_code=303)
    context = {"test": result, "target": player_id, "status": status, "oob": True}
    return render(request, "partials/player_test.html", context)


@router.get("/players/{player_id}/status")
def player_status(request: Request, player_id: int) -> Response:
    """A player's status and activity fragment (checked now when not polled lately)."""
    try:
        _player_or_404(request, player_id)
        status = _monitor(request).status(player_id)
    except NotFound:
        return not_found(request, f"There is no player number {player_id}.")
    return render(request, "partials/player_status.html", {"status": status, "pid": player_id})


@router.post("/players/{player_id}/delete", dependencies=csrf)
def delete_player(request: Request, player_id: int) -> Response:
    """Remove a player."""
    try:
        view = _player_or_404(request, player_id)
        _players(request).delete(player_id)
    except NotFound:
        return not_found(request, f"There is no player number {player_id}.")
    if not is_htmx(request):
        return RedirectResponse("/players", status_code=303)
    return render(request, "partials/player_deleted.html", {"deleted": view})


@router.post("/players/{player_id}/settings", dependencies=csrf)
async def save_settings(request: Request, player_id: int) -> Response:
    """Save a player's mappings, group and options (no connection change: no test)."""
    form = await request.form()
    raw = {k: str(v) for k, v in form.items()}
    changes: dict[str, Any] = {
        "path_mappings": mapping_rows(raw),
        "group": raw.get("group", "").strip() or None,
        "notify": bool(raw.get("notify")),
        "ignore_playing": bool(raw.get("ignore_playing")),
        "enabled": bool(raw.get("enabled")),
    }
    error = None
    try:
        view = _players(request).update(row_id(player_id, "player"), changes, test=False)
    except NotFound:
        return not_found(request, f"There is no player number {player_id}.")
    except (InvalidInput, Conflict) as exc:
        view, error = _players(request).get(player_id), str(exc)
    if not is_htmx(request):
        return RedirectResponse("/players", status_code=303)
    context = {
        **_page_context(request),
        "p": view,
        "status": _monitor(request).latest(view.id),
        "settings_error": error,
        "settings_form": raw if error else None,
        "toast": None if error else f"{view.name} saved.",
    }
    return render(request, "partials/player_card.html", context, status_code=422 if error else 200)


@router.post("/player-groups", dependencies=csrf)
async def add_group(request: Request) -> Response:
    """Create a player group."""
    form = await request.form()
    error = None
    try:
        _players(request).create_group(str(form.get("name", "")))
    except (InvalidInput, Conflict) as exc:
        error = str(exc)
    if not is_htmx(request):
        return RedirectResponse("/players#groups", status_code=303)
    context = {"groups": _players(request).groups(), "group_error": error}
    return render(
        request, "partials/player_groups.html", context, status_code=422 if error else 200
    )


@router.post("/path-mappings/test", dependencies=csrf)
async def test_path(request: Request) -> Response:
    """Translate a path with a player's mappings and show the rule that applied."""
    form = await request.form()
    raw = {k: str(v) for k, v in form.items()}
    result, error = None, None
    try:
        player = raw.get("player_id", "")
        result = _players(request).test_path(
            raw.get("path", ""),
            player_id=int(player) if player.isdigit() else None,
            direction=raw.get("direction", "to_player"),
        )
    except (InvalidInput, NotFound) as exc:
        error = str(exc)
    context = {"result": result, "error": error}
    return render(request, "partials/path_test.html", context, status_code=422 if error else 200)


@router.get("/movies/{movie_id}/players")
def movie_players(request: Request, movie_id: int) -> Response:
    """The movie page's section: the last sync per player and "Sync now"."""
    return _movie_section(request, movie_id)


@router.post("/movies/{movie_id}/sync", dependencies=csrf)
def sync_now(request: Request, movie_id: int) -> Response:
    """Queue the movie's sync to its players."""
    message, error = None, None
    try:
        jobs = _sync(request).sync_movie(row_id(movie_id, "movie"))
        message = f"Sync queued ({len(jobs)} job{'s' if len(jobs) != 1 else ''})."
    except NotFound:
        return not_found(request, f"There is no movie number {movie_id}.")
    except Conflict as exc:
        error = str(exc)
    if not is_htmx(request):
        return RedirectResponse(f"/movies/{movie_id}#players", status_code=303)
    return _movie_section(request, movie_id, message=message, error=error)


def _movie_section(
    request: Request, movie_id: int, *, message: str | None = None, error: str | None = None
) -> Response:
    sync = _sync(request)
    try:
        states = sync.states(row_id(movie_id, "movie"))
    except NotFound:
        return not_found(request, f"There is no movie number {movie_id}.")
    context = {
        "movie_id": movie_id,
        "states": states,
        "has_players": sync.has_players(movie_id),
        "message": message,
        "error": error,
    }
    return render(request, "partials/movie_players.html", context)


@router.post("/libraries/{library_id}/auto-sync", dependencies=csrf)
async def library_auto_sync(request: Request, library_id: int) -> Response:
    """Switch player sync after publishing on or off for a library."""
    form = await request.form()
    svc = services(request)
    try:
        library = svc.libraries.update(
            row_id(library_id, "library"), LibraryChanges(auto_sync=bool(form.get("auto_sync")))
        )
    except NotFound:
        return not_found(request, f"There is no library number {library_id}.")
    except MetarrError as exc:
        return render(request, "partials/error.html", {"message": str(exc)}, status_code=422)
    if not is_htmx(request):
        return RedirectResponse(f"/libraries/{library_id}", status_code=303)
    return render(request, "partials/library_auto_sync.html", {"lib": library, "saved": True})
