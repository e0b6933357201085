"""The recycle bin page: files Metarr replaced or removed, restore and purge.

Restore and purge answer with the page re-rendered (the filter and page kept); without
JavaScript, with a redirect back to it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import PurePath
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.datastructures import FormData

from metarr.domain.errors import MetarrError, NotFound
from metarr.services.publishing import RestoreResult
from metarr.web.deps import is_htmx, row_id, services
from metarr.web.publishing import form_id, query_id, toast
from metarr.web.rendering import page_or_fragment
from metarr.web.session import require_csrf, require_login

router = APIRouter(include_in_schema=False, dependencies=[Depends(require_login)])
csrf = [Depends(require_csrf)]

PAGE_SIZE = 50
REASON_BADGES = {"replaced": "warn", "removed": "err", "repaired": "warn", "restore": "info"}


def _recycle_url(library_id: int | None, page: int) -> str:
    query: dict[str, int] = {}
    if library_id is not None:
        query["library"] = library_id
    if page > 1:
        query["page"] = page
    return "/recycle-bin" + ("?" + urlencode(query) if query else "")


def _recycle_list(
    request: Request,
    library_id: int | None,
    page: int,
    *,
    error: str | None = None,
    status_code: int = 200,
    extra: Mapping[str, Any] | None = None,
) -> HTMLResponse:
    svc = services(request)
    items, total = svc.publishing.recycle_bin(
        library_id=library_id, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE
    )
    pages = max(1, -(-total // PAGE_SIZE))
    if page > pages and total:
        # the last entry of a page went: show the page before
        return _recycle_list(request, library_id, pages, error=error, extra=extra)
    libraries = svc.libraries.list()
    context = {
        "items": items,
        "total": total,
        "page": page,
        "pages": pages,
        "library_id": library_id,
        "libraries": libraries,
        "library_names": {lib.id: lib.name for lib in libraries},
        "retention_days": svc.publishing.retention_days,
        "reason_badges": REASON_BADGES,
        "page_url": lambda p: _recycle_url(library_id, p),
        "error": error,
        **(extra or {}),
    }
    return page_or_fragment(
        request, "recycle_bin.html", "partials/recycle_list.html", context, status_code=status_code
    )


def _page(value: str | None) -> int:
    return int(value) if value and value.isdigit() and 0 < int(value) < 100_000 else 1


@router.get("/recycle-bin")
def recycle_bin(request: Request) -> HTMLResponse:
    """Files Metarr replaced or removed, newest first, with restore and purge."""
    params = request.query_params
    return _recycle_list(request, query_id(params.get("library")), _page(params.get("page")))


@router.post("/recycle-bin/{entry_id}/restore", dependencies=csrf)
async def restore(request: Request, entry_id: int) -> Response:
    """Put the file back where it was, byte for byte."""
    svc = services(request)
    form = await request.form()
    return _recycle_action(
        request, form, lambda: _restored(svc.publishing.restore(row_id(entry_id, "entry")))
    )


@router.post("/recycle-bin/{entry_id}/purge", dependencies=csrf)
async def purge(request: Request, entry_id: int) -> Response:
    """Delete the file for good."""
    svc = services(request)
    form = await request.form()

    def act() -> str:
        svc.publishing.purge(row_id(entry_id, "entry"))
        return "Deleted for good."

    return _recycle_action(request, form, act)


def _restored(result: RestoreResult) -> str:
    message = f"Restored {PurePath(result.path).name}."
    if result.displaced_entry_id is not None:
        message += " The file that was there is in the recycle bin now."
    return message


def _recycle_action(request: Request, form: FormData, act: Callable[[], str]) -> Response:
    library_id = form_id(form, "library")
    page = _page(str(form.get("page") or ""))
    try:
        message = act()
    except NotFound as exc:
        return _recycle_list(request, library_id, page, error=str(exc), status_code=404)
    except MetarrError as exc:
        return _recycle_list(request, library_id, page, error=str(exc), status_code=422)
    except OSError as exc:
        error = f"The file could not be moved: {exc.strerror or exc}."
        return _recycle_list(request, library_id, page, error=error, status_code=422)
    if not is_htmx(request):
        return RedirectResponse(_recycle_url(library_id, page), status_code=303)
    return _recycle_list(request, library_id, page, extra=toast(message))
