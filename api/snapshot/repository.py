"""Queries behind the snapshot: a device's doors and everything their decisions need."""

from __future__ import annotations

import uuid
from collections.abc import Collection
from datetime import date

from sqlalchemy import ColumnElement, and_, or_, select
from sqlalchemy.orm import Session, selectinload

from api.models import (
    AccessGroupMember,
    Credential,
    DeviceDoor,
    Door,
    Permission,
    Schedule,
    Staff,
)
from gate.policy import CredentialStatus


def doors_of_device(session: Session, device_id: uuid.UUID) -> list[Door]:
    return list(session.execute(
        select(Door).join(DeviceDoor, DeviceDoor.door_id == Door.id)
        .where(DeviceDoor.device_id == device_id).order_by(Door.id)).scalars())


def door_ids_of_device(session: Session, device_id: uuid.UUID) -> list[int]:
    return list(session.execute(select(DeviceDoor.door_id).where(
        DeviceDoor.device_id == device_id).order_by(DeviceDoor.door_id)).scalars())


def permissions_for_doors(session: Session, door_ids: Collection[int]) -> list[Permission]:
    if not door_ids:
        return []
    return list(session.execute(
        select(Permission).where(Permission.door_id.in_(list(door_ids)))
        .order_by(Permission.group_id, Permission.door_id, Permission.schedule_id)).scalars())


def memberships(session: Session, group_ids: Collection[int]) -> list[tuple[int, int]]:
    """(staff_id, group_id) pairs for the given groups."""
    if not group_ids:
        return []
    rows = session.execute(
        select(AccessGroupMember.staff_id, AccessGroupMember.group_id)
        .where(AccessGroupMember.group_id.in_(list(group_ids))))
    return [(s, g) for s, g in rows]


def staff_by_ids(session: Session, staff_ids: Collection[int]) -> list[Staff]:
    if not staff_ids:
        return []
    return list(session.execute(
        select(Staff).where(Staff.id.in_(list(staff_ids))).order_by(Staff.id)).scalars())


def schedules_by_ids(session: Session, schedule_ids: Collection[int]) -> list[Schedule]:
    if not schedule_ids:
        return []
    return list(session.execute(
        select(Schedule).options(selectinload(Schedule.windows))
        .where(Schedule.id.in_(list(schedule_ids))).order_by(Schedule.id)).scalars())


def credentials_for(session: Session, staff_ids: Collection[int],
                    since: int | None) -> list[Credential]:
    """Full: every credential of the staff in scope. Delta: those of the staff in scope changed
    after ``since``, plus every non-active credential changed after ``since`` (so a revocation
    reaches every agent, in scope or not)."""
    ids = list(staff_ids)
    cond: ColumnElement[bool]
    if since is None:
        if not ids:
            return []
        cond = Credential.staff_id.in_(ids)
    else:
        in_scope = Credential.staff_id.in_(ids) if ids else None
        not_active = Credential.status != CredentialStatus.ACTIVE
        cond = and_(Credential.snapshot_version > since,
                    or_(in_scope, not_active) if in_scope is not None else not_active)
    return list(session.execute(
        select(Credential).where(cond).order_by(Credential.id)).scalars())


def active_staff_ids(session: Session, day: date) -> list[int]:
    """Staff active on ``day`` who hold an active credential."""
    q = (select(Staff.id).join(Credential, Credential.staff_id == Staff.id)
         .where(Credential.status == CredentialStatus.ACTIVE, Staff.active_from <= day,
                or_(Staff.active_until.is_(None), Staff.active_until >= day)).distinct())
    return sorted(session.execute(q).scalars())


def active_refs(session: Session) -> list[str]:
    """Every active credential's ref."""
    return list(session.execute(select(Credential.credential_ref)
                                .where(Credential.status == CredentialStatus.ACTIVE)).scalars())
