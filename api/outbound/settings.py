"""Settings of events out: MQTT (``MYNAGATE_MQTT_…``) and webhooks (``MYNAGATE_WEBHOOK_…``).
docs/worker.md lists them."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class MqttSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="MYNAGATE_MQTT_", extra="ignore")

    enabled: bool = False
    host: str = "127.0.0.1"
    port: int = Field(default=1883, ge=1, le=65535)
    username: str | None = None
    password: str | None = None
    client_id: str = "mynagate-worker"
    # Topics follow uhppoted-mqtt's layout under this root (docs/worker.md).
    topic_root: str = Field(default="mynagate/gateway", pattern=r"^[A-Za-z0-9_\-/]{1,100}$")
    timeout_s: float = Field(default=5.0, gt=0, le=60)


class WebhookSettings(BaseSettings):
    """Outbound webhooks: each message tried at most ``retry_attempts`` times, waiting
    initial·2^(n-1) s (plus jitter, at most max) after the n-th failure."""

    model_config = SettingsConfigDict(env_prefix="MYNAGATE_WEBHOOK_", extra="ignore")

    timeout_s: float = Field(default=10.0, gt=0, le=60)
    retry_attempts: int = Field(default=10, ge=1, le=100)
    retry_initial_s: float = Field(default=10.0, gt=0)
    retry_max_s: float = Field(default=3600.0, gt=0)
    retry_jitter_s: float = Field(default=5.0, ge=0)
    batch: int = Field(default=200, ge=1, le=10_000)
