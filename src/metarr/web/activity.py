"""Activity: running and queued jobs with live progress, job history, cancel/retry, the log."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from metarr.domain.errors import Conflict, InvalidInput, NotFound
from metarr.web.activity_views import (
    FINISHED,
    HISTORY_PAGE,
    LEVELS,
    LOG_PAGE,
    STAT_STATUSES,
    ActivityFilters,
    JobView,
    history,
    job_view,
    library_names,
    pages,
    running,
)
from metarr.web.deps import Services, is_htmx, row_id, services
from metarr.web.rendering import not_found, render
from metarr.web.session import require_csrf, require_login

router = APIRouter(include_in_schema=False, dependencies=[Depends(require_login)])
csrf = [Depends(require_csrf)]

# Ids of the elements that refresh themselves on live events: their requests must not
# push a URL into the browser history (only filter and page changes do).
_SELF_REFRESH = {"history", "activity-log"}


def running_context(svc: Services) -> dict[str, Any]:
    names = library_names(svc)
    stats = svc.jobs.stats()
    return {
        "running": [job_view(job, names) for job in running(svc)],
        "stats": {status: stats.by_status.get(status, 0) for status in STAT_STATUSES},
    }


def _history_context(svc: Services, filters: ActivityFilters) -> dict[str, Any]:
    names = library_names(svc)
    error = None
    try:
        jobs, total = history(svc, filters)
    except InvalidInput as exc:
        jobs, total, error = [], 0, str(exc)
    return {
        "filters": filters,
        "history": [job_view(job, names) for job in jobs],
        "history_total": total,
        "history_pages": pages(total, HISTORY_PAGE),
        "history_error": error,
    }


def _log_context(svc: Services, filters: ActivityFilters) -> dict[str, Any]:
    log = svc.activity
    error = None
    try:
        items, total = log.list(
            kind=filters.kind or None,
            level=filters.level or None,
            limit=LOG_PAGE,
            offset=(filters.log_page - 1) * LOG_PAGE,
        )
    except InvalidInput as exc:
        items, total, error = [], 0, str(exc)
    return {
        "filters": filters,
        "log_items": list(items),
        "log_total": total,
        "log_pages": pages(total, LOG_PAGE),
        "log_error": error,
        "library_names": library_names(svc),
        "levels": LEVELS,
    }


def _page(request: Request, *, notice: str | None = None, status_code: int = 200) -> HTMLResponse:
    svc = services(request)
    filters = ActivityFilters.parse(request.query_params)
    context: dict[str, Any] = {
        **running_context(svc),
        **_history_context(svc, filters),
        **_log_context(svc, filters),
        "libraries": svc.libraries.list(),
        "job_types": sorted(set(svc.registry.types) | set(svc.jobs.stats().by_type)),
        "finished_statuses": FINISHED,
        "notice": notice,
    }
    return render(request, "activity.html", context, status_code=status_code)


def _push_url(request: Request, filters: ActivityFilters) -> dict[str, str]:
    """Filter and page changes put their tidy URL in the address bar; live refreshes do not."""
    if request.headers.get("HX-Trigger") in _SELF_REFRESH:
        return {}
    return {"HX-Push-Url": filters.url()}


@router.get("/activity")
def activity_page(request: Request) -> HTMLResponse:
    """Running jobs, queue counts, history and the log; HTMX gets the history table."""
    if not is_htmx(request):
        return _page(request)
    filters = ActivityFilters.parse(request.query_params)
    context = _history_context(services(request), filters)
    return render(
        request, "partials/jobs_history.html", context, headers=_push_url(request, filters)
    )


@router.get("/activity/running")
def running_jobs(request: Request) -> HTMLResponse:
    """Running and queued jobs with the queue counts (refreshed on live job events)."""
    if not is_htmx(request):
        return _page(request)
    return render(request, "partials/jobs_running.html", running_context(services(request)))


@router.get("/activity/log")
def log_entries(request: Request) -> HTMLResponse:
    """A page of the activity log, filtered by kind and level."""
    if not is_htmx(request):
        return _page(request)
    svc = services(request)
    filters = ActivityFilters.parse(request.query_params)
    return render(
        request,
        "partials/activity_log.html",
        _log_context(svc, filters),
        headers=_push_url(request, filters),
    )


@router.post("/activity/jobs/{job_id}/cancel", dependencies=csrf)
def cancel_job(request: Request, job_id: int) -> Response:
    """Cancel a queued job, or ask a running one to stop."""
    return _act(request, job_id, "cancel")


@router.post("/activity/jobs/{job_id}/retry", dependencies=csrf)
def retry_job(request: Request, job_id: int) -> Response:
    """Queue a failed or cancelled job again."""
    return _act(request, job_id, "retry")


def _act(request: Request, job_id: int, action: str) -> Response:
    """Run `action` on a job; HTMX gets the job's row back, with a message beside the buttons."""
    svc = services(request)
    try:
        row_id(job_id, "job")
        job = svc.jobs.cancel(job_id) if action == "cancel" else svc.jobs.retry(job_id)
    except NotFound:
        return not_found(request, f"There is no job number {job_id}.")
    except Conflict as exc:
        message = _conflict_message(job_id, action, str(exc))
        if not is_htmx(request):
            return _page(request, notice=message, status_code=409)
        try:
            current = svc.jobs.get(job_id)
        except NotFound:
            return not_found(request, f"There is no job number {job_id}.")
        view = job_view(current, library_names(svc))
        return _row(request, view, message, "err", status_code=409)
    if not is_htmx(request):
        return RedirectResponse("/activity", status_code=303)
    view = job_view(job, library_names(svc))
    if action == "retry":
        message = "Queued again."
    elif view.status == "cancelled":
        message = "Cancelled."
    else:
        message = "Asked to stop; it stops at its next step."
    return _row(request, view, message, "ok", headers={"HX-Trigger": "metarr:changed"})


def _conflict_message(job_id: int, action: str, detail: str) -> str:
    verb = "cancelled" if action == "cancel" else "retried"
    return f"Job {job_id} cannot be {verb}: {detail}."


def _row(
    request: Request,
    view: JobView,
    message: str,
    kind: str,
    *,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
) -> HTMLResponse:
    context = {"v": view, "message": message, "message_kind": kind}
    return render(
        request, "partials/job_row.html", context, status_code=status_code, headers=headers
    )
