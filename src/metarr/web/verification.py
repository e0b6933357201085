"""The verification report: the newest runs, what they found and what was repaired,
and "verify now" for a library (the list follows the job until the run is there)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from metarr.domain.errors import NotFound
from metarr.jobs import Job
from metarr.web.deps import is_htmx, services
from metarr.web.publishing import FINDINGS, form_id, query_id, toast
from metarr.web.rendering import page_or_fragment
from metarr.web.session import require_csrf, require_login

router = APIRouter(include_in_schema=False, dependencies=[Depends(require_login)])
csrf = [Depends(require_csrf)]

RUNS = 10


def _runs(
    request: Request,
    library_id: int | None,
    movie_id: int | None,
    *,
    wait: Job | None = None,
    status_code: int = 200,
    extra: Mapping[str, Any] | None = None,
) -> HTMLResponse:
    svc = services(request)
    runs = svc.publishing.verification(library_id=library_id, movie_id=movie_id, limit=RUNS)
    libraries = svc.libraries.list()
    context = {
        "runs": runs,
        "library_id": library_id,
        "movie_id": movie_id,
        "libraries": libraries,
        "library_names": {lib.id: lib.name for lib in libraries},
        "findings": FINDINGS,
        "wait": wait if wait is not None and not wait.status.is_finished else None,
        **(extra or {}),
    }
    return page_or_fragment(
        request,
        "verification.html",
        "partials/verification_runs.html",
        context,
        status_code=status_code,
    )


@router.get("/verification")
def verification(request: Request) -> HTMLResponse:
    """The newest verification runs: what was found and what was repaired."""
    params = request.query_params
    wait = None
    wait_id = query_id(params.get("wait"))
    if wait_id is not None:
        try:
            wait = services(request).jobs.get(wait_id)
        except NotFound:
            wait = None
    return _runs(request, query_id(params.get("library")), query_id(params.get("movie")), wait=wait)


@router.post("/verification", dependencies=csrf)
async def verify_now(request: Request) -> Response:
    """Queue verification of the chosen library; htmx watches the job and shows the run."""
    svc = services(request)
    form = await request.form()
    library_id = form_id(form, "library")
    if library_id is None:
        return _runs(
            request, None, None, status_code=422, extra={"error": "Choose a library to verify."}
        )
    try:
        [job_id] = svc.publishing.verify_library(library_id)
    except NotFound:
        return _runs(
            request,
            None,
            None,
            status_code=404,
            extra={"error": f"There is no library number {library_id}."},
        )
    if not is_htmx(request):
        return RedirectResponse(f"/verification?library={library_id}", status_code=303)
    return _runs(
        request,
        library_id,
        None,
        wait=svc.jobs.get(job_id),
        status_code=202,
        extra=toast(f"Verification queued (job {job_id})."),
    )
