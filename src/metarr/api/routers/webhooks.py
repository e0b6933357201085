"""`/webhooks`: receive Radarr/Sonarr/Lidarr calls; the event log and manager path mappings.

Two routers: `receiver` (the POST endpoints, with their own authentication: API
key or HTTP Basic, as the downloaders offer) and `router` (the event log and the
path mappings, behind the usual API-key dependency).
"""

from __future__ import annotations

import base64
import binascii
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import asdict
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response, status
from pydantic import SecretStr
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from metarr.api.deps import ContainerDep
from metarr.api.problems import problem_response, status_title
from metarr.api.webhook_schemas import (
    InvalidPayload,
    PathMappingIn,
    PathMappingOut,
    WebhookEventDetailOut,
    WebhookEventOut,
    WebhookEventPageOut,
    WebhookResultOut,
    interpret,
    parse_body,
)
from metarr.bootstrap import Container
from metarr.domain.webhooks import PathMapping, WebhookSource
from metarr.services.webhooks import WebhookService

router = APIRouter(prefix="/webhooks", tags=["webhooks"])
receiver = APIRouter(prefix="/webhooks", tags=["webhooks"])

BASIC_CHALLENGE = 'Basic realm="metarr"'


def webhook_service(container: Container) -> WebhookService:
    """The container's webhook service."""
    return container.webhooks


# -- receiving -------------------------------------------------------------------------


def _equal(given: str, expected: str) -> bool:
    return secrets.compare_digest(given.encode(), expected.encode())


def _secret(value: object) -> str | None:
    if isinstance(value, SecretStr):
        value = value.get_secret_value()
    return value if isinstance(value, str) and value else None


def _basic_credentials(header: str | None) -> tuple[str, str] | None:
    if not header:
        return None
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic" or not encoded.strip():
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    user, sep, password = decoded.partition(":")
    return (user, password) if sep else None


def authenticate(request: Request, container: Container) -> None:
    """Accept the API key (header `X-Api-Key` or query `apikey`) or HTTP Basic.

    Basic passes when the password is the API key, or when user and password match
    the configured `webhook_username`/`webhook_password`. Otherwise 401 with a Basic
    challenge, so Radarr/Sonarr users see what to fill in.
    """
    given = request.headers.get("X-Api-Key") or request.query_params.get("apikey")
    if given and _equal(given, container.api_key):
        return
    basic = _basic_credentials(request.headers.get("Authorization"))
    if basic is not None:
        user, password = basic
        if _equal(password, container.api_key):
            return
        settings = container.settings
        want_user = _secret(getattr(settings, "webhook_username", None))
        want_password = _secret(getattr(settings, "webhook_password", None))
        if want_user and want_password:
            # both compared every time: no early exit that times the username
            user_ok = _equal(user, want_user)
            password_ok = _equal(password, want_password)
            if user_ok and password_ok:
                return
    raise StarletteHTTPException(
        status.HTTP_401_UNAUTHORIZED,
        detail="webhook calls need the API key (X-Api-Key header, apikey query or as the "
        "Basic password) or the configured webhook username and password",
        headers={"WWW-Authenticate": BASIC_CHALLENGE},
    )


async def _receive(
    source: WebhookSource, request: Request, container: Container
) -> WebhookResultOut | Response:
    authenticate(request, container)
    service = webhook_service(container)
    body = await request.body()
    remote = request.client.host if request.client else None
    try:
        payload = parse_body(body)
    except InvalidPayload as exc:
        await run_in_threadpool(
            service.reject, source.value, str(exc), remote=remote, body_size=len(body)
        )
        return problem_response(
            400,
            "invalid_payload",
            status_title(400),
            f"{exc}; nothing was stored",
            instance=request.url.path,
        )
    event, problem = interpret(source, payload)
    result = await run_in_threadpool(
        lambda: service.receive(
            source.value, raw=body, payload=payload, event=event, problem=problem, remote=remote
        )
    )
    return WebhookResultOut.model_validate(
        {
            "id": result.id,
            "status": result.status,
            "outcome": result.outcome,
            "actions": list(result.actions),
        }
    )


def _endpoint(
    source: WebhookSource,
) -> Callable[[Request, Container], Awaitable[WebhookResultOut | Response]]:
    async def receive(request: Request, container: ContainerDep) -> WebhookResultOut | Response:
        return await _receive(source, request, container)

    receive.__name__ = f"receive_{source.value}"
    receive.__doc__ = f"Receive a {source.value.capitalize()} webhook call (stored, then handled)."
    return receive


_PROBLEM: dict[str, Any] = {"content": {"application/problem+json": {}}}
for _source in WebhookSource:
    receiver.add_api_route(
        f"/{_source.value}",
        _endpoint(_source),
        methods=["POST"],
        response_model=WebhookResultOut,
        responses={400: _PROBLEM, 401: _PROBLEM},
        summary=f"{_source.value.capitalize()} webhook",
    )


# -- event log -------------------------------------------------------------------------


@router.get("/events")
def list_events(
    container: ContainerDep,
    source: WebhookSource | None = None,
    event_type: Annotated[str | None, Query(max_length=60)] = None,
    status_filter: Annotated[str | None, Query(alias="status", max_length=20)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> WebhookEventPageOut:
    """Received webhook calls, newest first."""
    items, total = webhook_service(container).list_events(
        source.value if source else None, event_type, status_filter, limit, offset
    )
    return WebhookEventPageOut(items=[WebhookEventOut(**asdict(e)) for e in items], total=total)


@router.get("/events/{event_id}")
def get_event(event_id: int, container: ContainerDep) -> WebhookEventDetailOut:
    """One received call with its raw body and what was done about it."""
    return WebhookEventDetailOut(**asdict(webhook_service(container).get_event(event_id)))


# -- manager path mappings -------------------------------------------------------------


def _mapping_out(m: PathMapping) -> PathMappingOut:
    return PathMappingOut(id=m.id, source=m.source, from_path=m.from_path, to_path=m.to_path)


@router.get("/path-mappings")
def list_path_mappings(
    container: ContainerDep, source: WebhookSource | None = None
) -> list[PathMappingOut]:
    """Mappings from a downloader's paths to Metarr's."""
    mappings = webhook_service(container).mappings(source.value if source else None)
    return [_mapping_out(m) for m in mappings]


@router.post("/path-mappings", status_code=status.HTTP_201_CREATED)
def create_path_mapping(body: PathMappingIn, container: ContainerDep) -> PathMappingOut:
    """Add a mapping (`to_path` must be an existing folder here)."""
    service = webhook_service(container)
    return _mapping_out(service.add_mapping(body.source, body.from_path, body.to_path))


@router.delete("/path-mappings/{mapping_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_path_mapping(mapping_id: int, container: ContainerDep) -> Response:
    """Remove a mapping."""
    webhook_service(container).delete_mapping(mapping_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
