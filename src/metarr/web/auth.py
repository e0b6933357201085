"""Log in as the admin, create the admin on first start (setup), log out."""

from __future__ import annotations

import logging
import secrets
from collections.abc import Mapping
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from metarr.domain.errors import Conflict, InvalidInput
from metarr.services.admin import check_password, check_username
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

log = logging.getLogger(__name__)
router = APIRouter(include_in_schema=False)


def _with_next(path: str, next_url: str) -> str:
    return path if next_url == "/" else f"{path}?next={quote(next_url, safe='/')}"


def _anonymous_page(
    request: Request, template: str, context: Mapping[str, Any], *, status_code: int = 200
) -> HTMLResponse:
    """A page with a form for visitors: they get an anonymous session for its CSRF token."""
    session = current_session(request)
    cookie = None
    if session is None:
        session, cookie = codec(request).new(authenticated=False)
        request.state.web_session = session
    response = render(request, template, context, status_code=status_code)
    if cookie is not None:
        set_session_cookie(request, response, cookie)
    return response


def _logged_in(request: Request, next_url: str) -> Response:
    """Start a fresh logged-in session (new id, so no fixation) and go on to `next_url`."""
    stamp = services(request).admin.session_stamp() or ""
    _session, cookie = codec(request).new(authenticated=True, stamp=stamp)
    response = RedirectResponse(next_url, status_code=303)
    set_session_cookie(request, response, cookie)
    return response


@router.get("/login")
def login_form(request: Request, next: str = "/") -> Response:
    """The login page (already logged in: straight on; no admin yet: the setup page)."""
    next_url = safe_next(next)
    session = current_session(request)
    if session is not None and session.authenticated:
        return RedirectResponse(next_url, status_code=303)
    if not services(request).admin.has_admin():
        return RedirectResponse(_with_next("/setup", next_url), status_code=303)
    return _anonymous_page(request, "login.html", {"next": next_url, "username": ""})


@router.post("/login", dependencies=[Depends(require_csrf)])
def login(
    request: Request,
    username: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "/",
) -> Response:
    """Check the admin's username and password and start a logged-in session."""
    next_url = safe_next(next)
    admin = services(request).admin
    if not admin.has_admin():
        return RedirectResponse(_with_next("/setup", next_url), status_code=303)
    if not username.strip() or not password or not admin.verify(username, password):
        client = request.client.host if request.client else "?"
        log.warning("web login refused (from %s)", client)
        return _anonymous_page(
            request,
            "login.html",
            {
                "next": next_url,
                "username": username.strip(),
                "error": "That username or password is not correct.",
            },
            status_code=401,
        )
    return _logged_in(request, next_url)


@router.get("/setup")
def setup_form(request: Request, next: str = "/") -> Response:
    """First start: the form that creates the admin (once one exists: the login page)."""
    next_url = safe_next(next)
    if services(request).admin.has_admin():
        return RedirectResponse(_with_next("/login", next_url), status_code=303)
    return _anonymous_page(request, "setup.html", {"next": next_url, "username": "", "errors": {}})


@router.post("/setup", dependencies=[Depends(require_csrf)])
def setup(
    request: Request,
    username: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
    password_again: Annotated[str, Form()] = "",
    api_key: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "/",
) -> Response:
    """Create the admin (the API key proves this is the owner's install) and log in."""
    container = services(request)
    next_url = safe_next(next)
    if container.admin.has_admin():
        return _setup_refused(request)
    errors: dict[str, str] = {}
    for check, value in ((check_username, username), (check_password, password)):
        try:
            check(value)
        except InvalidInput as exc:
            errors[exc.field or "username"] = str(exc)
    if "password" not in errors and password_again != password:
        errors["password_again"] = "The two passwords are not the same."  # noqa: S105
    key_ok = bool(api_key.strip()) and secrets.compare_digest(
        api_key.strip().encode(), container.api_key.encode()
    )
    if not key_ok:
        errors["api_key"] = "That API key is not correct."
    if not errors:
        try:
            container.admin.create(username, password)
        except InvalidInput as exc:
            errors[exc.field or "username"] = str(exc)
        except Conflict:
            return _setup_refused(request)
    if errors:
        if not key_ok:
            log.warning("admin setup refused: wrong API key")
        return _anonymous_page(
            request,
            "setup.html",
            {"next": next_url, "username": username.strip(), "errors": errors},
            status_code=401 if not key_ok else 422,
        )
    return _logged_in(request, next_url)


def _setup_refused(request: Request) -> HTMLResponse:
    return _anonymous_page(
        request, "setup.html", {"exists": True, "next": "/", "errors": {}}, status_code=409
    )


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
