"""All the SQL of provider settings, enrichment preferences and provider usage."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, delete, func, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from metarr.db.tables import Base
from metarr.db.tables_providers import EnrichmentSettingRow, ProviderSettingRow, ProviderUsageRow

_tables = Base.metadata.tables
SETTINGS = _tables[ProviderSettingRow.__tablename__]
PREFERENCES = _tables[EnrichmentSettingRow.__tablename__]
USAGE = _tables[ProviderUsageRow.__tablename__]

# Counters of `provider_usage`, in this order wherever counts travel as tuples.
USAGE_COLUMNS = ("requests", "rate_limited", "errors", "cache_hits")
# Columns of `provider_settings` a person may set (NULL = not set here).
SETTING_COLUMNS = (
    "enabled",
    "api_key",
    "language",
    "region",
    "certification_country",
    "rate_limit",
    "base_url",
)


def load_settings(conn: Connection) -> dict[str, dict[str, Any]]:
    """Saved settings by provider name: every column, NULLs included, plus `updated_at`."""
    out: dict[str, dict[str, Any]] = {}
    for row in conn.execute(select(SETTINGS)).mappings():
        out[row["name"]] = {c: row[c] for c in (*SETTING_COLUMNS, "updated_at")}
    return out


def save_settings(conn: Connection, name: str, values: Mapping[str, Any], now: datetime) -> None:
    """Set some columns of provider `name` (None clears an override); creates the row."""
    changes = {k: v for k, v in values.items() if k in SETTING_COLUMNS}
    done = conn.execute(
        update(SETTINGS).where(SETTINGS.c.name == name).values(**changes, updated_at=now)
    )
    if done.rowcount == 0:
        conn.execute(insert(SETTINGS).values(name=name, **changes, updated_at=now))


def settings_version(conn: Connection) -> tuple[Any, ...]:
    """Something that changes whenever any setting or preference is saved."""
    newest = conn.execute(select(func.max(SETTINGS.c.updated_at), func.count())).one()
    prefs = conn.execute(select(func.max(PREFERENCES.c.updated_at), func.count())).one()
    return (*newest, *prefs)


def load_preference(conn: Connection, name: str) -> dict[str, Any] | None:
    """A saved enrichment preference (`field_priorities`, `asset_limits`), or None."""
    value = conn.scalar(select(PREFERENCES.c.value).where(PREFERENCES.c.name == name))
    return dict(value) if isinstance(value, dict) else None


def save_preference(conn: Connection, name: str, value: Mapping[str, Any], now: datetime) -> None:
    """Replace a preference (an empty mapping removes it: defaults apply again)."""
    if not value:
        conn.execute(delete(PREFERENCES).where(PREFERENCES.c.name == name))
        return
    done = conn.execute(
        update(PREFERENCES)
        .where(PREFERENCES.c.name == name)
        .values(value=dict(value), updated_at=now)
    )
    if done.rowcount == 0:
        conn.execute(insert(PREFERENCES).values(name=name, value=dict(value), updated_at=now))


def hour_start(epoch_hour: int) -> datetime:
    """An hour bucket (epoch seconds) as an aware datetime."""
    return datetime.fromtimestamp(epoch_hour, UTC)


def add_usage(conn: Connection, provider: str, hour: datetime, counts: Mapping[str, int]) -> None:
    """Add `counts` (by USAGE_COLUMNS name) to the hour's row, creating it (one statement,
    so processes adding to the same hour at once do not collide)."""
    values = {k: int(counts.get(k, 0)) for k in USAGE_COLUMNS}
    upsert = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
    stmt = upsert(USAGE).values(provider=provider, hour=hour, **values)
    conn.execute(
        stmt.on_conflict_do_update(
            index_elements=[USAGE.c.provider, USAGE.c.hour],
            set_={k: USAGE.c[k] + stmt.excluded[k] for k in USAGE_COLUMNS},
        )
    )


def usage_since(conn: Connection, since: datetime) -> dict[str, dict[str, int]]:
    """Summed usage per provider (by USAGE_COLUMNS name) from hour `since` on."""
    rows = conn.execute(
        select(USAGE.c.provider, *(func.sum(USAGE.c[k]) for k in USAGE_COLUMNS))
        .where(USAGE.c.hour >= since)
        .group_by(USAGE.c.provider)
    ).all()
    return {r[0]: {k: int(v or 0) for k, v in zip(USAGE_COLUMNS, r[1:], strict=True)} for r in rows}


def purge_usage(conn: Connection, before: datetime) -> int:
    """Forget usage older than `before`; returns rows removed."""
    return int(conn.execute(delete(USAGE).where(USAGE.c.hour < before)).rowcount or 0)
