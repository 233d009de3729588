"""Smart locks: registration, staff sync of offline key boxes, polls of online locks,
emergency codes, remote unlock, telemetry (battery, days left, drift) and anomaly alerts."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from api.audit.service import record
from api.errors import BadRequest, Conflict, NotFound, Unauthorized
from api.facilities.service import get_or_raise as get_facility
from api.limits import parse_json_body
from api.models import LockAlert, LockCommand, LockLogEntry, LockTelemetry, SmartLock
from gate.events import verify_chain
from gate.pin import SLOT_SECONDS, emergency_code
from gate.pin.rules import (
    BatteryReading,
    BookingWindow,
    LockEvent,
    anomalies,
    battery_days_left,
    estimate_drift_ppm,
)
from gate.signing import canonical_json

from . import repository
from .pins import accepted_times, grace_of, pending_codes, pin_of, slot_time
from .poll_auth import (
    LockKeyCache,
    LockKeys,
    check_headers,
    derive_keys,
    nonce_expiry,
    seal_slots,
    sign,
    use_nonce,
    verify,
)
from .schemas import LockCreate, PollUpload
from .secrets import lock_key
from .settings import LockSettings

log = logging.getLogger(__name__)
OPENING_KINDS = {"open_pin", "open_emergency", "open_remote"}


def get_or_raise(session: Session, lock_pk: int, *, for_update: bool = False) -> SmartLock:
    lock = repository.get(session, lock_pk, for_update=for_update)
    if lock is None:
        raise NotFound(f"lock {lock_pk} not found", field="lock_id")
    return lock


def get_by_lock_id_or_raise(session: Session, lock_id: str) -> SmartLock:
    lock = repository.get_by_lock_id(session, lock_id)
    if lock is None:
        raise NotFound(f"lock {lock_id!r} not found", field="lock_id")
    return lock


def create(session: Session, data: LockCreate, *, actor: str) -> SmartLock:
    """Register a lock on a facility."""
    get_facility(session, data.facility_id)
    if repository.get_by_lock_id(session, data.lock_id) is not None:
        raise Conflict(f"lock id {data.lock_id!r} already exists", field="lock_id")
    lock = SmartLock(**data.model_dump())
    session.add(lock)
    session.flush()
    record(session, actor=actor, action="lock.create", entity="smart_lock", entity_id=lock.id,
           after=data.model_dump())
    return lock


def provisioning_key(session: Session, settings: LockSettings, lock: SmartLock, *,
                     actor: str) -> bytes:
    """The lock key to install in the device (audited; the key itself is not recorded)."""
    record(session, actor=actor, action="lock.provision", entity="smart_lock",
           entity_id=lock.id, after={"generation": lock.generation})
    return lock_key(session, settings, lock)


# -- logs, telemetry, alerts -----------------------------------------------------------------
def _ingest(session: Session, lock: SmartLock, events: Sequence[dict[str, Any]],
            offset_s: float, now: datetime) -> int:
    """Store new log entries once (by seq), confirm revocations; the number of new openings."""
    new = sorted((e for e in events if int(e["seq"]) > lock.log_seq), key=lambda e: e["seq"])
    if not new:
        return 0
    broken = verify_chain(new, lock.log_hash)
    if broken is not None or (lock.log_seq and int(new[0]["seq"]) != lock.log_seq + 1):
        _alert(session, lock, "log_chain_broken", now, None,
               f"log chain broken at seq {broken or new[0]['seq']}")
    openings = 0
    pins = {(p.start_slot, p.duration_slots, p.variant): p
            for p in repository.pins_near(session, lock.id, lock.generation, 0, 2 ** 62)
            if p.revocation_state == "pending"}
    for e in new:
        lock_at = datetime.fromtimestamp(int(e["at"]), UTC)
        detail = dict(e.get("detail") or {})
        session.add(LockLogEntry(lock_id=lock.id, seq=int(e["seq"]), at=lock_at - timedelta(
            seconds=offset_s), lock_clock_at=lock_at, kind=str(e["kind"])[:30], detail=detail,
            hash=str(e["hash"])))
        if e["kind"] in OPENING_KINDS:
            openings += 1
        if e["kind"] == "revocation_entered":
            target = (detail.get("start"), detail.get("duration"), detail.get("variant"))
            p = pins.get(target)  # type: ignore[arg-type]
            if p is not None:
                p.revocation_state = "confirmed"
                p.revocation_confirmed_at = now
    lock.log_seq = int(new[-1]["seq"])
    lock.log_hash = str(new[-1]["hash"])
    session.flush()
    return openings


def _alert(session: Session, lock: SmartLock, kind: str, at: datetime, booking_id: int | None,
           detail: str, key: str | None = None) -> None:
    key = key or f"{lock.id}|{kind}|{booking_id}|{at.isoformat()}"
    if key in repository.alert_keys(session, lock.id):
        return
    session.add(LockAlert(lock_id=lock.id, kind=kind, at=at, booking_id=booking_id,
                          detail=detail[:200], dedupe_key=key[:120]))
    session.flush()
    log.warning("lock.alert.%s lock=%s", kind, lock.lock_id)


def evaluate_alerts(session: Session, settings: LockSettings, lock: SmartLock,
                    now: datetime) -> None:
    """Anomaly rules over the last two weeks of the lock's log and its facility's bookings."""
    since = now - timedelta(days=14)
    events = [LockEvent(e.at, e.kind) for e in repository.log_entries(session, lock.id, since)]
    bookings = [BookingWindow(b.id, b.start_at, b.end_at, True)
                for b in repository.bookings_between(session, lock.facility_id, since, now)]
    # no log uploaded yet: nothing is known, so no no-show can be concluded
    seen_until = lock.last_contact_at if lock.log_seq or lock.kind == "online" else None
    for a in anomalies(events, bookings, now, wrong_burst=settings.wrong_code_burst,
                       log_complete_until=seen_until or since):
        _alert(session, lock, a.kind, a.at, a.booking_id, a.detail)
    if lock.battery_percent is not None and lock.battery_percent < settings.low_battery_percent:
        day = (lock.battery_at or now).date().isoformat()
        _alert(session, lock, "low_battery", lock.battery_at or now, None,
               f"battery {lock.battery_percent:.0f}%", key=f"{lock.id}|low_battery|{day}")


def _telemetry(session: Session, lock: SmartLock, battery: float | None, openings: int,
               offset_s: float | None, clock_set: bool, now: datetime) -> None:
    if battery is not None:
        if not 0 <= battery <= 100:
            raise BadRequest("battery must be 0..100", field="battery")
        lock.battery_percent, lock.battery_at = battery, now
    session.add(LockTelemetry(lock_id=lock.id, at=now, battery_percent=battery
                              if battery is not None else -1.0, openings=openings,
                              clock_offset_s=offset_s, clock_set=clock_set))
    lock.last_contact_at = now
    lock.clock_offset_s = offset_s
    session.flush()
    samples = [(t.at, t.clock_offset_s) for t in repository.telemetry(session, lock.id)
               if t.clock_set and t.clock_offset_s is not None]
    ppm = estimate_drift_ppm(samples)
    if ppm is not None:
        lock.drift_ppm = ppm


def days_left(session: Session, lock: SmartLock, now: datetime) -> float | None:
    """Predicted days until the battery is empty, from the lock's own usage."""
    rows = [t for t in repository.telemetry(session, lock.id) if t.battery_percent >= 0]
    readings = [BatteryReading(t.at, t.battery_percent, t.openings) for t in rows]
    return battery_days_left(readings, now)


