"""Low findings (11) and fuzzing findings (12) of issue 9 on the service side."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from api.events.ingest import MAX_SEQ_AHEAD
from tests.device_protocol.signer import enroll, iso, make_events
from tests.device_protocol.test_heartbeat_decide import _device

BIG = 2**63


def test_far_future_device_time_does_not_move_the_watermark(admin, database):
    dev, _ = enroll(admin)
    future = datetime.now(UTC) + timedelta(days=3650)
    r = dev.heartbeat(device_time=iso(future), outbox_pending=0, last_seq=0)
    assert r.status_code == 200, r.text
    assert r.json()["skew_alarm"] is True
    assert _device(database, dev.device_id).delivered_through is None
    now = datetime.now(UTC)
    dev.heartbeat(device_time=iso(now), outbox_pending=0, last_seq=0)
    assert _device(database, dev.device_id).delivered_through is not None
    assert _device(database, dev.device_id).delivered_through <= now + timedelta(seconds=1)


@pytest.mark.parametrize("seq", [1_000_000_000, 2**31, MAX_SEQ_AHEAD + 1])
def test_a_seq_far_beyond_the_stored_ones_is_refused(admin, database, seq: int):
    dev, _ = enroll(admin)
    r = dev.post_events(make_events(1, start_seq=seq, prev_hash="00" * 32))
    assert r.status_code == 422, r.text
    assert r.json()["field"] == "events[0].seq"
    assert _device(database, dev.device_id).max_seq == 0


def test_a_seq_within_the_bound_is_stored(admin):
    dev, _ = enroll(admin)
    r = dev.post_events(make_events(1, start_seq=MAX_SEQ_AHEAD, prev_hash="00" * 32))
    assert r.status_code == 200 and r.json()["gaps"] == [[1, MAX_SEQ_AHEAD - 1]]


def test_a_signed_timestamp_of_999999999999_is_a_401_with_server_time(admin):
    dev, _ = enroll(admin)
    r = dev.heartbeat(timestamp=999_999_999_999)
    assert r.status_code == 401
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["field"] == "x-mynagate-timestamp" and "server_time" in r.json()


@pytest.mark.parametrize(("method", "path", "field"), [
    ("GET", f"/admin/events?door_id={BIG}", "door_id"),
    ("GET", f"/admin/events?staff_id={BIG * 4}", "staff_id"),
    ("GET", f"/admin/staff?offset={BIG}", "offset"),
    ("GET", f"/api/v1/locks/{BIG}", "lock_pk"),
    ("POST", f"/api/v1/locks/{BIG}/remote-unlock", "lock_pk"),
    ("GET", f"/admin/staff/{BIG}", "staff_id"),
    ("GET", f"/admin/staff?department_id={BIG}", "department_id"),
    ("GET", f"/admin/doors/{BIG}", "door_id"),
    ("DELETE", f"/admin/groups/1/members/{BIG}", "staff_id"),
    ("GET", f"/admin/permissions?schedule_id={BIG}", "schedule_id"),
    ("POST", f"/admin/credentials/{BIG}/revoke", "credential_id"),
    ("GET", f"/api/v1/facilities/{BIG}", "facility_id"),
    ("GET", f"/admin/enrollments/{BIG}", "enrollment_id"),
])
def test_integers_of_2_63_or_more_in_ids_and_cursors_answer_422(admin, method, path, field):
    r = admin.request(method, path, json={"reason": "テスト"})
    assert r.status_code == 422, r.text
    assert r.json()["field"] == field


@pytest.mark.parametrize(("body", "field"), [
    ({"door_id": BIG}, "events[0].door_id"),
    ({"staff_id": -BIG - 1}, "events[0].staff_id"),
    ({"clock_offset_ms": 2**31}, "events[0].clock_offset_ms"),
])
def test_integers_out_of_range_in_event_bodies_answer_422(admin, body, field):
    dev, _ = enroll(admin)
    r = dev.post_events(make_events(1, **body))
    assert r.status_code == 422 and r.json()["field"] == field


def test_integers_out_of_range_in_device_bodies_answer_422(admin):
    dev, _ = enroll(admin)
    r = dev.heartbeat(snapshot_version=2**31)
    assert r.status_code == 422 and r.json()["field"] == "snapshot_version"
    r = dev.request("POST", "/decide", {"door_id": BIG, "credential_ref": "ab"})
    assert r.status_code == 422 and r.json()["field"] == "door_id"


@pytest.mark.parametrize(("exc", "status"), [
    (RuntimeError("a bug"), 500),  # any bug: problem details, never text/plain
    (OverflowError("Python int too large to convert to SQLite INTEGER"), 422),
])
def test_unhandled_errors_are_problem_details(app, exc: Exception, status: int):
    def fail() -> None:
        raise exc

    app.add_api_route("/fail", fail)
    with TestClient(app, raise_server_exceptions=False) as c:
        r = c.get("/fail")
    assert r.status_code == status
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["status"] == status and str(exc) not in r.text
