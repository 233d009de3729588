"""Read-only queries behind the console pages, with internal ids turned into 職員番号, names
and door names before anything reaches a template."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from api.attendance import repository as attendance_repo
from api.attendance.rules import DayType, RuleConfig, classify_day
from api.calendar.service import closed_days
from api.events.repository import EventFilter, search
from api.models import (
    Credential,
    Department,
    Device,
    DeviceStatus,
    Door,
    Event,
    LockAlert,
    MailOutbox,
    MailStatus,
    Site,
    SmartLock,
    Staff,
)
from gate.clock import PunchKind
from gate.protocol import ProtocolStanding, ProtocolVersion, standing

ALARM_WINDOW = timedelta(hours=24)  # the dashboard shows alarms of the last day


@dataclass(frozen=True)
class Person:
    number: str  # 職員番号
    name: str
    department: str


@dataclass(frozen=True)
class EventRow:
    at: datetime
    kind: str
    person: Person | None
    door: str
    device: str
    granted: bool | None
    reason: str
    detail: str
    id: str = ""  # the event's own id: the live feed skips a row already shown


@dataclass(frozen=True)
class DoorState:
    door: str
    state: str  # open | closed | unknown
    at: datetime | None


@dataclass(frozen=True)
class Alarm:
    at: datetime | None
    kind: str
    where: str
    detail: str


def people(session: Session, staff_ids: Iterable[int | None]) -> dict[int, Person]:
    ids = {i for i in staff_ids if i is not None}
    if not ids:
        return {}
    rows = session.execute(select(Staff.id, Staff.staff_number, Staff.name, Department.name)
                           .join(Department, Department.id == Staff.department_id)
                           .where(Staff.id.in_(ids)))
    return {r[0]: Person(r[1], r[2], r[3]) for r in rows}


def door_names(session: Session) -> dict[int, str]:
    return {r[0]: r[1] for r in session.execute(select(Door.id, Door.name))}


def device_names(session: Session) -> dict[uuid.UUID, str]:
    return {r[0]: r[1] for r in session.execute(select(Device.id, Device.name))}


def staff_by_number(session: Session, number: str) -> Staff | None:
    return session.execute(select(Staff).where(Staff.staff_number == number)).scalar_one_or_none()


def credentials_of(session: Session, staff_id: int) -> list[Credential]:
    """A person's cards, newest first (never their key material on a page)."""
    q = select(Credential).where(Credential.staff_id == staff_id).order_by(Credential.id.desc())
    return list(session.execute(q).scalars())


def door_by_name(session: Session, name: str) -> Door | None:
    return session.execute(select(Door).where(Door.name == name)).scalar_one_or_none()


def _detail(e: Event) -> str:
    data = e.data or {}
    for key in ("alarm", "state", "punch", "failure"):
        if data.get(key):
            return str(data[key])
    return ""


def event_rows(session: Session, events: Sequence[Event]) -> list[EventRow]:
    who = people(session, (e.staff_id for e in events))
    doors = door_names(session)
    devices = device_names(session)
    return [EventRow(at=e.occurred_at, kind=e.kind, person=who.get(e.staff_id or 0),
                     door=doors.get(e.door_id or 0, ""), device=devices.get(e.device_id, ""),
                     granted=e.granted, reason=e.reason or "", detail=_detail(e), id=str(e.id))
            for e in events]


def events(session: Session, f: EventFilter, limit: int = 100) -> list[EventRow]:
    return event_rows(session, search(session, f, limit=limit, descending=True, after=None))


def door_states(session: Session) -> list[DoorState]:
    """Every door with the state its latest ``door_state`` event reported."""
    latest = (select(Event.door_id, func.max(Event.occurred_at).label("at"))
              .where(Event.kind == "door_state", Event.door_id.is_not(None))
              .group_by(Event.door_id).subquery())
    rows = session.execute(select(Event.door_id, Event.occurred_at, Event.data).join(
        latest, (Event.door_id == latest.c.door_id) & (Event.occurred_at == latest.c.at))
        .where(Event.kind == "door_state"))
    state = {r[0]: (str((r[2] or {}).get("state", "unknown")), r[1]) for r in rows}
    return [DoorState(name, *state.get(door_id, ("unknown", None)))
            for door_id, name in sorted(door_names(session).items(), key=lambda kv: kv[1])]


