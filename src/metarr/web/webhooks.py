"""Webhooks: how to connect Radarr/Sonarr, manager path mappings, and the event log."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from metarr.domain.errors import Conflict, InvalidInput, NotFound
from metarr.domain.webhooks import SOURCES, source_name
from metarr.services.webhooks import STATUSES
from metarr.web.deps import is_htmx, row_id, services
from metarr.web.rendering import not_found, render
from metarr.web.session import require_csrf, require_login

router = APIRouter(include_in_schema=False, dependencies=[Depends(require_login)])
csrf = [Depends(require_csrf)]

EVENTS_PAGE = 25
# Event types Radarr and Sonarr send (the filter accepts any word; these are suggestions).
EVENT_TYPES = (
    "Test",
    "Grab",
    "Download",
    "Rename",
    "MovieAdded",
    "MovieDelete",
    "MovieFileDelete",
    "SeriesAdd",
    "SeriesDelete",
    "EpisodeFileDelete",
    "Health",
    "HealthRestored",
    "ApplicationUpdate",
    "ManualInteractionRequired",
)
_MAPPING_FIELDS = ("source", "from_path", "to_path")
_WORD = re.compile(r"^[A-Za-z0-9_.:-]{1,60}$")


@dataclass(frozen=True, slots=True)
class EventFilters:
    """The event log's query string, read leniently (bad values are dropped)."""

    source: str = ""
    type: str = ""
    status: str = ""
    page: int = 1

    @classmethod
    def parse(cls, params: Mapping[str, str]) -> EventFilters:
        """Read the filters from query parameters."""
        source = params.get("source", "")
        event_type = params.get("type", "").strip()
        status = params.get("status", "")
        page = params.get("page", "1")
        return cls(
            source=source if source in SOURCES else "",
            type=event_type if _WORD.match(event_type) else "",
            status=status if status in STATUSES else "",
            page=max(1, min(int(page), 1_000_000)) if page.isdigit() and len(page) < 8 else 1,
        )

    @property
    def filtered(self) -> bool:
        """True when any filter narrows the log."""
        return bool(self.source or self.type or self.status)

    def url(self, **changes: Any) -> str:
        """The page URL of these filters (with `changes`), empty values left out."""
        f = replace(self, **changes)
        query = {
            k: v for k, v in (("source", f.source), ("type", f.type), ("status", f.status)) if v
        }
        if f.page > 1:
            query["page"] = str(f.page)
        return "/webhooks" + ("?" + urlencode(query) if query else "")


def _events_context(request: Request, filters: EventFilters) -> dict[str, Any]:
    svc = services(request)
    error = None
    try:
        events, total = svc.webhooks.list_events(
            source=filters.source or None,
            event_type=filters.type or None,
            status=filters.status or None,
            limit=EVENTS_PAGE,
            offset=(filters.page - 1) * EVENTS_PAGE,
        )
    except InvalidInput as exc:
        events, total, error = [], 0, str(exc)
    return {
        "filters": filters,
        "events": events,
        "events_total": total,
        "events_pages": max(1, -(-total // EVENTS_PAGE)),
        "events_error": error,
        "source_name": source_name,
    }


def _mappings_context(
    request: Request,
    form: Mapping[str, str] | None = None,
    errors: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    return {
        "mappings": services(request).webhooks.mappings(),
        "form": dict(form or {"source": "radarr"}),
        "errors": dict(errors or {}),
        "sources": SOURCES,
        "source_name": source_name,
    }


def _connect_context(request: Request) -> dict[str, Any]:
    settings = services(request).settings
    origin = str(request.base_url).rstrip("/")
    username = settings.webhook_username
    password = settings.webhook_password
    basic_user = username if username and password and password.get_secret_value() else None
    return {
        "origin": origin,
        "webhook_urls": {s: f"{origin}/api/v1/webhooks/{s}" for s in ("radarr", "sonarr")},
        "basic_user": basic_user,
    }


def _page(
    request: Request,
    *,
    form: Mapping[str, str] | None = None,
    errors: Mapping[str, str] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    filters = EventFilters.parse(request.query_params)
    context = {
        **_connect_context(request),
        **_mappings_context(request, form, errors),
        **_events_context(request, filters),
        "event_types": EVENT_TYPES,
        "statuses": STATUSES,
    }
    return render(request, "webhooks.html", context, status_code=status_code)


@router.get("/webhooks")
def webhooks_page(request: Request) -> HTMLResponse:
    """Connection help, path mappings and the event log; HTMX gets the event log."""
    if not is_htmx(request):
        return _page(request)
    filters = EventFilters.parse(request.query_params)
    headers = {"HX-Push-Url": filters.url()}
    return render(
        request, "partials/webhook_events.html", _events_context(request, filters), headers=headers
    )


@router.post("/webhooks/mappings", dependencies=csrf)
def add_mapping(
    request: Request,
    source: Annotated[str, Form()] = "",
    from_path: Annotated[str, Form()] = "",
    to_path: Annotated[str, Form()] = "",
) -> Response:
    """Add a path mapping; a refused one comes back with the error beside its field."""
    form = {"source": source, "from_path": from_path, "to_path": to_path}
    try:
        mapping = services(request).webhooks.add_mapping(source, from_path, to_path)
    except InvalidInput as exc:
        field = exc.field if exc.field in _MAPPING_FIELDS else "form"
        return _mapping_error(request, form, {field: str(exc)}, 422)
    except Conflict as exc:
        return _mapping_error(request, form, {"from_path": str(exc)}, 409)
    if not is_htmx(request):
        return RedirectResponse("/webhooks#mappings", status_code=303)
    context = _mappings_context(request)
    context["toast"] = (
        f"{source_name(mapping.source)} path {mapping.from_path} now maps to {mapping.to_path}."
    )
    return render(request, "partials/webhook_mappings.html", context, status_code=201)


def _mapping_error(
    request: Request, form: Mapping[str, str], errors: Mapping[str, str], status_code: int
) -> HTMLResponse:
    if not is_htmx(request):
        return _page(request, form=form, errors=errors, status_code=status_code)
    context = _mappings_context(request, form, errors)
    return render(request, "partials/webhook_mappings.html", context, status_code=status_code)


@router.post("/webhooks/mappings/{mapping_id}/delete", dependencies=csrf)
def delete_mapping(request: Request, mapping_id: int) -> Response:
    """Remove a path mapping."""
    try:
        services(request).webhooks.delete_mapping(row_id(mapping_id, "path mapping"))
    except NotFound:
        return not_found(request, f"There is no path mapping number {mapping_id}.")
    if not is_htmx(request):
        return RedirectResponse("/webhooks#mappings", status_code=303)
    context = _mappings_context(request)
    context["toast"] = "Path mapping removed."
    return render(request, "partials/webhook_mappings.html", context)


@router.get("/webhooks/events/{event_id}")
def event_detail(request: Request, event_id: int) -> HTMLResponse:
    """One received call: its outcome, the actions taken and the raw payload."""
    try:
        event = services(request).webhooks.get_event(row_id(event_id, "webhook event"))
    except NotFound:
        return not_found(request, f"There is no webhook event number {event_id}.")
    context = {"event": event, "pretty": pretty_json(event.raw_body), "source_name": source_name}
    return render(request, "webhook_event.html", context)


def pretty_json(raw: str) -> str:
    """The body indented when it is JSON, else as received (the template escapes it)."""
    try:
        return json.dumps(json.loads(raw), indent=2, ensure_ascii=False)
    except ValueError:
        return raw
