"""The FastAPI application factory: API under /api/v1, web UI at /."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import APIRouter, Depends, FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse

from metarr import __version__
from metarr.api.deps import require_api_key
from metarr.api.middleware import install_middleware
from metarr.api.problems import install_exception_handlers
from metarr.api.routers import (
    activity,
    enrichment,
    health,
    jobs,
    libraries,
    movies,
    players,
    providers,
    publishing,
    scans,
    schedules,
    webhooks,
    ws,
)
from metarr.bootstrap import Container

log = logging.getLogger(__name__)

API_PREFIX = "/api/v1"


def create_app(
    container: Container,
    *,
    close_on_shutdown: bool = True,
    start_workers: bool = True,
    start_scheduler: bool = True,
    start_player_monitor: bool = False,
) -> FastAPI:
    """Build the ASGI app around an already-built container."""

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        if start_workers and container.settings.workers > 0:
            container.start_workers()
        if start_scheduler:
            container.scheduler.start()
        if start_player_monitor:  # `metarr serve`; tests ask for it when they need it
            container.player_monitor.start()
        try:
            yield
        finally:
            container.player_monitor.stop()
            container.scheduler.stop()
            container.stop_workers()
            if close_on_shutdown:
                container.close()

    app = FastAPI(
        title="Metarr",
        version=__version__,
        openapi_url=f"{API_PREFIX}/openapi.json",
        docs_url=None,  # served below from vendored files: no CDN, works offline
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.container = container
    install_exception_handlers(app)
    # artwork uploads may be larger than the API's default body limit
    install_middleware(
        app, container.settings, body_limit_overrides={f"{API_PREFIX}/movies/": 50 * 1024 * 1024}
    )

    @app.get(f"{API_PREFIX}/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        """Swagger UI for the OpenAPI schema, from the vendored swagger-ui-dist."""
        return get_swagger_ui_html(
            openapi_url=f"{API_PREFIX}/openapi.json",
            title="Metarr API",
            swagger_js_url="/static/vendor/swagger-ui/swagger-ui-bundle.js",
            swagger_css_url="/static/vendor/swagger-ui/swagger-ui.css",
            swagger_favicon_url="/static/vendor/swagger-ui/favicon-32x32.png",
        )

    api = APIRouter(prefix=API_PREFIX)
    api.include_router(health.router)
    api.include_router(webhooks.receiver)  # its own auth: API key or HTTP Basic
    protected = APIRouter(dependencies=[Depends(require_api_key)])
    protected.include_router(libraries.router)
    protected.include_router(scans.router)
    protected.include_router(movies.router)
    protected.include_router(jobs.router)
    protected.include_router(schedules.router)
    protected.include_router(webhooks.router)
    protected.include_router(activity.router)
    protected.include_router(enrichment.router)
    protected.include_router(providers.router)
    protected.include_router(publishing.router)
    protected.include_router(players.router)
    api.include_router(protected)
    api.include_router(ws.router)  # authenticates the websocket itself
    app.include_router(api)

    from metarr.web import routes as web_routes

    web_routes.install(app)
    return app
