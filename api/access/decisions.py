"""What ``gate.policy.decide`` is given, loaded from the database: a credential, its holder,
the doors' permissions, their schedules and the closed days around a time span.

The device API's online decision and the console's decision preview both decide through
here, so the preview shows what a reader would answer."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from api.calendar.service import closed_days
from api.models import AccessGroupMember, Credential, Door, Staff
from api.snapshot import repository as snapshot_repository
from gate import policy


@dataclass(frozen=True)
class DecisionData:
    """Everything but the door and the moment of a tap: ``request`` makes the tap."""

    credential: policy.CredentialInfo | None
    staff: policy.StaffInfo | None
    permissions: tuple[policy.Permission, ...]
    schedules: dict[int, policy.Schedule]
    closed_days: frozenset[date]
    tz: ZoneInfo
    day_change: time
    doors: dict[int, policy.DoorInfo] = field(default_factory=dict)

    def request(self, door_id: int, now: datetime, *,
                pin_verified: bool) -> policy.AccessRequest:
        return policy.AccessRequest(
            credential=self.credential, staff=self.staff, door=self.doors[door_id], now=now,
            permissions=self.permissions, schedules=self.schedules,
            closed_days=self.closed_days, pin_verified=pin_verified, tz=self.tz,
            day_change=self.day_change)

    def decide(self, door_id: int, now: datetime, *, pin_verified: bool) -> policy.Decision:
        return policy.decide(self.request(door_id, now, pin_verified=pin_verified))


def door_info(door: Door) -> policy.DoorInfo:
    return policy.DoorInfo(id=door.id, mode=door.mode, assurance=door.assurance,
                           lockdown=door.lockdown, fail_open=door.fail_open)


def _holder(session: Session, cred: Credential | None
            ) -> tuple[policy.CredentialInfo | None, policy.StaffInfo | None]:
    if cred is None:
        return None, None
    info = policy.CredentialInfo(ref=cred.credential_ref, staff_id=cred.staff_id,
                                 kind=cred.kind, status=policy.CredentialStatus(cred.status),
                                 not_after=cred.not_after)
    staff = session.get(Staff, cred.staff_id)
    if staff is None:
        return info, None
    groups = frozenset(session.execute(select(AccessGroupMember.group_id).where(
        AccessGroupMember.staff_id == staff.id)).scalars())
    return info, policy.StaffInfo(id=staff.id, active_from=staff.active_from,
                                  active_until=staff.active_until, group_ids=groups)


def load(session: Session, doors: list[Door], cred: Credential | None, *, start: datetime,
         end: datetime, tz: ZoneInfo, day_change: time) -> DecisionData:
    """The data to decide taps of ``cred`` at ``doors`` between ``start`` and ``end``."""
    cred_info, staff_info = _holder(session, cred)
    permissions = snapshot_repository.permissions_for_doors(session, [d.id for d in doors])
    schedules = snapshot_repository.schedules_by_ids(
        session, {p.schedule_id for p in permissions})
    first = start.astimezone(tz).date() - timedelta(days=1)
    last = end.astimezone(tz).date() + timedelta(days=1)
    return DecisionData(
        credential=cred_info, staff=staff_info,
        permissions=tuple(policy.Permission(p.group_id, p.door_id, p.schedule_id)
                          for p in permissions),
        schedules={s.id: policy.Schedule(
            id=s.id, allow_closed_days=s.allow_closed_days,
            windows=tuple(policy.TimeWindow(w.weekday, w.start_minute, w.end_minute)
                          for w in s.windows)) for s in schedules},
        closed_days=frozenset(closed_days(session, first, last)), tz=tz,
        day_change=day_change, doors={d.id: door_info(d) for d in doors})
