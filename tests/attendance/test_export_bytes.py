"""The fast paths of a large export write the same bytes as the plain ones: the daily CSV
joined from shared staff and day parts, and the frozen lines' JSON encoded once per shared
record (no database needed)."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import date, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from api.attendance.closing import pack_lines, packed_json
from api.attendance.rules import (
    DEFAULT_CONFIG,
    DEFAULT_PATTERN,
    JST,
    DayType,
    PatternAxis,
    compute_day_minutes,
)
from api.attendance.service import DayResult, PeriodResult, StaffInfo, line_record
from api.exports.profiles import BUILTIN, Column, Profile
from api.exports.rows import daily_rows
from api.exports.writer import render

AXIS = PatternAxis.of(DEFAULT_PATTERN, DEFAULT_CONFIG)
MONTH = date(2026, 11, 1)
# Characters that make csv.writer quote a cell, start a formula, or need CP932 look-alikes.
NAME_CHARS = st.sampled_from([",", '"', "\n", "\r", "=", "+", "-", "@", "\t", " ", "'", "a",
                              "山", "髙", "ｱ", "〜", "1"])
names = st.text(NAME_CHARS, max_size=6)
# (in, out) minutes on the business-day axis, or None for a day without punches.
punches = st.one_of(st.none(), st.tuples(st.integers(0, 700), st.integers(0, 1400)))


def _record(day: date, clock: tuple[int, int] | None) -> dict[str, object]:
    start0 = datetime(day.year, day.month, day.day, 5, tzinfo=JST)
    pts = [] if clock is None else sorted([(clock[0], "in"), (clock[1], "out")])
    dt = DayType.WORKDAY if day.weekday() < 5 else DayType.WEEKLY_OFF
    line = compute_day_minutes(day, dt, pts, (), (), 5000, AXIS, start0)
    res = DayResult(1, line, (), (), line.unscheduled_minutes, AXIS.schedule)
    return line_record(res, DEFAULT_CONFIG)


@st.composite
def months(draw: st.DrawFn) -> tuple[PeriodResult, dict[tuple[int, date], dict[str, object]]]:
    """A few staff members with hostile names over a few days, sharing some day records."""
    staff = {}
    for sid in range(1, draw(st.integers(1, 4)) + 1):
        staff[sid] = StaffInfo(sid, draw(names), draw(names), draw(names), draw(names),
                               draw(names), "ordinary", 1)
    shared: dict[tuple[date, object], dict[str, object]] = {}
    records = {}
    for sid in staff:
        for i in range(draw(st.integers(0, 4))):
            day = MONTH + timedelta(days=i)
            clock = draw(punches)
            # Staff with the same punches on a day hold the same record object, as in
            # ``PeriodResult.records``.
            records[(sid, day)] = shared.setdefault((day, clock), _record(day, clock))
    return PeriodResult(MONTH, MONTH + timedelta(days=29), DEFAULT_CONFIG, staff), records


@settings(deadline=None, max_examples=150)
@given(months(), st.sampled_from(["utf8bom", "cp932"]), st.booleans())
def test_daily_csv_joined_from_parts_is_byte_identical(month, fmt, header):
    res, records = month
    prof = replace(BUILTIN["daily"], header_row=header)
    rows = daily_rows(res, records)
    assert rows.csv_text(prof) is not None  # the fast path is the one under test
    plain = list(rows)  # row dicts: the writer's general path
    assert render(rows, prof, fmt) == render(plain, prof, fmt)


def test_daily_csv_with_day_columns_first_takes_the_general_path():
    staff = {1: StaffInfo(1, "A1", '山田, "太郎"', "ﾔﾏﾀﾞ", "D1", "=課", "ordinary", 1)}
    res = PeriodResult(MONTH, MONTH + timedelta(days=29), DEFAULT_CONFIG, staff)
    records = {(1, MONTH + timedelta(days=i)): _record(MONTH + timedelta(days=i), (200, 800))
               for i in range(3)}
    prof = Profile("t", 1, "daily", (Column("日付", "date"), Column("氏名", "name")))
    rows = daily_rows(res, records)
    assert rows.csv_text(prof) is None
    assert render(rows, prof, "utf8bom") == render(list(rows), prof, "utf8bom")


@settings(deadline=None, max_examples=100)
@given(months())
def test_packed_json_is_the_text_of_pack_lines(month):
    res, records = month
    per: dict[int, dict[str, dict[str, object]]] = {sid: {} for sid in res.staff}
    for (sid, d), rec in records.items():
        per[sid][d.isoformat()] = rec
    expected = [(sid, json.dumps(pack_lines(v), ensure_ascii=False, separators=(",", ":")))
                for sid, v in per.items()]
    assert packed_json(records, res.staff) == expected
