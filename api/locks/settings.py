"""Settings of the lock and booking domains, read from ``MYNAGATE_*`` environment variables."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, Request
from pydantic import SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class LockSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="MYNAGATE_", extra="ignore")

    data_dir: Path = Path("var")
    # 32-byte AES key (hex) wrapping the PIN master secret; else ``data_dir/pin-wrap.key``.
    pin_wrap_key: SecretStr | None = None
    # Shared secret of the booking system's webhook (HMAC-SHA256 of "timestamp.body"). The
    # default works only under MYNAGATE_ENV=development (``api.settings.check_secrets``).
    booking_webhook_secret: SecretStr = SecretStr("dev-webhook-secret")
    webhook_tolerance_s: int = 300
    low_battery_percent: float = 20.0
    # Online locks receive the codes of windows starting within this many hours.
    slot_lookahead_h: int = 24
    wrong_code_burst: int = 5


def lock_settings_of(app: FastAPI) -> LockSettings:
    """The app's lock settings, set and checked by ``create_app``."""
    s: LockSettings = app.state.lock_settings
    return s


def get_lock_settings(request: Request) -> LockSettings:
    """FastAPI dependency: the app's lock settings."""
    return lock_settings_of(request.app)
