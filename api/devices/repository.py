"""Queries for devices, their doors and open sequence gaps."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from api.models import Device, DeviceDoor, Door, SequenceGap, Site


def get(session: Session, device_id: uuid.UUID, *, lock: bool = False) -> Device | None:
    stmt = select(Device).where(Device.id == device_id)
    if lock:
        stmt = stmt.with_for_update()
    return session.execute(stmt).scalar_one_or_none()


def get_by_name(session: Session, name: str) -> Device | None:
    return session.execute(select(Device).where(Device.name == name)).scalar_one_or_none()


def get_by_token_hash(session: Session, token_hash: str) -> Device | None:
    return session.execute(
        select(Device).where(Device.enrollment_token_hash == token_hash).with_for_update()
    ).scalar_one_or_none()


def list_all(session: Session) -> list[Device]:
    return list(session.execute(select(Device).order_by(Device.name)).scalars())


def site_exists(session: Session, site_id: int) -> bool:
    return session.get(Site, site_id) is not None


def existing_door_ids(session: Session, door_ids: Iterable[int]) -> set[int]:
    ids = list(door_ids)
    if not ids:
        return set()
    return set(session.execute(select(Door.id).where(Door.id.in_(ids))).scalars())


def door_ids_of(session: Session, device_ids: list[uuid.UUID]) -> dict[uuid.UUID, list[int]]:
    out: dict[uuid.UUID, list[int]] = defaultdict(list)
    if device_ids:
        rows = session.execute(
            select(DeviceDoor.device_id, DeviceDoor.door_id)
            .where(DeviceDoor.device_id.in_(device_ids)).order_by(DeviceDoor.door_id))
        for dev, door in rows:
            out[dev].append(door)
    return out


def open_gaps_of(session: Session,
                 device_ids: list[uuid.UUID]) -> dict[uuid.UUID, list[tuple[int, int]]]:
    out: dict[uuid.UUID, list[tuple[int, int]]] = defaultdict(list)
    if device_ids:
        rows = session.execute(
            select(SequenceGap.device_id, SequenceGap.first_seq, SequenceGap.last_seq)
            .where(SequenceGap.device_id.in_(device_ids), SequenceGap.closed_at.is_(None))
            .order_by(SequenceGap.first_seq))
        for dev, first, last in rows:
            out[dev].append((first, last))
    return out


def replace_doors(session: Session, device_id: uuid.UUID, door_ids: list[int]) -> None:
    session.execute(delete(DeviceDoor).where(DeviceDoor.device_id == device_id))
    session.add_all(DeviceDoor(device_id=device_id, door_id=d) for d in door_ids)
    session.flush()