# -- offline key box: staff sync ---------------------------------------------------------------
def _sync_key(session: Session, settings: LockSettings, lock: SmartLock) -> bytes:
    return hmac.new(lock_key(session, settings, lock), b"sync", hashlib.sha256).digest()


def staff_sync(session: Session, settings: LockSettings, lock: SmartLock,
               upload: dict[str, Any], *, now: datetime, actor: str) -> dict[str, Any]:
    """Take a key box's signed upload (log, battery, clock) and answer with a signed command
    that sets its clock (backwards too) and acknowledges the log."""
    if lock.kind != "offline":
        raise BadRequest("staff sync is for offline locks", field="lock_id")
    key = _sync_key(session, settings, lock)
    body = {k: v for k, v in upload.items() if k != "mac"}
    expected = hmac.new(key, canonical_json(body), hashlib.sha256).hexdigest()
    if body.get("lock_id") != lock.lock_id or body.get("generation") != lock.generation or \
            not hmac.compare_digest(expected, str(upload.get("mac", ""))):
        raise Unauthorized("the upload is not signed by this lock's key")
    clock = body.get("clock")
    offset = float(clock) - now.timestamp() if clock is not None else None
    openings = _ingest(session, lock, body.get("events") or [], offset or 0.0, now)
    _telemetry(session, lock, body.get("battery"), openings, offset, True, now)
    record(session, actor=actor, action="lock.sync", entity="smart_lock", entity_id=lock.id,
           after={"clock_offset_s": offset, "battery": body.get("battery"),
                  "log_seq": lock.log_seq})
    evaluate_alerts(session, settings, lock, now)
    command = {"lock_id": lock.lock_id, "set_clock": now.timestamp(), "ack_seq": lock.log_seq,
               "challenge": upload["mac"]}
    command["mac"] = hmac.new(key, canonical_json(command), hashlib.sha256).hexdigest()
    return command


