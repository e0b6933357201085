"""`/activity`: the user-facing history of what happened and why."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel

from metarr.api.deps import ContainerDep
from metarr.bootstrap import Container
from metarr.services.activity import ActivityService

router = APIRouter(prefix="/activity", tags=["activity"])


class ActivityOut(BaseModel):
    """One activity entry."""

    id: int
    created_at: datetime
    kind: str
    level: Literal["info", "warning", "error"]
    message: str
    library_id: int | None
    movie_id: int | None
    job_id: int | None
    data: dict[str, Any]


class ActivityPageOut(BaseModel):
    """A page of activity, newest first."""

    items: list[ActivityOut]
    total: int


def activity_service(container: Container) -> ActivityService:
    """The container's activity service."""
    return container.activity


@router.get("")
def list_activity(
    container: ContainerDep,
    kind: Annotated[str | None, Query(max_length=60)] = None,
    level: Literal["info", "warning", "error"] | None = None,
    library_id: int | None = None,
    since: datetime | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> ActivityPageOut:
    """Activity entries, newest first (`kind=webhook` matches every `webhook.*` kind)."""
    items, total = activity_service(container).list(
        kind=kind, level=level, library_id=library_id, since=since, limit=limit, offset=offset
    )
    return ActivityPageOut(items=[ActivityOut(**asdict(a)) for a in items], total=total)
