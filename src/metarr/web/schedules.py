"""A library's schedule: per task enabled, interval, last and next run, and "run now"."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from metarr.domain.errors import Conflict, InvalidInput, NotFound
from metarr.services.schedules import TASKS
from metarr.web.deps import is_htmx, row_id, services
from metarr.web.libraries import full_library_page
from metarr.web.rendering import not_found, render
from metarr.web.schedule_views import LABELS, schedule_context
from metarr.web.session import require_csrf, require_login

router = APIRouter(include_in_schema=False, dependencies=[Depends(require_login)])
csrf = [Depends(require_csrf)]


def _missing(request: Request, library_id: int) -> HTMLResponse:
    return not_found(request, f"There is no library number {library_id}.")


def _panel(
    request: Request,
    library_id: int,
    *,
    status_code: int = 200,
    toast: str | None = None,
    form: Mapping[str, Any] | None = None,
    errors: Mapping[str, str] | None = None,
) -> HTMLResponse:
    try:
        context = schedule_context(request, library_id, form=form, errors=errors)
    except NotFound:
        return _missing(request, library_id)
    context["toast"] = toast
    return render(request, "partials/schedule_panel.html", context, status_code=status_code)


def _back(library_id: int) -> RedirectResponse:
    return RedirectResponse(f"/libraries/{library_id}#schedule", status_code=303)


def parse_form(form: Mapping[str, Any]) -> dict[str, dict[str, object]]:
    """The form as ScheduleService.update's input: unchecked boxes are `False`.

    An interval that is not a whole number stays a string, so the service refuses it
    with the name of its field.
    """
    changes: dict[str, dict[str, object]] = {}
    for task in TASKS:
        key = f"{task}.interval_hours"
        if key not in form and f"{task}.present" not in form:
            continue
        change: dict[str, object] = {"enabled": bool(form.get(f"{task}.enabled"))}
        if key in form:
            raw = str(form[key]).strip()
            try:
                change["interval_hours"] = int(raw)
            except ValueError:
                change["interval_hours"] = raw
        changes[task] = change
    return changes


@router.get("/libraries/{library_id}/schedule")
def schedule_panel(request: Request, library_id: int) -> Response:
    """The schedule panel (refreshed live when a scheduled job of the library ends)."""
    if not is_htmx(request):
        return _back(library_id)
    return _panel(request, library_id)


@router.post("/libraries/{library_id}/schedule", dependencies=csrf)
async def save_schedule(request: Request, library_id: int) -> Response:
    """Save enabled and intervals; a refused value comes back beside its field (422)."""
    raw = await request.form()
    form = {key: value for key, value in raw.items() if isinstance(value, str)}
    svc = services(request)
    try:
        svc.schedules.update(row_id(library_id, "library"), parse_form(form))
    except NotFound:
        return _missing(request, library_id)
    except InvalidInput as exc:
        field = exc.field or "form"
        if field.split(".")[0] not in TASKS:
            field = "form"
        message = str(exc)
        if field.endswith(".interval_hours") and message.startswith(field):
            message = "Interval" + message[len(field) :]
        if not is_htmx(request):
            return _library_page_with(request, library_id, form, {field: message}, 422)
        return _panel(request, library_id, status_code=422, form=form, errors={field: message})
    if not is_htmx(request):
        return _back(library_id)
    return _panel(request, library_id, toast="Schedule saved.")


@router.post("/libraries/{library_id}/schedule/{task}/run", dependencies=csrf)
def run_task(request: Request, library_id: int, task: str) -> Response:
    """Run a task at once; a task that cannot run comes back as an inline message (409)."""
    svc = services(request)
    if task not in TASKS:
        return not_found(request, f"There is no schedulable task named {task!r}.")
    try:
        run = svc.schedules.run_now(row_id(library_id, "library"), task)
    except NotFound:
        return _missing(request, library_id)
    except Conflict as exc:
        errors = {f"{task}.run": f"{LABELS.get(task, task)} cannot run now: {exc}"}
        if not is_htmx(request):
            return _library_page_with(request, library_id, None, errors, 409)
        return _panel(request, library_id, status_code=409, errors=errors)
    if not is_htmx(request):
        return _back(library_id)
    return _panel(request, library_id, toast=f"Queued (job {run.job_id}).")


def _library_page_with(
    request: Request,
    library_id: int,
    form: Mapping[str, Any] | None,
    errors: Mapping[str, str],
    status_code: int,
) -> HTMLResponse:
    """The library page with the schedule panel showing `errors` (requests without JS)."""
    return full_library_page(
        request, library_id, schedule_form=form, schedule_errors=errors, status_code=status_code
    )