# -- online lock: poll -------------------------------------------------------------------------
def _load_keys(session: Session, settings: LockSettings, lock_id: str) -> LockKeys | None:
    lock = repository.get_by_lock_id(session, lock_id)
    if lock is None or lock.kind != "online":
        return None
    return derive_keys(lock.id, lock.generation, lock_key(session, settings, lock))


def poll(session: Session, settings: LockSettings, keys: LockKeyCache, lock_id: str,
         body: bytes, headers: Mapping[str, str], *, now: datetime,
         skew_s: int = 300) -> tuple[bytes, dict[str, str]]:
    """An online lock's poll: authenticate (``poll_auth``: signature before any database
    read, nonce used once), store its log and battery, push its code slots sealed to the lock
    (up to its slot limit) and its queued unlock commands; the answer is signed."""
    timestamp = headers.get("x-lock-timestamp", "")
    nonce = headers.get("x-lock-nonce", "")
    signature = headers.get("x-lock-signature", "")
    check_headers(lock_id, timestamp, nonce, signature, now=now, skew_s=skew_s)
    k = verify(keys.get(lock_id, lambda: _load_keys(session, settings, lock_id)),
               timestamp, nonce, body, signature)
    lock = get_or_raise(session, k.pk, for_update=True)
    if lock.generation != k.generation:  # rekeyed since the key was cached
        keys.forget(lock_id)
        raise Unauthorized("the lock's key changed; poll again")
    use_nonce(session, lock.id, nonce, nonce_expiry(timestamp, now, skew_s), now)
    upload, data = parse_json_body(PollUpload, body)
    clock = upload.clock if upload.clock is not None else now.timestamp()
    offset = clock - now.timestamp()
    openings = _ingest(session, lock, data.get("events") or [], offset, now)
    _telemetry(session, lock, upload.battery, openings, offset, False, now)
    requested = upload.slot_limit if upload.slot_limit is not None else lock.slot_limit
    slots = _pushed_slots(session, settings, lock, min(lock.slot_limit, requested), now)
    # Remote unlocks go only to this authenticated, fresh poll (nonce stored above).
    commands = []
    for c in repository.undelivered_commands(session, lock.id):
        c.delivered_at = now
        commands.append({"kind": "unlock", "id": c.id})
    evaluate_alerts(session, settings, lock, now)
    session.flush()
    answer = json.dumps({"nonce": nonce, "sealed_slots": seal_slots(k, lock_id, nonce, slots),
                         "ack_seq": lock.log_seq, "commands": commands,
                         "slots_full": lock.slots_full}, separators=(",", ":")).encode()
    ts = str(int(now.timestamp()))
    return answer, {"X-Lock-Timestamp": ts, "X-Lock-Nonce": nonce,
                    "X-Lock-Signature": sign(k.sync, ts, nonce, answer)}


def _pushed_slots(session: Session, settings: LockSettings, lock: SmartLock, limit: int,
                  now: datetime) -> list[dict[str, Any]]:
    n = int(now.timestamp()) // SLOT_SECONDS
    horizon = n + settings.slot_lookahead_h * 4
    wanted = [p for p in repository.active_pins(session, lock.id, lock.generation, n - 96 - 2,
                                                horizon)
              if p.start_slot + p.duration_slots + lock.grace_late > n]
    pushed, left_out = wanted[:max(limit, 0)], wanted[max(limit, 0):]
    lock.slots_full = bool(left_out)
    if left_out:
        _alert(session, lock, "slots_full", now, left_out[0].booking_id,
               f"{len(left_out)} code(s) wait for a free slot",
               key=f"{lock.id}|slots_full|{left_out[0].id}")
    slots = []
    for i, p in enumerate(pushed):
        start, stop = accepted_times(lock, p)
        slots.append({"slot": i, "code": pin_of(session, settings, lock, p),
                      "valid_from": int(start.timestamp()), "valid_until": int(stop.timestamp()),
                      "ref": p.id})
    return slots


