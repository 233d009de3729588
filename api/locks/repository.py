"""Queries of the lock domain."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from api.models import (
    Booking,
    IssuedPin,
    LockAlert,
    LockCommand,
    LockLogEntry,
    LockTelemetry,
    SmartLock,
)


def get(session: Session, lock_pk: int, *, for_update: bool = False) -> SmartLock | None:
    q = select(SmartLock).where(SmartLock.id == lock_pk)
    if for_update:
        q = q.with_for_update()
    return session.scalar(q)


def get_by_lock_id(session: Session, lock_id: str) -> SmartLock | None:
    return session.scalar(select(SmartLock).where(SmartLock.lock_id == lock_id))


def list_all(session: Session) -> Sequence[SmartLock]:
    return session.scalars(select(SmartLock).order_by(SmartLock.lock_id)).all()


def for_facility(session: Session, facility_id: int, *, for_update: bool = False
                 ) -> Sequence[SmartLock]:
    q = select(SmartLock).where(SmartLock.facility_id == facility_id).order_by(SmartLock.id)
    if for_update:  # in id order, so two callers never take them crosswise
        q = q.with_for_update()
    return session.scalars(q).all()


def pins_near(session: Session, lock_pk: int, generation: int, first_slot: int,
              stop_slot: int) -> Sequence[IssuedPin]:
    """Pins of the lock's generation (any status) whose start lies in [first, stop)."""
    return session.scalars(select(IssuedPin).where(
        IssuedPin.lock_id == lock_pk, IssuedPin.generation == generation,
        IssuedPin.start_slot >= first_slot, IssuedPin.start_slot < stop_slot)).all()


def active_pins(session: Session, lock_pk: int, generation: int, first_slot: int,
                stop_slot: int) -> Sequence[IssuedPin]:
    return session.scalars(select(IssuedPin).where(
        IssuedPin.lock_id == lock_pk, IssuedPin.generation == generation,
        IssuedPin.status == "active", IssuedPin.start_slot >= first_slot,
        IssuedPin.start_slot < stop_slot).order_by(IssuedPin.start_slot, IssuedPin.id)).all()


def pending_revocations(session: Session, lock_pk: int, generation: int,
                        min_end_slot: int) -> Sequence[IssuedPin]:
    return session.scalars(select(IssuedPin).where(
        IssuedPin.lock_id == lock_pk, IssuedPin.generation == generation,
        IssuedPin.revocation_state == "pending",
        IssuedPin.start_slot + IssuedPin.duration_slots >= min_end_slot)
        .order_by(IssuedPin.start_slot)).all()


def pins_of_booking(session: Session, booking_id: int) -> Sequence[IssuedPin]:
    return session.scalars(select(IssuedPin).where(IssuedPin.booking_id == booking_id)
                           .order_by(IssuedPin.lock_id, IssuedPin.start_slot)).all()


def log_entries(session: Session, lock_pk: int, since: datetime) -> Sequence[LockLogEntry]:
    return session.scalars(select(LockLogEntry).where(
        LockLogEntry.lock_id == lock_pk, LockLogEntry.at >= since)
        .order_by(LockLogEntry.seq)).all()


def telemetry(session: Session, lock_pk: int, limit: int = 60) -> Sequence[LockTelemetry]:
    rows = session.scalars(select(LockTelemetry).where(LockTelemetry.lock_id == lock_pk)
                           .order_by(LockTelemetry.at.desc(), LockTelemetry.id.desc())
                           .limit(limit)).all()
    return list(reversed(rows))


def bookings_between(session: Session, facility_id: int, since: datetime,
                     until: datetime) -> Sequence[Booking]:
    return session.scalars(select(Booking).where(
        Booking.facility_id == facility_id, Booking.end_at >= since, Booking.start_at < until,
        Booking.payment_status == "paid")).all()


def alert_keys(session: Session, lock_pk: int) -> set[str]:
    return set(session.scalars(select(LockAlert.dedupe_key)
                               .where(LockAlert.lock_id == lock_pk)).all())


def alerts(session: Session, lock_pk: int | None = None) -> Sequence[LockAlert]:
    q = select(LockAlert).order_by(LockAlert.at.desc(), LockAlert.id.desc())
    if lock_pk is not None:
        q = q.where(LockAlert.lock_id == lock_pk)
    return session.scalars(q.limit(500)).all()


def undelivered_commands(session: Session, lock_pk: int) -> Sequence[LockCommand]:
    return session.scalars(select(LockCommand).where(
        LockCommand.lock_id == lock_pk, LockCommand.kind == "unlock",
        LockCommand.delivered_at.is_(None)).order_by(LockCommand.id)).all()


def emergency_count(session: Session, lock_pk: int, issue_slot: int) -> int:
    return int(session.scalar(select(func.count()).select_from(LockCommand).where(
        LockCommand.lock_id == lock_pk, LockCommand.kind == "emergency_code",
        LockCommand.issue_slot == issue_slot)) or 0)
