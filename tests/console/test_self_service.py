"""The console's self-service pages: a member of staff applies for overtime and sees their own
timesheet; their 課長 decides in the console; the applicant cannot decide their own
application; office pages stay closed to both."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from api.models import AuditLog, DepartmentSupervisor, Divergence, OvertimeRequest, Staff
from api.users.auth import CSRF_COOKIE
from tests.attendance import factories as f
from tests.console.conftest import STAFF_IDS, next_workday, past_workday

pytestmark = pytest.mark.postgres


def _log_in(app, admin, username: str, role: str, staff_id: int) -> TestClient:  # type: ignore[no-untyped-def]
    made = admin.post("/admin/users", json={"username": username, "role": role,
                                            "staff_id": staff_id})
    assert made.status_code == 201, made.text
    browser = TestClient(app, base_url="https://testserver")
    r = browser.post("/console/login", data={"username": username,
                                             "password": made.json()["password"]},
                     follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/console/me", r.text
    return browser


@pytest.fixture
def people(app, admin, world, database):  # type: ignore[no-untyped-def]
    """佐藤花子 (1002, staff) and her 課長 山田太郎 (1001, supervisor of 総務課)."""
    with database.session() as s:
        s.add(DepartmentSupervisor(department_id=55, staff_id=STAFF_IDS[0],
                                   effective_from=date(2020, 4, 1)))
        s.commit()
    return (_log_in(app, admin, "sato", "staff", STAFF_IDS[1]),
            _log_in(app, admin, "yamada", "supervisor", STAFF_IDS[0]))


def _status(database) -> list[str]:  # type: ignore[no-untyped-def]
    with database.session() as s:
        return list(s.execute(select(OvertimeRequest.status)).scalars())


def test_apply_then_the_supervisor_approves_and_the_applicant_cannot(people, world,
                                                                     database) -> None:
    sato, yamada = people
    day = world.workday.isoformat()
    form = {"work_date": day, "start": "17:15", "end": "19:00", "reason": "議会資料の作成"}
    assert sato.post("/console/me/overtime", data=form, follow_redirects=False
                     ).status_code == 403  # no CSRF token
    r = sato.post("/console/me/overtime", data={**form, "csrf_token": sato.cookies[CSRF_COOKIE]},
                  follow_redirects=False)
    assert r.status_code == 303, r.text
    mine = sato.get("/console/me").text
    assert "議会資料の作成" in mine and "決裁待ち" in mine and "17:15–19:00" in mine
    with database.session() as s:
        rid = s.execute(select(OvertimeRequest.id)).scalar_one()
    own = sato.post(f"/console/me/approvals/{rid}", data={
        "decision": "approve", "csrf_token": sato.cookies[CSRF_COOKIE]}, follow_redirects=False)
    assert own.status_code == 403 and _status(database) == ["pending"]
    page = yamada.get("/console/me/approvals").text
    assert "佐藤花子" in page and "議会資料の作成" in page
    ok = yamada.post(f"/console/me/approvals/{rid}", data={
        "decision": "approve", "csrf_token": yamada.cookies[CSRF_COOKIE]},
        follow_redirects=False)
    assert ok.status_code == 303 and _status(database) == ["approved"]
    assert "承認済み" in sato.get("/console/me").text
    again = yamada.post(f"/console/me/approvals/{rid}", data={
        "decision": "reject", "csrf_token": yamada.cookies[CSRF_COOKIE]})
    assert again.status_code == 409 and "すでに決裁されています" in again.text


def test_overnight_times_and_refused_input(people, world, database) -> None:
    sato, _ = people
    csrf = sato.cookies[CSRF_COOKIE]
    day = world.workday
    r = sato.post("/console/me/overtime", data={"work_date": day.isoformat(), "start": "22:00",
                                                "end": "01:30", "reason": "選挙開票",
                                                "csrf_token": csrf}, follow_redirects=False)
    assert r.status_code == 303, r.text
    with database.session() as s:
        row = s.execute(select(OvertimeRequest)).scalar_one()
        assert row.end_at - row.start_at == timedelta(hours=3, minutes=30)  # into the next day
    bad = sato.post("/console/me/overtime", data={"work_date": day.isoformat(), "start": "18:00",
                                                  "end": "19:00", "csrf_token": csrf,
                                                  "reason": "番号 123456789012"})
    assert bad.status_code == 422 and "12 桁の数字は入力できません" in bad.text
    overlap = sato.post("/console/me/overtime", data={
        "work_date": day.isoformat(), "start": "23:00", "end": "23:30", "reason": "重複",
        "csrf_token": csrf})
    assert overlap.status_code == 409 and "すでに申請済み" in overlap.text
    assert len(_status(database)) == 1


def test_office_pages_are_closed_to_staff_and_their_own_timesheet_is_open(people) -> None:
    sato, yamada = people
    for path in ("/console", "/console/staff", "/console/staff/1001/cards"):
        r = sato.get(path, follow_redirects=False)
        assert r.status_code == 403 and "この役割ではこの画面を開けません" in r.text
    page = sato.get("/console/me/timesheet").text
    assert "佐藤花子" in page and "山田太郎" not in page
    assert "決裁待ちの申請" in yamada.get("/console/me").text  # the supervisor's menu
    assert "決裁待ちの申請" not in sato.get("/console/me").text


def test_my_leave_lists_only_my_own(people, admin, now) -> None:  # type: ignore[no-untyped-def]
    sato, _ = people
    day = past_workday(now)
    for staff_id, body in ((STAFF_IDS[1], {"kind": "annual", "unit": "am"}),
                           (STAFF_IDS[1], {"kind": "sick", "unit": "hours",
                                           "start_time": "14:00", "end_time": "16:00"}),
                           (STAFF_IDS[0], {"kind": "special", "unit": "pm"})):
        r = admin.post("/admin/attendance/leave", json={
            "staff_id": staff_id, "day": day.isoformat(), **body})
        assert r.status_code == 201, r.text
    page = sato.get("/console/me/leave", params={"month": day.strftime("%Y-%m")}).text
    assert "年次休暇" in page and "午前" in page and "病気休暇" in page and "14:00–16:00" in page
    assert "特別休暇" not in page  # 山田太郎's leave is not hers
    assert "Sick leave" in sato.get("/console/me/leave", params={
        "month": day.strftime("%Y-%m"), "lang": "en"}).text
    empty = sato.get("/console/me/leave", params={"month": "2020-01", "lang": "ja"}).text
    assert "この月に取得した休暇はありません" in empty


def test_a_divergence_reason_is_given_on_the_form(people, database, now) -> None:  # type: ignore[no-untyped-def]
    sato, _ = people
    day = past_workday(now)
    quiet_day = next_workday(day)  # a 勤務日 (a Saturday's presence would all be 乖離)
    with database.session() as s:  # 08:25–20:00 with no overtime approved: 170 min of 乖離
        dev, door = f.device(s, "clock-x", delivered_through=now)
        f.day(s, dev, door, s.get(Staff, STAFF_IDS[1]), day, "08:25", "20:00")
        f.day(s, dev, door, s.get(Staff, STAFF_IDS[1]), quiet_day, "08:25", "17:20")
        s.commit()
    month = day.strftime("%Y-%m")
    page = sato.get("/console/me/divergences", params={"month": month}).text
    assert "理由の入力待ち" in page and "2:50" in page and day.isoformat() in page
    form = {"business_date": day.isoformat(), "reason_code": "post_order", "note": "窓口対応"}
    assert sato.post("/console/me/divergences", data=form).status_code == 403  # no CSRF token
    csrf = sato.cookies[CSRF_COOKIE]
    bad = sato.post("/console/me/divergences", data={**form, "csrf_token": csrf,
                                                     "note": "番号 123456789012"})
    assert bad.status_code == 422 and "12 桁の数字は入力できません" in bad.text
    quiet = sato.post("/console/me/divergences", data={
        **form, "business_date": quiet_day.isoformat(), "csrf_token": csrf})
    assert quiet.status_code == 409 and "理由の必要な乖離がない" in quiet.text
    with database.session() as s:
        assert s.query(Divergence).count() == 0
    ok = sato.post("/console/me/divergences", data={**form, "csrf_token": csrf},
                   follow_redirects=False)
    assert ok.status_code == 303, ok.text
    assert "確認待ち" in sato.get(ok.headers["location"]).text
    with database.session() as s:
        row = s.query(Divergence).one()
        assert (row.staff_id, row.reason_code, row.note, row.submitted_by) == (
            STAFF_IDS[1], "post_order", "窓口対応", "1002")
        audit = s.query(AuditLog).filter(AuditLog.action == "overtime.divergence.submit").one()
        assert audit.actor == "1002"  # the logged-in user's staff member
    assert "Awaiting confirmation" in sato.get("/console/me/divergences", params={
        "month": month, "lang": "en"}).text
