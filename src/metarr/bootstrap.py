"""The composition root: settings -> database -> services, built once."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from metarr.db import migrate
from metarr.db.engine import Database, create_db_engine
from metarr.domain.ports import Prober
from metarr.jobs import JobContext, Queue, Registry, Wakeup, Worker
from metarr.jobs.scheduler import Scheduler
from metarr.media.probe import default_prober
from metarr.pipeline import chain
from metarr.pipeline.publish import Publisher
from metarr.pipeline.scan import ScanOptions
from metarr.pipeline.verify import Verifier
from metarr.providers import (
    FileResponseCache,
    ProviderDeps,
    ProviderRuntime,
    default_registry,
)
from metarr.services.activity import ActivityService
from metarr.services.admin import AdminService
from metarr.services.browse import BrowseService
from metarr.services.dashboard import DashboardService
from metarr.services.edit import EditService
from metarr.services.enrichment import EnrichmentService
from metarr.services.event_relay import InboundRelay, OutboundRelay
from metarr.services.events import EventBus, make_event
from metarr.services.health import HealthService
from metarr.services.jobs import JobService
from metarr.services.libraries import LibraryService
from metarr.services.maintenance import MaintenanceService
from metarr.services.player_monitor import PlayerMonitor
from metarr.services.player_sync import PlayerSyncJobs
from metarr.services.players import PlayerService
from metarr.services.providers import ProviderSettingsService
from metarr.services.publishing import PublishingService
from metarr.services.scans import ScanRun, ScanService, library_target
from metarr.services.schedules import ScheduleService
from metarr.services.webhooks import WebhookService
from metarr.settings import Settings
from metarr.storage.cache import ContentCache
from metarr.storage.recycle import RecycleBin

log = logging.getLogger(__name__)


@dataclass(slots=True)
class Container:
    """Everything a running Metarr holds: settings, database and services."""

    settings: Settings
    db: Database
    api_key: str
    api_key_generated: bool
    libraries: LibraryService
    browse: BrowseService
    dashboard: DashboardService
    scans: ScanService
    health: HealthService
    events: EventBus
    registry: Registry
    queue: Queue
    jobs: JobService
    schedules: ScheduleService
    scheduler: Scheduler
    activity: ActivityService
    webhooks: WebhookService
    edit: EditService
    enrichment: EnrichmentService
    providers: ProviderSettingsService
    publishing: PublishingService
    players: PlayerService
    player_sync: PlayerSyncJobs
    player_monitor: PlayerMonitor
    admin: AdminService
    workers: list[Worker] = field(default_factory=list)
    relays: list[InboundRelay | OutboundRelay] = field(default_factory=list)

    def start_workers(self, concurrency: int | None = None) -> Worker:
        """Start an in-process worker running every registered job type."""
        worker = Worker(
            self.db,
            self.registry,
            concurrency=concurrency or max(self.settings.workers, 1),
            queue=self.queue,
            lease_seconds=self.settings.job_lease_seconds,
        )
        worker.start()
        self.workers.append(worker)
        return worker

    def relay_events_out(self, origin: str | None = None) -> OutboundRelay | None:
        """On PostgreSQL, send this process's live events to `metarr serve` (`metarr worker`)."""
        if self.db.backend != "postgresql":
            return None  # on SQLite the workers run inside `metarr serve`
        relay = OutboundRelay(self.db.engine, self.events, origin=origin)
        relay.start()
        self.relays.append(relay)
        return relay

    def relay_events_in(self, origin: str | None = None) -> InboundRelay | None:
        """On PostgreSQL, publish `metarr worker` processes' live events here (`metarr serve`)."""
        if self.db.backend != "postgresql":
            return None
        relay = InboundRelay(self.db.engine, self.events, origin=origin)
        relay.start()
        self.relays.append(relay)
        return relay

    def stop_workers(self, *, graceful: bool = True) -> None:
        """Stop in-process workers; running jobs are interrupted and requeued."""
        for worker in self.workers:
            worker.stop(graceful=graceful, timeout=30)
        self.workers.clear()

    def close(self) -> None:
        """Stop background work and release the database."""
        self.scheduler.stop()
        self.player_monitor.stop()
        self.stop_workers()
        self.players.close()
        self.providers.close()
        self.enrichment.close()
        self.enrichment.runtime.run(self.enrichment.providers.aclose())
        self.enrichment.runtime.close()
        self.queue.close()
        for relay in self.relays:  # after the queue: its last events still go out
            relay.stop()
        self.relays.clear()
        self.db.dispose()


