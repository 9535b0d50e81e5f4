"""One settings object, read from ``CITYSMART_*`` environment variables."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_SECRET_KEY = "change-me-development-only"
EMBEDDED_MQTT_PORT = 18830


class InsecureSettingsError(RuntimeError):
    """Raised when production mode is asked for with development defaults."""


class Settings(BaseSettings):
    """Everything configurable, with safe defaults for the embedded mode."""

    model_config = SettingsConfigDict(env_prefix="CITYSMART_", extra="ignore")

    environment: Literal["development", "production"] = "development"
    data_dir: Path = Path("var")
    database_url: str = ""
    mqtt_url: str = ""
    embedded_mqtt_port: int = EMBEDDED_MQTT_PORT
    mqtt_client_id: str = "citysmart-hub-1"
    # Empty: one worker on a plain subscription, which Mosquitto 2.0 keeps across its own
    # restarts. Set a group (MQTT 5 $share) to split the load over several workers, with a
    # broker that keeps shared subscriptions across restarts (see docs/ingest.md).
    mqtt_share_group: str = ""
    mqtt_session_expiry_s: int = 7 * 24 * 3600
    mqtt_ingest: bool = True
    secret_key: str = DEFAULT_SECRET_KEY
    session_max_age_s: int = 8 * 3600
    api_token_days: int = 90
    max_pack_bytes: int = 1024 * 1024
    max_clock_skew_s: float = 300.0
    timezone: str = "Asia/Seoul"
    ingest_batch_size: int = Field(default=2000, ge=1)
    ingest_batch_wait_s: float = Field(default=0.05, ge=0)
    # NGSI-LD (docs/ngsi-ld.md)
    ngsi_ld_max_limit: int = Field(default=1000, ge=1)
    ngsi_ld_temporal_page_size: int = Field(default=1000, ge=1)
    ngsi_ld_max_body_bytes: int = Field(default=8 * 1024 * 1024, ge=1024)
    # A JSON file mapping @context URLs to local files, loaded at start (offline brokers).
    ngsi_ld_context_preload: Path | None = None
    ngsi_ld_remote_contexts: bool = True
    # The hub's external base URL (https://hub.example.org): hosted @contexts live under it.
    public_url: str = ""
    ngsi_ld_notify_timeout_s: float = Field(default=5.0, gt=0)
    ngsi_ld_notify_attempts: int = Field(default=5, ge=1)
    # Email (core/mail.py): "file" writes .eml files under email_dir (default
    # <data_dir>/mail, the demo's mailbox), "console" logs them, "smtp" sends them.
    email_backend: Literal["console", "file", "smtp"] = "file"
    email_dir: Path | None = None
    email_from: str = "citysmart Sejong <no-reply@citysmart.invalid>"
    smtp_host: str = "localhost"
    smtp_port: int = Field(default=587, ge=1, le=65535)
    smtp_user: str = ""
    smtp_password: str = ""
    smtp_starttls: bool = True
    smtp_timeout_s: float = Field(default=10.0, gt=0)
    # Accounts (portal/account_pages.py): new accounts one address may create per hour.
    signup_limit_per_hour: int = Field(default=5, ge=1)

    @model_validator(mode="after")
    def _fill_defaults(self) -> Settings:
        if not self.database_url:
            self.database_url = f"sqlite:///{self.data_dir / 'citysmart.db'}"
        return self

    @property
    def embedded_mqtt(self) -> bool:
        """Whether the hub runs its own in-process broker (no ``CITYSMART_MQTT_URL``)."""
        return not self.mqtt_url

    @property
    def effective_mqtt_url(self) -> str:
        """The broker the hub connects to, embedded or configured."""
        return self.mqtt_url or f"mqtt://127.0.0.1:{self.embedded_mqtt_port}"

    @property
    def is_sqlite(self) -> bool:
        """Whether the store is the embedded SQLite file."""
        return self.database_url.startswith("sqlite")

    def check_production(self) -> None:
        """Refuse to run in production mode with development defaults."""
        if self.environment != "production":
            return
        problems = []
        if self.secret_key == DEFAULT_SECRET_KEY or len(self.secret_key) < 32:
            problems.append("CITYSMART_SECRET_KEY must be set to a random value of 32+ characters")
        if problems:
            raise InsecureSettingsError("refusing to start in production: " + "; ".join(problems))


@lru_cache
def get_settings() -> Settings:
    """Return the process-wide settings, read once from the environment."""
    return Settings()
