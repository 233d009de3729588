"""Server errors schemathesis found against a live service (issue 9 finding 12; scripts/fuzz.py),
each through the real API: every one now answers a 4xx problem."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.orm.exc import StaleDataError

from tests.locks.helpers import create_site, wire

PROBLEM = "application/problem+json"
PATTERN = {"code": "DAY", "name": "日勤", "start_time": "08:30:00", "end_time": "17:15:00"}


def _facility(admin) -> int:  # type: ignore[no-untyped-def]
    r = admin.post("/api/v1/facilities", json={"code": "hall", "name": "公民館"})
    assert r.status_code == 201, r.text
    return int(r.json()["id"])


def test_patch_null_into_a_not_null_facility_column_is_422(admin):
    fid = _facility(admin)
    for field in ("name", "address", "contact", "instructions"):
        r = admin.patch(f"/api/v1/facilities/{fid}", json={field: None})
        assert r.status_code == 422, r.text
        assert r.headers["content-type"] == PROBLEM and r.json()["field"] == field
    r = admin.patch(f"/api/v1/facilities/{fid}", json={"instructions": "鍵は事務室"})
    assert r.status_code == 200 and r.json()["instructions"] == "鍵は事務室"
    assert admin.get(f"/api/v1/facilities/{fid}").json()["name"] == "公民館"


def test_a_duplicate_work_pattern_code_is_409(admin):
    assert admin.post("/admin/attendance/work-patterns", json=PATTERN).status_code == 201
    r = admin.post("/admin/attendance/work-patterns", json={**PATTERN, "name": "別"})
    assert r.status_code == 409, r.text
    assert r.headers["content-type"] == PROBLEM
    assert "uq_work_pattern_code" in r.json()["detail"]


@pytest.mark.parametrize(("start", "end", "field"), [
    ("1969-12-31T23:00:00+00:00", "1970-01-01T01:00:00+00:00", "start_at"),  # negative slot
    ("0001-01-01T00:00:00+09:00", "0001-01-01T01:00:00+09:00", "start_at"),
    ("2100-12-31T23:00:00+00:00", "2101-01-01T01:00:00+00:00", "end_at"),
    ("9999-12-31T22:00:00+00:00", "9999-12-31T23:00:00+00:00", "start_at"),
])
def test_a_booking_outside_2000_2100_is_422(admin, start: str, end: str, field: str):
    fid = _facility(admin)
    r = admin.post("/api/v1/bookings", json={
        "facility_id": fid, "start_at": start, "end_at": end, "booker_name": "山田",
        "booker_email": "yamada@example.jp"})
    assert r.status_code == 422, r.text
    assert r.headers["content-type"] == PROBLEM and r.json()["field"] == field


def test_a_booking_facility_id_of_2_63_is_422(admin):
    r = admin.post("/api/v1/bookings", json={
        "facility_id": 2**63, "start_at": "2030-01-01T09:00:00+09:00",
        "end_at": "2030-01-01T10:00:00+09:00", "booker_name": "山田",
        "booker_email": "yamada@example.jp"})
    assert r.status_code == 422 and r.json()["field"] == "facility_id"


@pytest.mark.parametrize(("path", "body", "field"), [
    ("/admin/attendance/day-overrides",
     {"staff_id": 1, "day": "1899-12-30", "day_type": "workday", "kind": "other"}, "day"),
    ("/admin/attendance/day-overrides", {"staff_id": 1, "day": "2026-11-21", "day_type": "workday",
                                         "linked_day": "2101-01-01"}, "linked_day"),
    ("/admin/attendance/supervisors",
     {"department_id": 1, "staff_id": 1, "effective_from": "0001-01-01"}, "effective_from"),
    ("/admin/attendance/work-pattern-assignments",
     {"staff_id": 1, "code": "DAY", "effective_from": "2026-04-01",
      "effective_until": "9999-12-31"}, "effective_until"),
    ("/admin/attendance/leave",
     {"staff_id": 1, "day": "1970-01-01", "kind": "annual", "unit": "day"}, "day"),
    ("/admin/attendance/corrections",
     {"staff_id": 1, "business_date": "1999-12-31", "kind": "in",
      "corrected_at": "1999-12-31T08:30:00+09:00", "reason": "打刻漏れ"}, "business_date"),
    ("/admin/overtime/orders",
     {"staff_id": 1, "work_date": "2200-01-01", "start_at": "2026-12-01T18:00:00+09:00",
      "end_at": "2026-12-01T19:00:00+09:00", "reason": "議会対応"}, "work_date"),
    ("/admin/closed-days", {"day": "1000-01-01", "name": "開庁記念日"}, "day"),
])
def test_attendance_days_outside_2000_2100_are_422(admin, path: str, body: dict[str, object],
                                                   field: str):
    r = admin.post(path, json=body)
    assert r.status_code == 422, r.text
    assert r.headers["content-type"] == PROBLEM
    assert field in [e["field"] for e in r.json()["errors"]]


def _waiting_on_a_lock(conn) -> bool:  # type: ignore[no-untyped-def]
    waiting = conn.execute(text(
        "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
        "AND datname = current_database() AND pid <> pg_backend_pid()")).scalar() > 0
    conn.rollback()  # pg_stat_activity is read once per transaction: a fresh one each time
    return bool(waiting)


def test_reissue_takes_the_lock_row_before_the_pins(admin, app, database, tmp_path, now):
    """The deadlock fuzzing found on POST /bookings/{id}/reissue: a lock sync or rekey holds the
    lock row and then updates the booking's PINs; reissue took the PINs first and then the lock
    row. Now, with the lock row held elsewhere, reissue waits before it touches any PIN."""
    if database.engine.dialect.name != "postgresql":
        pytest.fail("row locks need PostgreSQL; the tests run on PostgreSQL")
    wire(app, tmp_path)
    fid, lock_pk = create_site(admin)
    slot = now.replace(minute=0, second=0, microsecond=0) + timedelta(days=4)
    r = admin.post("/api/v1/bookings", json={
        "facility_id": fid, "start_at": slot.isoformat(),
        "end_at": (slot + timedelta(hours=1)).isoformat(), "booker_name": "木村",
        "booker_email": "kimura@example.jp", "payment_status": "paid"})
    assert r.status_code == 201, r.text
    bid = r.json()["id"]
    answer: list[int] = []
    with database.engine.connect() as other:
        other.execute(text("SELECT id FROM smart_lock WHERE id = :id FOR UPDATE"), {"id": lock_pk})
        worker = threading.Thread(target=lambda: answer.append(
            admin.post(f"/api/v1/bookings/{bid}/reissue").status_code))
        worker.start()
        with database.engine.connect() as probe:
            deadline = time.monotonic() + 30
            while not _waiting_on_a_lock(probe):
                assert time.monotonic() < deadline and worker.is_alive(), "reissue never waited"
                time.sleep(0.05)
        # What the lock sync does next: the booking's PINs. Free, so no deadlock.
        other.execute(text("SET LOCAL lock_timeout = '2s'"))
        pins = other.execute(text("SELECT id FROM issued_pin WHERE booking_id = :b FOR UPDATE"),
                             {"b": bid}).all()
        assert pins
        other.commit()
    worker.join(timeout=30)
    assert answer == [200]


@pytest.mark.parametrize("path", [f"/api/v1/bookings/{2**63}/reissue",
                                  f"/api/v1/bookings/{2**63}/cancel",
                                  f"/api/v1/bookings/{2**64}/paid"])
def test_booking_ids_of_2_63_or_more_are_422(admin, path: str):
    r = admin.post(path)
    assert r.status_code == 422 and r.json()["field"] == "booking_id"


def test_a_duplicate_supervisor_is_409(admin, database):
    from tests.attendance import factories as f

    with database.session() as s:
        dept = f.department(s)
        boss = f.staff(s, dept, "B0001", "課長 一郎")
        s.commit()
        body = {"department_id": dept.id, "staff_id": boss.id, "effective_from": "2026-04-01"}
    assert admin.post("/admin/attendance/supervisors", json=body).status_code == 201
    r = admin.post("/admin/attendance/supervisors", json=body)
    assert r.status_code == 409, r.text
    assert r.headers["content-type"] == PROBLEM and "uq_department_supervisor" in r.json()["detail"]


def test_renaming_a_closed_day_deleted_meanwhile_is_404(admin, database):
    """Fuzzing with two workers: PATCH /admin/closed-days/{day} while another request deleted
    that day answered 500 (StaleDataError: the UPDATE matched no row)."""
    if database.engine.dialect.name != "postgresql":
        pytest.fail("row locks need PostgreSQL; the tests run on PostgreSQL")
    assert admin.post("/admin/closed-days", json={"day": "2030-05-07", "name": "開庁記念日"}
                      ).status_code == 201
    answer: list[int] = []
    with database.engine.connect() as other:
        other.execute(text("DELETE FROM closed_day WHERE day = '2030-05-07'"))
        worker = threading.Thread(target=lambda: answer.append(
            admin.patch("/admin/closed-days/2030-05-07", json={"name": "町制記念日"}).status_code))
        worker.start()
        with database.engine.connect() as probe:
            deadline = time.monotonic() + 30
            while not _waiting_on_a_lock(probe):
                assert time.monotonic() < deadline and worker.is_alive(), "the rename never waited"
                time.sleep(0.05)
        other.commit()
    worker.join(timeout=30)
    assert answer == [404]


def test_a_stale_row_on_any_route_is_a_409_problem(app):
    def fail() -> None:
        raise StaleDataError("UPDATE statement on table 'x' expected to update 1 row(s)")

    app.add_api_route("/_test/stale", fail)
    with TestClient(app, raise_server_exceptions=False) as c:
        r = c.get("/_test/stale")
    assert r.status_code == 409 and r.headers["content-type"] == PROBLEM
    assert "table 'x'" not in r.text
