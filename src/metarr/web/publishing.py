"""Publishing in the UI: the movie page's publish panel (publish, verify, the dry-run
plan) and a library's publishing panel (automation switches, profile, hard links).
The recycle bin and verification pages are in `recycle_bin.py` and `verification.py`.

Every action is a form that works without JavaScript (answered with a redirect); htmx
gets the fragment to swap in, with a toast.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.datastructures import FormData

from metarr.domain.errors import InvalidInput, NotFound
from metarr.jobs import Job
from metarr.services.libraries import Library, LibraryChanges
from metarr.services.publishing import PUBLISH_JOB, VERIFY_JOB, movie_target
from metarr.web.deps import MAX_ID, Services, is_htmx, row_id, services
from metarr.web.rendering import not_found, page_or_fragment, render
from metarr.web.session import require_csrf, require_login

router = APIRouter(include_in_schema=False, dependencies=[Depends(require_login)])
csrf = [Depends(require_csrf)]

PROFILES = (("kodi", "Kodi"), ("jellyfin", "Jellyfin / Emby"))
ACTIONS = ("create", "replace", "remove", "keep")
ACTION_BADGES = {"create": "ok", "replace": "warn", "remove": "err", "keep": "muted"}
REASONS = {
    "create": "Not in the folder yet.",
    "replace": "The file there holds something else; it goes to the recycle bin.",
    "remove": "Metarr wrote it and no longer needs it; it goes to the recycle bin.",
    "keep": "Already holds exactly this: nothing is written.",
}
# What verification can find: (label, badge colour).
FINDINGS = {
    "missing": ("missing", "err"),
    "modified": ("modified", "warn"),
    "wrong_named": ("wrong name", "warn"),
    "unknown": ("unknown file", "muted"),
    "cache_missing": ("cache file missing", "err"),
    "cache_corrupt": ("cache file damaged", "err"),
}


@dataclass(frozen=True, slots=True)
class PlanRow:
    """One path of the plan as the table shows it."""

    path: str
    action: str
    kind: str
    role: str
    reason: str


def query_id(value: str | None) -> int | None:
    """A filter id from a query string or form (anything else: no filter)."""
    if value is None or not value.isdigit() or not 0 < int(value) <= MAX_ID:
        return None
    return int(value)


def form_id(form: FormData, key: str) -> int | None:
    """`query_id` of a form field."""
    value = form.get(key)
    return query_id(value if isinstance(value, str) else None)


def toast(message: str) -> dict[str, Any]:
    """Template context for a success toast (shown out of band)."""
    return {"toast": message}


# -- the movie page ----------------------------------------------------------------------


@router.get("/movies/{movie_id}/publish/plan")
def publish_plan(request: Request, movie_id: int) -> HTMLResponse:
    """The dry run of publishing this movie: each path with what would happen and why."""
    svc = services(request)
    try:
        plan = svc.publishing.plan(row_id(movie_id, "movie"))
        movie = None if is_htmx(request) else svc.browse.movie(movie_id)
    except NotFound:
        return not_found(request, f"There is no movie number {movie_id}.")
    rows = [
        PlanRow(e.path, e.action.value, e.kind.value, e.role, REASONS[e.action.value])
        for e in plan.entries
    ]
    summary = {a: sum(1 for r in rows if r.action == a) for a in ACTIONS}
    context = {
        "movie_id": movie_id,
        "movie": movie,
        "plan": plan,
        "rows": rows,
        "summary": summary,
        "changes": sum(summary[a] for a in ("create", "replace", "remove")),
        "badges": ACTION_BADGES,
        "profile_label": dict(PROFILES).get(plan.profile, plan.profile),
    }
    return page_or_fragment(request, "publish_plan.html", "partials/publish_plan.html", context)


@router.post("/movies/{movie_id}/publish", dependencies=csrf)
def publish_movie(request: Request, movie_id: int) -> Response:
    """Queue publishing this movie; htmx gets a status that follows the job."""
    return _queue_movie_job(request, movie_id, verify=False)


@router.post("/movies/{movie_id}/verify", dependencies=csrf)
def verify_movie(request: Request, movie_id: int) -> Response:
    """Queue verifying this movie's published files."""
    return _queue_movie_job(request, movie_id, verify=True)


def _queue_movie_job(request: Request, movie_id: int, *, verify: bool) -> Response:
    """Queue publishing or verifying the movie; without htmx, go to the job or the findings."""
    svc = services(request)
    enqueue = svc.publishing.verify_movie if verify else svc.publishing.enqueue_movie
    try:
        [job_id] = enqueue(row_id(movie_id, "movie"))
    except NotFound:
        return not_found(request, f"There is no movie number {movie_id}.")
    if not is_htmx(request):
        where = f"/verification?movie={movie_id}" if verify else f"/activity#job-{job_id}"
        return RedirectResponse(where, status_code=303)
    message = f"{'Verification' if verify else 'Publishing'} queued (job {job_id})."
    return _job_status(request, movie_id, svc.jobs.get(job_id), 202, toast(message))


@router.get("/movies/{movie_id}/publish/jobs/{job_id}")
def job_status(request: Request, movie_id: int, job_id: int) -> Response:
    """The status of this movie's publish or verify job (polled by htmx until it ends)."""
    if not is_htmx(request):
        return RedirectResponse(f"/activity#job-{job_id}", status_code=303)
    try:
        job = services(request).jobs.get(row_id(job_id, "job"))
    except NotFound:
        job = None
    if (
        job is None
        or job.type not in (PUBLISH_JOB, VERIFY_JOB)
        or job.target != movie_target(movie_id)
    ):
        return not_found(request, f"There is no publishing job {job_id} of movie {movie_id}.")
    return _job_status(request, movie_id, job, 200, {})


