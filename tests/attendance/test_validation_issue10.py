"""Issue 10, validation: each refusal is problem details with the right status."""

from __future__ import annotations

import base64
import uuid
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import select

from api.attendance import repository as arepo
from api.models import Credential, Department, DepartmentSupervisor, Event
from gate.events import chain_hash
from tests.device_protocol.signer import EVENT_FIELDS, enroll, iso

from . import factories as f

PROBLEM = "application/problem+json"


def _seed(database):  # type: ignore[no-untyped-def]
    with database.session() as s:
        dept = f.department(s, "V01", "総務課")
        a = f.staff(s, dept, "V0001")
        boss = f.staff(s, dept, "V0002", "課長 一郎")
        s.add(DepartmentSupervisor(department_id=dept.id, staff_id=boss.id,
                                   effective_from=date(2020, 4, 1)))
        s.commit()
        return a.id, boss.id, dept.id


def _problem(r, status, field=None):  # type: ignore[no-untyped-def]
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith(PROBLEM)
    if field is not None:
        assert r.json()["field"] == field, r.json()


def test_overrides_supervisors_and_booleans(admin, database):
    a, boss, dept = _seed(database)
    body = {"staff_id": a, "day": "2025-11-15", "day_type": "workday", "kind": "furikae",
            "linked_day": "2025-11-17"}  # Sat → 勤務日, Mon → 週休日
    assert admin.post("/admin/attendance/day-overrides", json=body).status_code == 201
    _problem(admin.post("/admin/attendance/day-overrides", json=body), 409, "day")  # not 500
    # 振替 between two workdays (Tue 11/18 and Wed 11/19) is refused.
    _problem(admin.post("/admin/attendance/day-overrides", json={
        **body, "day": "2025-11-18", "linked_day": "2025-11-19"}), 400, "day")
    _problem(admin.post("/admin/attendance/supervisors", json={
        "department_id": dept + 999, "staff_id": boss, "effective_from": "2025-04-01"}),
        422, "department_id")  # not 500
    ot = admin.post("/me/overtime", json={
        "work_date": "2025-11-20", "start_at": "2025-11-20T17:15:00+09:00",
        "end_at": "2025-11-20T19:00:00+09:00", "reason": "窓口"},
        headers={"X-Staff-Number": "V0001"})
    assert ot.status_code == 201, ot.text
    for bad in ("yes", 1, "true"):
        _problem(admin.post(f"/me/overtime/{ot.json()['id']}/decision", json={"approve": bad},
                            headers={"X-Staff-Number": "V0002"}), 422)
    assert admin.get("/admin/overtime/requests", params={"staff_id": a}).json()[0][
        "status"] == "pending"  # "yes" approved nothing
    # Overlapping overtime of the same person: 409 (documented choice), never merged.
    _problem(admin.post("/me/overtime", json={
        "work_date": "2025-11-20", "start_at": "2025-11-20T18:00:00+09:00",
        "end_at": "2025-11-20T20:00:00+09:00", "reason": "窓口"},
        headers={"X-Staff-Number": "V0001"}), 409, "start_at")
    _problem(admin.post("/admin/overtime/orders", json={
        "staff_id": a, "work_date": "2025-11-20", "start_at": "2025-11-20T18:59:00+09:00",
        "end_at": "2025-11-20T21:00:00+09:00", "reason": "x"}), 409, "start_at")
    ok = admin.post("/admin/overtime/orders", json={
        "staff_id": a, "work_date": "2025-11-20", "start_at": "2025-11-20T19:00:00+09:00",
        "end_at": "2025-11-20T21:00:00+09:00", "reason": "x"})  # touching is not overlapping
    assert ok.status_code == 201, ok.text
    corr = admin.post("/admin/attendance/corrections", json={
        "staff_id": a, "business_date": "2025-11-20", "kind": "in",
        "corrected_at": "2025-11-20T08:30:00+09:00", "reason": "打刻忘れ"})
    assert corr.status_code == 201, corr.text
    _problem(admin.post(f"/admin/attendance/corrections/{corr.json()['id']}/decision",
                        json={"approve": "yes"}), 422)