def alarms(session: Session, *, now: datetime, offline_after: timedelta,
           skew_alarm_ms: int, service: ProtocolVersion,
           low_battery_percent: float = 0.0) -> list[Alarm]:
    """Alarm events of the last day (credential_auth_failed, clock_skew, reader_failing …),
    devices whose heartbeat is older than ``offline_after``, whose clock is off, whose outbox
    has held events longer than ``offline_after`` or whose agent the service (``service``)
    refuses as too old, enrolled readers that wait for an admin's confirmation, locks below ``low_battery_percent``, and emails that failed."""
    recent = search(session, EventFilter(kind="alarm", occurred_from=now - ALARM_WINDOW),
                    limit=100, descending=True, after=None)
    out = [Alarm(r.at, r.detail or "alarm", r.door or r.device, r.reason)
           for r in event_rows(session, recent)]
    for d in session.execute(select(Device).where(Device.status == DeviceStatus.ACTIVE)).scalars():
        if d.last_heartbeat_at is None or now - d.last_heartbeat_at > offline_after:
            out.append(Alarm(d.last_heartbeat_at, "device_offline", d.name, ""))
        if d.clock_offset_ms is not None and abs(d.clock_offset_ms) > skew_alarm_ms:
            out.append(Alarm(d.last_heartbeat_at, "clock_skew", d.name,
                             f"{d.clock_offset_ms} ms"))
        if d.outbox_pending and d.oldest_pending_at is not None \
                and now - d.oldest_pending_at > offline_after:
            out.append(Alarm(d.oldest_pending_at, "outbox_backlog", d.name,
                             str(d.outbox_pending)))
        if d.agent_protocol and standing(service, ProtocolVersion.parse(d.agent_protocol)) \
                is ProtocolStanding.TOO_OLD:
            out.append(Alarm(d.last_heartbeat_at, "agent_too_old", d.name, d.agent_protocol))
    waiting = session.execute(select(Device).where(
        Device.status == DeviceStatus.PENDING, Device.public_key.is_not(None)).order_by(Device.name)).scalars()
    out.extend(Alarm(d.enrolled_at, "device_unconfirmed", d.name, "") for d in waiting)
    low = session.execute(select(SmartLock).where(
        SmartLock.battery_percent < low_battery_percent).order_by(SmartLock.lock_id)).scalars()
    out.extend(Alarm(lock.battery_at, "low_battery", lock.name or lock.lock_id,
                     f"{lock.battery_percent:.0f}%") for lock in low)
    out.extend(lock_alarms(session, since=now - ALARM_WINDOW))
    failed = session.execute(select(MailOutbox).where(MailOutbox.status == MailStatus.FAILED)
                             .order_by(MailOutbox.id.desc()).limit(20)).scalars()
    out.extend(Alarm(m.failed_at or m.created_at, "mail_failed", m.kind, (m.last_error or "")[:120])
               for m in failed)
    return out


def lock_alarms(session: Session, *, since: datetime) -> list[Alarm]:
    """The locks' own alerts since ``since`` (left open, opened outside a booking, wrong
    codes, a broken log chain, code slots full …); low battery is shown from the lock's
    current level instead."""
    rows = session.execute(select(LockAlert, SmartLock.name, SmartLock.lock_id)
                           .join(SmartLock, SmartLock.id == LockAlert.lock_id)
                           .where(LockAlert.at >= since, LockAlert.kind != "low_battery")
                           .order_by(LockAlert.at.desc()).limit(50)).all()
    return [Alarm(a.at, f"lock_{a.kind}", name or lock_id, a.detail) for a, name, lock_id in rows]


@dataclass(frozen=True)
class Presence:
    person: Person
    since: datetime
    door: str
    source: str  # tap | clock_punch


def presence(session: Session, *, since: datetime, until: datetime) -> list[Presence]:
    """Who is inside: people whose last granted door tap or clock punch in [since, until) is
    not a 退勤 punch. Doors report no direction, so a tap means 'came in'; a clock-out punch
    is the only sign of leaving (a person who left by a door without punching still shows,
    which is the safe side for a muster)."""
    rows = session.execute(
        select(Event.staff_id, Event.occurred_at, Event.kind, Event.door_id, Event.data)
        .where(Event.staff_id.is_not(None), Event.occurred_at >= since,
               Event.occurred_at < until,
               (Event.kind == "clock_punch") | ((Event.kind == "tap") & Event.granted.is_(True)))
        .order_by(Event.occurred_at)).all()
    last: dict[int, tuple[datetime, str, int | None, dict]] = {}
    for staff_id, at, kind, door_id, data in rows:
        last[staff_id] = (at, kind, door_id, data or {})
    inside = {sid: v for sid, v in last.items()
              if not (v[1] == "clock_punch" and v[3].get("punch") == PunchKind.OUT)}
    who = people(session, inside)
    doors = door_names(session)
    out = [Presence(who[sid], at, doors.get(door_id or 0, ""), kind)
           for sid, (at, kind, door_id, _) in inside.items() if sid in who]
    return sorted(out, key=lambda p: (p.person.department, p.person.number))


