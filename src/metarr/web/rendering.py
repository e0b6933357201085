"""Templates: the Jinja2 environment, display filters, and page-or-fragment responses."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path, PurePath
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from markupsafe import Markup, escape
from starlette.templating import Jinja2Templates

from metarr import __version__
from metarr.web.deps import is_htmx
from metarr.web.session import CSRF_FIELD, current_session

TEMPLATE_DIR = Path(__file__).parent / "templates"
STATIC_DIR = Path(__file__).parent / "static"

# UI pages hold CSRF tokens (and the system page the API key): never cache them,
# and keep fragment and full-page answers of the same URL apart.
_NO_STORE = {"Cache-Control": "no-store", "Vary": "HX-Request"}

_BADGES = {
    "identified": "ok",
    "succeeded": "ok",
    "ok": "ok",
    "unidentified": "muted",
    "needs_review": "warn",
    "degraded": "warn",
    "queued": "info",
    "running": "info",
    "retry_scheduled": "warn",
    "cancelled": "muted",
    "failed": "err",
    "error": "err",
    "unreadable": "warn",
    "processed": "ok",
    "received": "info",
    "ignored": "muted",
}


def filesize(value: int | None) -> str:
    """Bytes as a human-readable size (binary units, like file managers)."""
    if value is None:
        return "—"
    size = float(value)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if size < 1024 or unit == "TiB":
            return f"{int(size)} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    raise AssertionError("unreachable")


def when(value: datetime | None) -> str:
    """A timestamp to the minute, in UTC."""
    if value is None:
        return "—"
    return value.strftime("%Y-%m-%d %H:%M")


def duration(seconds: float | None) -> str:
    """Seconds as h:mm:ss."""
    if seconds is None:
        return "—"
    total = round(seconds)
    hours, rest = divmod(total, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}"


def badge(status: str | None) -> str:
    """The badge colour class of a status word."""
    return _BADGES.get(status or "", "muted")


def humanize(word: str | None) -> str:
    """`needs_review` -> `needs review`."""
    return (word or "").replace("_", " ")


def basename(path: str | None) -> str:
    """The last component of a path."""
    return PurePath(path).name if path else ""


def relpath(path: str | None, base: str | None) -> str:
    """A file's path relative to its movie folder when inside it, else unchanged."""
    if not path:
        return ""
    if base:
        try:
            return str(PurePath(path).relative_to(base))
        except ValueError:
            pass
    return path


def breakable(path: str | None) -> Markup:
    """A path that may wrap after each slash (escaped, with <wbr> hints)."""
    parts = (path or "").split("/")
    return Markup("/<wbr>").join(escape(part) for part in parts)


def history_value(value: Any) -> str:
    """A value of the movie history as one line of text (lists joined, objects as JSON)."""
    if value is None:
        return "∅"
    if isinstance(value, bool):
        return "locked" if value else "unlocked"
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return ", ".join(value) or "∅"
    if isinstance(value, list | dict):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


_LAYOUTS = {1: "1.0", 2: "2.0", 3: "2.1", 6: "5.1", 7: "6.1", 8: "7.1"}


def channels(count: int | None) -> str:
    """An audio channel count the way players label it (6 -> 5.1)."""
    if not count:
        return ""
    return _LAYOUTS.get(count, str(count))


def _common(request: Request) -> dict[str, Any]:
    session = current_session(request)
    return {
        "version": __version__,
        "csrf_token": session.csrf_token if session else "",
        "csrf_field": CSRF_FIELD,
        "logged_in": bool(session and session.authenticated),
        "htmx": is_htmx(request),
    }


templates = Jinja2Templates(directory=TEMPLATE_DIR, context_processors=[_common])
templates.env.filters.update(
    filesize=filesize,
    when=when,
    duration=duration,
    badge=badge,
    humanize=humanize,
    basename=basename,
    relpath=relpath,
    channels=channels,
    breakable=breakable,
    history_value=history_value,
)
templates.env.trim_blocks = True
templates.env.lstrip_blocks = True


def render(
    request: Request,
    template: str,
    context: Mapping[str, Any] | None = None,
    *,
    status_code: int = 200,
    headers: Mapping[str, str] | None = None,
) -> HTMLResponse:
    """Render one template as an uncached HTML response."""
    return templates.TemplateResponse(
        request,
        template,
        dict(context or {}),
        status_code=status_code,
        headers={**_NO_STORE, **(headers or {})},
    )


def page_or_fragment(
    request: Request,
    page: str,
    fragment: str,
    context: Mapping[str, Any] | None = None,
    *,
    status_code: int = 200,
) -> HTMLResponse:
    """The fragment for an HTMX request, the full page otherwise."""
    template = fragment if is_htmx(request) else page
    return render(request, template, context, status_code=status_code)


def not_found(request: Request, message: str) -> HTMLResponse:
    """The friendly 404 page (or fragment)."""
    return page_or_fragment(
        request, "not_found.html", "partials/error.html", {"message": message}, status_code=404
    )