def _job_status(
    request: Request, movie_id: int, job: Job, status_code: int, extra: Mapping[str, Any]
) -> HTMLResponse:
    finished = job.status.is_finished
    context = {"movie_id": movie_id, "job": job, "finished": finished, **extra}
    context["summary"] = _job_summary(job) if finished else None
    # The plan, when shown, reloads itself once the files changed (or were checked).
    headers = {"HX-Trigger": "metarr-published"} if finished else None
    return render(
        request, "partials/publish_status.html", context, status_code=status_code, headers=headers
    )


def _job_summary(job: Job) -> str:
    """One line about a finished publish or verify job."""
    if job.status.value != "succeeded":
        return job.last_error or job.status.value
    result = job.result or {}
    if job.type == VERIFY_JOB:
        stats = result.get("stats") or {}
        found = sum(int(stats.get(kind, 0)) for kind in FINDINGS)
        repaired = int(stats.get("repaired", 0))
        if not found:
            return "Verified: everything matches what was published."
        return f"Verified: {found} finding{'s' if found != 1 else ''}, {repaired} repaired."
    if result.get("skipped"):
        reasons = ", ".join(result.get("skipped_reasons") or {}) or "skipped"
        return f"Not published: {reasons}."
    parts = [f"{result.get(k, 0)} {k}" for k in ("created", "replaced", "removed") if result.get(k)]
    if not parts:
        return "Nothing to write: the folder is up to date."
    return "Published: " + ", ".join(parts) + "."


# -- a library's settings ----------------------------------------------------------------


def _library_panel(
    request: Request,
    svc: Services,
    library: Library,
    *,
    errors: Mapping[str, str] | None = None,
    message: str | None = None,
    status_code: int = 200,
    extra: Mapping[str, Any] | None = None,
) -> HTMLResponse:
    context = {
        "lib": library,
        "settings": svc.publishing.settings(library.id),
        "profiles": PROFILES,
        "errors": errors or {},
        "message": message,
        **(extra or {}),
    }
    return page_or_fragment(
        request,
        "library_publishing.html",
        "partials/library_publishing.html",
        context,
        status_code=status_code,
    )


def _library(svc: Services, library_id: int) -> Library:
    return svc.libraries.get(row_id(library_id, "library"))


@router.get("/libraries/{library_id}/publishing")
def library_publishing(request: Request, library_id: int) -> HTMLResponse:
    """A library's publishing panel: automation switches, profile, hard links, actions."""
    svc = services(request)
    try:
        return _library_panel(request, svc, _library(svc, library_id))
    except NotFound:
        return not_found(request, f"There is no library number {library_id}.")


@router.post("/libraries/{library_id}/publishing", dependencies=csrf)
async def save_library_publishing(request: Request, library_id: int) -> Response:
    """Save the switches and the profile (an unknown profile changes nothing)."""
    svc = services(request)
    form = await request.form()
    profile = form.get("profile")
    try:
        library = _library(svc, library_id)
    except NotFound:
        return not_found(request, f"There is no library number {library_id}.")
    try:
        svc.publishing.update_settings(
            library.id,
            profile=profile if isinstance(profile, str) else None,
            hardlinks=bool(form.get("hardlinks")),
            verify_repair=bool(form.get("verify_repair")),
        )
        library = svc.libraries.update(
            library.id,
            LibraryChanges(
                auto_enrich=bool(form.get("auto_enrich")),
                auto_publish=bool(form.get("auto_publish")),
            ),
        )
    except NotFound:
        return not_found(request, f"There is no library number {library_id}.")
    except InvalidInput as exc:
        return _library_panel(
            request, svc, library, errors={exc.field or "form": str(exc)}, status_code=422
        )
    if not is_htmx(request):
        return RedirectResponse(f"/libraries/{library_id}/publishing", status_code=303)
    return _library_panel(
        request, svc, library, message="Saved.", extra=toast("Publishing settings saved.")
    )


@router.post("/libraries/{library_id}/publish", dependencies=csrf)
def publish_library(request: Request, library_id: int) -> Response:
    """Queue publishing every movie of the library."""
    return _queue_library_job(request, library_id, verify=False)


@router.post("/libraries/{library_id}/verify", dependencies=csrf)
def verify_library(request: Request, library_id: int) -> Response:
    """Queue verifying the library against what was published."""
    return _queue_library_job(request, library_id, verify=True)


def _queue_library_job(request: Request, library_id: int, *, verify: bool) -> Response:
    """Queue publishing or verifying the library; without htmx, go to the job or the findings."""
    svc = services(request)
    enqueue = svc.publishing.verify_library if verify else svc.publishing.enqueue_library
    try:
        library = _library(svc, library_id)
        [job_id] = enqueue(library.id)
    except NotFound:
        return not_found(request, f"There is no library number {library_id}.")
    if not is_htmx(request):
        where = f"/verification?library={library_id}" if verify else f"/activity#job-{job_id}"
        return RedirectResponse(where, status_code=303)
    what = f"Verification of {library.name}" if verify else f"Publishing {library.name}"
    extra = {"job_id": job_id, **toast(f"{what} queued (job {job_id}).")}
    return _library_panel(request, svc, library, extra=extra, status_code=202)
