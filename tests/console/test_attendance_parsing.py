"""The correction form's time: HH:MM on the business day, 24:00–47:59 the next day (pure)."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from api.attendance.config import rule_config
from api.console.attendance import _corrected_at

TZ = rule_config().business_day.tz
DAYS = st.dates(min_value=date(2000, 1, 1), max_value=date(2099, 12, 31))


@given(DAYS, st.integers(0, 47), st.integers(0, 59))
def test_a_time_is_minutes_after_the_days_local_midnight(day, hours, minutes) -> None:  # type: ignore[no-untyped-def]
    got_day, at = _corrected_at(day.isoformat(), f"{hours}:{minutes:02d}")
    assert got_day == day
    assert at == datetime.combine(day, time(0), TZ) + timedelta(hours=hours, minutes=minutes)


@given(DAYS, st.integers(48, 99) | st.integers(-9, -1), st.integers(0, 59))
def test_hours_outside_two_days_are_refused(day, hours, minutes) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError):
        _corrected_at(day.isoformat(), f"{hours}:{minutes:02d}")


@pytest.mark.parametrize("text", ["9:7", "09:60", "0930", "", "ab:cd", "09:5 "])
def test_malformed_times_are_refused(text: str) -> None:
    with pytest.raises(ValueError):
        _corrected_at("2026-11-02", text)
