"""The offline-age rule (gate.policy) and the door modes (gate.door), as properties."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from gate.door import Assurance, DoorMode
from gate.policy import Decision, Reason, offline_decision, snapshot_stale

ISSUED = datetime(2026, 11, 27, tzinfo=UTC)
decisions = st.builds(Decision, st.booleans(), st.sampled_from(Reason))
ages = st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=30))
limits = st.timedeltas(min_value=timedelta(minutes=1), max_value=timedelta(days=10))


@given(decisions, ages, limits, st.booleans())
def test_stale_denies_unless_fail_open(decision: Decision, age: timedelta, limit: timedelta,
                                       fail_open: bool):
    out = offline_decision(decision, now=ISSUED + age, issued_at=ISSUED, max_age=limit,
                           fail_open=fail_open)
    if age > limit and not fail_open:
        assert out == Decision(False, Reason.SNAPSHOT_STALE)
    else:
        assert out == decision  # a fresh snapshot or a fail-open door keeps its own decision
    assert snapshot_stale(now=ISSUED + age, issued_at=ISSUED, max_age=limit) is (age > limit)


@given(ages, limits)
def test_the_limit_itself_is_not_stale(age: timedelta, limit: timedelta):
    assert not snapshot_stale(now=ISSUED + limit, issued_at=ISSUED, max_age=limit)
    granted = Decision(True, Reason.GRANTED)
    later = offline_decision(granted, now=ISSUED + limit + age + timedelta(microseconds=1),
                             issued_at=ISSUED, max_age=limit, fail_open=False)
    assert later.reason is Reason.SNAPSHOT_STALE and not later.granted


def test_door_modes_carry_their_properties():
    assert [(m.value, m.unlocks, m.is_clock) for m in DoorMode] == [
        ("access", True, False), ("clock", False, True), ("both", True, True)]
    assert [(a.value, a.needs_pin) for a in Assurance] == [("card", False), ("card+pin", True)]
    assert DoorMode("clock") is DoorMode.CLOCK and f"{DoorMode.BOTH}" == "both"
