"""MYNAGATE_ATTENDANCE_DAY_CHANGE is honoured by attendance and the readers' snapshot, so readers and attendance split 出勤/退勤 at the same moment."""

from __future__ import annotations

from datetime import date, time

import pytest

from api.attendance import config
from api.attendance.service import compute_period
from api.snapshot.service import build_payload
from reader_agent.clock_point import day_change_of

from . import factories as f


@pytest.fixture
def four_oclock(monkeypatch):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("MYNAGATE_ATTENDANCE_DAY_CHANGE", "04:00")
    config.rule_config.cache_clear()
    yield config.rule_config()
    config.rule_config.cache_clear()


def test_the_day_change_setting_reaches_attendance_caps_and_the_snapshot(database, four_oclock):
    assert four_oclock.day_change == time(4, 0)
    with database.session() as s:
        dept = f.department(s)
        person = f.staff(s, dept, "C0001")
        dev, door = f.device(s)
        # An unpaired punch at 04:30 on 11/20 is business day 11/20 with the change at 04:00
        # (it would be 11/19 at 05:00).
        f.punch(s, dev, door, person, f.jst(2026, 11, 20, 4, 30))
        now = f.jst(2026, 11, 25, 12)
        res = compute_period(s, date(2026, 11, 19), date(2026, 11, 20), now=now)
        lines = {r.line.business_date: r.line for r in res.days[person.id]}
        assert lines[date(2026, 11, 20)].punches == 1 and lines[date(2026, 11, 19)].punches == 0
        assert lines[date(2026, 11, 20)].in_minute == 30  # 04:30 is 30 min after 04:00
        payload = build_payload(s, device_id=dev.id, since=None, now=now, tz=four_oclock.tz)
    assert payload["day_change"] == "04:00"
    assert day_change_of(payload) == time(4, 0)
    assert day_change_of({}) == time(5, 0)  # a snapshot from an older service
