"""Provider settings saved from the UI/API, enrichment preferences, and usage per hour."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Float, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from metarr.db.tables import Base


class ProviderSettingRow(Base):
    """A provider's saved settings; NULL = not set here (environment or default applies)."""

    __tablename__ = "provider_settings"

    name: Mapped[str] = mapped_column(String(20), primary_key=True)  # tmdb | fanart | omdb
    enabled: Mapped[bool | None] = mapped_column(Boolean)
    api_key: Mapped[str | None] = mapped_column(Text)  # never returned by the API or UI
    language: Mapped[str | None] = mapped_column(String(20))
    region: Mapped[str | None] = mapped_column(String(10))  # "" = explicitly no region
    certification_country: Mapped[str | None] = mapped_column(String(10))
    rate_limit: Mapped[float | None] = mapped_column(Float)
    base_url: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime]


class EnrichmentSettingRow(Base):
    """One enrichment preference as JSON: `field_priorities` or `asset_limits`."""

    __tablename__ = "enrichment_settings"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    value: Mapped[dict[str, Any]] = mapped_column(JSON)
    updated_at: Mapped[datetime]


class ProviderUsageRow(Base):
    """What one provider did in one hour, summed over every Metarr process."""

    __tablename__ = "provider_usage"

    provider: Mapped[str] = mapped_column(String(20), primary_key=True)
    hour: Mapped[datetime] = mapped_column(primary_key=True)  # start of the hour, UTC
    requests: Mapped[int] = mapped_column(Integer)
    rate_limited: Mapped[int] = mapped_column(Integer)
    errors: Mapped[int] = mapped_column(Integer)
    cache_hits: Mapped[int] = mapped_column(Integer)
