"""Plain factory functions for attendance tests."""

from __future__ import annotations

import itertools
import uuid
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from api.attendance.rules import JST
from api.models import Department, Device, Door, Event, Site, Staff

_seq = itertools.count(1)


def jst(y: int, mo: int, d: int, h: int = 0, mi: int = 0, s: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, s, tzinfo=JST)


def department(session: Session, code: str = "D01", name: str = "総務課",
               overtime_class: str = "ordinary") -> Department:
    d = Department(code=code, name=name, overtime_class=overtime_class)
    session.add(d)
    session.flush()
    return d


def staff(session: Session, dept: Department, number: str, name: str = "土庄 太郎",
          kana: str = "トノショウ タロウ", active_from: date = date(2020, 4, 1)) -> Staff:
    s = Staff(staff_number=number, name=name, name_kana=kana, department_id=dept.id,
              active_from=active_from)
    session.add(s)
    session.flush()
    return s


def device(session: Session, name: str = "clock-1", delivered_through: datetime | None = None,
           status: str = "active") -> tuple[Device, Door]:
    site = session.query(Site).first()
    if site is None:
        site = Site(code="main", name="本庁舎")
        session.add(site)
        session.flush()
    door = Door(site_id=site.id, code=f"door-{name}", name=f"{name} 打刻", mode="clock")
    dev = Device(name=name, status=status, delivered_through=delivered_through)
    session.add_all([door, dev])
    session.flush()
    return dev, door


def punch(session: Session, dev: Device, door: Door, person: Staff, at: datetime, *,
          hint: str | None = None, kind: str = "clock_punch",
          received_at: datetime | None = None, offset_ms: int | None = None) -> Event:
    data: dict[str, Any] = {"punch": hint} if hint else {}
    ev = Event(id=uuid.uuid4(), device_id=dev.id, seq=next(_seq), kind=kind, occurred_at=at,
               device_clock_offset_ms=offset_ms, received_at=received_at or at,
               door_id=door.id, staff_id=person.id, granted=True if kind == "tap" else None,
               reason="granted" if kind == "tap" else None, data=data)
    session.add(ev)
    session.flush()
    return ev


def day(session: Session, dev: Device, door: Door, person: Staff, d: date, start: str,
        end: str) -> None:
    """A clock-in and a clock-out on business day ``d`` (times like '08:27', '25:10')."""
    for i, t in enumerate((start, end)):
        h, m = (int(x) for x in t.split(":"))
        at = datetime(d.year, d.month, d.day, tzinfo=JST) + timedelta(hours=h, minutes=m)
        punch(session, dev, door, person, at, hint="in" if i == 0 else "out")