def test_work_patterns_overnight_and_breaks(admin, database):
    a, _boss, _dept = _seed(database)
    base = {"name": "宿直", "start_time": "17:15", "end_time": "08:30"}
    _problem(admin.post("/admin/attendance/work-patterns", json={**base, "code": "night"}),
             422, "end_time")
    _problem(admin.post("/admin/attendance/work-patterns", json={
        "code": "day2", "name": "日勤", "start_time": "08:30", "end_time": "17:15",
        "break_start": "18:00", "break_end": "19:00"}), 422, "break_start")
    r = admin.post("/admin/attendance/work-patterns", json={
        **base, "code": "night", "overnight": True, "break_start": "00:00",
        "break_end": "01:00"})
    assert r.status_code == 201, r.text
    assert admin.post("/admin/attendance/work-pattern-assignments", json={
        "staff_id": a, "code": "night", "effective_from": "2025-11-01"}).status_code == 201
    with database.session() as s:
        from api.models import Staff

        person = s.get(Staff, a)
        dev, door = f.device(s, "clock-n")
        f.punch(s, dev, door, person, f.jst(2025, 11, 20, 17, 10), hint="in")
        f.punch(s, dev, door, person, f.jst(2025, 11, 21, 8, 35), hint="out")
        s.commit()
    [line] = admin.get("/admin/attendance/daily", params={
        "staff_id": a, "from": "2025-11-20", "to": "2025-11-20"}).json()
    assert (line["in_time"], line["out_time"]) == ("17:10", "32:35")
    assert line["scheduled_minutes"] == 915 - 60  # 17:15 → 08:30 less the hour's break
    assert line["worked_in_schedule_minutes"] == 855
    assert line["unscheduled_minutes"] == 5 + 5  # 17:10–17:15 and 08:30–08:35
    assert "late" not in line["flags"] and "early" not in line["flags"]


def test_a_punch_far_ahead_of_service_time_is_quarantined(admin, database):
    with database.session() as s:
        dept = s.execute(select(Department)).scalars().first() or f.department(s, "Q1")
        person = f.staff(s, dept, "Q0001")
        s.add(Credential(staff_id=person.id, kind="staff_ap", credential_ref="ef" * 16,
                         public_key=base64.b64encode(b"\x04" + b"\x07" * 64).decode(),
                         status="active", snapshot_version=0))
        dev, door = f.device(s, "unused")
        s.commit()
        door_id = door.id
    device, _ = enroll(admin, name="clock-q", door_ids=[door_id])
    # Device time: the real clock is what the service compares with on arrival.
    now = datetime.now(UTC)
    prev = None
    events = []
    for seq, ahead in ((1, timedelta(minutes=5)), (2, timedelta(minutes=11)),
                       (3, timedelta(days=3650))):
        ev = dict.fromkeys(EVENT_FIELDS)
        ev.update({"id": str(uuid.uuid4()), "seq": seq, "kind": "clock_punch",
                   "occurred_at": iso(now + ahead), "clock_offset_ms": 0, "door_id": door_id,
                   "credential_ref": "ef" * 16, "granted": True, "reason": "granted",
                   "data": {"punch": "in"}, "prev_hash": prev})
        ev["hash"] = prev = chain_hash(ev)
        events.append(ev)
    r = device.post_events(events)
    assert r.status_code == 200 and r.json()["accepted"] == 3, r.text
    with database.session() as s:
        alarms = [e.data for e in s.execute(select(Event).where(Event.kind == "alarm"))
                  .scalars() if e.data.get("alarm") == "punch_in_future"]
        assert [a["seqs"] for a in alarms] == [[2, 3]]  # 11 min and 10 years ahead
        counted = list(arepo.point_rows(s, now - timedelta(days=1), now + timedelta(days=4000)))
        assert len(counted) == 1  # only the punch 5 min ahead (within the 10-min margin)
