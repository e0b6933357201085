"""System: health, version, database, data directory and the API key."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse

from metarr.web.deps import services
from metarr.web.rendering import page_or_fragment
from metarr.web.session import require_login

router = APIRouter(include_in_schema=False, dependencies=[Depends(require_login)])


@router.get("/system")
def system_page(request: Request) -> HTMLResponse:
    """The health report and what this instance runs on."""
    svc = services(request)
    report = svc.health.check()
    database = report.get("checks", {}).get("database", {})
    context = {
        "report": report,
        "backend": database.get("backend", "unknown"),
        "data_dir": svc.settings.data_dir.resolve(),
        "api_key": svc.api_key,
    }
    return page_or_fragment(request, "system.html", "partials/health.html", context)
