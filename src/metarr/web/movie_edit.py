"""The movie page's editor: fields with locks, cast, history, identify, images, artwork files."""

from __future__ import annotations

import json
import mimetypes
import re
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import FileResponse, HTMLResponse, Response
from starlette.datastructures import FormData

from metarr.domain.errors import (
    AuthenticationFailed,
    InvalidInput,
    MetarrError,
    NotFound,
    ServiceUnavailable,
)
from metarr.domain.media import METADATA_FIELDS
from metarr.services.browse import MovieDetail
from metarr.services.edit import Change
from metarr.storage.cache import ContentCache
from metarr.web.deps import Services, row_id, services
from metarr.web.rendering import not_found, render
from metarr.web.session import require_csrf, require_login

router = APIRouter(include_in_schema=False, dependencies=[Depends(require_login)])
csrf = [Depends(require_csrf)]

# How each metadata field is edited.
LONG_TEXT = ("plot", "outline")
INTEGERS = ("year", "runtime", "top250")
DECIMALS = ("userrating",)
LISTS = ("genres", "studios", "countries", "tags", "directors", "writers")
JSON_FIELDS = ("ratings", "set")
READ_ONLY = ("cast",)  # shown on the Cast section (its order can be locked there)
HISTORY_LIMIT = 200
TRUNCATE = 80  # longer history values fold into a <details>
_SHA256 = re.compile(r"[0-9a-f]{64}")
TMDB_NOT_CONFIGURED = (
    "TMDB is not configured: set METARR_TMDB_API_KEY and restart Metarr to search TMDB."
)


def field_kind(name: str) -> str:
    """The input a field is edited with: text, long, int, decimal, list, json or readonly."""
    if name in LONG_TEXT:
        return "long"
    if name in INTEGERS:
        return "int"
    if name in DECIMALS:
        return "decimal"
    if name in LISTS:
        return "list"
    if name in JSON_FIELDS:
        return "json"
    if name in READ_ONLY:
        return "readonly"
    return "text"


def form_value(name: str, value: Any) -> str:
    """A stored value as the text of its input."""
    if value is None:
        return ""
    kind = field_kind(name)
    if kind == "list" and isinstance(value, list):
        return ", ".join(str(v) for v in value)
    if kind == "json":
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def parse_value(name: str, text: str) -> Any:
    """The typed text of a field as the value EditService.patch takes (InvalidInput if bad)."""
    kind = field_kind(name)
    text = text.strip() if kind != "long" else text
    if kind == "readonly":
        raise InvalidInput(f"{name} cannot be edited here", field=name)
    if kind in ("int", "decimal"):
        if not text:
            return None
        try:
            return int(text) if kind == "int" else float(text)
        except ValueError:
            what = "a whole number" if kind == "int" else "a number"
            raise InvalidInput(f"{name} must be {what}", field=name) from None
    if kind == "list":
        return [part.strip() for part in text.split(",") if part.strip()]
    if kind == "json":
        if not text:
            return None
        try:
            return json.loads(text)
        except ValueError:
            raise InvalidInput(f"{name} must be valid JSON", field=name) from None
    return text


def field_row(movie: MovieDetail, name: str) -> dict[str, Any]:
    """One metadata row: value, its text for the input, provenance and lock."""
    field = movie.metadata[name]
    return {
        "name": name,
        "kind": field_kind(name),
        "value": field["value"],
        "text": form_value(name, field["value"]),
        "source": field["source"],
        "updated_at": field["updated_at"],
        "locked": field["locked"],
    }


def _locks(svc: Services, movie_id: int) -> set[str]:
    # The browse detail has field locks only; cast order and asset locks come from history.
    locked: set[str] = set()
    for change in reversed(svc.edit.history(movie_id, limit=10_000)):
        if change.kind == "lock":
            locked.add(change.target)
        elif change.kind == "unlock":
            locked.discard(change.target)
    return locked


