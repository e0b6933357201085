"""What the web routes need from a request: the services and whether HTMX asked."""

from __future__ import annotations

from typing import Protocol

from fastapi import Request

from metarr.domain.errors import NotFound
from metarr.jobs import Registry
from metarr.services.activity import ActivityService
from metarr.services.admin import AdminService
from metarr.services.browse import BrowseService
from metarr.services.dashboard import DashboardService
from metarr.services.edit import EditService
from metarr.services.enrichment import EnrichmentService
from metarr.services.health import HealthService
from metarr.services.jobs import JobService
from metarr.services.libraries import LibraryService
from metarr.services.player_monitor import PlayerMonitor
from metarr.services.player_sync import PlayerSyncJobs
from metarr.services.players import PlayerService
from metarr.services.providers import ProviderSettingsService
from metarr.services.publishing import PublishingService
from metarr.services.scans import ScanService
from metarr.services.schedules import ScheduleService
from metarr.services.webhooks import WebhookService
from metarr.settings import Settings

# Row ids are 64-bit; a larger number in a URL names nothing (and must not reach the driver).
MAX_ID = 2**63 - 1


def row_id(value: int, what: str) -> int:
    """`value` when it can be a row id, else NotFound (as for any id that does not exist)."""
    if not 0 < value <= MAX_ID:
        raise NotFound(f"{what} {value} does not exist")
    return value


class Services(Protocol):
    """The part of the application container the web UI uses."""

    settings: Settings
    api_key: str
    libraries: LibraryService
    browse: BrowseService
    dashboard: DashboardService
    edit: EditService
    enrichment: EnrichmentService
    scans: ScanService
    health: HealthService
    jobs: JobService
    schedules: ScheduleService
    webhooks: WebhookService
    registry: Registry
    providers: ProviderSettingsService
    activity: ActivityService
    players: PlayerService
    player_sync: PlayerSyncJobs
    player_monitor: PlayerMonitor
    publishing: PublishingService
    admin: AdminService


def services(request: Request) -> Services:
    """The container the app was built with (the web layer never imports bootstrap)."""
    container: Services = request.app.state.container
    return container


def is_htmx(request: Request) -> bool:
    """True for an HTMX request that wants a fragment (not a boosted or history-restore load)."""
    headers = request.headers
    return (
        headers.get("HX-Request") == "true"
        and headers.get("HX-Boosted") != "true"
        and headers.get("HX-History-Restore-Request") != "true"
    )
