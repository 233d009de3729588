"""Facilities, their smart locks, bookings, issued PIN records and lock telemetry.

PINs are never stored: an ``IssuedPin`` keeps only (lock, generation, start slot, duration,
variant), from which the PIN is recomputed with the master secret. The master itself is kept
encrypted (AES-256-GCM) in ``PinMaster`` under a wrapping key from settings or the data dir.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from mynagate_i18n import DEFAULT_LANGUAGE, Language

from .base import Base, StrEnumColumn, TimestampMixin, utcnow

LOCK_KINDS = ("online", "offline")
PAYMENT_STATUSES = ("pending", "paid", "cancelled")
BOOKING_SOURCES = ("api", "csv", "webhook")
PIN_STATUSES = ("active", "revoked")
REVOCATION_STATES = ("none", "pending", "confirmed", "cleared")


class PinMaster(Base):
    __tablename__ = "pin_master"

    id: Mapped[int] = mapped_column(primary_key=True)
    nonce: Mapped[bytes] = mapped_column(LargeBinary(12))
    ciphertext: Mapped[bytes] = mapped_column(LargeBinary(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Facility(Base, TimestampMixin):
    __tablename__ = "facility"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    address: Mapped[str] = mapped_column(String(200), default="")
    contact: Mapped[str] = mapped_column(String(200), default="")
    # How to open and close, shown in the PIN email (Japanese).
    instructions: Mapped[str] = mapped_column(Text, default="")

    locks: Mapped[list[SmartLock]] = relationship(back_populates="facility", lazy="raise")


class SmartLock(Base, TimestampMixin):
    __tablename__ = "smart_lock"

    id: Mapped[int] = mapped_column(primary_key=True)
    facility_id: Mapped[int] = mapped_column(ForeignKey("facility.id", ondelete="CASCADE"),
                                             index=True)
    lock_id: Mapped[str] = mapped_column(String(64), unique=True)  # as in the PIN key info
    name: Mapped[str] = mapped_column(String(100), default="")
    kind: Mapped[str] = mapped_column(String(10))
    generation: Mapped[int] = mapped_column(BigInteger, default=0)
    slot_limit: Mapped[int] = mapped_column(Integer, default=10)
    grace_early: Mapped[int] = mapped_column(Integer, default=1)
    grace_late: Mapped[int] = mapped_column(Integer, default=1)
    battery_percent: Mapped[float | None] = mapped_column(Float, default=None)
    battery_at: Mapped[datetime | None] = mapped_column(default=None)
    last_contact_at: Mapped[datetime | None] = mapped_column(default=None)
    clock_offset_s: Mapped[float | None] = mapped_column(Float, default=None)
    drift_ppm: Mapped[float | None] = mapped_column(Float, default=None)
    log_seq: Mapped[int] = mapped_column(BigInteger, default=0)
    log_hash: Mapped[str | None] = mapped_column(String(64), default=None)
    slots_full: Mapped[bool] = mapped_column(default=False)

    facility: Mapped[Facility] = relationship(back_populates="locks", lazy="raise")


class Booking(Base, TimestampMixin):
    __tablename__ = "booking"
    __table_args__ = (
        CheckConstraint("language IN ({})".format(", ".join(f"'{x}'" for x in Language)),
                        name="language"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    facility_id: Mapped[int] = mapped_column(ForeignKey("facility.id"), index=True)
    start_at: Mapped[datetime]
    end_at: Mapped[datetime]
    booker_name: Mapped[str] = mapped_column(String(100))
    booker_email: Mapped[str] = mapped_column(String(254))
    payment_status: Mapped[str] = mapped_column(String(10), default="pending")
    source: Mapped[str] = mapped_column(String(10), default="api")
    external_ref: Mapped[str | None] = mapped_column(String(64), unique=True, default=None)
    paid_at: Mapped[datetime | None] = mapped_column(default=None)
    cancelled_at: Mapped[datetime | None] = mapped_column(default=None)
    emailed_at: Mapped[datetime | None] = mapped_column(default=None)
    # The language of the booker's emails (PIN, reissue, cancellation notice).
    language: Mapped[Language] = mapped_column(StrEnumColumn(Language, 2),
                                               default=DEFAULT_LANGUAGE, server_default="ja")


class IssuedPin(Base):
    __tablename__ = "issued_pin"
    __table_args__ = (
        UniqueConstraint("lock_id", "generation", "start_slot", "duration_slots", "variant"),
        Index("ix_issued_pin_lock_window", "lock_id", "start_slot"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    booking_id: Mapped[int] = mapped_column(ForeignKey("booking.id", ondelete="CASCADE"),
                                            index=True)
    lock_id: Mapped[int] = mapped_column(ForeignKey("smart_lock.id", ondelete="CASCADE"))
    generation: Mapped[int] = mapped_column(BigInteger)
    start_slot: Mapped[int] = mapped_column(BigInteger)
    duration_slots: Mapped[int] = mapped_column(Integer)
    variant: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(10), default="active")
    issued_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)
    # Offline locks: none → pending (code to be typed) → confirmed (seen in a synced log) or
    # cleared (a generation bump made it moot).
    revocation_state: Mapped[str] = mapped_column(String(10), default="none")
    revocation_confirmed_at: Mapped[datetime | None] = mapped_column(default=None)


class LockLogEntry(Base):
    __tablename__ = "lock_log_entry"
    __table_args__ = (UniqueConstraint("lock_id", "seq"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    lock_id: Mapped[int] = mapped_column(ForeignKey("smart_lock.id", ondelete="CASCADE"))
    seq: Mapped[int] = mapped_column(BigInteger)
    at: Mapped[datetime]  # corrected to service time with the offset measured at upload
    lock_clock_at: Mapped[datetime]
    kind: Mapped[str] = mapped_column(String(30))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    hash: Mapped[str] = mapped_column(String(64))
    received_at: Mapped[datetime] = mapped_column(default=utcnow)


class LockTelemetry(Base):
    __tablename__ = "lock_telemetry"

    id: Mapped[int] = mapped_column(primary_key=True)
    lock_id: Mapped[int] = mapped_column(ForeignKey("smart_lock.id", ondelete="CASCADE"),
                                         index=True)
    at: Mapped[datetime]
    battery_percent: Mapped[float] = mapped_column(Float)
    openings: Mapped[int] = mapped_column(Integer, default=0)
    # Lock clock minus service time at this contact, before any correction (seconds).
    clock_offset_s: Mapped[float | None] = mapped_column(Float, default=None)
    clock_set: Mapped[bool] = mapped_column(default=False)


class LockAlert(Base):
    __tablename__ = "lock_alert"

    id: Mapped[int] = mapped_column(primary_key=True)
    lock_id: Mapped[int] = mapped_column(ForeignKey("smart_lock.id", ondelete="CASCADE"),
                                         index=True)
    kind: Mapped[str] = mapped_column(String(30))
    at: Mapped[datetime]
    booking_id: Mapped[int | None] = mapped_column(default=None)
    detail: Mapped[str] = mapped_column(String(200), default="")
    dedupe_key: Mapped[str] = mapped_column(String(120), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class LockCommand(Base):
    """Remote emergency unlocks queued for an online lock, and emergency codes issued."""

    __tablename__ = "lock_command"

    id: Mapped[int] = mapped_column(primary_key=True)
    lock_id: Mapped[int] = mapped_column(ForeignKey("smart_lock.id", ondelete="CASCADE"),
                                         index=True)
    kind: Mapped[str] = mapped_column(String(20))  # unlock, emergency_code
    actor: Mapped[str] = mapped_column(String(100))
    reason: Mapped[str] = mapped_column(String(200))
    issue_slot: Mapped[int | None] = mapped_column(BigInteger, default=None)
    counter: Mapped[int | None] = mapped_column(Integer, default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    delivered_at: Mapped[datetime | None] = mapped_column(default=None)


class WebhookReceipt(Base):
    __tablename__ = "webhook_receipt"

    id: Mapped[int] = mapped_column(primary_key=True)
    signature: Mapped[str] = mapped_column(String(64), unique=True)
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
