"""The compact, indexed decision data (gate.access_index) decides exactly as gate.policy does
with the whole permission list (the reference the agent used before)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gate.access_index import AccessIndexBuilder
from gate.door import Assurance, DoorMode
from gate.policy import (
    AccessRequest,
    CredentialInfo,
    CredentialStatus,
    DoorInfo,
    Permission,
    Schedule,
    StaffInfo,
    TimeWindow,
    decide,
)

windows = st.builds(lambda d, a, b: TimeWindow(d, min(a, b), max(a, b) + 1),
                    st.integers(0, 6), st.integers(0, 1438), st.integers(0, 1438))
all_week = tuple(TimeWindow(d, 0, 1440) for d in range(7))
schedules = st.lists(st.builds(lambda i, ws, full, c: Schedule(i, tuple(ws) + (all_week if full
                                                                              else ()), c),
                               st.integers(1, 4), st.lists(windows, max_size=3),
                               st.sampled_from([True, False, False]), st.booleans()),
                     max_size=4, unique_by=lambda s: s.id)
instants = st.datetimes(min_value=datetime(2025, 1, 1), max_value=datetime(2028, 1, 1),
                        timezones=st.just(UTC))
# Mostly active credentials, so that the later checks (staff, PIN, permissions, schedules and
# closed days) are reached as often as the early ones.
rarely = st.sampled_from([False] * 9 + [True])
statuses = st.sampled_from([CredentialStatus.ACTIVE] * 5 + list(CredentialStatus))


@st.composite
def staff_rows(draw: st.DrawFn, staff_id: int) -> StaffInfo:
    start = draw(st.dates(date(2024, 1, 1), date(2025, 6, 1)) | st.dates(date(2024, 1, 1),
                                                                        date(2028, 1, 1)))
    until = draw(st.none() | st.none() | st.dates(start, date(2029, 1, 1)))
    return StaffInfo(staff_id, start, until,
                     frozenset(draw(st.sets(st.integers(1, 4), min_size=1, max_size=3))))


@st.composite
def snapshots(draw: st.DrawFn):  # type: ignore[no-untyped-def]
    staff = [draw(staff_rows(i)) for i in range(1, 6)]
    creds = [CredentialInfo(f"c{i}", draw(st.integers(1, 6)),
                            draw(st.sampled_from(["staff_ap", "jpki_auth"])), draw(statuses),
                            draw(st.none() | st.none() | instants))
             for i in range(6)]
    perms = tuple(draw(st.lists(st.builds(Permission, st.integers(1, 4), st.integers(1, 3),
                                          st.integers(1, 5)), min_size=2, max_size=10)))
    doors = {i: DoorInfo(i, draw(st.sampled_from(DoorMode)), draw(st.sampled_from(Assurance)),
                         draw(rarely)) for i in (1, 2, 3)}
    return staff, creds, perms, {s.id: s for s in draw(schedules)}, doors


@settings(max_examples=1000)
@given(snapshots(), st.integers(0, 6), st.integers(1, 3), instants, st.booleans(),
       st.sets(st.dates(date(2025, 1, 1), date(2028, 1, 1)), max_size=4))
def test_indexed_decision_equals_the_reference(snap, cred_no, door_id, now, pin, closed):  # type: ignore[no-untyped-def]
    staff, creds, perms, scheds, doors = snap
    closed = frozenset(closed | ({now.date(), (now + timedelta(hours=9)).date()}
                                 if len(closed) % 2 else set()))
    rows = AccessIndexBuilder()
    for c in creds:
        rows.credential(c.ref, c.staff_id, c.kind, c.status, c.not_after, c.ref.encode())
    for s in staff:
        rows.staff(s.id, s.active_from, s.active_until, s.group_ids, f"name {s.id}")
    for p in perms:
        rows.permission(p.group_id, p.door_id, p.schedule_id)
    index = rows.build(schedules=scheds, closed_days=closed)
    ref = f"c{cred_no}"
    cred = next((c for c in creds if c.ref == ref), None)
    by_id = {s.id: s for s in staff}
    reference = decide(AccessRequest(
        credential=cred, staff=by_id.get(cred.staff_id) if cred else None, door=doors[door_id],
        now=now, permissions=perms, schedules=scheds, closed_days=closed, pin_verified=pin))
    assert index.decide(ref, doors[door_id], now, pin_verified=pin) == reference
    assert index.credential(ref) == cred
    assert index.public_key(ref) == (ref.encode() if cred else None)
    for s in staff:
        assert index.staff_name(s.id) == f"name {s.id}"


def test_a_credential_or_staff_member_given_twice_is_refused():
    rows = AccessIndexBuilder()
    rows.credential("c", 1, "staff_ap", CredentialStatus.ACTIVE, None, b"k")
    rows.credential("c", 1, "staff_ap", CredentialStatus.REVOKED, None, b"k")
    with pytest.raises(ValueError, match="credential is given twice"):
        rows.build(schedules={}, closed_days=frozenset())
    rows = AccessIndexBuilder()
    rows.staff(1, date(2020, 1, 1), None, [1], "a")
    rows.staff(1, date(2020, 1, 1), None, [2], "b")
    with pytest.raises(ValueError, match="staff member is given twice"):
        rows.build(schedules={}, closed_days=frozenset())


def test_expiry_keeps_its_microseconds():
    rows = AccessIndexBuilder()
    t = datetime(2027, 3, 31, 14, 59, 59, 999_999, tzinfo=UTC)
    rows.credential("c", 1, "jpki_auth", CredentialStatus.ACTIVE, t, b"")
    index = rows.build(schedules={}, closed_days=frozenset())
    cred = index.credential("c")
    assert cred is not None and cred.not_after == t and cred.not_after - t == timedelta(0)


@settings(max_examples=200)
@given(st.lists(st.text(min_size=1, max_size=12), min_size=1, max_size=300, unique=True),
       st.text(max_size=12))
def test_every_credential_is_found_by_its_ref_and_no_other(refs, other):  # type: ignore[no-untyped-def]
    """The lookup is an open-addressing table of 2–4 slots per credential: refs that share a
    slot are told apart by their packed bytes, and a ref not given is found nowhere."""
    rows = AccessIndexBuilder()
    for i, ref in enumerate(refs):
        rows.credential(ref, i, "staff_ap", CredentialStatus.ACTIVE, None, bytes([i % 256]))
        rows.staff(i, date(2020, 1, 1), None, [1], ref)
    index = rows.build(schedules={}, closed_days=frozenset())
    for i, ref in enumerate(refs):
        cred = index.credential(ref)
        assert cred is not None and cred.staff_id == i
        assert index.public_key(ref) == bytes([i % 256])
        assert index.staff_name(i) == ref
    if other not in refs:
        assert index.credential(other) is None
        assert index.public_key(other) is None
