"""Settings of the central service, read from ``MYNAGATE_*`` environment variables."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PLACEHOLDER_SECRETS = {"dev-admin-token", "changeme", ""}


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="MYNAGATE_", extra="ignore")

    env: Literal["development", "test", "production"] = "development"
    database_url: str = "sqlite:///var/mynagate.db"
    data_dir: Path = Path("var")
    # Temporary admin authentication until the console issue adds users and roles.
    admin_token: SecretStr = SecretStr("dev-admin-token")
    # Ed25519 key that signs snapshots and config bundles; created on first start if missing.
    signing_key_file: Path = Path("var/service-signing-key.pem")
    municipality_code: str = "373222"  # 全国地方公共団体コード of 土庄町 (demo default)
    timezone: str = "Asia/Tokyo"
    request_clock_skew_s: int = 300
    enrollment_token_ttl_s: int = 7 * 24 * 3600
    clock_skew_alarm_ms: int = 5000

    @model_validator(mode="after")
    def _reject_placeholders(self) -> Settings:
        if self.env == "production" and self.admin_token.get_secret_value() in PLACEHOLDER_SECRETS:
            raise ValueError("MYNAGATE_ADMIN_TOKEN must be set to a real secret in production")
        return self


@lru_cache
def get_settings() -> Settings:
    return Settings()
