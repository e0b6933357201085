"""Alembic environment: runs on the engine handed over by metarr.db.migrate."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Engine

import metarr.db.tables_admin
import metarr.db.tables_assets
import metarr.db.tables_events
import metarr.db.tables_players
import metarr.db.tables_providers
import metarr.db.tables_publish
import metarr.db.tables_schedules
import metarr.jobs.tables
from metarr.db.tables import Base

# every table module must be imported, so that autogenerate sees all of the schema
TABLE_MODULES = (
    metarr.db.tables_admin,
    metarr.db.tables_assets,
    metarr.db.tables_events,
    metarr.db.tables_players,
    metarr.db.tables_providers,
    metarr.db.tables_publish,
    metarr.db.tables_schedules,
    metarr.jobs.tables,
)

config = context.config
engine: Engine = config.attributes["engine"]

with engine.begin() as connection:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()
