"""The background worker's tables: its scheduled jobs, the heartbeat alarms it raised, and the
signed summaries retention leaves in place of what it pruned (``api.worker``)."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import BigInteger, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base


class JobKind(StrEnum):
    """The timed work of ``mynagate worker``; one row each in ``worker_job``."""

    MAIL = "mail"  # deliver the mail outbox
    OUTBOUND = "outbound"  # publish events to MQTT and webhooks
    LOCK_ALERTS = "lock_alerts"  # what `mynagate locks check-alerts` does
    EXPORT_REMINDER = "export_reminder"  # once a month: remind HR to export
    RETENTION = "retention"  # prune old events and audit rows, leaving signed summaries
    NONCE_PRUNING = "nonce_pruning"  # expired replay nonces of devices and locks
    HEARTBEATS = "heartbeats"  # alarm for devices silent past the threshold
    EVENT_PARTITIONS = "event_partitions"  # PostgreSQL: the coming months' event partitions


class WorkerJob(Base):
    """One scheduled job: due at ``next_run_at``; a worker claims it with ``FOR UPDATE SKIP
    LOCKED``, runs it while holding the row lock, and sets the next run in the same
    transaction."""

    __tablename__ = "worker_job"

    kind: Mapped[str] = mapped_column(String(30), primary_key=True)
    next_run_at: Mapped[datetime] = mapped_column(index=True)
    last_started_at: Mapped[datetime | None] = mapped_column(default=None)
    last_finished_at: Mapped[datetime | None] = mapped_column(default=None)
    last_worker: Mapped[str | None] = mapped_column(String(100), default=None)
    last_error: Mapped[str | None] = mapped_column(String(500), default=None)
    runs: Mapped[int] = mapped_column(Integer, default=0)
    failures: Mapped[int] = mapped_column(Integer, default=0)


class HeartbeatAlarm(Base):
    """The last silence alarm raised for a device: one per silence, never repeated until the
    device has been heard from again (``heartbeat_at`` is the heartbeat it was silent after)."""

    __tablename__ = "heartbeat_alarm"

    device_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("device.id", ondelete="CASCADE"), primary_key=True)
    heartbeat_at: Mapped[datetime | None] = mapped_column(default=None)
    raised_at: Mapped[datetime]


class ChainName(StrEnum):
    DEVICE_EVENTS = "device_events"  # one chain per device (``gate.events``)
    AUDIT = "audit"  # the audit log's chain


class RetentionSummary(Base):
    """What one pruning removed from the start of a hash chain, signed with the service key
    (``api.worker.retention``): the chain verifies from ``last_hash`` onward."""

    __tablename__ = "retention_summary"

    id: Mapped[int] = mapped_column(primary_key=True)
    chain: Mapped[str] = mapped_column(String(20))
    device_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("device.id", ondelete="CASCADE"), index=True, default=None)
    removed: Mapped[int] = mapped_column(BigInteger)
    first_seq: Mapped[int] = mapped_column(BigInteger)
    last_seq: Mapped[int] = mapped_column(BigInteger)
    first_hash: Mapped[str | None] = mapped_column(String(64), default=None)
    last_hash: Mapped[str | None] = mapped_column(String(64), default=None)
    first_at: Mapped[datetime]
    last_at: Mapped[datetime]
    cutoff: Mapped[datetime]
    pruned_at: Mapped[datetime]
    previous_summary_id: Mapped[int | None] = mapped_column(default=None)
    signature: Mapped[str] = mapped_column(Text)  # base64 Ed25519 over the canonical summary
