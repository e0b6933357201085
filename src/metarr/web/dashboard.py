"""The dashboard: libraries and their completeness, the queue, players, recent activity."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse

from metarr.services.dashboard import MEASURES
from metarr.web.activity import running_context
from metarr.web.deps import Services, services
from metarr.web.rendering import render
from metarr.web.session import require_login

router = APIRouter(include_in_schema=False, dependencies=[Depends(require_login)])

RECENT = 8  # activity entries shown
MEASURE_TITLES = {
    "identified": "Identified",
    "plot": "Plot",
    "poster": "Poster",
    "fanart": "Fanart",
    "published": "Published",
}


def _libraries(svc: Services) -> dict[str, Any]:
    return {
        "libraries": svc.dashboard.completeness(),
        "measures": [(m, MEASURE_TITLES[m]) for m in MEASURES],
    }


def _activity(svc: Services) -> dict[str, Any]:
    recent, _total = svc.activity.list(limit=RECENT)
    return {"recent": recent}


@router.get("/")
def dashboard(request: Request) -> HTMLResponse:
    """Everything at a glance; every panel updates live."""
    svc = services(request)
    players = svc.players.list()
    snapshot = svc.player_monitor.snapshot()
    context = {
        **_libraries(svc),
        **_activity(svc),
        **running_context(svc),
        "players": players,
        "statuses": {p.id: snapshot[p.id] for p in players if p.id in snapshot},
    }
    return render(request, "dashboard.html", context)


@router.get("/dashboard/libraries")
def libraries_panel(request: Request) -> HTMLResponse:
    """The completeness panel (refreshed when jobs finish)."""
    return render(request, "partials/dashboard_libraries.html", _libraries(services(request)))


@router.get("/dashboard/activity")
def activity_panel(request: Request) -> HTMLResponse:
    """The recent activity panel (refreshed when jobs finish)."""
    return render(request, "partials/dashboard_activity.html", _activity(services(request)))
