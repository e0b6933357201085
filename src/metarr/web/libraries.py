"""Libraries: list, add (with inline errors), scan with live progress, delete."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from metarr.domain.errors import Conflict, InvalidInput, NotFound
from metarr.services.libraries import Library
from metarr.services.scans import ACTIVE, ScanRun
from metarr.web.deps import Services, is_htmx, row_id, services
from metarr.web.rendering import not_found, page_or_fragment, render
from metarr.web.schedule_views import schedule_context
from metarr.web.session import require_csrf, require_login

router = APIRouter(include_in_schema=False, dependencies=[Depends(require_login)])
csrf = [Depends(require_csrf)]

# Form fields the add form shows errors next to; anything else is a form-level error.
_FORM_FIELDS = ("name", "path")


@dataclass(frozen=True, slots=True)
class LibraryView:
    """A library with its newest scan, as a row of the libraries table."""

    library: Library
    scan: ScanRun | None

    @property
    def scanning(self) -> bool:
        """True while a scan is queued or running."""
        return self.scan is not None and self.scan.status in ACTIVE


def _view(svc: Services, library: Library) -> LibraryView:
    return LibraryView(library, svc.scans.latest(library.id))


def _views(svc: Services) -> list[LibraryView]:
    return [_view(svc, lib) for lib in svc.libraries.list()]


def _library(svc: Services, library_id: int) -> Library:
    return svc.libraries.get(row_id(library_id, "library"))


def _missing(request: Request, library_id: int) -> HTMLResponse:
    return not_found(request, f"There is no library number {library_id}.")


def full_library_page(
    request: Request,
    library_id: int,
    *,
    schedule_form: Mapping[str, Any] | None = None,
    schedule_errors: Mapping[str, str] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    """The full library page: facts, last scan and the schedule panel."""
    svc = services(request)
    try:
        row = _view(svc, _library(svc, library_id))
        schedule = schedule_context(request, library_id, form=schedule_form, errors=schedule_errors)
    except NotFound:
        return _missing(request, library_id)
    return render(request, "library.html", {"row": row, **schedule}, status_code=status_code)


@router.get("/libraries")
def libraries_page(request: Request) -> HTMLResponse:
    """Every library with counts and scan state, and the add form."""
    context = {"rows": _views(services(request)), "form": {}, "errors": {}}
    return page_or_fragment(request, "libraries.html", "partials/libraries_table.html", context)


@router.post("/libraries", dependencies=csrf)
def add_library(
    request: Request,
    name: Annotated[str, Form()] = "",
    path: Annotated[str, Form()] = "",
) -> Response:
    """Create a library; a refused one comes back as the form with the error by its field."""
    svc = services(request)
    form = {"name": name, "path": path}
    try:
        library = svc.libraries.create(name=name, kind="movies", path=path.strip())
    except InvalidInput as exc:
        field = exc.field if exc.field in _FORM_FIELDS else "form"
        return _form_error(request, form, field, str(exc), 422)
    except Conflict as exc:
        return _form_error(request, form, "name", str(exc), 409)
    if not is_htmx(request):
        return RedirectResponse("/libraries", status_code=303)
    context = {"rows": _views(svc), "form": {}, "errors": {}, "added": library}
    return render(request, "partials/library_added.html", context, status_code=201)


def _form_error(
    request: Request, form: dict[str, str], field: str, message: str, status_code: int
) -> HTMLResponse:
    context: dict[str, object] = {"form": form, "errors": {field: message}}
    if not is_htmx(request):
        context["rows"] = _views(services(request))
    return page_or_fragment(
        request, "libraries.html", "partials/library_form.html", context, status_code=status_code
    )


@router.get("/libraries/{library_id}")
def library_page(request: Request, library_id: int) -> HTMLResponse:
    """One library; for HTMX its row of the libraries table (e.g. after cancelling a delete)."""
    if not is_htmx(request):
        return full_library_page(request, library_id)
    svc = services(request)
    try:
        row = _view(svc, _library(svc, library_id))
    except NotFound:
        return _missing(request, library_id)
    return render(request, "partials/library_row.html", {"row": row})


@router.get("/libraries/{library_id}/delete")
def confirm_delete(request: Request, library_id: int) -> HTMLResponse:
    """Ask before deleting: rows go, media files stay."""
    try:
        library = _library(services(request), library_id)
    except NotFound:
        return _missing(request, library_id)
    return page_or_fragment(
        request, "library_delete.html", "partials/library_confirm_row.html", {"library": library}
    )


@router.post("/libraries/{library_id}/delete", dependencies=csrf)
def delete_library(request: Request, library_id: int) -> Response:
    """Delete the library's rows; its folder and media files are not touched."""
    svc = services(request)
    try:
        library = _library(svc, library_id)
        svc.libraries.delete(library_id)
    except NotFound:
        return _missing(request, library_id)
    if not is_htmx(request):
        return RedirectResponse("/libraries", status_code=303)
    return render(request, "partials/library_deleted.html", {"library": library})


@router.post("/libraries/{library_id}/scan", dependencies=csrf)
def start_scan(request: Request, library_id: int) -> Response:
    """Queue a scan; HTMX gets the live status fragment."""
    svc = services(request)
    error = None
    try:
        library = _library(svc, library_id)
        svc.scans.submit(library_id)
    except NotFound:
        return _missing(request, library_id)
    except (InvalidInput, Conflict) as exc:
        error = str(exc)
    if not is_htmx(request):
        return RedirectResponse(f"/libraries/{library_id}", status_code=303)
    row = _view(svc, library)
    return render(
        request,
        "partials/scan_status.html",
        {"row": row, "error": error},
        status_code=202 if error is None else 422,
    )


@router.get("/libraries/{library_id}/scan-status")
def scan_status(request: Request, library_id: int) -> HTMLResponse:
    """The newest scan's progress (polled every second while it runs) or its result."""
    if not is_htmx(request):
        return full_library_page(request, library_id)
    svc = services(request)
    try:
        row = _view(svc, _library(svc, library_id))
    except NotFound:
        return _missing(request, library_id)
    # The poll that sees the scan end also refreshes the movie count next to it.
    polled = request.headers.get("HX-Trigger") == f"scan-{library_id}"
    return render(
        request,
        "partials/scan_status.html",
        {"row": row, "error": None, "update_count": polled and not row.scanning},
    )
