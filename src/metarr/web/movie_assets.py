"""The movie page's artwork controls: pick a candidate, upload an image, block, lock a type.

Every action answers with the artwork type's block re-rendered (htmx swaps it in place);
a refused action keeps the block as it is and shows why inside it.
"""

from __future__ import annotations

from collections.abc import Callable

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response
from starlette.datastructures import UploadFile

from metarr.domain.errors import InvalidInput, MetarrError, NotFound
from metarr.services.enrichment import AssetType
from metarr.web.deps import Services, row_id, services
from metarr.web.rendering import not_found, render
from metarr.web.session import require_csrf, require_login

router = APIRouter(include_in_schema=False, dependencies=[Depends(require_login)])
csrf = [Depends(require_csrf)]

# Read at most this much of an upload; the service enforces the real cap with a clear message.
UPLOAD_READ_LIMIT = 64 * 1024 * 1024


def _block(
    request: Request,
    movie_id: int,
    t: AssetType,
    *,
    error: str | None = None,
    toast: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    context = {"t": t, "movie_id": movie_id, "art_error": error, "toast": toast}
    return render(request, "partials/movie_art_type.html", context, status_code=status_code)


def _act(
    request: Request,
    svc: Services,
    movie_id: int,
    kind: str,
    action: Callable[[], AssetType],
    toast: str,
) -> Response:
    """Run one artwork action; NotFound is a 404 page, any other refusal shows inline."""
    try:
        movie = row_id(movie_id, "movie")
        return _block(request, movie, action(), toast=toast)
    except NotFound as exc:
        return not_found(request, str(exc))
    except MetarrError as exc:
        status = 422 if isinstance(exc, InvalidInput) else 502
        try:
            current = svc.enrichment.asset_type(movie_id, kind)
        except MetarrError:
            return not_found(request, str(exc))
        return _block(request, movie_id, current, error=str(exc), status_code=status)


async def _url(request: Request) -> str:
    value = (await request.form()).get("url")
    if not isinstance(value, str) or not value.strip():
        raise InvalidInput("pick a candidate: its url is missing")
    return value.strip()


async def _on_candidate(
    request: Request,
    movie_id: int,
    kind: str,
    action: Callable[[Services, str], AssetType],
    toast: str,
) -> Response:
    """An action on the candidate the form names by its url."""
    svc = services(request)
    try:
        url = await _url(request)
    except InvalidInput as exc:
        return _act(request, svc, movie_id, kind, _raise(exc), "")
    return _act(request, svc, movie_id, kind, lambda: action(svc, url), toast)


@router.post("/movies/{movie_id}/art/{kind}/select", dependencies=csrf)
async def select(request: Request, movie_id: int, kind: str) -> Response:
    """Use this candidate (cached now, selected as the person's, the type locked)."""
    return await _on_candidate(
        request,
        movie_id,
        kind,
        lambda svc, url: svc.enrichment.select_asset(movie_id, kind, url),
        f"Selected the {kind} image; the type is locked.",
    )


@router.post("/movies/{movie_id}/art/{kind}/block", dependencies=csrf)
async def block(request: Request, movie_id: int, kind: str) -> Response:
    """Never pick this candidate automatically."""
    return await _on_candidate(
        request,
        movie_id,
        kind,
        lambda svc, url: svc.enrichment.block_asset(movie_id, kind, url),
        "Blocked that image.",
    )


@router.post("/movies/{movie_id}/art/{kind}/upload", dependencies=csrf)
async def upload(request: Request, movie_id: int, kind: str) -> Response:
    """A person's own image: validated, cached and selected; the type is locked."""
    svc = services(request)
    file = (await request.form()).get("file")
    if not isinstance(file, UploadFile) or not file.filename:
        return _act(
            request, svc, movie_id, kind, _raise(InvalidInput("choose an image file first")), ""
        )
    data = await file.read(UPLOAD_READ_LIMIT + 1)
    return _act(
        request,
        svc,
        movie_id,
        kind,
        lambda: svc.enrichment.upload_asset(movie_id, kind, data),
        f"Uploaded {file.filename}; it is the {kind} now and the type is locked.",
    )


@router.post("/movies/{movie_id}/art/{kind}/lock", dependencies=csrf)
def lock(request: Request, movie_id: int, kind: str) -> Response:
    """Lock the type: automation keeps the current choice."""
    svc = services(request)
    return _act(
        request,
        svc,
        movie_id,
        kind,
        lambda: svc.enrichment.lock_asset(movie_id, kind),
        f"Locked {kind}.",
    )


@router.post("/movies/{movie_id}/art/{kind}/unlock", dependencies=csrf)
def unlock(request: Request, movie_id: int, kind: str) -> Response:
    """Unlock the type: automation may choose again."""
    svc = services(request)
    return _act(
        request,
        svc,
        movie_id,
        kind,
        lambda: svc.enrichment.lock_asset(movie_id, kind, locked=False),
        f"Unlocked {kind}.",
    )


def _raise(exc: Exception) -> Callable[[], AssetType]:
    def action() -> AssetType:
        raise exc

    return action
