"""SMTP and mail-sender settings: ``MYNAGATE_SMTP_HOST``, ``_PORT``, ``_FROM``, ``_USERNAME``,
``_PASSWORD``, ``_STARTTLS``, ``_TIMEOUT_S``; retries ``_RETRY_ATTEMPTS``, ``_RETRY_INITIAL_S``,
``_RETRY_MAX_S``, ``_RETRY_JITTER_S``; the service's background sender ``_SENDER_ENABLED``,
``_SENDER_INTERVAL_S``."""

from __future__ import annotations

from fastapi import FastAPI, Request
from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from .headers import SingleLineStr


class SmtpSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="MYNAGATE_SMTP_", extra="ignore",
                                      populate_by_name=True)

    host: str = "127.0.0.1"
    port: int = 25
    from_addr: SingleLineStr = Field(
        default="noreply@example.lg.jp", validation_alias=AliasChoices("MYNAGATE_SMTP_FROM", "from_addr"))
    username: str | None = None
    password: SecretStr | None = None
    starttls: bool = False
    timeout_s: float = 10.0
    # A message is tried at most retry_attempts times, waiting initial·2^(n-1) s (plus up to
    # jitter s, at most max s) after the n-th failure: 30 s … 1 h, about 4 hours in all.
    retry_attempts: int = Field(default=10, ge=1, le=100)
    retry_initial_s: float = Field(default=30.0, gt=0)
    retry_max_s: float = Field(default=3600.0, gt=0)
    retry_jitter_s: float = Field(default=10.0, ge=0)
    # The service delivers the outbox in a background thread: at once after a change, and
    # every sender_interval_s for retries.
    sender_enabled: bool = True
    sender_interval_s: float = Field(default=5.0, gt=0)


def smtp_settings_of(app: FastAPI) -> SmtpSettings:
    """The app's SMTP settings (``app.state.smtp_settings``, else from the environment)."""
    if getattr(app.state, "smtp_settings", None) is None:
        app.state.smtp_settings = SmtpSettings()
    s: SmtpSettings = app.state.smtp_settings
    return s


def get_smtp_settings(request: Request) -> SmtpSettings:
    """FastAPI dependency: the app's SMTP settings."""
    return smtp_settings_of(request.app)
