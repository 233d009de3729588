"""Issue 10, rule errors 1–4, on the pure rules: a table of cases with the arithmetic beside
each expected number and the clause each follows. The same rules through the device protocol,
the API and the three export formats are in ``test_issue10_api.py``.

Axis: minutes since 05:00 of the business day. 08:30 = 210, 12:00 = 420, 13:00 = 480,
17:15 = 735, 22:00 = 1020, 05:00 next = 1440. Default pattern 08:30–17:15, break 12:00–13:00
(465 min)."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from api.attendance.rules import (
    DEFAULT_PATTERN,
    JST,
    Bucket,
    CapInput,
    DayType,
    LeaveUnit,
    OvertimeDay,
    PatternAxis,
    Point,
    assign_days,
    check_caps,
    classify_day,
    compute_day,
    compute_day_minutes,
    group_points,
    leave_interval,
    month_buckets,
    moved_weekly_off_minutes,
    pair_shifts,
)
from api.calendar.service import closed_days

pytestmark = pytest.mark.filterwarnings(
    "ignore:Do not use the `random` module inside strategies")

SCHED = DEFAULT_PATTERN.schedule()
NOW = datetime(2030, 1, 1, tzinfo=JST)


def at(d: date, hhmm: str) -> datetime:
    h, m = (int(x) for x in hhmm.split(":"))
    return datetime(d.year, d.month, d.day, tzinfo=JST) + timedelta(hours=h, minutes=m)


def buckets(day_type: DayType, *intervals: tuple[int, int]) -> dict[str, int]:
    out = month_buckets([OvertimeDay(date(2026, 11, 23), day_type, intervals, SCHED)])
    return {k: v for k, v in out.items() if v}


# (case, day type, paid intervals, expected non-zero brackets)
BRACKETS = [
    # Rule 1, 給与法 §16(1)(i): 125 only on a day with scheduled hours and no 休日給.
    ("休日 08:30–19:00", DayType.HOLIDAY, [(210, 420), (480, 840)],
     {Bucket.HOLIDAY: 210 + 255,  # 08:30–12:00 + 13:00–17:15 = 休日勤務 (§17)
      Bucket.R135: 840 - 735}),  # 17:15–19:00 = 105 at 135, not 125
    ("休日 08:30–23:00", DayType.HOLIDAY, [(210, 420), (480, 1080)],
     {Bucket.HOLIDAY: 465, Bucket.R135: 1020 - 735,  # 17:15–22:00 = 285
      Bucket.R160: 1080 - 1020}),  # 22:00–23:00 = 60 at 160, not 150
    # Rule 2: a 祝日 on a 週休日 is a 週休日: no 休日勤務, all 135.
    ("週休日 (祝日) 09:00–12:00", DayType.WEEKLY_OFF, [(240, 420)], {Bucket.R135: 180}),
    # Rule 3, 給与法 §17: the 休日給 of a worked 休日 moves to its 代休日.
    ("休日 with a 代休日 08:30–19:00", DayType.HOLIDAY_REPLACED, [(735, 840)],
     {Bucket.R125: 840 - 735}),  # an ordinary day with scheduled hours: 105 at 125
    ("代休日 worked 08:30–18:00", DayType.COMPENSATORY, [(210, 420), (480, 780)],
     {Bucket.HOLIDAY: 465,  # its scheduled hours are 休日勤務
      Bucket.R135: 780 - 735}),  # 17:15–18:00 = 45 at 135
]


@pytest.mark.parametrize(("case", "day_type", "paid", "expected"), BRACKETS,
                         ids=[c[0] for c in BRACKETS])
def test_brackets(case, day_type, paid, expected):
    assert buckets(day_type, *paid) == {k.value: v for k, v in expected.items()}


def test_work_on_a_weekly_off_holiday_counts_towards_60_hours():
    """Rule 2: 週休日 overtime counts towards the 60 h bracket (給与法 §16(2))."""
    days = [OvertimeDay(date(2026, 1, 5) + timedelta(days=i), DayType.WORKDAY, ((735, 1020),),
                        SCHED) for i in range(12)]  # 12 × 285 = 3,420 min (57 h)
    days.append(OvertimeDay(date(2026, 1, 17), DayType.WEEKLY_OFF, ((240, 540),), SCHED))
    out = month_buckets(days)
    assert out[Bucket.R125] == 3420
    assert out[Bucket.R135] == 3600 - 3420  # 180 min until 60 h
    assert out[Bucket.R150_OVER60] == 300 - 180  # the other 120 min of Saturday


# Rule 2: day types (勤務時間法 §14; 祝日法 §3(2) 振替休日).
DAYS = [
    ("2026-01-03 Sat, 年末年始", date(2026, 1, 3), DayType.WEEKLY_OFF),
    ("2026-05-03 Sun, 憲法記念日", date(2026, 5, 3), DayType.WEEKLY_OFF),
    ("2026-05-06 Wed, 振替休日", date(2026, 5, 6), DayType.HOLIDAY),
    ("2026-11-23 Mon, 勤労感謝の日", date(2026, 11, 23), DayType.HOLIDAY),
    ("2026-12-29 Tue, 年末年始", date(2026, 12, 29), DayType.HOLIDAY),
]


@pytest.mark.parametrize(("case", "day", "expected"), DAYS, ids=[c[0] for c in DAYS])
def test_day_types(case, day, expected):
    assert classify_day(day, holidays=closed_days(None, day, day)) is expected


def test_a_weekly_off_moved_onto_a_holiday_makes_it_a_holiday():
    """振替 turns the Saturday 2026-01-03 into a 勤務日: then it is a 休日 with hours."""
    day = date(2026, 1, 3)
    assert classify_day(day, holidays=closed_days(None, day, day),
                        overrides={day: DayType.WORKDAY}) is DayType.HOLIDAY


# Rule 4 (昭63.1.1 基発1号): a continuous shift belongs to the day it started.
def line_of(points: list[Point], day: date, day_type: DayType = DayType.WORKDAY):  # type: ignore[no-untyped-def]
    groups = group_points(points)
    return groups, compute_day(day, day_type, groups.get(day, []), now=NOW)


def test_a_shift_to_0540_is_one_shift_of_its_start_day():
    d = date(2026, 11, 19)
    groups, line = line_of([Point(at(d, "08:30"), hint="in"),
                            Point(at(d, "29:40"), hint="out")], d)
    assert list(groups) == [d]  # not split into missing_out / missing_in
    assert line.in_minute == 210 and line.out_minute == 24 * 60 + 40  # 退勤 29:40
    assert line.flags == ("long_span",)  # 21 h 10 on the premises, > 16 h: check it
    assert line.unscheduled == ((735, 1480),)  # 17:15 → 29:40 = 745 min
    out = month_buckets([OvertimeDay(d, line.day_type, line.unscheduled, SCHED)])
    assert out[Bucket.R125] == (1020 - 735) + (1480 - 1440)  # 285 + 40 (05:00–05:40 is day)
    assert out[Bucket.R150] == 1440 - 1020  # 22:00–05:00 = 420


def test_a_call_in_at_0430_belongs_to_its_own_day():
    d16, d17 = date(2026, 11, 16), date(2026, 11, 17)
    pts = [Point(at(d16, "08:30"), hint="in"), Point(at(d16, "17:15"), hint="out"),
           Point(at(d17, "04:30"), hint="in"), Point(at(d17, "17:15"), hint="out")]
    groups, line16 = line_of(pts, d16)
    line17 = compute_day(d17, DayType.WORKDAY, groups[d17], now=NOW)
    assert line16.out_minute == 735 and line16.unscheduled_minutes == 0  # no false 乖離
    assert line17.in_minute == -30  # 04:30 is 30 min before the day change
    assert line17.unscheduled == ((-30, 210),)  # 04:30–08:30 = 240 min of 早出
    out = month_buckets([OvertimeDay(d17, DayType.WORKDAY, line17.unscheduled, SCHED)])
    assert out[Bucket.R150] == 30 and out[Bucket.R125] == 210  # 04:30–05:00 night, then day


def test_unpaired_punches_are_placed_by_the_day_change():
    d = date(2026, 11, 19)
    groups, _ = line_of([Point(at(d, "08:30"), hint="in"), Point(at(d, "28:30"), hint="in")], d)
    assert {k: len(v) for k, v in groups.items()} == {d: 2}  # 04:30 → business day 11/19
    groups, _ = line_of([Point(at(d, "08:30"), hint="in"), Point(at(d, "32:40"), hint="out")],
                        d)
    assert sorted(groups) == [d, d + timedelta(days=1)]  # > 24 h: not one shift


@given(st.lists(st.tuples(st.integers(0, 10_000), st.sampled_from(["in", "out", None])),
                max_size=20))
def test_pairing_uses_every_punch_once_and_keeps_order(raw):
    clock = sorted(raw, key=lambda p: p[0])
    shifts, loose = pair_shifts(clock, 1440)
    used = [k for pair in shifts for k in pair] + loose
    assert sorted(used) == list(range(len(clock)))
    for a, b in shifts:
        assert clock[a][1] == "in" and clock[b][1] == "out" and 0 <= clock[b][0] - clock[a][0] <= 1440


@given(st.integers(0, 40), st.integers(0, 23 * 60 + 59), st.integers(1, 24 * 60))
def test_a_paired_shift_lands_whole_on_the_local_date_of_its_start(day_i, start_m, length):
    day0 = date(2026, 10, 1)
    starts = [int(at(day0 + timedelta(days=i), "05:00").timestamp() // 60) for i in range(45)]
    a = int(at(day0 + timedelta(days=day_i), "00:00").timestamp() // 60) + start_m
    clock_day, _ = assign_days([(a, "in"), (a + length, "out")], [], starts, 300)
    assert clock_day == [day_i, day_i]


@pytest.mark.parametrize(("months", "fires"), [
    # Rule 5 (人事院規則15-14 §16条の2の2(1)(ii)(ロ)): the 2-month average is compared exactly.
    ({(2026, 10): 4800, (2026, 11): 4801}, True),  # (4800 + 4801) / 2 = 4800.5 > 4800
    ({(2026, 10): 4800, (2026, 11): 4800}, False),  # 4800 = 80 h is allowed
])
def test_cap_averages_compare_exact_minutes(months, fires):
    alerts = check_caps(CapInput("high_external", months, (2026, 11)))
    assert any(a.code == "avg_80h" for a in alerts) is fires


H = 60
SEP, OCT, NOV = (2026, 9), (2026, 10), (2026, 11)


@pytest.mark.parametrize(("cls", "months", "special", "code", "severity"), [
    # Rule 5, last bullet (人事院規則15-14 §16条の2の2 ③): a 特例 order marks only its own month.
    ("ordinary", {NOV: 50 * H}, {NOV}, "month_cap", "exceeded_special"),  # 50 h > 45 h in 特例
    ("ordinary", {NOV: 50 * H}, {OCT}, "month_cap", "exceeded"),  # October's 特例 is not November's
    # Year: 360 h. 300 h in 特例 September + 70 h in November = 370 h > 360 h; without September
    # 70 h ≤ 360 h, so September's 特例 carries it over.
    ("ordinary", {SEP: 300 * H, NOV: 70 * H}, {SEP}, "year_cap", "exceeded_special"),
    # 300 h in ordinary September + 70 h in 特例 November: 300 h alone is within 360 h, so the
    # excess comes with November's 特例 → special; with the 特例 in October (0 h) → plain.
    ("ordinary", {SEP: 300 * H, NOV: 70 * H}, {NOV}, "year_cap", "exceeded_special"),
    ("ordinary", {SEP: 370 * H, NOV: 10 * H}, {NOV}, "year_cap", "exceeded"),  # 370 h > 360 alone
    # 他律: 2-month average. Oct 90 h + Nov 90 h = 180 h > 160 h. 特例 November: 90 h ≤ 160 h
    # without it → special. 特例 September (outside the 2-month window): plain.
    ("high_external", {OCT: 90 * H, NOV: 90 * H}, {NOV}, "avg_80h", "exceeded_special"),
    ("high_external", {SEP: 10 * H, OCT: 90 * H, NOV: 90 * H}, {SEP}, "avg_80h", "exceeded"),
    # 他律: month < 100 h. 100 h in a 特例 month is special, in another month it is not.
    ("high_external", {NOV: 100 * H}, {NOV}, "month_cap", "exceeded_special"),
    ("high_external", {OCT: 10 * H, NOV: 100 * H}, {OCT}, "month_cap", "exceeded"),
    # 他律: at most 6 months over 45 h. Apr–Nov 2026 each 50 h = 8 months; 特例 in 2 → the other
    # 6 keep to 6 (special); 特例 in 1 → 7 > 6 (plain).
    ("high_external", {(2026, m): 50 * H for m in range(4, 12)}, {OCT, NOV},
     "months_over_45h", "exceeded_special"),
    ("high_external", {(2026, m): 50 * H for m in range(4, 12)}, {NOV},
     "months_over_45h", "exceeded"),
])
def test_a_special_order_marks_only_its_own_months(cls, months, special, code, severity):
    alerts = check_caps(CapInput(cls, months, NOV, special_months=frozenset(special)))
    assert [a.severity for a in alerts if a.code == code] == [severity]


@given(st.dictionaries(st.sampled_from([(2026, m) for m in range(4, 12)]),
                       st.integers(0, 120 * 60), max_size=8),
       st.sets(st.sampled_from([(2026, m) for m in range(4, 12)])),
       st.sampled_from(["ordinary", "high_external"]))
def test_special_months_change_only_the_severity(months, special, cls):
    """特例 never hides or adds an exceedance; without 特例 months nothing is special."""
    plain = check_caps(CapInput(cls, months, NOV))
    marked = check_caps(CapInput(cls, months, NOV, special_months=frozenset(special)))
    assert [a.code for a in plain] == [a.code for a in marked]
    assert all(a.severity != "exceeded_special" for a in plain)
    if not special:
        assert plain == marked


@given(st.lists(st.integers(0, 1439), max_size=4), st.sampled_from(list(LeaveUnit)),
       st.one_of(st.integers(210, 385), st.integers(480, 700)))  # 35 min outside the break
def test_leave_is_never_work_and_a_full_day_is_never_absent(minutes, unit, h):
    """Leave (休暇) shortens the expected presence and is never counted as 勤務時間."""
    axis = PatternAxis.of(DEFAULT_PATTERN)
    off = leave_interval(unit, axis.schedule, axis.breaks, (h, h + 35))
    d = date(2026, 11, 19)
    clock = [(m, None) for m in sorted(minutes)]
    s0 = at(d, "05:00")
    with_leave = compute_day_minutes(d, DayType.WORKDAY, clock, (), (), 2000, axis, s0, [off])
    without = compute_day_minutes(d, DayType.WORKDAY, clock, (), (), 2000, axis, s0)
    assert with_leave.leave_minutes > 0 and "leave" in with_leave.flags
    assert with_leave.worked_in_schedule_minutes <= without.worked_in_schedule_minutes
    assert with_leave.worked_in_schedule_minutes + with_leave.leave_minutes <= 465
    if unit is LeaveUnit.DAY:
        assert not (with_leave.late or with_leave.early or with_leave.absent)
        assert with_leave.worked_in_schedule_minutes == 0



@pytest.mark.parametrize(("worked", "expected"), [
    # Rule 9 (給与法 §16): 正規の勤務時間 beyond 38h45m (2,325 min) in a Sunday–Saturday week.
    ([465] * 5, 0),  # Mon–Fri: 5 × 465 = 2,325, nothing beyond
    ([465] * 6, 465),  # a 週休日 moved into this week: 2,790 − 2,325
    ([465] * 5 + [400], 400),  # the moved day worked 400 min
    ([300] + [465] * 5, 300),  # late on Monday: 2,625 − 2,325
])
def test_moved_weekly_off_plus_25(worked, expected):
    week = [date(2025, 11, 10) + timedelta(days=i) for i in range(len(worked))]
    assert moved_weekly_off_minutes(zip(week, worked, strict=True)) == expected


def test_plus_25_counts_each_week_on_its_own():
    days = [(date(2025, 11, 15), 465)] + [(date(2025, 11, 17) + timedelta(days=i), 465)
                                          for i in range(5)]
    assert moved_weekly_off_minutes(days) == 0  # Sat 11/15 is in the week of 11/9
