"""The dashboard: libraries and their completeness, the queue, players, recent activity."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse

from metarr.services.dashboard import MEASURES
from metarr.web.activity import running_context
from metarr.web.activity_views import library_names
from metarr.web.deps import services
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


@router.get("/")
def dashboard(request: Request) -> HTMLResponse:
    """Everything at a glance; the queue, players and activity update live."""
    svc = services(request)
    players = svc.players.list()
    snapshot = svc.player_monitor.snapshot()
    recent, _total = svc.activity.list(limit=RECENT)
    context = {
        "libraries": svc.dashboard.completeness(),
        "measures": [(m, MEASURE_TITLES[m]) for m in MEASURES],
        "players": players,
        "statuses": {p.id: snapshot[p.id] for p in players if p.id in snapshot},
        "recent": recent,
        "library_names": library_names(svc),
        **running_context(svc),
    }
    return render(request, "dashboard.html", context)
