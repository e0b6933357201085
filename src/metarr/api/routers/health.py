"""`/health`: open to monitoring, no API key."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from metarr.api.deps import ContainerDep

router = APIRouter(tags=["system"])


@router.get("/health")
def health(container: ContainerDep) -> JSONResponse:
    """Database and data-directory health; 503 when degraded."""
    report: dict[str, Any] = container.health.check()
    return JSONResponse(report, status_code=200 if report["status"] == "ok" else 503)
