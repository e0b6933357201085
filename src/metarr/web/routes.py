"""Wire the web UI into the app: static files, the UI routes and their error pages."""

from __future__ import annotations

from urllib.parse import quote, urlsplit

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from metarr.web import (
    auth,
    dashboard,
    libraries,
    movie_assets,
    movie_edit,
    movies,
    players,
    providers,
    publishing,
    recycle_bin,
    schedules,
    system,
    verification,
    webhooks,
)
from metarr.web.activity import router as activity_router
from metarr.web.deps import is_htmx
from metarr.web.rendering import STATIC_DIR, page_or_fragment
from metarr.web.session import CsrfRejected, LoginRequired, safe_next, websocket_session_ok


def install(app: FastAPI) -> None:
    """Mount `/static` and add the UI pages at `/` (kept out of the OpenAPI schema).

    The live-event WebSocket also accepts the UI session, so pages never hold the API key.
    """
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    app.state.ws_session_check = websocket_session_ok
    app.add_exception_handler(LoginRequired, _login_required)
    app.add_exception_handler(CsrfRejected, _csrf_rejected)
    for router in (
        auth.router,
        dashboard.router,
        libraries.router,
        schedules.router,
        movies.router,
        movie_edit.router,
        movie_assets.router,
        activity_router,
        webhooks.router,
        providers.router,
        players.router,
        publishing.router,
        recycle_bin.router,
        verification.router,
        system.router,
    ):
        app.include_router(router)


def _login_url(next_url: str) -> str:
    next_url = safe_next(next_url)
    return "/login" if next_url == "/" else "/login?next=" + quote(next_url, safe="/")


async def _login_required(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, LoginRequired)
    if is_htmx(request):
        # A fragment cannot show the login page: htmx loads it as a whole page instead.
        current = urlsplit(request.headers.get("HX-Current-URL", ""))
        next_url = current.path + ("?" + current.query if current.query else "")
        return Response(
            status_code=401,
            headers={"HX-Redirect": _login_url(next_url), "Vary": "HX-Request"},
        )
    return RedirectResponse(_login_url(exc.next_url), status_code=303)


async def _csrf_rejected(request: Request, exc: Exception) -> HTMLResponse:
    message = (
        "The form was missing its security token, or the token was wrong. "
        "Reload the page and try again."
    )
    return page_or_fragment(
        request, "forbidden.html", "partials/error.html", {"message": message}, status_code=403
    )
