"""Settings from `PORTAL_*` environment variables (pydantic-settings)."""

import secrets
from functools import lru_cache
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo

from pydantic import Field, SecretStr, field_validator, model_validator
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
    login_failure_window_seconds: int = 15 * 60
    log_level: str = "INFO"

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