# -- emergencies -------------------------------------------------------------------------------
def remote_unlock(session: Session, lock: SmartLock, *, actor: str, reason: str,
                  now: datetime) -> LockCommand:
    """Queue a remote emergency unlock for an online lock (delivered at its next poll)."""
    if lock.kind != "online":
        raise BadRequest("remote unlock needs an online lock; issue an emergency code",
                         field="lock_id")
    cmd = LockCommand(lock_id=lock.id, kind="unlock", actor=actor, reason=reason, created_at=now)
    session.add(cmd)
    session.flush()
    record(session, actor=actor, action="lock.remote_unlock", entity="smart_lock",
           entity_id=lock.id, after={"reason": reason, "command_id": cmd.id})
    return cmd


def issue_emergency_code(session: Session, settings: LockSettings, lock: SmartLock, *,
                         actor: str, reason: str, now: datetime) -> tuple[str, datetime]:
    """A one-time code valid for 1 h, read out by phone (audited; the code is not recorded)."""
    lock = get_or_raise(session, lock.id, for_update=True)
    n = int(now.timestamp()) // SLOT_SECONDS
    counter = repository.emergency_count(session, lock.id, n)
    if counter >= 10:
        raise Conflict("ten emergency codes were issued for this lock in 15 minutes",
                       field="lock_id")
    session.add(LockCommand(lock_id=lock.id, kind="emergency_code", actor=actor, reason=reason,
                            issue_slot=n, counter=counter, created_at=now,
                            delivered_at=now))
    record(session, actor=actor, action="lock.emergency_code", entity="smart_lock",
           entity_id=lock.id, after={"reason": reason, "issue_slot": n, "counter": counter})
    code = emergency_code(lock_key(session, settings, lock), lock.lock_id, lock.generation, n,
                          counter)
    return code, slot_time(n + 4 + lock.grace_late)


def rekey(session: Session, lock: SmartLock, *, actor: str, now: datetime) -> list[int]:
    """Bump the key generation: every PIN, revocation and emergency code of the old generation
    dies with it. Returns the bookings whose PINs must be reissued."""
    old = lock.generation
    lock.generation = old + 1
    affected: set[int] = set()
    n = int(now.timestamp()) // SLOT_SECONDS
    for p in repository.pins_near(session, lock.id, old, 0, 2 ** 62):
        if p.revocation_state == "pending":
            p.revocation_state = "cleared"
        if p.status == "active" and p.start_slot + p.duration_slots + lock.grace_late > n:
            p.status, p.revoked_at = "revoked", now
            affected.add(p.booking_id)
    session.flush()
    record(session, actor=actor, action="lock.rekey", entity="smart_lock", entity_id=lock.id,
           before={"generation": old}, after={"generation": lock.generation})
    return sorted(affected)


def status(session: Session, settings: LockSettings, lock: SmartLock,
           now: datetime) -> dict[str, Any]:
    """Honest per-lock status: last contact, battery and days left, clock, pending work."""
    left = days_left(session, lock, now)
    return {"id": lock.id, "lock_id": lock.lock_id, "kind": lock.kind,
            "facility_id": lock.facility_id, "generation": lock.generation,
            "slot_limit": lock.slot_limit, "battery_percent": lock.battery_percent,
            "battery_at": lock.battery_at,
            "low_battery": lock.battery_percent is not None
            and lock.battery_percent < settings.low_battery_percent,
            "battery_days_left": round(left, 1) if left is not None else None,
            "last_contact_at": lock.last_contact_at, "clock_offset_s": lock.clock_offset_s,
            "drift_ppm": lock.drift_ppm, "log_seq": lock.log_seq,
            "pending_revocations": len(pending_codes(session, settings, lock, now)),
            "slots_full": lock.slots_full, "grace": [grace_of(lock).early,
                                                     grace_of(lock).late]}
