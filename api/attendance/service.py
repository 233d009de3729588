"""Attendance service: loads a period in bulk, applies the pure rules, returns day lines.

The demo and the console call :func:`daily_lines` (one staff member, one day); exports and the
benchmark call :func:`compute_period` (every staff member, a month, a handful of queries)."""

from __future__ import annotations

import calendar as _cal
from bisect import bisect_left, bisect_right
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from operator import itemgetter
from typing import Any, NamedTuple, TypeVar

from sqlalchemy.orm import Session

from api.audit.service import record
from api.calendar.service import closed_days
from api.errors import BadRequest, Conflict, NotFound, Unprocessable
from api.models import AttendanceCorrection, DayOverride, Staff, StaffWorkPattern
from api.models import WorkPattern as WorkPatternRow
from api.models.base import utcnow

from . import repository as repo
from .config import rule_config
from .rules import (
    DAY_TYPE_JA,
    DEFAULT_PATTERN,
    FLAG_JA,
    HOLIDAY_PAY_DAYS,
    MINUTES_PER_DAY,
    DailyLine,
    DayType,
    Interval,
    LeaveUnit,
    OvertimeDay,
    PatternAxis,
    RuleConfig,
    WorkPattern,
    assign_days,
    axis_bounds,
    classify_day,
    compute_day_minutes,
    day_start,
    intersect,
    leave_interval,
    month_buckets,
    normalize,
    total,
)

_REPEAT_MS = 60_000
_AT = itemgetter(0)  # a point's time
_V = TypeVar("_V")


@dataclass(frozen=True, slots=True)
class StaffInfo:
    id: int
    number: str
    name: str
    kana: str
    dept_code: str
    dept_name: str
    overtime_class: str
    department_id: int


class DayResult(NamedTuple):
    """A staff-day's line with its overtime. Identical days (nothing on them, or the same
    punches under the same orders) are shared between staff members, so ``staff_id`` is only
    the first owner's; use the key it is filed under."""

    staff_id: int
    line: DailyLine
    approved: tuple[Interval, ...]
    paid: tuple[Interval, ...]
    divergence: int
    schedule: Interval
    approved_minutes: int = 0
    paid_minutes: int = 0


@dataclass
class PeriodResult:
    start: date
    end: date
    cfg: RuleConfig
    staff: dict[int, StaffInfo]
    days: dict[int, list[DayResult]] = field(default_factory=dict)
    _records: dict[tuple[int, date], dict[str, Any]] | None = None

    def records(self) -> dict[tuple[int, date], dict[str, Any]]:
        """Every staff-day's JSON-able record (computed once)."""
        if self._records is None:
            cache: dict[int, dict[str, Any]] = {}
            out: dict[tuple[int, date], dict[str, Any]] = {}
            for sid, days in self.days.items():
                for r in days:
                    rec = cache.get(id(r))  # shared days share their record
                    if rec is None:
                        rec = cache[id(r)] = line_record(r, self.cfg)
                    out[(sid, r.line.business_date)] = rec
            self._records = out
        return self._records

    def buckets(self, staff_id: int) -> dict[str, int]:
        return month_buckets((OvertimeDay(r.line.business_date, r.line.day_type, r.paid,
                                          r.schedule) for r in self.days.get(staff_id, ())),
                             self.cfg)


def month_bounds(month: str | date) -> tuple[date, date]:
    """First and last day of a month given as ``YYYY-MM`` or any date in it."""
    if isinstance(month, str):
        try:
            y, m = (int(x) for x in month.split("-"))
            first = date(y, m, 1)
        except ValueError as err:
            raise BadRequest(f"month must be YYYY-MM, got {month!r}", field="month") from err
    else:
        first = month.replace(day=1)
    return first, first.replace(day=_cal.monthrange(first.year, first.month)[1])


