"""Log in with the API key, log out."""

from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from metarr.web.deps import services
from metarr.web.rendering import render
from metarr.web.session import (
    clear_session_cookie,
    codec,
    current_session,
    require_csrf,
    require_login,
    safe_next,
    set_session_cookie,
)

router = APIRouter(include_in_schema=False)


def _login_page(
    request: Request, next_url: str, *, error: str | None = None, status_code: int = 200
) -> HTMLResponse:
    session = current_session(request)
    cookie = None
    if session is None:
        # The login form needs a CSRF token too, so even a visitor gets an (anonymous) session.
        session, cookie = codec(request).new(authenticated=False)
        request.state.web_session = session
    response = render(
        request,
        "login.html",
        {"next": next_url, "error": error},
        status_code=status_code,
    )
    if cookie is not None:
        set_session_cookie(request, response, cookie)
    return response


@router.get("/login")
def login_form(request: Request, next: str = "/") -> Response:
    """The login page (already logged in: straight on)."""
    session = current_session(request)
    if session is not None and session.authenticated:
        return RedirectResponse(safe_next(next), status_code=303)
    return _login_page(request, safe_next(next))


@router.post("/login", dependencies=[Depends(require_csrf)])
def login(
    request: Request,
    api_key: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "/",
) -> Response:
    """Check the API key and start a logged-in session."""
    expected = services(request).api_key
    if not api_key or not secrets.compare_digest(api_key.strip().encode(), expected.encode()):
        return _login_page(
            request, safe_next(next), error="That API key is not correct.", status_code=401
        )
    _session, cookie = codec(request).new(authenticated=True)
    response = RedirectResponse(safe_next(next), status_code=303)
    set_session_cookie(request, response, cookie)
    return response


@router.get("/logout", dependencies=[Depends(require_login)])
def logout_form(request: Request) -> HTMLResponse:
    """A page with the log-out button (logging out changes state, so it is a POST)."""
    return render(request, "logout.html")


@router.post("/logout", dependencies=[Depends(require_csrf)])
def logout(request: Request) -> Response:
    """End the session."""
    response = RedirectResponse("/login", status_code=303)
    clear_session_cookie(request, response)
    return response
