"""Device management: creation with a one-time enrollment token, listing, revocation.

The enrollment token is shown once; only its SHA-256 is stored, and it is cleared when used.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from api.audit.service import record
from api.errors import BadRequest, Conflict, NotFound
from api.models import Device, DeviceDoor, DeviceStatus
from api.models.base import utcnow
from api.snapshot.service import staff_in_scope, stamp_staff_credentials
from api.snapshot.versioning import bump

from . import repository
from .schemas import DeviceCreate, DeviceCreated, DeviceDoorsUpdate, DeviceRead


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _read(device: Device, door_ids: list[int], gaps: list[tuple[int, int]]) -> DeviceRead:
    return DeviceRead(
        id=device.id, name=device.name, site_id=device.site_id, status=device.status,
        door_ids=door_ids, created_at=device.created_at, enrolled_at=device.enrolled_at,
        confirmed_at=device.confirmed_at, confirmed_by=device.confirmed_by,
        revoked_at=device.revoked_at, enrollment_expires_at=device.enrollment_expires_at,
        last_heartbeat_at=device.last_heartbeat_at, clock_offset_ms=device.clock_offset_ms,
        config_version=device.config_version, snapshot_version=device.snapshot_version,
        max_seq=device.max_seq, contiguous_seq=device.contiguous_seq,
        delivered_through=device.delivered_through, outbox_pending=device.outbox_pending,
        oldest_pending_at=device.oldest_pending_at, open_gaps=gaps)


def _audit_view(device: Device, door_ids: list[int]) -> dict[str, Any]:
    return {"name": device.name, "site_id": device.site_id, "status": device.status,
            "door_ids": door_ids}


def get_or_raise(session: Session, device_id: uuid.UUID, *, lock: bool = False) -> Device:
    device = repository.get(session, device_id, lock=lock)
    if device is None:
        raise NotFound(f"device {device_id} not found", field="id")
    return device


def create(session: Session, data: DeviceCreate, *, actor: str, token_ttl_s: int) -> DeviceCreated:
    """Create a pending device and return it with its one-time enrollment token."""
    if repository.get_by_name(session, data.name) is not None:
        raise Conflict(f"a device named {data.name!r} already exists", field="name")
    if data.site_id is not None and not repository.site_exists(session, data.site_id):
        raise BadRequest(f"site {data.site_id} does not exist", field="site_id")
    door_ids = sorted(set(data.door_ids))
    missing = sorted(set(door_ids) - repository.existing_door_ids(session, door_ids))
    if missing:
        raise BadRequest(f"unknown door id(s): {missing}", field="door_ids")
    token = secrets.token_urlsafe(32)
    device = Device(id=uuid.uuid4(), name=data.name, site_id=data.site_id, status=DeviceStatus.PENDING,
                    enrollment_token_hash=hash_token(token),
                    enrollment_expires_at=utcnow() + timedelta(seconds=token_ttl_s),
                    max_seq=0, contiguous_seq=0)
    session.add(device)
    session.flush()
    for door_id in door_ids:
        session.add(DeviceDoor(device_id=device.id, door_id=door_id))
    session.flush()
    record(session, actor=actor, action="device.create", entity="device", entity_id=device.id,
           after=_audit_view(device, door_ids))
    read = _read(device, door_ids, [])
    return DeviceCreated(**read.model_dump(), enrollment_token=token)


def reissue_token(session: Session, device_id: uuid.UUID, *, actor: str,
                  token_ttl_s: int) -> DeviceCreated:
    """A new one-time token for a device that has not enrolled yet (the old one stops working)."""
    device = get_or_raise(session, device_id, lock=True)
    if device.status != DeviceStatus.PENDING or device.public_key is not None:
        raise Conflict(f"device is {device.status}; only a device not yet enrolled can get "
                       "a token", field="status")
    token = secrets.token_urlsafe(32)
    device.enrollment_token_hash = hash_token(token)
    device.enrollment_expires_at = utcnow() + timedelta(seconds=token_ttl_s)
    session.flush()
    record(session, actor=actor, action="device.reissue_token", entity="device",
           entity_id=device.id)
    return DeviceCreated(**get(session, device_id).model_dump(), enrollment_token=token)


def list_devices(session: Session) -> list[DeviceRead]:
    devices = repository.list_all(session)
    ids = [d.id for d in devices]
    doors = repository.door_ids_of(session, ids)
    gaps = repository.open_gaps_of(session, ids)
    return [_read(d, doors.get(d.id, []), gaps.get(d.id, [])) for d in devices]


def get(session: Session, device_id: uuid.UUID) -> DeviceRead:
    device = get_or_raise(session, device_id)
    doors = repository.door_ids_of(session, [device.id])
    gaps = repository.open_gaps_of(session, [device.id])
    return _read(device, doors.get(device.id, []), gaps.get(device.id, []))


def set_doors(session: Session, device_id: uuid.UUID, data: DeviceDoorsUpdate, *,
              actor: str) -> DeviceRead:
    """Change the doors a device serves; its next snapshot (delta or full) reflects it."""
    device = get_or_raise(session, device_id, lock=True)
    door_ids = sorted(set(data.door_ids))
    missing = sorted(set(door_ids) - repository.existing_door_ids(session, door_ids))
    if missing:
        raise BadRequest(f"unknown door id(s): {missing}", field="door_ids")
    before = repository.door_ids_of(session, [device.id]).get(device.id, [])
    if before == door_ids:
        return get(session, device_id)
    repository.replace_doors(session, device.id, door_ids)
    # Staff the new doors bring into scope: their credentials must be in the next delta.
    version = bump(session)
    stamp_staff_credentials(session, sorted(staff_in_scope(session, device.id)), version)
    record(session, actor=actor, action="device.set_doors", entity="device",
           entity_id=device.id, before={"door_ids": before}, after={"door_ids": door_ids})
    return get(session, device_id)


def confirm(session: Session, device_id: uuid.UUID, *, actor: str, now: datetime) -> DeviceRead:
    """An admin or security confirms an enrolled reader (``docs/deploy-reader.md``): from now
    on it gets its snapshot, decisions and configuration, and its events are taken."""
    device = get_or_raise(session, device_id, lock=True)
    if device.status != DeviceStatus.PENDING or device.public_key is None:
        raise Conflict(f"device is {device.status}"
                       + ("" if device.public_key else " and has not enrolled yet")
                       + "; only an enrolled, pending device can be confirmed", field="status")
    device.status = DeviceStatus.ACTIVE
    device.confirmed_at = now
    device.confirmed_by = actor
    session.flush()
    record(session, actor=actor, action="device.confirm", entity="device", entity_id=device.id,
           before={"status": "pending"}, after={"status": "active"})
    return get(session, device_id)


def revoke(session: Session, device_id: uuid.UUID, *, reason: str, actor: str) -> DeviceRead:
    """Revoke a device: every later request it signs gets 401."""
    device = get_or_raise(session, device_id, lock=True)
    if device.status == DeviceStatus.REVOKED:
        raise Conflict("device is already revoked", field="status")
    before = device.status
    device.status = DeviceStatus.REVOKED
    device.revoked_at = utcnow()
    device.enrollment_token_hash = None
    session.flush()
    record(session, actor=actor, action="device.revoke", entity="device", entity_id=device.id,
           before={"status": before}, after={"status": DeviceStatus.REVOKED, "reason": reason})
    return get(session, device_id)
