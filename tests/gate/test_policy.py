"""gate.policy: examples and hypothesis properties."""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from gate.door import Assurance
from gate.policy import (
    JST,
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
    municipal_closed_days,
)

WEEKDAYS_8_20 = Schedule(1, tuple(TimeWindow(d, 8 * 60, 20 * 60) for d in range(5)))
ALWAYS = Schedule(2, tuple(TimeWindow(d, 0, 1440) for d in range(7)), allow_closed_days=True)


def jst(y: int, m: int, d: int, hh: int = 10, mm: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=JST)


def request(**over: object) -> AccessRequest:
    base = AccessRequest(
        credential=CredentialInfo("c1", 7, "staff_ap", CredentialStatus.ACTIVE),
        staff=StaffInfo(7, date(2020, 4, 1), None, frozenset({10})),
        door=DoorInfo(1),
        now=jst(2026, 11, 27),  # a Friday
        permissions=(Permission(10, 1, 1),),
        schedules={1: WEEKDAYS_8_20, 2: ALWAYS},
    )
    return dataclasses.replace(base, **over)  # type: ignore[arg-type]


def test_granted_inside_schedule():
    assert decide(request()) == Decision(True, Reason.GRANTED)


def test_each_denial_reason():
    cases = {
        Reason.LOCKDOWN: request(door=DoorInfo(1, lockdown=True)),
        Reason.UNKNOWN_CREDENTIAL: request(credential=None),
        Reason.CREDENTIAL_REVOKED: request(
            credential=CredentialInfo("c1", 7, "staff_ap", CredentialStatus.REVOKED)),
        Reason.CREDENTIAL_SUSPENDED: request(
            credential=CredentialInfo("c1", 7, "staff_ap", CredentialStatus.SUSPENDED)),
        Reason.CREDENTIAL_LOST: request(
            credential=CredentialInfo("c1", 7, "staff_ap", CredentialStatus.LOST)),
        Reason.CREDENTIAL_EXPIRED: request(credential=CredentialInfo(
            "c1", 7, "jpki_auth", CredentialStatus.ACTIVE, datetime(2026, 1, 1, tzinfo=UTC))),
        Reason.STAFF_INACTIVE: request(staff=StaffInfo(7, date(2020, 4, 1), date(2026, 3, 31),
                                                       frozenset({10}))),
        Reason.PIN_REQUIRED: request(door=DoorInfo(1, assurance=Assurance.CARD_PIN)),
        Reason.NO_PERMISSION: request(permissions=(Permission(99, 1, 1),)),
        Reason.OUTSIDE_SCHEDULE: request(now=jst(2026, 11, 27, 21, 0)),
        Reason.CLOSED_DAY: request(now=jst(2026, 11, 23)),  # 勤労感謝の日 (Monday)
    }
    for reason, req in cases.items():
        req = dataclasses.replace(req, closed_days=frozenset({date(2026, 11, 23)}))
        assert decide(req) == Decision(False, reason), reason


def test_pin_verified_opens_card_pin_door():
    req = request(door=DoorInfo(1, assurance=Assurance.CARD_PIN), pin_verified=True)
    assert decide(req).granted


def test_schedule_is_in_local_time():
    # 23:30 UTC Thursday is 08:30 JST Friday: inside the weekday window.
    assert decide(request(now=datetime(2026, 11, 26, 23, 30, tzinfo=UTC))).granted
    # 10:30 UTC Friday is 19:30 JST: inside; 11:30 UTC is 20:30 JST: outside.
    assert decide(request(now=datetime(2026, 11, 27, 10, 30, tzinfo=UTC))).granted
    assert not decide(request(now=datetime(2026, 11, 27, 11, 30, tzinfo=UTC))).granted


def test_naive_now_is_refused():
    import pytest

    with pytest.raises(ValueError):
        decide(request(now=datetime(2026, 11, 27, 10, 0)))


def test_municipal_closure_is_six_days():
    days = municipal_closed_days(2026)
    assert min(days) == date(2026, 12, 29) and max(days) == date(2027, 1, 3) and len(days) == 6


# --- properties ----------------------------------------------------------------------------

