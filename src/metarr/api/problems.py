"""RFC 9457 problem+json responses and the one place errors are mapped to HTTP."""

from __future__ import annotations

from collections.abc import Sequence
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from metarr.domain.errors import (
    AuthenticationFailed,
    Conflict,
    InvalidInput,
    MetarrError,
    NotFound,
    ServiceUnavailable,
)
from metarr.logs import current_request_id, get_logger

__all__ = [
    "PROBLEM_MEDIA_TYPE",
    "PROBLEM_TYPE_BASE",
    "RETRY_AFTER_SECONDS",
    "install_exception_handlers",
    "internal_error_response",
    "problem_response",
    "status_title",
    "validation_errors",
]

PROBLEM_MEDIA_TYPE = "application/problem+json"
PROBLEM_TYPE_BASE = "https://metarr.invalid/problems/"
# What a 503 tells clients when the error does not say how long to wait.
RETRY_AFTER_SECONDS = 30

log = get_logger("metarr.api")

# Most specific first: FieldLocked is a Conflict, so it needs no entry of its own.
_DOMAIN_STATUS: tuple[tuple[type[MetarrError], int], ...] = (
    (InvalidInput, 422),
    (NotFound, 404),
    (Conflict, 409),
    (ServiceUnavailable, 503),
    (AuthenticationFailed, 401),
)

# Stable codes for errors raised by the framework rather than by our code.
_HTTP_CODES: dict[int, str] = {
    400: "bad_request",
    401: "authentication_failed",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    411: "length_required",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "invalid_input",
    429: "rate_limited",
    500: "internal_error",
    503: "service_unavailable",
}


# RFC 9110 names; Python 3.11's HTTPStatus still has the older phrases for these.
_TITLES: dict[int, str] = {413: "Content Too Large", 422: "Unprocessable Content"}


def status_title(status: int) -> str:
    """The standard reason phrase for an HTTP status, used as the problem `title`."""
    if status in _TITLES:
        return _TITLES[status]
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def problem_response(
    status: int,
    code: str,
    title: str,
    detail: str | None = None,
    *,
    errors: list[dict[str, str]] | None = None,
    headers: dict[str, str] | None = None,
    instance: str | None = None,
    request_id: str | None = None,
) -> JSONResponse:
    """Build an `application/problem+json` response with a stable machine-readable `code`."""
    body: dict[str, Any] = {
        "type": PROBLEM_TYPE_BASE + code,
        "title": title,
        "status": status,
        "code": code,
    }
    if detail is not None:
        body["detail"] = detail
    if instance is not None:
        body["instance"] = instance
    request_id = request_id if request_id is not None else current_request_id()
    if request_id is not None:
        body["request_id"] = request_id
    if errors:
        body["errors"] = errors
    return JSONResponse(body, status_code=status, headers=headers, media_type=PROBLEM_MEDIA_TYPE)


def _request_id(request: Request) -> str | None:
    value = getattr(request.state, "request_id", None)
    return value if isinstance(value, str) else current_request_id()


def validation_errors(raw: Sequence[Any]) -> list[dict[str, str]]:
    """Turn pydantic/FastAPI error dicts into `{field, message, code}` entries (no input echo)."""
    out: list[dict[str, str]] = []
    for err in raw:
        if not isinstance(err, dict):
            continue
        loc = err.get("loc", ())
        field = ".".join(str(part) for part in loc) if isinstance(loc, list | tuple) else str(loc)
        entry = {"field": field, "message": str(err.get("msg", "invalid value"))}
        if isinstance(err.get("type"), str):
            entry["code"] = err["type"]
        out.append(entry)
    return out


def internal_error_response(*, instance: str | None, request_id: str | None) -> JSONResponse:
    """The 500 answer: says nothing about internals, only how to find the log entry."""
    return problem_response(
        500,
        "internal_error",
        "Internal Server Error",
        "An unexpected error occurred; the server log has details for this request id.",
        instance=instance,
        request_id=request_id,
    )


def _domain_status(exc: MetarrError) -> int:
    for cls, status in _DOMAIN_STATUS:
        if isinstance(exc, cls):
            return status
    return 400


async def _handle_domain_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, MetarrError)
    status = _domain_status(exc)
    headers: dict[str, str] | None = None
    errors: list[dict[str, str]] | None = None
    if isinstance(exc, InvalidInput) and exc.field:
        errors = [{"field": exc.field, "message": str(exc), "code": exc.code}]
    if isinstance(exc, ServiceUnavailable):
        retry_after = getattr(exc, "retry_after", None)
        seconds = int(retry_after) if isinstance(retry_after, int | float) else RETRY_AFTER_SECONDS
        headers = {"Retry-After": str(max(seconds, 1))}
        log.warning("service_unavailable", code=exc.code, detail=str(exc))
    elif isinstance(exc, AuthenticationFailed):
        headers = {"WWW-Authenticate": "ApiKey"}
    log.debug("request_failed", status=status, code=exc.code)
    return problem_response(
        status,
        exc.code,
        status_title(status),
        str(exc) or None,
        errors=errors,
        headers=headers,
        instance=request.url.path,
        request_id=_request_id(request),
    )


async def _handle_validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    return problem_response(
        422,
        "invalid_input",
        status_title(422),
        "The request did not pass validation.",
        errors=validation_errors(exc.errors()),
        instance=request.url.path,
        request_id=_request_id(request),
    )


async def _handle_http_exception(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    status = exc.status_code
    title = status_title(status)
    detail = exc.detail if isinstance(exc.detail, str) and exc.detail != title else None
    return problem_response(
        status,
        _HTTP_CODES.get(status, f"http_{status}"),
        title,
        detail,
        headers=dict(exc.headers) if exc.headers else None,
        instance=request.url.path,
        request_id=_request_id(request),
    )


async def _handle_unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.error("unhandled_exception", path=request.url.path, exc_info=exc)
    return internal_error_response(instance=request.url.path, request_id=_request_id(request))


def install_exception_handlers(app: FastAPI) -> None:
    """Answer every error raised by a route (ours or the framework's) with problem+json."""
    app.add_exception_handler(MetarrError, _handle_domain_error)
    app.add_exception_handler(RequestValidationError, _handle_validation_error)
    app.add_exception_handler(StarletteHTTPException, _handle_http_exception)
    # Starlette runs this one outside user middleware; install_middleware() also
    # catches escaped exceptions itself so the 500 still gets request id and headers.
    app.add_exception_handler(Exception, _handle_unexpected)
