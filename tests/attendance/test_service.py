"""The attendance service on a real database: the demo's daily line, bulk computation."""

from __future__ import annotations

from datetime import date

from api.attendance.rules import DayType
from api.attendance.service import compute_period, daily_lines, format_line

from . import factories as f


def test_daily_line_from_clock_in_and_out(database):
    with database.session() as s:
        dept = f.department(s)
        p = f.staff(s, dept, "A0001")
        dev, door = f.device(s)
        f.day(s, dev, door, p, date(2026, 11, 26), "08:27", "17:32")
        line = daily_lines(s, p.id, date(2026, 11, 26), now=f.jst(2026, 11, 28))
    assert line.day_type is DayType.WORKDAY
    assert line.premises_minutes == 9 * 60 + 5
    assert line.break_minutes == 60
    assert line.flags == ()
    assert line.unscheduled == ((207, 210), (735, 752))
    text = format_line(line)
    assert "出勤 08:27" in text and "退勤 17:32" in text and "在庁 9:05" in text


def test_forgotten_clock_out_never_flips_next_day(database):
    with database.session() as s:
        dept = f.department(s)
        p = f.staff(s, dept, "A0002")
        dev, door = f.device(s)
        f.punch(s, dev, door, p, f.jst(2026, 11, 25, 8, 20))  # no 退勤 on the 25th
        f.day(s, dev, door, p, date(2026, 11, 26), "08:25", "17:20")
        res = compute_period(s, date(2026, 11, 25), date(2026, 11, 26), now=f.jst(2026, 12, 1))
    d25, d26 = res.days[p.id]
    assert d25.line.missing_out and d25.line.last_out is None
    assert d26.line.first_in == f.jst(2026, 11, 26, 8, 25)
    assert d26.line.last_out == f.jst(2026, 11, 26, 17, 20)
    assert d26.line.flags == ()


def test_work_past_midnight_stays_on_its_day_and_holiday_door_presence(database):
    with database.session() as s:
        dept = f.department(s)
        p = f.staff(s, dept, "A0003")
        dev, door = f.device(s)
        f.day(s, dev, door, p, date(2026, 11, 27), "08:30", "26:10")  # out 02:10 on the 28th
        # Sunday 11/29: in through the 休日通用口 only (door taps, no punch).
        f.punch(s, dev, door, p, f.jst(2026, 11, 29, 9, 0), kind="tap")
        f.punch(s, dev, door, p, f.jst(2026, 11, 29, 12, 30), kind="tap")
        res = compute_period(s, date(2026, 11, 27), date(2026, 11, 29), now=f.jst(2026, 12, 1))
    fri, sat, sun = (r.line for r in res.days[p.id])
    assert fri.last_out == f.jst(2026, 11, 28, 2, 10) and not fri.missing_out
    assert sat.absent is False and sat.punches == 0 and sat.day_type is DayType.WEEKLY_OFF
    assert sun.no_clock and sun.premises_minutes == 210 and sun.day_type is DayType.WEEKLY_OFF
    # 12:00–12:30 is the break: 180 min outside any schedule.
    assert sun.unscheduled_minutes == 180
