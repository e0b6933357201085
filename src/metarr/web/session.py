"""UI sessions and CSRF: a signed cookie keyed by the API key, tokens derived from it.

A logged-in cookie carries the admin's password stamp: a new password ends every session.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast
from urllib.parse import urlsplit

from fastapi import Request, Response, WebSocket
from itsdangerous import BadSignature, URLSafeTimedSerializer

from metarr.web.deps import services

SESSION_COOKIE = "metarr_session"
SESSION_MAX_AGE = 14 * 24 * 3600  # seconds
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
_SALT = "metarr.web.session"
_UNREAD = object()  # marks "cookie not read yet" (None means "read: no session")


class LoginRequired(Exception):
    """The request needs a logged-in session; the UI answers with a redirect to /login."""

    def __init__(self, next_url: str) -> None:
        super().__init__("login required")
        self.next_url = next_url


class CsrfRejected(Exception):
    """A state-changing request came without the session's CSRF token (answered with 403)."""


@dataclass(frozen=True, slots=True)
class WebSession:
    """A browser session: anonymous (only on the login page) or logged in."""

    sid: str
    authenticated: bool
    csrf_token: str
    stamp: str = ""  # the admin's password stamp when the session was logged in


class SessionCodec:
    """Signs and reads session cookies; rotating the API key ends every session."""

    def __init__(self, api_key: str) -> None:
        self._key = api_key.encode()
        self._serializer = URLSafeTimedSerializer(api_key, salt=_SALT)

    def new(self, *, authenticated: bool, stamp: str = "") -> tuple[WebSession, str]:
        """A fresh session (new id, so no fixation) and its cookie value."""
        sid = secrets.token_urlsafe(24)
        cookie = self._serializer.dumps({"sid": sid, "auth": authenticated, "stamp": stamp})
        return self._session(sid, authenticated, stamp), cookie

    def load(self, cookie: str | None) -> WebSession | None:
        """The session in a cookie, or None when absent, tampered with or expired."""
        if not cookie:
            return None
        try:
            data: Any = self._serializer.loads(cookie, max_age=SESSION_MAX_AGE)
        except BadSignature:
            return None
        if not isinstance(data, dict):
            return None
        sid, auth, stamp = data.get("sid"), data.get("auth"), data.get("stamp", "")
        if not isinstance(sid, str) or not isinstance(auth, bool) or not isinstance(stamp, str):
            return None
        return self._session(sid, auth, stamp)

    def _session(self, sid: str, authenticated: bool, stamp: str) -> WebSession:
        token = hmac.new(self._key, b"csrf:" + sid.encode(), hashlib.sha256).hexdigest()
        return WebSession(sid=sid, authenticated=authenticated, csrf_token=token, stamp=stamp)


def _still_valid(session: WebSession | None, current_stamp: Callable[[], str | None]) -> bool:
    """False for a logged-in session from before the admin's password last changed."""
    if session is None or not session.authenticated:
        return True
    stamp = current_stamp()
    return stamp is not None and secrets.compare_digest(session.stamp, stamp)


def codec(request: Request) -> SessionCodec:
    """The session codec for this app's API key."""
    return SessionCodec(services(request).api_key)


def current_session(request: Request) -> WebSession | None:
    """The request's session (cached on the request), logged in or not."""
    cached: object = getattr(request.state, "web_session", _UNREAD)
    if cached is not _UNREAD:
        return cast("WebSession | None", cached)
    session = codec(request).load(request.cookies.get(SESSION_COOKIE))
    if not _still_valid(session, services(request).admin.session_stamp):
        session = None
    request.state.web_session = session
    return session


def websocket_session_ok(websocket: WebSocket) -> bool:
    """True when a WebSocket handshake carries a logged-in session cookie from our own pages.

    Browsers send cookies with cross-site WebSocket handshakes too, so the Origin (always
    sent by browsers) must name this host; clients that send no Origin are not browsers.
    """
    origin = websocket.headers.get("origin")
    if (
        origin is not None
        and urlsplit(origin).netloc.lower() != (websocket.headers.get("host") or "").lower()
    ):
        return False
    container = websocket.app.state.container
    session = SessionCodec(container.api_key).load(websocket.cookies.get(SESSION_COOKIE))
    return (
        session is not None
        and session.authenticated
        and _still_valid(session, container.admin.session_stamp)
    )


def set_session_cookie(request: Request, response: Response, cookie: str) -> None:
    """Attach the session cookie: HttpOnly, SameSite=Lax, Secure over https."""
    response.set_cookie(
        SESSION_COOKIE,
        cookie,
        max_age=SESSION_MAX_AGE,
        path="/",
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
    )


def clear_session_cookie(request: Request, response: Response) -> None:
    """Remove the session cookie."""
    response.delete_cookie(
        SESSION_COOKIE,
        path="/",
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
    )


def require_login(request: Request) -> WebSession:
    """Dependency: the logged-in session, else LoginRequired."""
    session = current_session(request)
    if session is None or not session.authenticated:
        target = request.url.path
        if request.url.query:
            target += "?" + request.url.query
        raise LoginRequired(target)
    return session


async def require_csrf(request: Request) -> None:
    """Dependency for POST routes: the session's CSRF token in a header or a form field."""
    session = current_session(request)
    given = request.headers.get(CSRF_HEADER)
    if not given:
        form = await request.form()  # cached by Starlette; Form() parameters still work
        value = form.get(CSRF_FIELD)
        given = value if isinstance(value, str) else None
    if (
        session is None
        or not given
        or not secrets.compare_digest(given.encode(), session.csrf_token.encode())
    ):
        raise CsrfRejected()


def safe_next(url: str | None) -> str:
    """A same-site path to go to after login (never another host)."""
    if not url or not url.startswith("/") or url.startswith("//") or "\\" in url:
        return "/"
    return url
