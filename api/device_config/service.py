"""Each reader's ``firmware_config`` bundle, rendered from the database and signed by the service.

A bundle carries a complete ``ReaderConfig``: the admin's settings for the reader host
(driver, door I/O, pins, keypad, offline limits …), the device's doors from the door table
(name, mode, assurance, fail-open, unlock time), and the service's public key as the trust
anchor. It is re-signed under ``config_version`` + 1 only when the rendered content changes,
so one version always means one document and the agent's rollback rules
(``firmware_config.bundle.install_bundle``) hold. A version never goes below the one the
device last reported (a bundle rendered offline with ``mynagate config render``).
"""

from __future__ import annotations

import hashlib
import uuid
from datetime import datetime
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from pydantic import ValidationError
from sqlalchemy.orm import Session

from api.audit.service import record
from api.bounded import INT32_MAX
from api.devices import repository as device_repository
from api.errors import BadRequest, Conflict, MynagateError, NotFound
from api.models import Device, DeviceConfig, Site
from api.snapshot import repository as snapshot_repository
from api.snapshot.versioning import bump
from firmware_config.bundle import reader_payload
from firmware_config.models import ReaderConfig
from gate.signing import canonical_json, public_key_b64, sign_document

from . import repository
from .schemas import DeviceConfigRead, DeviceConfigSettings


def _read(row: DeviceConfig) -> DeviceConfigRead:
    return DeviceConfigRead(device_id=row.device_id, settings=row.settings,
                            config_version=row.config_version, bundle=row.bundle)


def _device_or_raise(session: Session, device_id: uuid.UUID, *, lock: bool = False) -> Device:
    device = device_repository.get(session, device_id, lock=lock)
    if device is None:
        raise NotFound(f"device {device_id} not found", field="device_id")
    return device


def get_config(session: Session, device_id: uuid.UUID) -> DeviceConfigRead:
    row = repository.get(session, _device_or_raise(session, device_id).id)
    if row is None:
        raise NotFound("no configuration set for this device", field="device_id")
    return _read(row)


def set_config(session: Session, device_id: uuid.UUID, data: DeviceConfigSettings, *,
               actor: str, service_key: Ed25519PrivateKey, municipality_code: str,
               now: datetime) -> DeviceConfigRead:
    """Set a reader's settings and sign its bundle at once (refused if it would not validate).

    Bumps the snapshot version, so the device's long-poll wakes and it fetches the bundle."""
    device = _device_or_raise(session, device_id, lock=True)
    served = {d.id for d in snapshot_repository.doors_of_device(session, device.id)}
    for i, wiring in enumerate(data.doors):
        if wiring.door_id not in served:
            raise BadRequest(f"door {wiring.door_id} is not served by this device",
                             field=f"doors.{i}.door_id")
    row = repository.get(session, device.id, lock=True)
    before = None if row is None else dict(row.settings)
    if row is None:
        row = DeviceConfig(device_id=device.id, settings={}, config_version=0)
        session.add(row)
    row.settings = data.model_dump(mode="json")
    _render(session, device, row, service_key=service_key,
            municipality_code=municipality_code, now=now, invalid=BadRequest)
    bump(session)
    record(session, actor=actor, action="device.config.set", entity="device",
           entity_id=device.id, before=before,
           after={**row.settings, "config_version": row.config_version})
    return _read(row)


def current_bundle(session: Session, device_id: uuid.UUID, *, service_key: Ed25519PrivateKey,
                   municipality_code: str, now: datetime,
                   have: int | None = None) -> dict[str, Any] | None:
    """The device's signed bundle as of now (None: no settings, the site renders offline).

    ``have`` is the version the device runs: one above ours (a bundle rendered offline) makes
    us sign above it, or the device would refuse ours as a rollback. Raises Conflict when a
    later change (a door made card+PIN on a reader with no keypad …) no longer renders: the
    reader keeps its last good bundle."""
    row = repository.get(session, device_id, lock=True)
    if row is None:
        return None
    _render(session, _device_or_raise(session, device_id), row, service_key=service_key,
            municipality_code=municipality_code, now=now, invalid=Conflict,
            floor=have or 0)
    return row.bundle


def _render(session: Session, device: Device, row: DeviceConfig, *,
            service_key: Ed25519PrivateKey, municipality_code: str, now: datetime,
            invalid: type[MynagateError], floor: int = 0) -> None:
    """Sign a new bundle into ``row`` if the rendered configuration changed (or the device
    runs a version above ours, ``floor``)."""
    reader = _reader_config(session, device, row.settings, service_key, invalid)
    site = session.get(Site, device.site_id) if device.site_id is not None else None
    site_name = site.name if site is not None else ""
    content = {"municipality_code": municipality_code, "site": site_name,
               "config": reader.model_dump(mode="json")}
    digest = hashlib.sha256(canonical_json(content)).hexdigest()
    if row.bundle is not None and row.content_digest == digest and floor <= row.config_version:
        return
    version = max(row.config_version, device.config_version or 0, floor) + 1
    if version > INT32_MAX:  # a device reported an absurd version: never wrap around
        raise Conflict("config_version cannot go higher; re-enroll the device",
                       field="config_version")
    payload = reader_payload(reader, municipality_code=municipality_code, site=site_name,
                             config_version=version, issued_at=now)
    row.bundle = sign_document(payload, service_key)
    row.config_version = version
    row.content_digest = digest
    session.flush()


def _reader_config(session: Session, device: Device, raw: dict[str, Any],
                   service_key: Ed25519PrivateKey,
                   invalid: type[MynagateError]) -> ReaderConfig:
    settings = DeviceConfigSettings.model_validate(raw)
    wiring = {w.door_id: w.model_dump(exclude={"door_id"}) for w in settings.doors}
    doors = [{"door_id": d.id, "name": d.name, "mode": d.mode, "assurance": d.assurance,
              "unlock_seconds": d.unlock_seconds, "fail_open": d.fail_open,
              **wiring.get(d.id, {})}
             for d in snapshot_repository.doors_of_device(session, device.id)]
    data = settings.model_dump(mode="json", exclude={"doors", "jpki_ca_certs"})
    data.update(name=str(device.id), doors=doors,
                trust={"service_public_key": public_key_b64(service_key.public_key()),
                       "jpki_ca_certs": settings.jpki_ca_certs})
    try:
        return ReaderConfig.model_validate(data)
    except ValidationError as err:
        first = err.errors(include_url=False)[0]
        where = ".".join(str(p) for p in first["loc"]) or "config"
        msg = str(first["msg"]).removeprefix("Value error, ")
        raise invalid(f"the reader configuration does not validate: {where}: {msg}",
                      field=where) from err