def _pattern_from_row(row: WorkPatternRow) -> WorkPattern:
    return WorkPattern(row.code, row.start_time, row.end_time, row.break_start, row.break_end,
                       bool(row.overnight))


def _check_pattern(p: WorkPattern) -> None:
    """End after start unless marked overnight (宿直, night shifts); a break inside the shift."""
    if p.end == p.start:
        raise Unprocessable("end_time must differ from start_time", field="end_time")
    if p.end < p.start and not p.overnight:
        raise Unprocessable("end_time is before start_time: mark the pattern overnight "
                            "(宿直, night shift) if it ends the next day", field="end_time")
    if p.overnight and p.end > p.start:
        raise Unprocessable("an overnight pattern ends the next day, before its start time",
                            field="overnight")
    if (p.break_start is None) != (p.break_end is None):
        raise Unprocessable("a break needs both break_start and break_end", field="break_end")
    brk = p.break_interval()
    if brk is not None:
        s, e = p.schedule()
        if not (s <= brk[0] < brk[1] <= e):
            raise Unprocessable("the break must lie inside the shift", field="break_start")


def compute_period(session: Session, start: date, end: date, *,
                   staff_ids: Sequence[int] | None = None, now: datetime | None = None,
                   cfg: RuleConfig | None = None,
                   progress: Callable[[int, int], None] | None = None) -> PeriodResult:
    """Every active staff member's day lines for [start, end], from a handful of bulk queries."""
    cfg = cfg or rule_config()
    now = now or utcnow()
    staff_rows = repo.staff_in_period(session, start, end, staff_ids)
    result = PeriodResult(start, end, cfg, {})
    ids = None if staff_ids is None else [r[0] for r in staff_rows]
    active: dict[int, tuple[date, date | None]] = {}
    pattern_code: dict[int, str] = {}
    for r in staff_rows:
        result.staff[r[0]] = StaffInfo(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[10])
        active[r[0]] = (r[8], r[9])
        pattern_code[r[0]] = r[7]
    days = [start + timedelta(days=i) for i in range((end - start).days + 1)]
    base_types, staff_over = _day_types(session, start, end, days, cfg)
    # Work patterns by code, and per-staff assignments with effective dates.
    patterns = {p.code: PatternAxis.of(_pattern_from_row(p), cfg)
                for p in repo.work_patterns(session)}
    default_axis = patterns.get("standard") or PatternAxis.of(DEFAULT_PATTERN, cfg)
    by_id = {p.id: p.code for p in repo.work_patterns(session)}
    assigned: dict[int, list[tuple[date, date | None, str]]] = defaultdict(list)
    for a in repo.pattern_assignments(session, start, end):
        assigned[a.staff_id].append((a.effective_from, a.effective_until, by_id[a.work_pattern_id]))
    # Day starts on the epoch-ms axis.
    starts = {d: day_start(d, cfg) for d in days}
    grouped = _grouped_points(session, result, days, starts, ids, cfg)
    fixes: dict[tuple[int, date], list[tuple[str, int]]] = defaultdict(list)
    leaves = _leaves_by_staff(session, start, end, ids, cfg)
    for c in repo.approved_corrections(session, start, end):
        m = int((c.corrected_at - starts[c.business_date]).total_seconds() // 60)
        fixes[(c.staff_id, c.business_date)].append((c.kind, m))
    approved: dict[tuple[int, date], list[Interval]] = defaultdict(list)
    lo, hi = axis_bounds(cfg)
    for sid, wd, s_at, e_at, _special in repo.approved_overtime(session, start, end, ids):
        s0 = starts[wd]
        a = max(lo, int((s_at - s0).total_seconds() // 60))
        b = min(hi, int((e_at - s0).total_seconds() // 60))
        approved[(sid, wd)].append((a, b))
    now_ms = {d: int((now - starts[d]).total_seconds() // 60) for d in days}
    fixes_by, approved_by, leaves_by = _by_staff(fixes), _by_staff(approved), _by_staff(leaves)
    # Days from the first on which ``now`` has begun are not computed at all.
    calendar = [(d, now_ms[d], base_types[d], starts[d]) for d in days]
    calendar = calendar[:next((i for i, c in enumerate(calendar) if c[1] < 0), len(calendar))]
    same_results: dict[tuple[Any, ...], DayResult] = {}
    n_staff = len(result.staff)
    for i, sid in enumerate(result.staff):
        if progress is not None and i % 1000 == 0:
            progress(i, n_staff)
        a_from, a_until = active[sid]
        first = bisect_left(days, a_from)
        cal = calendar[first:len(calendar) if a_until is None else bisect_right(days, a_until)]
        per = grouped.get(sid, {})
        over = staff_over.get(sid)
        assigns = assigned.get(sid)
        fx_s = fixes_by.get(sid)
        lv_s = leaves_by.get(sid)
        base_axis = patterns.get(pattern_code[sid], default_axis)
        if over or assigns or fx_s or lv_s:
            axes = [base_axis if not assigns else _axis_on(d, assigns, base_axis, patterns,
                                                             default_axis) for d, *_ in cal]
            result.days[sid] = _staff_days(sid, cal, axes, per, over or {}, fx_s or {},
                                           approved_by.get(sid) or {}, lv_s or {},
                                           same_results)
        else:
            result.days[sid] = _plain_days(sid, cal, base_axis, per,
                                           approved_by.get(sid), same_results)
    if progress is not None:
        progress(n_staff, n_staff)
    return result


def _day_types(session: Session, start: date, end: date, days: list[date], cfg: RuleConfig
               ) -> tuple[dict[date, DayType], dict[int, dict[date, DayType]]]:
    """Calendar: the day types for everyone, and per-staff overrides (振替, 代休日)."""
    holidays = closed_days(session, start, end)
    global_over: dict[date, DayType] = {}
    staff_over: dict[int, dict[date, DayType]] = defaultdict(dict)
    for o in repo.overrides(session, start, end):
        (global_over if o.staff_id is None else staff_over[o.staff_id])[o.day] = DayType(o.day_type)
    base_types = {d: classify_day(d, holidays=holidays, overrides=global_over, cfg=cfg)
                  for d in days}
    for sid, worked in repo.replaced_holidays(session, start, end):
        # 給与法 §17: the 休日給 of a worked 休日 moves to its 代休日.
        if sid is not None and base_types.get(worked) is DayType.HOLIDAY \
                and worked not in staff_over[sid]:
            staff_over[sid][worked] = DayType.HOLIDAY_REPLACED
    return base_types, staff_over


def _by_staff(per_day: dict[tuple[int, date], _V]) -> dict[int, dict[date, _V]]:
    """{(staff, day): value} as {staff: {day: value}}."""
    out: dict[int, dict[date, _V]] = defaultdict(dict)
    for (sid, d), v in per_day.items():
        out[sid][d] = v
    return out


def _axis_on(d: date, assigns: list[tuple[date, date | None, str]], base_axis: PatternAxis,
             patterns: dict[str, PatternAxis], default_axis: PatternAxis) -> PatternAxis:
    """The work pattern in force on ``d``: the last assignment covering it, else the staff's."""
    axis = base_axis
    for f, u, c in assigns:
        if f <= d and (u is None or d <= u):
            axis = patterns.get(c, default_axis)
    return axis


_NO_POINTS: tuple[list[tuple[int, str | None]], list[int]] = ([], [])


def _plain_days(sid: int, cal: list[tuple[date, int, DayType, datetime]], axis: PatternAxis,
                per: dict[date, tuple[list[tuple[int, str | None]], list[int]]],
                ap_s: dict[date, list[Interval]] | None,
                same: dict[tuple[Any, ...], DayResult]) -> list[DayResult]:
    """A staff member's days without overrides, pattern changes, corrections or leave (most
    staff): ``_staff_days`` with those checks left out."""
    out: list[DayResult] = []
    ax = id(axis)
    for d, now_m, dt, start0 in cal:
        clock, door = per.get(d, _NO_POINTS)
        appr = ap_s.get(d) if ap_s else None
        if door:
            out.append(_day_result(sid, d, dt, clock, door, (), now_m, axis, start0, None, appr))
            continue
        key = (d, dt, ax, tuple(clock), tuple(appr) if appr else None)
        res = same.get(key)
        if res is None:
            res = same[key] = _day_result(sid, d, dt, clock, door, (), now_m, axis, start0,
                                          None, appr)
        out.append(res)
    return out


def _staff_days(sid: int, cal: list[tuple[date, int, DayType, datetime]],
                axes: list[PatternAxis],
                per: dict[date, tuple[list[tuple[int, str | None]], list[int]]],
                over: dict[date, DayType], fx_s: dict[date, list[tuple[str, int]]],
                ap_s: dict[date, list[Interval]],
                lv_s: dict[date, list[tuple[LeaveUnit, Interval | None]]],
                same: dict[tuple[Any, ...], DayResult]) -> list[DayResult]:
    """A staff member's day results over ``cal`` (their active days), each under its axis."""
    out: list[DayResult] = []
    for (d, now_m, base_type, start0), axis in zip(cal, axes, strict=True):
        dt = over.get(d, base_type)
        clock, door = per.get(d, _NO_POINTS)
        fx = fx_s.get(d, ())
        appr = ap_s.get(d)
        lv = lv_s.get(d)
        # The same punches (or none) under the same orders give the same day: staff who
        # arrive and leave with the crowd, and staff on leave-free empty days, share one.
        key = None if door or fx or lv else (
            d, dt, id(axis), tuple(clock), tuple(appr) if appr else None)
        res = same.get(key) if key is not None else None
        if res is None:
            res = _day_result(sid, d, dt, clock, door, fx, now_m, axis, start0, lv, appr)
            if key is not None:
                same[key] = res
        out.append(res)
    return out


def _day_result(sid: int, d: date, dt: DayType, clock: Sequence[tuple[int, str | None]],
                door: Sequence[int], fx: Sequence[tuple[str, int]], now_m: int,
                axis: PatternAxis, start0: datetime,
                lv: Sequence[tuple[LeaveUnit, Interval | None]] | None,
                appr: Sequence[Interval] | None) -> DayResult:
    """A staff-day's line, with its approved overtime confirmed by the record (paid)."""
    off = [leave_interval(u, axis.schedule, axis.breaks, h) for u, h in lv] if lv else ()
    line = compute_day_minutes(d, dt, clock, door, fx, now_m, axis, start0, off)
    if not appr:
        return DayResult(sid, line, (), (), line.unscheduled_minutes, axis.schedule, 0, 0)
    ap = normalize(appr) if len(appr) > 1 else tuple(appr)
    paid = _intersect(line.unscheduled, ap) if line.unscheduled else ()
    paid_m = total(paid)
    return DayResult(sid, line, ap, paid, line.unscheduled_minutes - paid_m, axis.schedule,
                     total(ap), paid_m)


def _leaves_by_staff(session: Session, start: date, end: date, ids: list[int] | None,
                     cfg: RuleConfig) -> dict[tuple[int, date], list[tuple[LeaveUnit,
                                                                          Interval | None]]]:
    """(unit, hours on the axis for hour leave) per staff-day."""
    out: dict[tuple[int, date], list[tuple[LeaveUnit, Interval | None]]] = defaultdict(list)
    for row in repo.leaves(session, start, end, ids):
        hours = None
        if row.start_time is not None and row.end_time is not None:
            a = cfg.offset(row.start_time)
            b = cfg.offset(row.end_time) or MINUTES_PER_DAY
            hours = (a, b if b > a else b + MINUTES_PER_DAY)
        out[(row.staff_id, row.day)].append((LeaveUnit(row.unit), hours))
    return out


def _grouped_points(session: Session, result: PeriodResult, days: list[date],
                    starts: dict[date, datetime], ids: list[int] | None, cfg: RuleConfig
                    ) -> dict[int, dict[date, tuple[list[tuple[int, str | None]], list[int]]]]:
    """Per staff and business day: (clock punches as (minute, hint), presence minutes).

    A punch within 60 s of the last counted one, or labelled ``repeat``, is only presence.
    Punches are read a day beyond the period on each side so that a shift across its edge
    pairs; shifts land on their 始業日 (``assign_days``)."""
    start_ms = [int(starts[d].timestamp() * 1000) for d in days]
    t0 = starts[days[0]] - timedelta(days=1)
    t1 = day_start(days[-1] + timedelta(days=2), cfg)
    raw: dict[int, tuple[list[tuple[int, str | None]], list[int]]] = {}
    last = -_REPEAT_MS
    cur = None
    clock_pts: list[tuple[int, str | None]] | None = None
    door_pts: list[int] = []
    for sid, ms, kind, hint in repo.point_rows(session, t0, t1, ids):
        if sid != cur:  # rows come ordered by staff
            cur, last = sid, -_REPEAT_MS
            clock_pts = None
            if sid in result.staff:
                clock_pts, door_pts = raw.setdefault(sid, ([], []))
        if clock_pts is None:
            continue
        if kind == "clock_punch" and hint != "repeat" and ms - last >= _REPEAT_MS:
            last = ms
            clock_pts.append((ms, hint))
        else:
            door_pts.append(ms)
    grouped: dict[int, dict[date, tuple[list[tuple[int, str | None]], list[int]]]] = {}
    n = len(days)
    dc = cfg.day_change_minutes
    for sid, (clock, door) in raw.items():
        clock.sort(key=_AT)
        clock_day, door_day = assign_days(clock, door, start_ms, dc, unit=60_000)
        per_day: dict[int, tuple[list[tuple[int, str | None]], list[int]]] = {}
        for (ms, hint), i in zip(clock, clock_day, strict=True):
            if 0 <= i < n:
                got = per_day.get(i)
                if got is None:
                    got = per_day[i] = ([], [])
                got[0].append(((ms - start_ms[i]) // 60_000, hint))
        for ms, i in zip(door, door_day, strict=True):
            if 0 <= i < n:
                got = per_day.get(i)
                if got is None:
                    got = per_day[i] = ([], [])
                got[1].append((ms - start_ms[i]) // 60_000)
        grouped[sid] = {days[i]: pts for i, pts in per_day.items()}
    return grouped


def _intersect(a: Sequence[Interval], b: Sequence[Interval]) -> tuple[Interval, ...]:
    return intersect(a, b)


def daily_lines(session: Session, staff_id: int, day: date, *,
                now: datetime | None = None) -> DailyLine:
    """The day's attendance line of one staff member (出勤, 退勤, 在庁時間, flags)."""
    res = compute_period(session, day, day, staff_ids=[staff_id], now=now)
    lines = res.days.get(staff_id)
    if not lines:
        raise NotFound(f"staff {staff_id} has no attendance on {day}", field="staff_id")
    return lines[0].line


def hhmm(line_time: datetime | None, day: date, cfg: RuleConfig) -> str:
    """Local clock time, written past midnight as 24:00+ (e.g. 25:30) on its business day."""
    if line_time is None:
        return ""
    local = line_time.astimezone(cfg.tz)
    minutes = local.hour * 60 + local.minute + (local.date() - day).days * MINUTES_PER_DAY
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def duration(minutes: int) -> str:
    return f"{minutes // 60}:{minutes % 60:02d}"


def format_line(line: DailyLine, name: str = "", lang: str = "ja",
                cfg: RuleConfig | None = None) -> str:
    """One printable line, e.g. ``2026-11-27 勤務日 出勤 08:27 退勤 17:32 在庁 9:05``."""
    cfg = cfg or rule_config()
    d = line.business_date
    if lang == "en":
        flags = ", ".join(line.flags)
        return (f"{d} {line.day_type.value} in {hhmm(line.first_in, d, cfg) or '--:--'} "
                f"out {hhmm(line.last_out, d, cfg) or '--:--'} on premises "
                f"{duration(line.premises_minutes)}{' [' + flags + ']' if flags else ''}").strip()
    flags = "・".join(FLAG_JA[f] for f in line.flags)
    who = f"{name} " if name else ""
    return (f"{who}{d} {DAY_TYPE_JA[line.day_type]} 出勤 {hhmm(line.first_in, d, cfg) or '--:--'} "
            f"退勤 {hhmm(line.last_out, d, cfg) or '--:--'} 在庁 {duration(line.premises_minutes)}"
            f"{' [' + flags + ']' if flags else ''}")


class _ClockTimes(dict[int | None, str]):
    """Clock times of minutes on the business-day axis (25:30 style past midnight) for one
    day change, each formatted once; ``None`` (no punch) is ""."""

    def __init__(self, change: int) -> None:
        super().__init__({None: ""})
        self.change = change

    def __missing__(self, minute: int) -> str:
        m = minute + self.change
        out = self[minute] = f"{m // 60:02d}:{m % 60:02d}"
        return out


_CLOCK_TIMES: dict[time, _ClockTimes] = {}
_ISO: dict[date, str] = {}  # a month's records repeat the same few dates
_DAY_TYPE_VALUE = {t: t.value for t in DayType}


def _clock_times(cfg: RuleConfig) -> _ClockTimes:
    table = _CLOCK_TIMES.get(cfg.day_change)
    if table is None:
        change = cfg.day_change.hour * 60 + cfg.day_change.minute
        table = _CLOCK_TIMES[cfg.day_change] = _ClockTimes(change)
    return table


def line_record(res: DayResult, cfg: RuleConfig) -> dict[str, Any]:
    """The JSON-able record of a staff-day: what the daily export shows and what is frozen."""
    ln = res.line
    d = ln.business_date
    iso = _ISO.get(d)
    if iso is None:
        iso = _ISO[d] = d.isoformat()
    hm = _clock_times(cfg)
    flags = ln.flags
    rec = {
        "date": iso, "day_type": _DAY_TYPE_VALUE[ln.day_type],
        "in": hm[ln.in_minute], "out": hm[ln.out_minute],
        "in_source": ln.in_source or "", "out_source": ln.out_source or "",
        "premises": ln.premises_minutes, "break": ln.break_minutes,
        "scheduled": ln.scheduled_minutes, "worked": ln.worked_in_schedule_minutes,
        "unscheduled": ln.unscheduled_minutes, "approved": res.approved_minutes,
        "overtime": res.paid_minutes, "divergence": res.divergence,
        "paid": [list(iv) for iv in res.paid] if res.paid else [],
        "schedule": list(res.schedule), "flags": list(flags) if flags else [],
        "holiday_work": 0, "leave": ln.leave_minutes,
    }
    if ln.day_type in HOLIDAY_PAY_DAYS and res.paid:
        # 休日勤務 is paid as 休日給, not 時間外 (給与法 §16–17): 時間外実績 leaves it out.
        holiday = total(intersect(res.paid, (res.schedule,)))
        rec["holiday_work"] = holiday
        rec["overtime"] = res.paid_minutes - holiday
    return rec


# --- corrections, work patterns, day overrides (admin) -------------------------------------------

def get_staff_or_raise(session: Session, staff_id: int) -> Staff:
    staff = session.get(Staff, staff_id)
    if staff is None:
        raise NotFound(f"staff {staff_id} not found", field="staff_id")
    return staff


def create_correction(session: Session, *, staff_id: int, business_date: date, kind: str,
                      corrected_at: datetime, reason: str, author: str) -> AttendanceCorrection:
    """A correction request; the punch events themselves are never changed."""
    get_staff_or_raise(session, staff_id)
    if kind not in ("in", "out"):
        raise BadRequest("kind must be 'in' or 'out'", field="kind")
    if not reason.strip():
        raise BadRequest("a reason is required", field="reason")
    if corrected_at.tzinfo is None:
        raise BadRequest("corrected_at needs a timezone", field="corrected_at")
    cfg = rule_config()
    s0 = day_start(business_date, cfg)
    lo, hi = axis_bounds(cfg)
    if not (s0 + timedelta(minutes=lo) <= corrected_at < s0 + timedelta(minutes=hi)):
        raise BadRequest("corrected_at lies outside the shift of that day (00:00–翌々00:00)",
                         field="corrected_at")
    row = AttendanceCorrection(staff_id=staff_id, business_date=business_date, kind=kind,
                               corrected_at=corrected_at.astimezone(UTC), reason=reason,
                               author=author)
    session.add(row)
    session.flush()
    record(session, actor=author, action="attendance.correction.create",
           entity="attendance_correction", entity_id=row.id, after=_correction_dict(row))
    return row


def decide_correction(session: Session, correction_id: int, *, approve: bool,
                      approver: str) -> AttendanceCorrection:
    row = session.get(AttendanceCorrection, correction_id, with_for_update=True)
    if row is None:
        raise NotFound(f"correction {correction_id} not found", field="correction_id")
    if row.status != "pending":
        raise Conflict(f"correction {correction_id} is already {row.status}")
    if approver == row.author:
        raise Conflict("the author of a correction cannot approve it", field="approver")
    before = _correction_dict(row)
    row.status = "approved" if approve else "rejected"
    row.approver = approver
    row.decided_at = utcnow()
    session.flush()
    record(session, actor=approver, action=f"attendance.correction.{row.status}",
           entity="attendance_correction", entity_id=row.id, before=before,
           after=_correction_dict(row))
    return row


def _correction_dict(row: AttendanceCorrection) -> dict[str, Any]:
    return {"staff_id": row.staff_id, "business_date": row.business_date.isoformat(),
            "kind": row.kind, "corrected_at": row.corrected_at.isoformat(),
            "reason": row.reason, "status": row.status, "approver": row.approver}


def create_work_pattern(session: Session, *, actor: str, **fields: Any) -> WorkPatternRow:
    row = WorkPatternRow(**fields)
    _check_pattern(_pattern_from_row(row))
    session.add(row)
    session.flush()
    record(session, actor=actor, action="attendance.work_pattern.create", entity="work_pattern",
           entity_id=row.id, after={k: str(v) for k, v in fields.items()})
    return row


def assign_work_pattern(session: Session, *, actor: str, staff_id: int, code: str,
                        effective_from: date, effective_until: date | None) -> StaffWorkPattern:
    get_staff_or_raise(session, staff_id)
    pattern = next((p for p in repo.work_patterns(session) if p.code == code), None)
    if pattern is None:
        raise NotFound(f"work pattern {code!r} not found", field="code")
    row = StaffWorkPattern(staff_id=staff_id, work_pattern_id=pattern.id,
                           effective_from=effective_from, effective_until=effective_until)
    session.add(row)
    session.flush()
    record(session, actor=actor, action="attendance.work_pattern.assign",
           entity="staff_work_pattern", entity_id=row.id,
           after={"staff_id": staff_id, "code": code, "from": effective_from.isoformat()})
    return row


def create_override(session: Session, *, actor: str, staff_id: int | None, day: date,
                    day_type: str, kind: str, linked_day: date | None,
                    note: str | None) -> list[DayOverride]:
    """A day-type override. 振替 (kind furikae) with a linked day writes both halves:
    ``day`` becomes ``day_type`` and ``linked_day`` the opposite (勤務日 ↔ 週休日)."""
    try:
        dt = DayType(day_type)
    except ValueError as err:
        raise BadRequest(f"unknown day_type {day_type!r}", field="day_type") from err
    if staff_id is not None:
        get_staff_or_raise(session, staff_id)
    for d in (day, linked_day if kind == "furikae" else None):
        if d is not None and repo.override_exists(session, staff_id, d):
            raise Conflict(f"{d} already has a day override for this staff member",
                           field="day" if d == day else "linked_day")
    rows = [DayOverride(staff_id=staff_id, day=day, day_type=dt.value, kind=kind,
                        linked_day=linked_day, note=note)]
    if kind == "furikae":
        if linked_day is None:
            raise BadRequest("振替 needs linked_day", field="linked_day")
        if dt not in (DayType.WORKDAY, DayType.WEEKLY_OFF):
            raise BadRequest("振替 swaps 勤務日 and 週休日", field="day_type")
        lo, hi = day - timedelta(weeks=4), day + timedelta(weeks=8)
        if not (lo <= linked_day <= hi):
            raise BadRequest("振替 must fall 4 weeks before to 8 weeks after", field="linked_day")
        other = DayType.WORKDAY if dt is DayType.WEEKLY_OFF else DayType.WEEKLY_OFF
        # 振替 moves a 週休日 onto a 勤務日 and back: the day must now be the other kind.
        for d, want in ((day, other), (linked_day, dt)):
            now_kind = _day_type_of(session, staff_id, d)
            if now_kind is not want:
                raise BadRequest(f"振替: {d} is a {DAY_TYPE_JA[now_kind]}, not a "
                                 f"{DAY_TYPE_JA[want]}", field="linked_day" if d != day else "day")
        rows.append(DayOverride(staff_id=staff_id, day=linked_day, day_type=other.value,
                                kind=kind, linked_day=day, note=note))
    if kind == "daikyu":
        if dt is not DayType.COMPENSATORY or linked_day is None:
            raise BadRequest("代休日 needs day_type compensatory and the worked 休日 as linked_day",
                             field="linked_day")
        if not (linked_day < day <= linked_day + timedelta(weeks=8)):
            raise BadRequest("代休日 must fall within 8 weeks after the worked 休日",
                             field="day")
        _check_worked_holiday(session, staff_id, linked_day)
    session.add_all(rows)
    session.flush()
    for r in rows:
        record(session, actor=actor, action="attendance.day_override.create",
               entity="day_override", entity_id=r.id,
               after={"staff_id": staff_id, "day": r.day.isoformat(), "day_type": r.day_type,
                      "kind": kind})
    return rows


def _check_worked_holiday(session: Session, staff_id: int | None, worked: date) -> None:
    """A 代休日 replaces a 休日 the person was ordered to work (勤務時間法 §15)."""
    if staff_id is None:
        raise BadRequest("a 代休日 is designated for one staff member", field="staff_id")
    kind = _day_type_of(session, staff_id, worked)
    if kind is not DayType.HOLIDAY:
        raise BadRequest(f"{worked} is not a 休日 of this staff member ({DAY_TYPE_JA[kind]})",
                         field="linked_day")
    if not repo.has_approved_overtime(session, staff_id, worked):
        raise BadRequest(f"no order to work on the 休日 {worked}", field="linked_day")


def _day_type_of(session: Session, staff_id: int | None, day: date) -> DayType:
    """The day type of ``day`` for a staff member (or for everyone), overrides included."""
    rows = sorted((o for o in repo.overrides(session, day, day)
                   if o.staff_id in (None, staff_id)), key=lambda o: o.staff_id is not None)
    over = {o.day: DayType(o.day_type) for o in rows}  # the staff's own override wins
    return classify_day(day, holidays=closed_days(session, day, day), overrides=over,
                        cfg=rule_config())