def build(
    settings: Settings, *, prober: Prober | None = None, migrate_db: bool = True
) -> Container:
    """Build the container; migrates the database to the newest schema unless told not to."""
    data_dir = Path(settings.data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    api_key, generated = settings.ensure_api_key()
    db = Database(create_db_engine(settings.resolved_database_url))
    db.wait_until_ready()
    if migrate_db:
        migrate.upgrade(db.engine)
    admin = AdminService(db)
    if settings.admin_username and settings.admin_password:
        # METARR_ADMIN_*: containers start with a login; an existing admin is never replaced
        admin.create_from_preset(
            settings.admin_username, settings.admin_password.get_secret_value()
        )
    libraries = LibraryService(db, data_dir)
    registry = Registry()
    activity = ActivityService(db)
    events = EventBus(stats=lambda: _stats_dict(queue))
    queue = Queue(db, registry=registry, wakeup=Wakeup(), on_event=events.publish_job)

    def after_scan(run: ScanRun) -> None:
        events.publish(make_event("library.changed", library_id=run.library_id, scan_id=run.id))
        ok = run.status == "succeeded"
        counts = ", ".join(
            f"{run.stats.get(k, 0)} {k}" for k in ("added", "updated", "moved", "deleted")
        )
        activity.record(
            "scan.finished" if ok else "scan.failed",
            f"Scan {run.id} {run.status}" + (f": {counts}" if ok else f": {run.error}"),
            level="info" if ok else "error",
            library_id=run.library_id,
            job_id=run.job_id,
            data={"scan_id": run.id, "stats": run.stats},
        )
        if not ok:
            return
        library = libraries.get(run.library_id)
        step = chain.next_phase(
            "scan",
            library_id=library.id,
            switches={"auto_enrich": library.auto_enrich, "auto_publish": library.auto_publish},
            registered=lambda t: t in registry.types,
            scope=run.scope,
        )
        if step is not None:
            queue.enqueue(step.job_type, step.target, step.payload)

    scans = ScanService(
        db,
        libraries,
        prober or default_prober(),
        ScanOptions(
            probe_workers=settings.scan_probe_workers,
            batch_size=settings.scan_batch_size,
            sample_max_bytes=settings.sample_max_bytes,
            grace_days=settings.deleted_grace_days,
        ),
        queue,
        on_finished=after_scan,
        on_progress=lambda run: events.publish(make_event("scan.progress", scan=_scan_dict(run))),
        on_items_changed=lambda library_id, ids: events.publish(
            make_event("item.changed", library_id=library_id, ids=ids, source="scan")
        ),
    )
    scans.register(registry)
    # providers: defaults < METARR_<PROVIDER>_* < the Providers page (no key: provider off)
    provider_runtime = ProviderRuntime()
    provider_settings = ProviderSettingsService(
        db,
        default_registry(),
        ProviderDeps(cache=FileResponseCache(data_dir / "provider-cache")),
        provider_runtime,
    )
    providers = provider_settings.build()
    enrichment = EnrichmentService(
        db,
        queue,
        providers,
        provider_runtime,
        ContentCache(data_dir / "cache"),
        provider_settings.enrich_options(),
    )
    provider_settings.attach(enrichment.enricher)  # saved limits/priorities apply at once
    provider_settings.start()  # usage rows; settings saved by another process
    enrichment.register(registry)  # `identify` and `enrich`; chain.py enqueues after scans
    events.subscribe(lambda event: _record_job_activity(activity, event))
    maintenance = MaintenanceService(db, settings, enrichment.cache)

    # publishing: NFO + artwork into the library, verification, the recycle bin
    recycle = RecycleBin(data_dir / "recycle")
    publisher = Publisher(db, enrichment.cache, recycle)
    publishing = PublishingService(
        db,
        queue,
        libraries,
        publisher,
        Verifier(
            db, enrichment.cache, recycle, enrichment.enricher.fetch_image, publisher.render_nfo
        ),
        recycle,
        registered=lambda t: t in registry.types,
        on_published=lambda library_id, ids: events.publish(
            make_event("item.changed", library_id=library_id, ids=ids, source="publish")
        ),
        retention_days=settings.recycle_retention_days,
    )
    publishing.register(registry)  # `publish`, `verify`; after scans and enrichment per chain.py
    enrichment.after_enrich = publishing.after_enrich

    def cleanup_job(ctx: JobContext) -> dict[str, int]:
        out = maintenance.cleanup(int(ctx.payload["library_id"]), queue)
        return {**out, "recycle_purged": publishing.purge_expired()}

    registry.register("cleanup", cleanup_job, max_attempts=3)

    # players: `sync` jobs after publishing (chain.py), live status while serving
    players = PlayerService(db, queue, retry_seconds=settings.player_retry_seconds)
    player_sync = PlayerSyncJobs(db, queue, players)
    player_sync.register(registry)
    player_monitor = PlayerMonitor(players, events.publish, interval=settings.player_poll_seconds)
    webhooks = WebhookService(db, scans, activity)
    webhooks.on_movie_deleted = player_sync.movie_removed
    schedules = ScheduleService(
        db,
        queue,
        task_runners={
            "file_scan": lambda lib, trig: _scan_job_id(scans.submit(lib, trigger=trig)),
            "provider_update": enrichment.schedule_runner,
            "verification": publishing.schedule_runner,
            "cleanup": lambda lib, _trig: (
                queue.enqueue("cleanup", library_target(lib), {"library_id": lib}).id
            ),
        },
    )
    scheduler = Scheduler(schedules, queue)
    schedules.attach(scheduler)
    return Container(
        settings=settings,
        db=db,
        api_key=api_key,
        api_key_generated=generated,
        libraries=libraries,
        browse=BrowseService(db),
        dashboard=DashboardService(db),
        scans=scans,
        health=HealthService(
            db,
            data_dir,
            providers=lambda: [
                {"name": p.name, "state": p.state.value, "message": p.message}
                for p in providers.statuses()
            ],
        ),
        events=events,
        registry=registry,
        queue=queue,
        jobs=JobService(queue),
        schedules=schedules,
        scheduler=scheduler,
        activity=activity,
        webhooks=webhooks,
        enrichment=enrichment,
        providers=provider_settings,
        publishing=publishing,
        players=players,
        player_sync=player_sync,
        player_monitor=player_monitor,
        admin=admin,
        edit=EditService(
            db,
            on_changed=lambda movie_id: events.publish(
                make_event("item.changed", ids=[movie_id], source="user")
            ),
        ),
    )


def _scan_job_id(run: ScanRun) -> int:
    if run.job_id is None:  # a scan created outside the queue (CLI) is already running
        raise RuntimeError(f"scan {run.id} of library {run.library_id} is already {run.status}")
    return run.job_id


def _stats_dict(queue: Queue) -> dict[str, object]:
    stats = queue.stats()
    return {
        "by_status": dict(stats.by_status),
        "running": stats.running,
        "oldest_queued_age": stats.oldest_queued_age,
    }


def _scan_dict(run: ScanRun) -> dict[str, object]:
    return {
        "id": run.id,
        "library_id": run.library_id,
        "status": run.status,
        "phase": run.phase,
        "progress": run.progress,
        "stats": run.stats,
    }


def _record_job_activity(activity: ActivityService, event: dict[str, Any]) -> None:
    """Activity log entries for scans starting and jobs failing (from queue events)."""
    kind = event.get("type")
    if kind not in ("job.started", "job.failed") or "origin" in event:
        return  # a relayed event was recorded by the process that ran the job
    job = event.get("job") or {}
    target = str(job.get("target", ""))
    library_id = None
    if target.startswith("library:"):
        number = target.removeprefix("library:").split("/", 1)[0]
        library_id = int(number) if number.isdigit() else None
    if kind == "job.started" and job.get("type") == "scan":
        scan_id = (job.get("payload") or {}).get("scan_id")
        where = target.split("/", 1)[1] if "/" in target else ""
        activity.record(
            "scan.started",
            f"Scan {scan_id} started" + (f" for {where}" if where else ""),
            library_id=library_id,
            job_id=job.get("id"),
            data={"scan_id": scan_id, "attempt": job.get("attempts")},
        )
    elif kind == "job.failed":
        activity.record(
            "job.failed",
            f"{job.get('type')} job {job.get('id')} failed: "
            f"{job.get('last_error') or 'unknown error'}",
            level="error",
            library_id=library_id,
            job_id=job.get("id"),
            data={"type": job.get("type"), "attempts": job.get("attempts")},
        )
