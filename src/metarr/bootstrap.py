"""The composition root: settings -> database -> services, built once."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

from metarr.db import migrate
from metarr.db.engine import Database, create_db_engine
from metarr.domain.ports import Prober
from metarr.media.probe import default_prober
from metarr.pipeline.scan import ScanOptions
from metarr.services.browse import BrowseService
from metarr.services.health import HealthService
from metarr.services.libraries import LibraryService
from metarr.services.scans import ScanService
from metarr.settings import Settings

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
    scans: ScanService
    health: HealthService
    extras: dict[str, object] = field(default_factory=dict)

    def close(self) -> None:
        """Stop background work and release the database."""
        self.scans.shutdown()
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
    libraries = LibraryService(db, data_dir)
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
    )
    return Container(
        settings=settings,
        db=db,
        api_key=api_key,
        api_key_generated=generated,
        libraries=libraries,
        browse=BrowseService(db),
        scans=scans,
        health=HealthService(db, data_dir),
    )
