"""FastAPI dependencies: the container and API-key authentication."""

from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import Depends, Header, Path, Query, Request

from metarr.bootstrap import Container
from metarr.domain.errors import AuthenticationFailed


def get_container(request: Request) -> Container:
    """The container the app was built with."""
    container: Container = request.app.state.container
    return container


def require_api_key(
    request: Request,
    x_api_key: Annotated[str | None, Header(alias="X-Api-Key")] = None,
    apikey: Annotated[str | None, Query(include_in_schema=False)] = None,
) -> None:
    """Reject requests without the right API key (header `X-Api-Key` or query `apikey`)."""
    expected = get_container(request).api_key
    given = x_api_key or apikey
    if not given or not secrets.compare_digest(given.encode(), expected.encode()):
        raise AuthenticationFailed("a valid API key is required (X-Api-Key header or apikey)")


ContainerDep = Annotated[Container, Depends(get_container)]

# Ids are database integers: bounding them turns `/movies/99999999999999999999` into a
# 422 instead of an integer overflow deep in the driver.
MAX_ID = 2**31 - 1
PathId = Annotated[int, Path(ge=1, le=MAX_ID)]
QueryId = Annotated[int | None, Query(ge=1, le=MAX_ID)]
