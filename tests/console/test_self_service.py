"""The console's self-service pages: a member of staff applies for overtime and sees their own
timesheet; their 課長 decides in the console; the applicant cannot decide their own
application; office pages stay closed to both."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from api.auth import CSRF_COOKIE
from api.models import DepartmentSupervisor, OvertimeRequest
from tests.console.conftest import STAFF_IDS

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
