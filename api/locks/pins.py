"""Issued PIN records on the service side: PINs recomputed from the master, never stored."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from sqlalchemy.orm import Session

from api.errors import Conflict
from api.models import IssuedPin, SmartLock
from gate.pin import (
    SLOT_SECONDS,
    Grace,
    LivePin,
    PinWindow,
    VariantsExhausted,
    assign_variant,
    issue_pin,
    revocation_code,
)

from . import repository
from .secrets import lock_key
from .settings import LockSettings


def grace_of(lock: SmartLock) -> Grace:
    return Grace(lock.grace_early, lock.grace_late)


def window_of(p: IssuedPin) -> PinWindow:
    return PinWindow(p.start_slot, p.duration_slots, p.variant)


def slot_time(slot: int) -> datetime:
    return datetime.fromtimestamp(slot * SLOT_SECONDS, UTC)


def accepted_times(lock: SmartLock, p: IssuedPin) -> tuple[datetime, datetime]:
    first, stop = window_of(p).accepted_range(grace_of(lock))
    return slot_time(first), slot_time(stop)


def pin_of(session: Session, settings: LockSettings, lock: SmartLock, p: IssuedPin) -> str:
    key = lock_key(session, settings, lock, p.generation)
    return issue_pin(key, lock.lock_id, p.generation, window_of(p))


def issue_on_lock(session: Session, settings: LockSettings, lock: SmartLock, *, booking_id: int,
                  start_slot: int, duration_slots: int) -> IssuedPin:
    """Record a new PIN on a lock with a variant no simultaneously valid PIN shares.

    Call with the lock row locked (``with_for_update``) so concurrent issues serialise."""
    key = lock_key(session, settings, lock)
    gen = lock.generation
    near = repository.pins_near(session, lock.id, gen, start_slot - 2 * 96, start_slot + 2 * 96)
    # revoked PINs stay in the set: their (start, duration, variant) may sit on a denylist
    live = [LivePin(window_of(p), issue_pin(key, lock.lock_id, gen, window_of(p))) for p in near]
    try:
        window, _pin = assign_variant(start_slot, duration_slots, live,
                                      lambda w: issue_pin(key, lock.lock_id, gen, w),
                                      grace_of(lock))
    except VariantsExhausted as err:
        raise Conflict(f"lock {lock.lock_id}: all three PIN variants of this slot are used; "
                       "rekey the lock or move the booking", field="start_at") from err
    row = IssuedPin(booking_id=booking_id, lock_id=lock.id, generation=gen,
                    start_slot=window.start_slot, duration_slots=window.duration_slots,
                    variant=window.variant)
    session.add(row)
    session.flush()
    return row


def revoke(lock: SmartLock, p: IssuedPin, now: datetime) -> None:
    """Revoke at once (online: the next poll drops the slot); offline: pending until a synced
    log shows the revocation code was typed."""
    p.status = "revoked"
    p.revoked_at = now
    if lock.kind == "offline":
        end = slot_time(p.start_slot + p.duration_slots + lock.grace_late)
        p.revocation_state = "pending" if end > now else "none"


def pending_codes(session: Session, settings: LockSettings, lock: SmartLock,
                  now: datetime, *, typed_from_slot: int | None = None) -> list[str]:
    """Revocation codes still to be typed on an offline lock ("enter this code first").

    ``typed_from_slot``: the first slot the visitor can type them (their PIN window's start);
    a code whose target window is over by then is moot and left out (the lock would not take
    it: a revocation names a window that has not ended)."""
    if lock.kind != "offline":
        return []
    n = max(int(now.timestamp()) // SLOT_SECONDS, typed_from_slot or 0)
    rows: Sequence[IssuedPin] = repository.pending_revocations(
        session, lock.id, lock.generation, n - lock.grace_late)
    key = lock_key(session, settings, lock)
    return [revocation_code(key, lock.lock_id, lock.generation, window_of(p)) for p in rows
            if p.start_slot + p.duration_slots + lock.grace_late > n]
