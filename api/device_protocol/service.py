"""Device API services: enrollment, heartbeat (clock offset, watermark), online decisions."""

from __future__ import annotations

import logging
import uuid
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from api.access import decisions
from api.attendance.config import rule_config
from api.audit.service import record
from api.bounded import clamp_int32
from api.devices import repository as device_repository
from api.devices.service import hash_token
from api.errors import BadRequest, Forbidden, Unauthorized
from api.events.ingest import lock_device, record_service_alarm
from api.models import Credential, Device, DeviceStatus, Door
from api.snapshot import repository as snapshot_repository
from api.snapshot.versioning import current
from api.timefmt import format_time
from gate.signing import SignatureError, key_id, load_public_key, public_key_b64

from .schemas import (
    DecideRequest,
    DecideResponse,
    EnrollRequest,
    EnrollResponse,
    HeartbeatRequest,
    HeartbeatResponse,
)

log = logging.getLogger(__name__)


def enroll(session: Session, data: EnrollRequest, *, now: datetime,
           service_key: Ed25519PrivateKey) -> EnrollResponse:
    """Bind the agent's public key to the device the one-time token was made for. The device
    stays pending (heartbeats only) until an admin or security confirms it
    (``api.devices.service.confirm``)."""
    device = device_repository.get_by_token_hash(session, hash_token(data.enrollment_token))
    if device is None or device.status != DeviceStatus.PENDING:
        log.warning("device.enroll.unknown_token")
        raise Unauthorized("unknown or already used enrollment token",
                           field="enrollment_token")
    if device.enrollment_expires_at is None or device.enrollment_expires_at <= now:
        log.warning("device.enroll.expired device=%s", device.id)
        raise Unauthorized("enrollment token expired", field="enrollment_token")
    try:
        load_public_key(data.public_key)
    except SignatureError as err:
        raise BadRequest("public_key must be a base64 raw Ed25519 public key",
                         field="public_key") from err
    # Conditional on the token still being unused: two racing enrollments (SQLite has no row
    # lock) cannot both win.
    won = session.execute(
        update(Device)
        .where(Device.id == device.id, Device.status == DeviceStatus.PENDING,
               Device.enrollment_token_hash == hash_token(data.enrollment_token))
        .values(public_key=data.public_key, enrolled_at=now,
                enrollment_token_hash=None, enrollment_expires_at=None)
        .returning(Device.id)
        .execution_options(synchronize_session=False)).first()
    if won is None:
        raise Unauthorized("unknown or already used enrollment token",
                           field="enrollment_token")
    session.refresh(device)
    record(session, actor=f"device:{device.id}", action="device.enroll", entity="device",
           entity_id=device.id, before={"status": "pending"},
           after={"status": DeviceStatus.PENDING, "agent_version": data.agent_version})
    public = service_key.public_key()
    return EnrollResponse(device_id=device.id, service_public_key=public_key_b64(public),
                          service_key_id=key_id(public), server_time=format_time(now))


def heartbeat(session: Session, device_id: uuid.UUID, data: HeartbeatRequest, *,
              now: datetime, skew_alarm_ms: int, max_skew_s: int) -> HeartbeatResponse:
    """Record liveness and clock offset; move the delivery watermark when the outbox is empty.

    A ``device_time`` more than ``max_skew_s`` ahead of the server clock (the window a signed
    request's own timestamp must be in) never moves the watermark: a far-future time would
    otherwise mark events not yet sent as delivered, for good. An old one is merely
    conservative."""
    device = lock_device(session, device_id)
    offset = clamp_int32(round((now - data.device_time).total_seconds() * 1000))
    previous = device.clock_offset_ms
    device.last_heartbeat_at = now
    device.clock_offset_ms = offset
    if data.config_version is not None:
        device.config_version = data.config_version
    if data.snapshot_version is not None:
        device.snapshot_version = data.snapshot_version
    device.outbox_pending = data.outbox_pending
    device.oldest_pending_at = data.oldest_pending_at
    skew = abs(offset) > skew_alarm_ms
    if skew and (previous is None or abs(previous) <= skew_alarm_ms):
        log.warning("device.heartbeat.clock_skew device=%s offset_ms=%d", device_id, offset)
        record_service_alarm(session, device_id, alarm="clock_skew", now=now,
                             detail={"offset_ms": offset, "threshold_ms": skew_alarm_ms})
    # Everything up to device_time is here only if the outbox is empty AND nothing is missing.
    plausible = data.device_time <= now + timedelta(seconds=max_skew_s)
    if plausible and data.outbox_pending == 0 and (data.last_seq is None
                                                   or device.contiguous_seq >= data.last_seq):
        if device.delivered_through is None or data.device_time > device.delivered_through:
            device.delivered_through = data.device_time
    session.flush()
    return HeartbeatResponse(server_time=format_time(now), clock_offset_ms=offset,
                             snapshot_version=current(session), skew_alarm=skew)


def decide(session: Session, device_id: uuid.UUID, data: DecideRequest, *, now: datetime,
           tz: ZoneInfo) -> DecideResponse:
    """An online decision by ``gate.policy.decide`` from the database at server time."""
    door_ids = {d.id for d in snapshot_repository.doors_of_device(session, device_id)}
    if data.door_id not in door_ids:
        raise Forbidden(f"door {data.door_id} is not served by this device", field="door_id")
    door = session.get(Door, data.door_id)
    assert door is not None
    cred = session.execute(select(Credential).where(
        Credential.credential_ref == data.credential_ref)).scalar_one_or_none()
    inputs = decisions.load(session, [door], cred, start=now, end=now, tz=tz,
                            day_change=rule_config().day_change)
    result = inputs.decide(door.id, now, pin_verified=data.pin_verified)
    return DecideResponse(granted=result.granted, reason=result.reason.value)