@dataclass(frozen=True)
class HolidayVisit:
    """One person's visit on a 週休日 or 休日 (休日入退庁記録): first and last passage."""

    day: date
    day_type: DayType
    person: Person
    first_at: datetime
    first_door: str
    last_at: datetime
    last_door: str
    passages: int


def closed_day_types(session: Session, start: date, end: date,
                     cfg: RuleConfig) -> dict[date, DayType]:
    """The 週休日 and 休日 in [start, end] for the whole town hall (global 振替 included)."""
    holidays = closed_days(session, start, end)
    over = {o.day: DayType(o.day_type) for o in attendance_repo.overrides(session, start, end)
            if o.staff_id is None}
    days = (start + timedelta(days=i) for i in range((end - start).days + 1))
    kinds = {d: classify_day(d, holidays=holidays, overrides=over, cfg=cfg) for d in days}
    return {d: k for d, k in kinds.items() if k in (DayType.WEEKLY_OFF, DayType.HOLIDAY)}


def holiday_visits(session: Session, start: date, end: date,
                   cfg: RuleConfig) -> list[HolidayVisit]:
    """Who entered and left on the 週休日 and 休日 between start and end (business days),
    through which door and when: granted door taps and clock punches."""
    kinds = closed_day_types(session, start, end, cfg)
    if not kinds:
        return []
    bday = cfg.business_day
    rows = session.execute(
        select(Event.staff_id, Event.occurred_at, Event.door_id)
        .where(Event.staff_id.is_not(None), Event.occurred_at >= bday.start(min(kinds)),
               Event.occurred_at < bday.end(max(kinds)),
               (Event.kind == "clock_punch") | ((Event.kind == "tap") & Event.granted.is_(True)))
        .order_by(Event.occurred_at)).all()
    seen: dict[tuple[date, int], list[tuple[datetime, int | None]]] = {}
    for staff_id, at, door_id in rows:
        day = bday.date_of(at)
        if day in kinds:
            seen.setdefault((day, staff_id), []).append((at, door_id))
    who = people(session, (sid for _, sid in seen))
    doors = door_names(session)
    out = [HolidayVisit(day, kinds[day], who[sid], p[0][0], doors.get(p[0][1] or 0, ""),
                        p[-1][0], doors.get(p[-1][1] or 0, ""), len(p))
           for (day, sid), p in seen.items() if sid in who]
    return sorted(out, key=lambda v: (v.day, v.first_at, v.person.number))


@dataclass(frozen=True)
class StaffRow:
    number: str
    name: str
    kana: str
    department: str
    employment_type: str
    active: bool


def staff_search(session: Session, q: str, *, on: date, limit: int = 200) -> list[StaffRow]:
    """Staff whose 職員番号, name or カナ contains ``q`` (everyone when empty)."""
    query = select(Staff, Department.name).join(Department, Department.id == Staff.department_id)
    if q:
        like = f"%{q}%"
        query = query.where(Staff.staff_number.ilike(like) | Staff.name.ilike(like)
                            | Staff.name_kana.ilike(like))
    rows = session.execute(query.order_by(Staff.staff_number).limit(limit)).all()
    return [StaffRow(s.staff_number, s.name, s.name_kana, dept, s.employment_type,
                     s.active_from <= on and (s.active_until is None or s.active_until >= on))
            for s, dept in rows]


def department_name(session: Session, department_id: int) -> str:
    return session.execute(select(Department.name).where(Department.id == department_id)
                           ).scalar_one()


def department_names(session: Session) -> dict[str, str]:
    """Department code → name."""
    return {r[0]: r[1] for r in session.execute(select(Department.code, Department.name))}


@dataclass(frozen=True)
class DeviceRow:
    name: str
    site: str
    status: str
    last_heartbeat_at: datetime | None
    agent_protocol: str  # "" until the agent sends a signed request
    standing: ProtocolStanding | None
    awaiting: bool = False  # enrolled, pending until an admin or security confirms it


def devices(session: Session, service: ProtocolVersion) -> list[DeviceRow]:
    """Every reader by name, with where its agent's protocol stands with this service."""
    rows = session.execute(select(Device.name, Site.name, Device.status,
                                  Device.last_heartbeat_at, Device.agent_protocol,
                                  Device.enrolled_at)
                           .outerjoin(Site, Site.id == Device.site_id)
                           .order_by(Device.name)).all()
    return [DeviceRow(name, site or "", status, heard, spoken or "",
                      standing(service, ProtocolVersion.parse(spoken)) if spoken else None,
                      awaiting=status == DeviceStatus.PENDING and enrolled is not None)
            for name, site, status, heard, spoken, enrolled in rows]