windows = st.builds(
    lambda d, a, b: TimeWindow(d, min(a, b), max(a, b) + 1),
    st.integers(0, 6), st.integers(0, 1438), st.integers(0, 1438),
)
schedules = st.builds(
    lambda i, ws, c: Schedule(i, tuple(ws), c),
    st.integers(1, 3), st.lists(windows, max_size=4), st.booleans(),
)
statuses = st.sampled_from(list(CredentialStatus))
instants = st.datetimes(min_value=datetime(2025, 1, 1), max_value=datetime(2028, 1, 1),
                        timezones=st.just(UTC))


@st.composite
def requests(draw: st.DrawFn) -> AccessRequest:
    scheds = draw(st.lists(schedules, max_size=3, unique_by=lambda s: s.id))
    perms = tuple(draw(st.lists(st.builds(Permission, st.integers(1, 3), st.integers(1, 2),
                                          st.integers(1, 3)), max_size=5)))
    staff_from = draw(st.dates(date(2024, 1, 1), date(2027, 1, 1)))
    staff_until = draw(st.none() | st.dates(staff_from, date(2029, 1, 1)))
    now = draw(instants)
    closed = frozenset(set(draw(st.lists(st.dates(date(2025, 1, 1), date(2028, 1, 1)), max_size=5)))
                       | ({now.astimezone(JST).date()} if draw(st.booleans()) else set()))
    return AccessRequest(
        credential=draw(st.none() | st.builds(CredentialInfo, st.just("c"), st.just(5),
                                              st.just("staff_ap"), statuses)),
        staff=StaffInfo(5, staff_from, staff_until, frozenset(draw(st.sets(st.integers(1, 3))))),
        door=DoorInfo(draw(st.integers(1, 2)), assurance=draw(st.sampled_from(Assurance)),
                      lockdown=draw(st.booleans())),
        now=now,
        permissions=perms,
        schedules={s.id: s for s in scheds},
        closed_days=closed,
        pin_verified=draw(st.booleans()),
    )


@settings(max_examples=300)
@given(requests())
def test_revoking_never_grants(req: AccessRequest) -> None:
    if req.credential is None:
        return
    for status in (CredentialStatus.REVOKED, CredentialStatus.SUSPENDED, CredentialStatus.LOST):
        revoked = dataclasses.replace(req, credential=dataclasses.replace(req.credential,
                                                                          status=status))
        assert not decide(revoked).granted


@settings(max_examples=300)
@given(requests(), st.data())
def test_narrowing_a_schedule_never_grants_more(req: AccessRequest, data: st.DataObject) -> None:
    """Shrinking or removing windows of any schedule can turn a grant into a denial, never the
    reverse."""
    narrowed = {}
    for sid, sched in req.schedules.items():
        kept = []
        for w in sched.windows:
            if data.draw(st.booleans()):
                continue  # remove the window
            start = data.draw(st.integers(w.start_minute, w.end_minute - 1))
            end = data.draw(st.integers(start + 1, w.end_minute))
            kept.append(TimeWindow(w.weekday, start, end))
        allow = sched.allow_closed_days and data.draw(st.booleans())
        narrowed[sid] = Schedule(sid, tuple(kept), allow)
    if decide(dataclasses.replace(req, schedules=narrowed)).granted:
        assert decide(req).granted


@settings(max_examples=200)
@given(requests())
def test_decision_depends_only_on_inputs(req: AccessRequest) -> None:
    copy = dataclasses.replace(req, schedules=dict(req.schedules))
    assert decide(req) == decide(copy) == decide(req)


@settings(max_examples=200)
@given(requests(), st.integers(-14 * 60, 14 * 60))
def test_same_instant_in_any_zone_gives_same_decision(req: AccessRequest, shift: int) -> None:
    from datetime import timezone

    tz = timezone(timedelta(minutes=shift))
    assert decide(req) == decide(dataclasses.replace(req, now=req.now.astimezone(tz)))


@settings(max_examples=200)
@given(requests())
def test_lockdown_never_grants(req: AccessRequest) -> None:
    assert not decide(dataclasses.replace(req, door=dataclasses.replace(req.door,
                                                                        lockdown=True))).granted
