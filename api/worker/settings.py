"""Settings of ``mynagate worker`` (``MYNAGATE_WORKER_…``) and of retention
(``MYNAGATE_RETENTION_…``); events out have theirs in ``api.outbound.settings``. docs/worker.md
lists them."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from api.mail.headers import SingleLineStr


class WorkerSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="MYNAGATE_WORKER_", extra="ignore")

    # The loop sleeps until the next job is due, at most poll_s (so a job rescheduled by the
    # other worker is seen), and wakes at once on SIGTERM.
    poll_s: float = Field(default=5.0, gt=0, le=3600)
    mail_interval_s: float = Field(default=30.0, gt=0)
    outbound_interval_s: float = Field(default=1.0, gt=0)
    lock_alerts_interval_s: float = Field(default=900.0, gt=0)
    heartbeat_interval_s: float = Field(default=60.0, gt=0)
    nonce_interval_s: float = Field(default=3600.0, gt=0)
    retention_interval_s: float = Field(default=86400.0, gt=0)
    # Partitions are made months ahead: a daily look is plenty.
    partitions_interval_s: float = Field(default=86400.0, gt=0)
    # A failed job is tried again after this long (or at its next run, if sooner).
    retry_s: float = Field(default=300.0, gt=0)
    # A device silent this long (no heartbeat) raises one ``device_silent`` alarm.
    heartbeat_silence_s: float = Field(default=900.0, ge=60)
    # The monthly reminder to export the month just ended: day of the month and local hour.
    export_reminder_day: int = Field(default=1, ge=1, le=28)
    export_reminder_hour: int = Field(default=9, ge=0, le=23)
    # Where the reminder goes (the HR / 人事 mailbox); none: no reminder is queued.
    hr_email: SingleLineStr | None = Field(default=None, max_length=254)


class RetentionSettings(BaseSettings):
    """How long records are kept (docs/worker.md gives the reasoning)."""

    model_config = SettingsConfigDict(env_prefix="MYNAGATE_RETENTION_", extra="ignore")

    # Access events: taps, door states, alarms, card errors.
    events_days: int = Field(default=366, ge=30, le=36500)
    # Clock punches (the 出勤簿 record): 5 years.
    punches_days: int = Field(default=1827, ge=365, le=36500)
    # Admin audit log.
    audit_days: int = Field(default=1827, ge=365, le=36500)
    # Outbound messages (MQTT, webhooks) once sent; failed ones are kept ``events_days``.
    outbound_days: int = Field(default=7, ge=1, le=3650)
    # At most this many rows removed per chain and run (bulk deletes in bounded steps).
    batch: int = Field(default=50_000, ge=100, le=1_000_000)
