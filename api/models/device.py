"""Reader agents (devices), the doors they serve, seen request nonces and sequence gaps."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, TimestampMixin


class DeviceStatus(StrEnum):
    PENDING = "pending"  # created; awaiting enrollment, then an admin's confirmation
    ACTIVE = "active"  # confirmed: may fetch snapshots and send events
    REVOKED = "revoked"  # refused for good


class Device(Base, TimestampMixin):
    __tablename__ = "device"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    site_id: Mapped[int | None] = mapped_column(ForeignKey("site.id"), default=None)
    status: Mapped[str] = mapped_column(String(10), default=DeviceStatus.PENDING)
    # Ed25519 public key the agent registered at enrollment (base64 raw).
    public_key: Mapped[str | None] = mapped_column(Text, default=None)
    # SHA-256 of the one-time enrollment token; cleared once used.
    enrollment_token_hash: Mapped[str | None] = mapped_column(String(64), default=None)
    enrollment_expires_at: Mapped[datetime | None] = mapped_column(default=None)
    enrolled_at: Mapped[datetime | None] = mapped_column(default=None)
    # An enrolled reader stays pending until an admin or security confirms it (console).
    confirmed_at: Mapped[datetime | None] = mapped_column(default=None)
    confirmed_by: Mapped[str | None] = mapped_column(String(100), default=None)
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)
    last_heartbeat_at: Mapped[datetime | None] = mapped_column(default=None)
    clock_offset_ms: Mapped[int | None] = mapped_column(default=None)
    config_version: Mapped[int | None] = mapped_column(default=None)
    snapshot_version: Mapped[int | None] = mapped_column(default=None)
    # Event delivery state: the highest sequence stored, and the highest below which none is
    # missing. ``delivered_through`` is the device time up to which the agent reported an
    # empty outbox (the per-device watermark used by HR exports).
    max_seq: Mapped[int] = mapped_column(BigInteger, default=0)
    contiguous_seq: Mapped[int] = mapped_column(BigInteger, default=0)
    last_event_hash: Mapped[str | None] = mapped_column(String(64), default=None)
    delivered_through: Mapped[datetime | None] = mapped_column(default=None)
    # The agent's outbox as its last heartbeat reported it (for /metrics).
    outbox_pending: Mapped[int | None] = mapped_column(default=None)
    oldest_pending_at: Mapped[datetime | None] = mapped_column(default=None)
    # The device protocol version its agent last spoke in a signed request ("1.1"; accepted or
    # refused as too old), for the console's upgrade notice.
    agent_protocol: Mapped[str | None] = mapped_column(String(7), default=None)


class DeviceDoor(Base):
    __tablename__ = "device_door"

    device_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("device.id", ondelete="CASCADE"), primary_key=True
    )
    door_id: Mapped[int] = mapped_column(ForeignKey("door.id", ondelete="CASCADE"),
                                         primary_key=True)


class DeviceNonce(Base):
    """Nonces of signed device requests, kept until their timestamp window has passed."""

    __tablename__ = "device_nonce"

    device_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("device.id", ondelete="CASCADE"), primary_key=True
    )
    nonce: Mapped[str] = mapped_column(String(64), primary_key=True)
    expires_at: Mapped[datetime] = mapped_column(index=True)


class SequenceGap(Base):
    __tablename__ = "sequence_gap"

    id: Mapped[int] = mapped_column(primary_key=True)
    device_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("device.id", ondelete="CASCADE"),
                                                 index=True)
    first_seq: Mapped[int] = mapped_column(BigInteger)
    last_seq: Mapped[int] = mapped_column(BigInteger)
    detected_at: Mapped[datetime]
    closed_at: Mapped[datetime | None] = mapped_column(default=None)


class DeviceConfig(Base, TimestampMixin):
    """What the service renders a reader's signed ``firmware_config`` bundle from.

    ``settings`` is the reader's own part (driver, door I/O, pins, keypad, …) as the admin
    set it; doors and their timings come from the door table. ``bundle`` is the last signed
    bundle, re-signed under ``config_version`` + 1 only when the rendered configuration
    (``content_digest``) changes, so a re-fetch gets the very same document.
    """

    __tablename__ = "device_config"

    device_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("device.id", ondelete="CASCADE"), primary_key=True
    )
    settings: Mapped[dict[str, Any]] = mapped_column(JSON)
    config_version: Mapped[int] = mapped_column(default=0)
    content_digest: Mapped[str | None] = mapped_column(String(64), default=None)
    bundle: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