def editor_context(svc: Services, movie: MovieDetail) -> dict[str, Any]:
    """What the editor sections of the movie page need."""
    movie_id = movie.summary.id
    history = svc.edit.history(movie_id, limit=HISTORY_LIMIT)
    assets: list[Any] = []
    assets_error = None
    try:
        assets = svc.enrichment.assets(movie_id)
    except MetarrError as exc:
        assets_error = str(exc)
    cast = movie.metadata.get("cast", {}).get("value") or []
    return {
        "fields": [field_row(movie, name) for name in METADATA_FIELDS],
        "history": history,
        "truncate": TRUNCATE,
        "movie_id": movie_id,
        "assets": assets,
        "assets_error": assets_error,
        "cast": [a for a in cast if isinstance(a, dict)],
        "cast_locked": "cast_order" in _locks(svc, movie_id),
        "all_locked": all(f["locked"] for f in movie.metadata.values()),
    }


def _movie(svc: Services, movie_id: int) -> MovieDetail:
    return svc.browse.movie(row_id(movie_id, "movie"))


def _missing(request: Request, movie_id: int) -> HTMLResponse:
    return not_found(request, f"There is no movie number {movie_id}.")


def _field_name(name: str) -> str:
    if name not in METADATA_FIELDS:
        raise NotFound(f"movie field {name} does not exist")
    return name


