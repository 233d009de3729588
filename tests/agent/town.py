"""Seed a tiny town hall in the real service database for agent end-to-end tests."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import func, select

from api.db import Database
from api.models import (
    AccessGroup,
    AccessGroupMember,
    Credential,
    Department,
    Event,
    Permission,
    Schedule,
    ScheduleWindow,
    Site,
    Staff,
)
from api.models import Door as DoorRow
from api.snapshot.versioning import bump
from reader_agent.agent import enroll_agent
from reader_agent.keys import Identity


@dataclass(frozen=True)
class Town:
    door_id: int
    clock_door_id: int
    staff_id: int
    group_id: int


def seed_town(db: Database) -> Town:
    """書庫 (access) and a clock point, one staff member 山田 太郎 in a group allowed always."""
    with db.session() as s:
        site = Site(code="honcho", name="本庁舎")
        dept = Department(code="soumu", name="総務課")
        s.add_all([site, dept])
        s.flush()
        door = DoorRow(site_id=site.id, code="shoko", name="書庫", mode="access")
        clock = DoorRow(site_id=site.id, code="clock1", name="打刻機1", mode="clock")
        staff = Staff(staff_number="S0001", name="山田 太郎", name_kana="ヤマダ タロウ",
                      department_id=dept.id, active_from=date(2020, 4, 1))
        group = AccessGroup(name="総務課")
        sched = Schedule(name="常時", allow_closed_days=True)
        s.add_all([door, clock, staff, group, sched])
        s.flush()
        s.add_all([ScheduleWindow(schedule_id=sched.id, weekday=d, start_minute=0,
                                  end_minute=1440) for d in range(7)])
        s.add(AccessGroupMember(group_id=group.id, staff_id=staff.id))
        s.add_all([Permission(group_id=group.id, door_id=door.id, schedule_id=sched.id),
                   Permission(group_id=group.id, door_id=clock.id, schedule_id=sched.id)])
        bump(s)
        s.commit()
        return Town(door.id, clock.id, staff.id, group.id)


def add_credential(db: Database, staff_id: int, ref: str, public_key: bytes) -> None:
    with db.session() as s:
        v = bump(s)
        s.add(Credential(staff_id=staff_id, kind="staff_ap", credential_ref=ref,
                         public_key=base64.b64encode(public_key).decode(), status="active",
                         snapshot_version=v))
        s.commit()


def set_credential_status(db: Database, ref: str, status: str) -> int:
    """Change a credential's status the way the admin service does (bump + stamp)."""
    from api.models.base import utcnow

    with db.session() as s:
        cred = s.execute(select(Credential).where(Credential.credential_ref == ref)).scalar_one()
        v = bump(s)
        cred.status = status
        cred.status_reason = "test"
        cred.status_changed_at = utcnow()
        cred.snapshot_version = v
        s.commit()
        return v


def device_token(admin: Any, door_ids: list[int], name: str = "reader-1") -> str:
    resp = admin.post("/admin/devices", json={"name": name, "door_ids": door_ids})
    assert resp.status_code == 201, resp.text
    return str(resp.json()["enrollment_token"])


def confirm_device(admin: Any, device_id: str | None = None, name: str = "reader-1") -> None:
    """Confirm an enrolled reader, as an admin does on the console's devices page (by id, or
    by name for a reader enrolled by the CLI)."""
    if device_id is None:
        listed = admin.get("/admin/devices").json()
        device_id = next(d["id"] for d in listed if d["name"] == name)
    resp = admin.post(f"/admin/devices/{device_id}/confirm")
    assert resp.status_code == 200 and resp.json()["status"] == "active", resp.text


def enroll_confirmed(admin: Any, data_dir: Any, service_url: str, door_ids: list[int],
                     name: str = "reader-1") -> Identity:
    """A reader enrolled through the device API and confirmed by the admin."""
    identity = enroll_agent(data_dir, service_url, device_token(admin, door_ids, name))
    confirm_device(admin, identity.device_id)
    return identity


def stored_events(db: Database, device_id: str) -> list[Event]:
    import uuid

    with db.session() as s:
        return list(s.execute(select(Event).where(Event.device_id == uuid.UUID(device_id))
                              .order_by(Event.seq)).scalars())


def count_events(db: Database) -> int:
    with db.session() as s:
        return int(s.execute(select(func.count()).select_from(Event)).scalar_one())
