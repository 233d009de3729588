"""Queries for attendance: bulk loads over a period, never one query per staff member."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime
from typing import Any, cast

from sqlalchemy import BigInteger, and_, func, or_, select
from sqlalchemy.orm import Session

from api.db import among
from api.models import (
    AttendanceAmendment,
    AttendanceCorrection,
    AttendanceFrozenMonth,
    DayOverride,
    Department,
    DepartmentSupervisor,
    Device,
    DeviceStatus,
    Event,
    Leave,
    OvertimeRequest,
    SequenceGap,
    Staff,
    StaffCharSubstitute,
    StaffWorkPattern,
    WorkPattern,
)

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def staff_in_period(session: Session, start: date, end: date,
                    staff_ids: Sequence[int] | None = None) -> list[tuple[Any, ...]]:
    """(id, staff_number, name, name_kana, department code, department name, overtime class,
    work_pattern code, active_from, active_until) of staff active at some point in the period."""
    q = (select(Staff.id, Staff.staff_number, Staff.name, Staff.name_kana, Department.code,
                Department.name, Department.overtime_class, Staff.work_pattern,
                Staff.active_from, Staff.active_until, Staff.department_id)
         .join(Department, Department.id == Staff.department_id)
         .where(Staff.active_from <= end,
                or_(Staff.active_until.is_(None), Staff.active_until >= start))
         .order_by(Staff.id))
    if staff_ids is not None:
        q = q.where(among(session, Staff.id, staff_ids))
    return [tuple(r) for r in session.execute(q)]


def point_rows(session: Session, start_at: datetime, end_at: datetime,
               staff_ids: Sequence[int] | None = None) -> Iterable[tuple[int, int, str, Any]]:
    """(staff_id, epoch ms corrected by the device clock offset, kind, punch hint) of punches
    and granted door taps in [start_at, end_at), ordered by staff and time.

    The device clock offset is server − device (measured at heartbeat), so the true moment is
    ``occurred_at + offset``."""
    bind = session.get_bind()
    offset = func.coalesce(Event.device_clock_offset_ms, 0)
    cond = [Event.occurred_at >= start_at, Event.occurred_at < end_at,
            Event.staff_id.is_not(None), not_quarantined(),
            or_(Event.kind == "clock_punch",
                and_(Event.kind == "tap", Event.granted.is_(True), Event.door_id.is_not(None)))]
    if staff_ids is not None:
        cond.append(among(session, Event.staff_id, staff_ids))
    if bind.dialect.name == "postgresql":
        ms = (func.floor(func.extract("epoch", Event.occurred_at) * 1000) + offset)
        hint = Event.data["punch"].as_string()
        q = select(Event.staff_id, ms.cast(_BigInt()), Event.kind, hint).where(*cond)
        q = q.order_by(Event.staff_id, Event.occurred_at)
        return _driver_rows(session, q)
    q2 = select(Event.staff_id, Event.occurred_at, offset, Event.kind, Event.data).where(*cond)
    q2 = q2.order_by(Event.staff_id, Event.occurred_at)
    return ((r[0], int((r[1] - _EPOCH).total_seconds() * 1000) + int(r[2]), r[3],
             (r[4] or {}).get("punch")) for r in session.execute(q2))


def _driver_rows(session: Session, q: Any) -> list[tuple[Any, ...]]:
    """A Core query's rows as the driver's plain tuples, on the session's connection: no ORM
    and no Row object per punch (a month holds hundreds of thousands). Its bound values pass
    to the driver as they are, so they must be ones it takes unconverted (aware datetimes,
    numbers, strings, lists)."""
    conn = session.connection()
    compiled = q.compile(dialect=conn.dialect)
    # Through exec_driver_sql, so the engine's events still see the statement (the EXPLAIN
    # test of tests/scale reads them); the rows come from its cursor as they are.
    result = conn.exec_driver_sql(str(compiled), compiled.params)
    try:
        return cast(list[tuple[Any, ...]], result.cursor.fetchall())
    finally:
        result.close()


def not_quarantined() -> Any:
    """Events the ingest did not quarantine (a punch stamped too far ahead of its arrival)."""
    return or_(Event.data["quarantined"].as_string().is_(None),
               Event.data["quarantined"].as_string() != "future")


def _BigInt() -> Any:
    return BigInteger()


def punch_events(session: Session, start_at: datetime, end_at: datetime,
                 *, received_after: datetime | None = None,
                 staff_ids: Sequence[int] | None = None) -> list[Event]:
    """Clock punches in [start_at, end_at) (optionally only those received after a moment)."""
    q = select(Event).where(Event.kind == "clock_punch", Event.staff_id.is_not(None),
                            not_quarantined(),
                            Event.occurred_at >= start_at, Event.occurred_at < end_at)
    if received_after is not None:
        q = q.where(Event.received_at > received_after)
    if staff_ids is not None:
        q = q.where(among(session, Event.staff_id, staff_ids))
    return list(session.execute(q.order_by(Event.staff_id, Event.occurred_at)).scalars())


def device_names(session: Session) -> dict[Any, str]:
    return {r[0]: r[1] for r in session.execute(select(Device.id, Device.name))}


def approved_corrections(session: Session, start: date, end: date) -> list[AttendanceCorrection]:
    q = select(AttendanceCorrection).where(
        AttendanceCorrection.status == "approved",
        AttendanceCorrection.business_date >= start, AttendanceCorrection.business_date <= end,
    ).order_by(AttendanceCorrection.id)
    return list(session.execute(q).scalars())


def overrides(session: Session, start: date, end: date) -> list[DayOverride]:
    q = select(DayOverride).where(DayOverride.day >= start, DayOverride.day <= end)
    return list(session.execute(q).scalars())


def replaced_holidays(session: Session, start: date, end: date) -> list[tuple[int | None, date]]:
    """(staff_id, worked 休日) of every 代休日 linked to a 休日 in [start, end]."""
    q = select(DayOverride.staff_id, DayOverride.linked_day).where(
        DayOverride.kind == "daikyu", DayOverride.linked_day >= start,
        DayOverride.linked_day <= end)
    return [(r[0], r[1]) for r in session.execute(q)]


def has_approved_overtime(session: Session, staff_id: int, day: date) -> bool:
    q = select(OvertimeRequest.id).where(OvertimeRequest.staff_id == staff_id,
                                         OvertimeRequest.work_date == day,
                                         OvertimeRequest.status == "approved").limit(1)
    return session.execute(q).first() is not None


def leaves(session: Session, start: date, end: date,
           staff_ids: Sequence[int] | None = None) -> list[Leave]:
    q = select(Leave).where(Leave.day >= start, Leave.day <= end)
    if staff_ids is not None:
        q = q.where(among(session, Leave.staff_id, staff_ids))
    return list(session.execute(q.order_by(Leave.staff_id, Leave.day, Leave.id)).scalars())


def leave_by_ref(session: Session, ref: str) -> Leave | None:
    return session.execute(select(Leave).where(Leave.external_ref == ref)).scalar_one_or_none()


def char_substitutes(session: Session) -> dict[str, dict[str, str]]:
    """Registered 代替文字 per staff number: {staff_number: {character: substitute}}."""
    q = select(Staff.staff_number, StaffCharSubstitute.original, StaffCharSubstitute.substitute
               ).join(Staff, Staff.id == StaffCharSubstitute.staff_id)
    out: dict[str, dict[str, str]] = {}
    for number, orig, sub in session.execute(q):
        out.setdefault(number, {})[orig] = sub
    return out


def override_exists(session: Session, staff_id: int | None, day: date) -> bool:
    who = DayOverride.staff_id.is_(None) if staff_id is None else DayOverride.staff_id == staff_id
    q = select(DayOverride.id).where(who, DayOverride.day == day).limit(1)
    return session.execute(q).first() is not None


def staff_with_approved_overtime(session: Session, start: date, end: date,
                                 staff_ids: Sequence[int] | None = None) -> list[int]:
    q = select(OvertimeRequest.staff_id).where(
        OvertimeRequest.status == "approved", OvertimeRequest.work_date >= start,
        OvertimeRequest.work_date <= end).distinct()
    if staff_ids is not None:
        q = q.where(among(session, OvertimeRequest.staff_id, staff_ids))
    return sorted(r[0] for r in session.execute(q))


def months_with_approved_overtime(session: Session, start: date, before: date,
                                  staff_ids: Sequence[int] | None = None
                                  ) -> dict[date, list[int]]:
    """Month start → the staff with approved overtime in it, for work days in
    [start, before): one query for the whole look-back of the caps."""
    y = func.extract("year", OvertimeRequest.work_date)
    m = func.extract("month", OvertimeRequest.work_date)
    q = select(OvertimeRequest.staff_id, y, m).where(
        OvertimeRequest.status == "approved", OvertimeRequest.work_date >= start,
        OvertimeRequest.work_date < before).distinct()
    if staff_ids is not None:
        q = q.where(among(session, OvertimeRequest.staff_id, staff_ids))
    out: dict[date, list[int]] = {}
    for sid, yy, mm in session.execute(q):
        out.setdefault(date(int(yy), int(mm), 1), []).append(sid)
    return {k: sorted(v) for k, v in out.items()}


def frozen_months_between(session: Session, first: date,
                          before: date) -> list[AttendanceFrozenMonth]:
    """Frozen staff-months from ``first`` up to (not including) ``before``."""
    q = select(AttendanceFrozenMonth).where(AttendanceFrozenMonth.month_start >= first,
                                            AttendanceFrozenMonth.month_start < before)
    return list(session.execute(q).scalars())


def work_patterns(session: Session) -> list[WorkPattern]:
    return list(session.execute(select(WorkPattern)).scalars())


def pattern_assignments(session: Session, start: date, end: date) -> list[StaffWorkPattern]:
    q = select(StaffWorkPattern).where(
        StaffWorkPattern.effective_from <= end,
        or_(StaffWorkPattern.effective_until.is_(None), StaffWorkPattern.effective_until >= start),
    ).order_by(StaffWorkPattern.staff_id, StaffWorkPattern.effective_from)
    return list(session.execute(q).scalars())


def approved_overtime(session: Session, start: date, end: date,
                      staff_ids: Sequence[int] | None = None) -> list[tuple[Any, ...]]:
    q = select(OvertimeRequest.staff_id, OvertimeRequest.work_date, OvertimeRequest.start_at,
               OvertimeRequest.end_at, OvertimeRequest.special).where(
        OvertimeRequest.status == "approved", OvertimeRequest.work_date >= start,
        OvertimeRequest.work_date <= end)
    if staff_ids is not None:
        q = q.where(among(session, OvertimeRequest.staff_id, staff_ids))
    if session.get_bind().dialect.name == "postgresql":
        return _driver_rows(session, q)  # a month's orders: tens of thousands of rows
    return [tuple(r) for r in session.execute(q)]


def active_devices_watermarks(session: Session) -> list[tuple[Any, str, datetime | None]]:
    q = select(Device.id, Device.name, Device.delivered_through).where(Device.status == DeviceStatus.ACTIVE)
    return [tuple(r) for r in session.execute(q)]  # type: ignore[misc]


def devices_with_open_gaps(session: Session) -> set[Any]:
    """Active devices with a sequence gap not yet filled (events known to be missing)."""
    q = select(SequenceGap.device_id).join(Device, Device.id == SequenceGap.device_id).where(
        SequenceGap.closed_at.is_(None), Device.status == DeviceStatus.ACTIVE).distinct()
    return {r[0] for r in session.execute(q)}


def frozen_months(session: Session, month_start: date,
                  staff_ids: Sequence[int] | None = None) -> list[AttendanceFrozenMonth]:
    q = select(AttendanceFrozenMonth).where(AttendanceFrozenMonth.month_start == month_start)
    if staff_ids is not None:
        q = q.where(among(session, AttendanceFrozenMonth.staff_id, staff_ids))
    return list(session.execute(q).scalars())


def frozen_month_starts(session: Session) -> list[tuple[date, datetime]]:
    """Every frozen month with the moment it was first frozen."""
    q = select(AttendanceFrozenMonth.month_start, func.min(AttendanceFrozenMonth.frozen_at)
               ).group_by(AttendanceFrozenMonth.month_start)
    return [(r[0], r[1]) for r in session.execute(q)]


def staff_changed_since(session: Session, start_at: datetime, end_at: datetime,
                        since: datetime) -> set[int]:
    """Staff with events of [start_at, end_at) received after ``since``."""
    q = select(Event.staff_id).where(Event.occurred_at >= start_at, Event.occurred_at < end_at,
                                     Event.received_at > since,
                                     Event.staff_id.is_not(None)).distinct()
    ids = {r[0] for r in session.execute(q)}
    q2 = select(AttendanceCorrection.staff_id).where(AttendanceCorrection.decided_at > since)
    ids |= {r[0] for r in session.execute(q2)}
    q3 = select(OvertimeRequest.staff_id).where(OvertimeRequest.decided_at > since)
    ids |= {r[0] for r in session.execute(q3)}
    return ids


def open_amendments(session: Session) -> list[AttendanceAmendment]:
    q = select(AttendanceAmendment).where(AttendanceAmendment.carried_by_run_id.is_(None))
    return list(session.execute(q.order_by(AttendanceAmendment.id)).scalars())


def amendments_for(session: Session, staff_id: int, day: date) -> list[AttendanceAmendment]:
    q = select(AttendanceAmendment).where(AttendanceAmendment.staff_id == staff_id,
                                          AttendanceAmendment.business_date == day)
    return list(session.execute(q.order_by(AttendanceAmendment.id)).scalars())


def supervisor_of(session: Session, department_id: int, day: date) -> list[int]:
    q = select(DepartmentSupervisor.staff_id).where(
        DepartmentSupervisor.department_id == department_id,
        DepartmentSupervisor.effective_from <= day,
        or_(DepartmentSupervisor.effective_until.is_(None),
            DepartmentSupervisor.effective_until >= day))
    return [r[0] for r in session.execute(q)]


def staff_by_number(session: Session, number: str) -> Staff | None:
    return session.execute(select(Staff).where(Staff.staff_number == number)).scalar_one_or_none()
