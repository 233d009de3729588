"""gate.business_day: the one business day, used by clock points, door policy and attendance."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gate.business_day import JST, BusinessDay
from gate.clock import business_date
from gate.door import Assurance, DoorMode
from gate.policy import (
    AccessRequest,
    CredentialInfo,
    CredentialStatus,
    Decision,
    DoorInfo,
    Permission,
    Reason,
    Schedule,
    StaffInfo,
    TimeWindow,
    decide,
)

changes = st.builds(time, st.integers(0, 23), st.sampled_from([0, 15, 30, 45]))


@given(st.dates(min_value=date(2020, 1, 1), max_value=date(2035, 12, 31)), changes)
def test_a_day_runs_from_its_change_to_the_next(day, change):
    bd = BusinessDay(JST, change)
    assert bd.date_of(bd.start(day)) == day
    assert bd.date_of(bd.end(day) - timedelta(microseconds=1)) == day
    assert bd.end(day) - bd.start(day) == timedelta(days=1)


@given(st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2035, 1, 1),
                    timezones=st.just(UTC)), changes)
def test_clock_and_business_day_agree(at, change):
    assert business_date(at, JST, change) == BusinessDay(JST, change).date_of(at)


def test_naive_moments_and_second_precise_changes_are_refused():
    with pytest.raises(ValueError):
        BusinessDay().date_of(datetime(2026, 11, 20, 4))
    with pytest.raises(ValueError):
        BusinessDay(JST, time(5, 0, 30))


def _request(now: datetime, closed: frozenset[date], change: time) -> AccessRequest:
    return AccessRequest(
        credential=CredentialInfo("ab", 1, "staff_ap", CredentialStatus.ACTIVE),
        staff=StaffInfo(1, date(2020, 1, 1), None, frozenset({1})),
        door=DoorInfo(7, DoorMode.ACCESS, Assurance.CARD, False, False), now=now,
        permissions=(Permission(1, 7, 1),),
        schedules={1: Schedule(1, tuple(TimeWindow(d, 0, 1440) for d in range(7)), False)},
        closed_days=closed, day_change=change)


@pytest.mark.parametrize(("hhmm", "change", "reason"), [
    ((2, 0), time(5, 0), Reason.CLOSED_DAY),  # 02:00 on 11/24 is still business day 11/23
    ((6, 0), time(5, 0), Reason.GRANTED),  # 06:00 is business day 11/24
    ((2, 0), time(0, 0), Reason.GRANTED),  # with the change at midnight it is 11/24
])
def test_door_policy_closes_on_the_business_day(hhmm, change, reason):
    now = datetime(2026, 11, 24, *hhmm, tzinfo=JST)
    got: Decision = decide(_request(now, frozenset({date(2026, 11, 23)}), change))
    assert got.reason is reason
