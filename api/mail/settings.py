"""SMTP settings: ``MYNAGATE_SMTP_HOST``, ``_PORT``, ``_FROM``, ``_USERNAME``, ``_PASSWORD``,
``_STARTTLS``."""

from __future__ import annotations

from fastapi import Request
from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class SmtpSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="MYNAGATE_SMTP_", extra="ignore",
                                      populate_by_name=True)

    host: str = "127.0.0.1"
    port: int = 25
    from_addr: str = Field("noreply@example.lg.jp",
                           validation_alias=AliasChoices("MYNAGATE_SMTP_FROM", "from_addr"))
    username: str | None = None
    password: SecretStr | None = None
    starttls: bool = False
    timeout_s: float = 10.0


def get_smtp_settings(request: Request) -> SmtpSettings:
    """FastAPI dependency: the app's SMTP settings (``app.state.smtp_settings`` or env)."""
    app = request.app
    if getattr(app.state, "smtp_settings", None) is None:
        app.state.smtp_settings = SmtpSettings()
    s: SmtpSettings = app.state.smtp_settings
    return s
