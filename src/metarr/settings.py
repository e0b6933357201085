"""Deployment settings: typed, validated at start-up, built once in bootstrap."""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Settings from `METARR_*` environment variables (and an optional .env file)."""

    model_config = SettingsConfigDict(env_prefix="METARR_", env_file=None, extra="ignore")

    data_dir: Path = Path("./data")
    database_url: str | None = None
    host: str = "127.0.0.1"
    port: int = Field(default=8787, ge=1, le=65535)
    api_key: SecretStr | None = None
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    log_json_console: bool = False
    # API hardening
    rate_limit_per_minute: int = Field(default=600, ge=1)
    login_attempts_per_minute: int = Field(default=10, ge=1)  # per client, /login and /setup
    max_body_bytes: int = Field(default=1_048_576, ge=1024)
    # webhooks: optional HTTP Basic credentials (Radarr/Sonarr "Username"/"Password")
    webhook_username: str | None = None
    webhook_password: SecretStr | None = None
    # web UI: create the admin account at start-up when there is none (never overwrites one)
    admin_username: str | None = None
    admin_password: SecretStr | None = None
    # jobs
    workers: int = Field(default=2, ge=0, le=64)
    job_retention_days: int = Field(default=14, ge=1)
    job_lease_seconds: float = Field(default=30.0, ge=1.0, le=3600.0)
    # scanning
    scan_probe_workers: int = Field(default=4, ge=1, le=64)
    scan_batch_size: int = Field(default=500, ge=1)
    deleted_grace_days: int = Field(default=30, ge=0)
    sample_max_bytes: int = Field(default=50 * 1024 * 1024, ge=0)
    # publishing: files Metarr replaced or removed stay in data/recycle/ this long
    recycle_retention_days: int = Field(default=30, ge=1)
    # players: status poll interval of `metarr serve` (0 = off), retry delay of a player down
    player_poll_seconds: float = Field(default=10.0, ge=0)
    player_retry_seconds: float = Field(default=30.0, gt=0)

    @field_validator("database_url")
    @classmethod
    def _check_database_url(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        if not value.startswith(("sqlite", "postgresql")):
            raise ValueError("must be a sqlite:/// or postgresql+psycopg:// URL")
        if value.startswith("postgresql://"):
            value = "postgresql+psycopg://" + value.removeprefix("postgresql://")
        return value

    @model_validator(mode="after")
    def _check_admin_preset(self) -> Settings:
        if bool(self.admin_username) != bool(
            self.admin_password and self.admin_password.get_secret_value()
        ):
            raise ValueError("METARR_ADMIN_USERNAME and METARR_ADMIN_PASSWORD go together")
        return self

    @property
    def resolved_database_url(self) -> str:
        """The database URL, defaulting to a SQLite file in the data dir."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'metarr.db').resolve()}"

    def ensure_api_key(self) -> tuple[str, bool]:
        """Return the API key and whether it was generated now (stored in the data dir)."""
        if self.api_key is not None and self.api_key.get_secret_value():
            return self.api_key.get_secret_value(), False
        key_file = self.data_dir / "api_key"
        if key_file.exists():
            stored = key_file.read_text(encoding="utf-8").strip()
            if stored:
                return stored, False
        key = secrets.token_hex(16)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        tmp = key_file.with_suffix(".tmp")
        tmp.write_text(key + "\n", encoding="utf-8")
        tmp.chmod(0o600)
        tmp.replace(key_file)
        return key, True
