"""Settings of the central service, read from ``MYNAGATE_*`` environment variables.

Secrets never default open: ``check_secrets`` (run by ``create_app`` before anything is served)
refuses a default, empty or short secret unless ``MYNAGATE_ENV=development`` is set explicitly.
An unset ``MYNAGATE_ENV`` means production. Files the service creates (SQLite database,
signing key, PIN wrap key) live under ``MYNAGATE_DATA_DIR`` and are created 0600.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from functools import lru_cache
from pathlib import Path

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# Values that are known to the world: never accepted outside development.
PLACEHOLDER_SECRETS = frozenset({"dev-admin-token", "dev-webhook-secret", "changeme",
                                 "secret", "password", "admin"})
MIN_SECRET_CHARS = 16


class Env(StrEnum):
    DEVELOPMENT = "development"
    TEST = "test"
    PRODUCTION = "production"


class InsecureSettings(ValueError):
    """A secret setting is missing, a placeholder or too short; names the setting."""

    def __init__(self, setting: str, problem: str) -> None:
        super().__init__(f"{setting} {problem}: set it to a random secret of at least "
                         f"{MIN_SECRET_CHARS} characters (only MYNAGATE_ENV=development "
                         "accepts the built-in defaults)")
        self.setting = setting


def secret_problem(value: str | None) -> str | None:
    """Why a secret value is unusable outside development, or None if it is fine."""
    if not value:
        return "is empty"
    if value in PLACEHOLDER_SECRETS:
        return "is a published default"
    if len(value) < MIN_SECRET_CHARS:
        return f"is shorter than {MIN_SECRET_CHARS} characters"
    return None


def check_secrets(env: Env, secrets: Mapping[str, str | None]) -> None:
    """Refuse to run with a weak secret outside development (``InsecureSettings``)."""
    if env is Env.DEVELOPMENT:
        return
    for setting, value in secrets.items():
        problem = secret_problem(value)
        if problem is not None:
            raise InsecureSettings(setting, problem)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="MYNAGATE_", extra="ignore")

    env: Env = Env.PRODUCTION
    data_dir: Path = Path("var")
    # Default: a SQLite file ``mynagate.db`` in the data dir.
    database_url: str = ""
    # Ed25519 key that signs snapshots and config bundles; created (0600) on first start if
    # missing. Default: ``service-signing-key.pem`` in the data dir.
    signing_key_file: Path | None = None
    municipality_code: str = "373222"  # 全国地方公共団体コード of 土庄町 (demo default)
    timezone: str = "Asia/Tokyo"
    request_clock_skew_s: int = 300
    enrollment_token_ttl_s: int = 7 * 24 * 3600
    clock_skew_alarm_ms: int = 5000
    session_ttl_s: int = 8 * 3600  # a console login lasts a working day
    session_cookie_secure: bool = True  # False only for plain-HTTP development
    # Event batches processed at once per process; past it 429 + Retry-After
    # (api.events.admission). Each holds one pooled connection (the pool has 5 + 10
    # overflow): 10 leaves 5 for every other request. At 4 the service idled between the
    # waves of refused agents coming back after Retry-After (docs/performance.md).
    ingest_max_inflight: int = Field(default=10, ge=1, le=64)
    ingest_retry_after_s: int = Field(default=1, ge=1, le=300)

    @model_validator(mode="after")
    def _under_data_dir(self) -> Settings:
        # Derived values stay out of the fields set: the CLI refuses to guess a database
        # (mynagate_cli.service_config).
        if not self.database_url:
            self.database_url = f"sqlite:///{self.data_dir / 'mynagate.db'}"
            self.__pydantic_fields_set__.discard("database_url")
        if self.signing_key_file is None:
            self.signing_key_file = self.data_dir / "service-signing-key.pem"
            self.__pydantic_fields_set__.discard("signing_key_file")
        return self

    @property
    def signing_key_path(self) -> Path:
        assert self.signing_key_file is not None  # set by the validator
        return self.signing_key_file


@lru_cache
def get_settings() -> Settings:
    return Settings()
