"""Settings from `PORTAL_*` environment variables (pydantic-settings)."""

import secrets
from functools import lru_cache
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo

from pydantic import AliasChoices, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

VAR_DIR = Path("var")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PORTAL_", env_file=".env", extra="ignore")

    environment: Literal["development", "test", "production"] = "development"
    database_url: str = f"sqlite:///{VAR_DIR / 'portal.db'}"
    secret_key: SecretStr | None = None
    timezone: str = "America/Chicago"
    consortium_name: str = "CARLI I-Share"
    alma_code_prefix: str = "01CARLI_"
    access_token_minutes: int = Field(default=60, ge=1, le=24 * 60)
    max_body_bytes: int = 1024 * 1024
    login_max_failures_per_account: int = 5
    login_max_failures_per_address: int = 20
    login_failure_window_seconds: int = 15 * 60  # the longest sign-in delay; quiet this long: reset
    login_delay_seconds: float = Field(default=2, gt=0)  # the first delay; it doubles per failure
    # Proxies whose `X-Forwarded-For` names the client: addresses or networks, comma-separated
    # (e.g. "10.0.0.0/8,127.0.0.1"). Without one the direct peer is the client.
    trusted_proxies: str = ""
    password_reset_minutes: int = Field(default=60, ge=5)
    log_level: str = "INFO"
    # E-mail (app/notify): no SMTP URL means mail is rendered and kept as "sent mail" only.
    smtp_url: SecretStr | None = None  # smtp://user:pass@host:587?starttls=1, smtps://host:465
    smtp_timeout_seconds: float = Field(default=30, gt=0)
    mail_from: str = "Liaison Portal <portal@liaison-portal.invalid>"
    # The portal's public address: every absolute URL (e-mail links, `Link`, Atom, iCalendar)
    # is built from it, never from the request's Host header.
    base_url: str = Field(
        default="http://127.0.0.1:8000",
        validation_alias=AliasChoices("PORTAL_BASE_URL", "PORTAL_PORTAL_URL"),
    )
    public_api_docs: bool = False  # production: /docs and /openapi.json without signing in
    outbox_max_attempts: int = Field(default=8, ge=1)
    outbox_backoff_seconds: float = Field(default=30, gt=0)  # doubles per attempt, with jitter
    outbox_lease_seconds: int = Field(default=300, ge=10)  # a dead worker's rows return after it
    outbox_batch_size: int = Field(default=50, ge=1, le=1000)
    outbox_poll_seconds: float = Field(default=2, gt=0)
    worker_in_process: bool | None = None  # `portal serve` runs the worker; None: on for SQLite
    # Webhooks: claimed, leased and batched like the outbox; retried with doubling backoff.
    webhook_max_attempts: int = Field(default=8, ge=1)
    webhook_backoff_seconds: float = Field(default=30, gt=0)
    webhook_timeout_seconds: float = Field(default=10, gt=0)
    webhook_allow_private: bool = False  # every webhook may reach addresses inside our network
    maintenance_lead_days: int = Field(default=7, ge=0)  # announce at least this long before
    maintenance_max_occurrences: int = Field(default=104, ge=1, le=1000)  # per recurring series
    maintenance_reminder_hours: int = Field(default=24, ge=1)  # reminder this long before a start
    # Tickets: the SLA clock (local business hours, ISO holiday dates, targets in counted
    # minutes; a business day is 510), attachments, and what looks like patron data.
    ticket_business_hours: str = "08:30-17:00"
    ticket_business_days: list[int] = [0, 1, 2, 3, 4]
    ticket_holidays: list[str] = [
        *("2026-01-01", "2026-01-19", "2026-05-25", "2026-06-19", "2026-07-03", "2026-09-07"),
        *("2026-11-26", "2026-11-27", "2026-12-24", "2026-12-25", "2026-12-31", "2027-01-01"),
    ]
    ticket_response_minutes: dict[str, int] = {
        "system_down": 60, "high": 510, "normal": 1020, "low": 1530
    }  # fmt: skip
    ticket_resolution_minutes: dict[str, int] = {
        "system_down": 480, "high": 1530, "normal": 5100, "low": 10200
    }  # fmt: skip
    ticket_attachment_dir: Path = VAR_DIR / "attachments"
    ticket_attachment_max_bytes: int = 10 * 1024 * 1024
    # Duties: files that go with a task's completion (the same size limit as tickets').
    task_attachment_dir: Path = VAR_DIR / "task-attachments"
    # Retention (issue 15): no policy may purge sooner than this many days after a ticket closed;
    # the scheduled purge works in batches of `retention_batch_size` tickets, at most
    # `retention_max_batches` a run (the next run goes on).
    retention_minimum_days: int = Field(default=30, ge=1)
    retention_batch_size: int = Field(default=100, ge=1, le=1000)
    retention_max_batches: int = Field(default=50, ge=1)
    ticket_patron_patterns: list[str] = [r"\b\d{10,16}\b", r"\b[A-Z]{1,2}\d{7,12}\b"]
    ticket_auto_close_days: int = Field(default=7, ge=1)  # a resolved ticket then closes itself
    # Directory: how long a "our entries are correct" lasts, and how long an invitation link works.
    directory_confirm_days: int = Field(default=180, ge=1)
    directory_invitation_hours: int = Field(default=72, ge=1)
    # API clients: token lifetime, and how long a rotated-out secret still works.
    client_token_minutes: int = Field(default=15, ge=1, le=60)
    client_secret_overlap_hours: int = Field(default=24, ge=0, le=24 * 30)
    # Reply and file by e-mail (issue 15): the inbound address ticket e-mails name as Reply-To,
    # and the mailbox polled for it (imaps://user:pass@host/INBOX; unset: no polling, an MTA
    # pipes mail to `portal mail-in` instead). Larger messages are refused unread.
    mail_in_address: str = ""
    imap_url: SecretStr | None = None
    imap_poll_seconds: int = Field(default=60, ge=10)
    mail_in_max_bytes: int = Field(default=25 * 1024 * 1024, ge=1024)

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        ZoneInfo(value)  # raises for an unknown zone
        return value

    @model_validator(mode="after")
    def _secret_key(self) -> "Settings":
        """A secret is required outside development; development keeps a generated one on disk."""
        if self.secret_key is None:
            if self.environment == "production":
                raise ValueError("PORTAL_SECRET_KEY must be set in production")
            self.secret_key = SecretStr(_local_secret())
        if len(self.secret_key.get_secret_value().encode()) < 32:
            raise ValueError("PORTAL_SECRET_KEY must be at least 32 bytes")
        return self

    @field_validator("base_url")
    @classmethod
    def _absolute(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("PORTAL_BASE_URL must start with http:// or https://")
        return value.rstrip("/")

    @property
    def portal_url(self) -> str:
        return self.base_url

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


def _local_secret() -> str:
    """A random secret kept in var/ so development sessions survive a restart."""
    path = VAR_DIR / "secret_key"
    if not path.exists():
        VAR_DIR.mkdir(exist_ok=True)
        path.touch(mode=0o600)
        path.write_text(secrets.token_urlsafe(48))
    return path.read_text().strip()


@lru_cache
def get_settings() -> Settings:
    return Settings()