def _row_response(
    request: Request,
    svc: Services,
    movie_id: int,
    name: str,
    *,
    text: str | None = None,
    error: str | None = None,
    toast: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    movie = _movie(svc, movie_id)
    row = field_row(movie, name)
    if text is not None:
        row["text"] = text
    context = {
        "movie": movie,
        "f": row,
        "error": error,
        "toast": toast,
        # A refused edit changed nothing: the history stays as it is.
        "history": None if error else svc.edit.history(movie_id, limit=HISTORY_LIMIT),
        "truncate": TRUNCATE,
        "all_locked": all(f["locked"] for f in movie.metadata.values()),
    }
    return render(request, "partials/movie_field_row.html", context, status_code=status_code)


def _sections_response(
    request: Request, svc: Services, movie_id: int, *, toast: str | None = None
) -> HTMLResponse:
    """The metadata table and history (and cast), after a change touching many fields."""
    movie = _movie(svc, movie_id)
    context = {"movie": movie, **editor_context(svc, movie), "toast": toast}
    return render(request, "partials/movie_sections.html", context)


async def _form(request: Request) -> FormData:
    return await request.form()


def _text(form: FormData, key: str) -> str:
    value = form.get(key)
    return value if isinstance(value, str) else ""


# -- metadata ----------------------------------------------------------------------------


@router.post("/movies/{movie_id}/fields/{name}", dependencies=csrf)
async def save_field(request: Request, movie_id: int, name: str) -> Response:
    """Save one field (a person's edit: it is locked); a refused value comes back inline."""
    svc = services(request)
    text = _text(await _form(request), "value")
    try:
        _field_name(name)
        value = parse_value(name, text)
        svc.edit.patch(row_id(movie_id, "movie"), {name: value})
    except NotFound:
        return _missing(request, movie_id)
    except InvalidInput as exc:
        return _row_response(
            request, svc, movie_id, name, text=text, error=str(exc), status_code=422
        )
    return _row_response(request, svc, movie_id, name, toast=f"Saved {name.replace('_', ' ')}.")


@router.post("/movies/{movie_id}/fields/{name}/lock", dependencies=csrf)
def lock_field(request: Request, movie_id: int, name: str) -> Response:
    """Lock one field: automation leaves it alone."""
    return _toggle(request, movie_id, name, locked=True)


@router.post("/movies/{movie_id}/fields/{name}/unlock", dependencies=csrf)
def unlock_field(request: Request, movie_id: int, name: str) -> Response:
    """Unlock one field: automation may change it again."""
    return _toggle(request, movie_id, name, locked=False)


def _toggle(request: Request, movie_id: int, name: str, *, locked: bool) -> Response:
    svc = services(request)
    try:
        _field_name(name)
        if locked:
            svc.edit.lock(row_id(movie_id, "movie"), [name])
        else:
            svc.edit.unlock(row_id(movie_id, "movie"), [name])
    except NotFound:
        return _missing(request, movie_id)
    return _row_response(request, svc, movie_id, name)


@router.post("/movies/{movie_id}/fields/{name}/reset", dependencies=csrf)
def reset_field(request: Request, movie_id: int, name: str) -> Response:
    """Drop a person's edit: unlock and restore automation's last value."""
    svc = services(request)
    try:
        svc.edit.reset(row_id(movie_id, "movie"), _field_name(name))
    except NotFound:
        return _missing(request, movie_id)
    return _row_response(request, svc, movie_id, name, toast=f"Reset {name.replace('_', ' ')}.")


@router.post("/movies/{movie_id}/lock-all", dependencies=csrf)
def lock_all(request: Request, movie_id: int) -> Response:
    """Lock every field, the cast order and every artwork type."""
    return _lock_many(request, movie_id, locked=True)


@router.post("/movies/{movie_id}/unlock-all", dependencies=csrf)
def unlock_all(request: Request, movie_id: int) -> Response:
    """Unlock everything."""
    return _lock_many(request, movie_id, locked=False)


def _lock_many(request: Request, movie_id: int, *, locked: bool) -> Response:
    svc = services(request)
    try:
        if locked:
            svc.edit.lock(row_id(movie_id, "movie"), ["all"])
        else:
            svc.edit.unlock(row_id(movie_id, "movie"), ["all"])
    except NotFound:
        return _missing(request, movie_id)
    toast = "Everything locked." if locked else "Everything unlocked."
    return _sections_response(request, svc, movie_id, toast=toast)


@router.post("/movies/{movie_id}/cast-order/{action}", dependencies=csrf)
def cast_order(request: Request, movie_id: int, action: str) -> Response:
    """Lock or unlock the cast order."""
    svc = services(request)
    if action not in ("lock", "unlock"):
        return _missing(request, movie_id)
    try:
        if action == "lock":
            svc.edit.lock(row_id(movie_id, "movie"), ["cast_order"])
        else:
            svc.edit.unlock(row_id(movie_id, "movie"), ["cast_order"])
    except NotFound:
        return _missing(request, movie_id)
    return _sections_response(request, svc, movie_id)


# -- history -----------------------------------------------------------------------------


def _change(svc: Services, movie_id: int, change_id: int) -> Change:
    for change in svc.edit.history(movie_id, limit=100_000):
        if change.id == change_id:
            return change
    raise NotFound(f"change {change_id} of movie {movie_id} does not exist")


@router.post("/movies/{movie_id}/history/{change_id}/revert", dependencies=csrf)
def revert(request: Request, movie_id: int, change_id: int) -> Response:
    """Undo one field change (the old value comes back, locked)."""
    svc = services(request)
    try:
        change = _change(svc, row_id(movie_id, "movie"), row_id(change_id, "change"))
        svc.edit.revert(movie_id, change.id)
    except NotFound:
        return not_found(request, f"There is no change {change_id} of movie {movie_id}.")
    except InvalidInput as exc:
        return render(request, "partials/error.html", {"message": str(exc)}, status_code=422)
    toast = f"Reverted {change.target.replace('_', ' ')}."
    return _sections_response(request, svc, movie_id, toast=toast)


@router.post("/movies/{movie_id}/history/{change_id}/rollback", dependencies=csrf)
def rollback(request: Request, movie_id: int, change_id: int) -> Response:
    """Restore every field to its value right after this change."""
    svc = services(request)
    try:
        change = _change(svc, row_id(movie_id, "movie"), row_id(change_id, "change"))
        count = svc.edit.rollback(movie_id, change.at)
    except NotFound:
        return not_found(request, f"There is no change {change_id} of movie {movie_id}.")
    toast = (
        f"Rolled back {count} field{'s' if count != 1 else ''}."
        if count
        else "Nothing to roll back: no field changed after that."
    )
    return _sections_response(request, svc, movie_id, toast=toast)


# -- identify and enrich -----------------------------------------------------------------


def _year(text: str) -> tuple[int | None, str | None]:
    text = text.strip()
    if not text:
        return None, None
    if not text.isdigit() or not 1870 <= int(text) <= 2200:
        return None, "year must be a number between 1870 and 2200"
    return int(text), None


@router.get("/movies/{movie_id}/identify")
def identify_panel(request: Request, movie_id: int) -> HTMLResponse:
    """The identify panel: a search box and TMDB's candidates (kept ones, or a search)."""
    svc = services(request)
    params = request.query_params
    searched = "q" in params or "year" in params
    q = params.get("q", "").strip()[:200]
    year, year_error = _year(params.get("year", ""))
    try:
        movie = _movie(svc, movie_id)
    except NotFound:
        return _missing(request, movie_id)
    candidates: list[Any] = []
    error = year_error
    if error is None:
        try:
            if searched:
                candidates = svc.enrichment.candidates(movie_id, q or None, year)
            else:
                candidates = svc.enrichment.candidates(movie_id)
        except AuthenticationFailed:
            error = TMDB_NOT_CONFIGURED
        except ServiceUnavailable as exc:
            error = f"TMDB is not reachable right now: {exc}"
        except InvalidInput as exc:
            error = str(exc)
        except NotFound:
            return _missing(request, movie_id)
    context = {
        "movie": movie,
        "q": q if searched else (movie.summary.title or ""),
        "year": params.get("year", "") if searched else (movie.summary.year or ""),
        "candidates": candidates,
        "error": error,
        "searched": searched,
    }
    status = 422 if year_error else 200
    return render(request, "partials/movie_identify.html", context, status_code=status)


@router.post("/movies/{movie_id}/identify", dependencies=csrf)
async def identify(request: Request, movie_id: int) -> Response:
    """A person's pick: set the TMDB id and queue enrichment."""
    svc = services(request)
    form = await _form(request)
    tmdb_text = _text(form, "tmdb").strip()
    title = _text(form, "title").strip()[:300] or f"TMDB {tmdb_text}"
    try:
        movie = _movie(svc, movie_id)
        if not tmdb_text.isdigit() or len(tmdb_text) > 12:
            raise InvalidInput("tmdb must be a positive id", field="tmdb")
        svc.enrichment.identify(movie_id, int(tmdb_text))
    except NotFound:
        return _missing(request, movie_id)
    except InvalidInput as exc:
        return render(request, "partials/error.html", {"message": str(exc)}, status_code=422)
    context = {"movie": movie, "tmdb": int(tmdb_text), "title": title}
    return render(request, "partials/movie_identified.html", context)


@router.post("/movies/{movie_id}/enrich", dependencies=csrf)
def enrich(request: Request, movie_id: int) -> Response:
    """Queue identify-or-enrich for this movie."""
    svc = services(request)
    try:
        jobs = svc.enrichment.enqueue_movie(row_id(movie_id, "movie"))
    except NotFound:
        return _missing(request, movie_id)
    context = {"toast": f"Enrichment queued (job {jobs[0]}).", "job_id": jobs[0]}
    return render(request, "partials/movie_enrich.html", context, status_code=202)


# -- artwork files -----------------------------------------------------------------------


@router.get("/artwork/{sha256}")
def artwork(request: Request, sha256: str) -> Response:
    """A content-addressed artwork file from the cache, cached forever by browsers."""
    if not _SHA256.fullmatch(sha256):
        return not_found(request, "There is no such artwork.")
    cache: ContentCache = services(request).enrichment.cache
    try:
        path = cache.path_of(sha256)
    except (NotFound, InvalidInput):
        return not_found(request, "There is no such artwork.")
    media_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    if not media_type.startswith("image/"):
        media_type = "application/octet-stream"
    return FileResponse(
        path,
        media_type=media_type,
        headers={
            "Cache-Control": "public, max-age=31536000, immutable",
            "X-Content-Type-Options": "nosniff",
            # An SVG opened on its own must not run scripts in our origin.
            "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; sandbox",
        },
    )
