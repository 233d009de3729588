"""The console's attendance pages: a department's day, the 乖離 queue, corrections with four
eyes, and the exports with their provisional warning. A supervisor sees only their own 課."""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook
from sqlalchemy import func, select

from api.attendance.config import rule_config
from api.attendance.rules import DayType, classify_day
from api.calendar.service import closed_days
from api.models import (
    AttendanceCorrection,
    Department,
    DepartmentSupervisor,
    Device,
    Divergence,
    ExportRun,
    Leave,
    Staff,
)
from api.overtime import service as overtime
from api.users.auth import CSRF_COOKIE, SESSION_COOKIE
from api.users.secrets import totp_now
from tests.console.conftest import DEVICE_ID, DOOR_IDS, STAFF_IDS, Recorder, assert_no_internal_ids
from tests.identities import make_token

pytestmark = pytest.mark.postgres
TZ = rule_config().business_day.tz


@dataclass
class Town:
    day: date  # a past 勤務日 with everyone's punches
    month: str
    boss_id: int  # 木村 (1005), 課長 of 総務課
    tax_id: int  # 鈴木 (2001) of 税務課


def _past_workday(today: date) -> date:
    """A 勤務日 at least a week back: complete, whatever day the suite runs on."""
    days = [today - timedelta(days=i) for i in range(8, 30)]
    holidays = closed_days(None, days[-1], days[0])
    return next(d for d in days if classify_day(d, holidays=holidays) is DayType.WORKDAY)


def _at(day: date, hh: int, mm: int) -> datetime:
    return datetime.combine(day, time(hh, mm), TZ)


@pytest.fixture
def town(world, database) -> Town:  # type: ignore[no-untyped-def]
    """総務課 (world's 1001–1003, plus 1005 its 課長) and 税務課 (2001) on a past 勤務日:
    山田 08:20–19:40, 佐藤 late at 09:30, 1003 on 年次休暇, 木村 no record, 1006 only at a
    door, 鈴木 08:15–20:00;
    山田 and 鈴木 gave a reason for their 乖離."""
    day = _past_workday(world.now.astimezone(TZ).date())
    with database.session() as s:
        s.add(Department(id=66, code="zeimu", name="税務課"))
        s.flush()
        boss = Staff(staff_number="1005", name="木村課長", name_kana="キムラ", department_id=55,
                     active_from=date(2020, 4, 1))
        tax = Staff(staff_number="2001", name="鈴木次郎", name_kana="スズキ", department_id=66,
                    active_from=date(2020, 4, 1))
        door_only = Staff(staff_number="1006", name="入館のみ", name_kana="ニュウカン",
                          department_id=55, active_from=date(2020, 4, 1))
        s.add_all([boss, tax, door_only])
        s.flush()
        s.add(DepartmentSupervisor(department_id=55, staff_id=boss.id,
                                   effective_from=date(2020, 4, 1)))
        s.add(Leave(staff_id=STAFF_IDS[2], day=day, kind="annual", unit="day", source="hr",
                    created_by="test"))
        rec = Recorder(s, seq=5000)
        rec("tap", _at(day, 8, 40), staff_id=door_only.id, door_id=DOOR_IDS[0], granted=True)
        for sid, (h1, m1), (h2, m2) in ((STAFF_IDS[0], (8, 20), (19, 40)),
                                        (STAFF_IDS[1], (9, 30), (17, 20)),
                                        (tax.id, (8, 15), (20, 0))):
            rec("clock_punch", _at(day, h1, m1), staff_id=sid, data={"punch": "in"})
            rec("clock_punch", _at(day, h2, m2), staff_id=sid, data={"punch": "out"})
        s.flush()
        for sid in (STAFF_IDS[0], tax.id):
            overtime.submit_reason(s, staff=s.get(Staff, sid), business_date=day,
                                   reason_code="self_study", now=world.now)
        s.commit()
        return Town(day, day.strftime("%Y-%m"), boss.id, tax.id)


def _bearer(app, database, name: str, role: str, staff_id: int | None = None) -> TestClient:  # type: ignore[no-untyped-def]
    token = make_token(database, name, role, staff_id=staff_id)
    return TestClient(app, base_url="https://testserver",
                      headers={"Authorization": f"Bearer {token}"})


def _hr(app, admin, wall_clock, username: str) -> TestClient:  # type: ignore[no-untyped-def]
    """An HR user logged in through the console's form (password and TOTP)."""
    made = admin.post("/admin/users", json={"username": username, "role": "hr"}).json()
    browser = TestClient(app, base_url="https://testserver")
    r = browser.post("/console/login", data={
        "username": username, "password": made["password"],
        "totp": totp_now(made["totp_secret"], wall_clock())}, follow_redirects=False)
    assert r.status_code == 303 and SESSION_COOKIE in r.cookies, r.text
    return browser


def _supervisor(app, admin, staff_id: int) -> TestClient:  # type: ignore[no-untyped-def]
    made = admin.post("/admin/users", json={"username": "kimura", "role": "supervisor",
                                            "staff_id": staff_id}).json()
    browser = TestClient(app, base_url="https://testserver")
    r = browser.post("/console/login", data={"username": "kimura",
                                             "password": made["password"]},
                     follow_redirects=False)
    assert r.status_code == 303, r.text
    return browser


def _row(html: str, text: str) -> str:
    """The table row holding ``text``."""
    start = html.rindex("<tr", 0, html.index(text))
    return html[start:html.index("</tr>", start)]


# --- the department's day -----------------------------------------------------------------

def test_day_view_shows_who_came_who_is_late_on_leave_or_absent(app, database, town) -> None:
    hr = _bearer(app, database, "hr-view", "hr")
    html = hr.get("/console/attendance/day",
                  params={"department": "soumu", "day": town.day.isoformat()}).text
    yamada = _row(html, "山田太郎")
    assert "出勤" in yamada and "08:20" in yamada and "19:40" in yamada
    sato = _row(html, "佐藤花子")
    assert "遅刻" in sato and "09:30" in sato
    assert "年次休暇" in _row(html, "=1+2") and "休暇中" in _row(html, "=1+2")
    assert "記録なし" in _row(html, "木村課長")
    door_only = _row(html, "入館のみ")  # seen at a door without punching: came all the same
    assert "<td>出勤</td>" in door_only and "打刻なし(入館記録あり)" in door_only
    assert "鈴木次郎" not in html  # another 課
    assert "遅刻: <strong>1</strong>" in html and "休暇中: <strong>1</strong>" in html
    assert_no_internal_ids(html)
    tax = hr.get("/console/attendance/day",
                 params={"department": "zeimu", "day": town.day.isoformat()}).text
    assert "08:15" in _row(tax, "鈴木次郎") and "山田太郎" not in tax


def test_a_supervisor_sees_only_their_own_department(app, admin, database, town) -> None:
    boss = _supervisor(app, admin, town.boss_id)
    html = boss.get("/console/attendance/day", params={"day": town.day.isoformat()}).text
    assert "山田太郎" in html and "鈴木次郎" not in html
    assert "税務課" not in html  # not even in the department list
    other = boss.get("/console/attendance/day",
                     params={"department": "zeimu", "day": town.day.isoformat()})
    assert other.status_code == 403 and "鈴木次郎" not in other.text
    queue = boss.get("/console/attendance/divergences", params={"month": town.month}).text
    assert "山田太郎" in queue and "鈴木次郎" not in queue
    assert boss.get("/console/attendance/divergences",
                    params={"month": town.month, "department": "zeimu"}).status_code == 403
    assert boss.get("/console/attendance/corrections").status_code == 403
    assert boss.get("/console/attendance/exports").status_code == 403


def test_the_day_view_defaults_to_todays_business_day(app, database, town, world) -> None:
    hr = _bearer(app, database, "hr-today", "hr")
    html = hr.get("/console/attendance/day").text
    today = rule_config().business_day.date_of(world.now)
    assert f'value="{today.isoformat()}"' in html and "総務課" in html


# --- the 乖離 queue ---------------------------------------------------------------------------

def _divergence(database, staff_id: int) -> Divergence:  # type: ignore[no-untyped-def]
    with database.session() as s:
        return s.execute(select(Divergence).where(Divergence.staff_id == staff_id)).scalar_one()


def test_the_supervisor_confirms_a_reason_and_not_another_departments(app, admin, database,
                                                                     town) -> None:
    boss = _supervisor(app, admin, town.boss_id)
    html = boss.get("/console/attendance/divergences", params={"month": town.month}).text
    that_day = f"<td>山田太郎</td><td>{town.day.isoformat()}</td>"
    row = _row(html, that_day)
    assert "自己啓発" in row and "理由提出済み" in row and 'value="confirm"' in row
    mine, theirs = _divergence(database, STAFF_IDS[0]), _divergence(database, town.tax_id)
    csrf = boss.cookies[CSRF_COOKIE]
    stale = boss.post(f"/console/attendance/divergences/{mine.id}",
                      data={"decision": "confirm", "month": town.month})
    assert stale.status_code == 403 and _divergence(database, STAFF_IDS[0]).status == "submitted"
    no = boss.post(f"/console/attendance/divergences/{theirs.id}",
                   data={"decision": "confirm", "month": town.month, "csrf_token": csrf})
    assert no.status_code == 403 and "所属長だけ" in no.text
    assert _divergence(database, town.tax_id).status == "submitted"
    ok = boss.post(f"/console/attendance/divergences/{mine.id}",
                   data={"decision": "confirm", "month": town.month, "csrf_token": csrf},
                   follow_redirects=False)
    assert ok.status_code == 303 and _divergence(database, STAFF_IDS[0]).status == "confirmed"
    after = boss.get(ok.headers["location"]).text
    assert that_day not in after and "「確認」しました" in after  # off the queue


def test_hr_and_the_auditor_read_every_departments_queue_without_the_action(app, database,
                                                                          town) -> None:
    for role in ("hr", "auditor"):
        html = _bearer(app, database, f"{role}-q", role).get(
            "/console/attendance/divergences", params={"month": town.month}).text
        assert "山田太郎" in html and "鈴木次郎" in html and 'value="confirm"' not in html


# --- corrections (four eyes) ------------------------------------------------------------------

def _pending(database) -> list[AttendanceCorrection]:  # type: ignore[no-untyped-def]
    with database.session() as s:
        return list(s.execute(select(AttendanceCorrection)).scalars())


def test_a_correction_needs_a_second_hr_user(app, admin, database, town, wall_clock) -> None:
    first, second = _hr(app, admin, wall_clock, "hr-ito"), _hr(app, admin, wall_clock, "hr-ono")
    form = {"staff_number": "1002", "business_date": town.day.isoformat(), "kind": "in",
            "time": "08:25", "reason": "カードを忘れたため"}
    assert first.post("/console/attendance/corrections", data=form).status_code == 403
    assert _pending(database) == []  # no CSRF token, nothing filed
    r = first.post("/console/attendance/corrections",
                   data={**form, "csrf_token": first.cookies[CSRF_COOKIE]},
                   follow_redirects=False)
    assert r.status_code == 303
    [row] = _pending(database)
    assert (row.author, row.status) == ("hr-ito", "pending")
    page = first.get("/console/attendance/corrections").text
    assert "佐藤花子" in _row(page, "カードを忘れたため") and "別の人事担当者" in page
    own = first.post(f"/console/attendance/corrections/{row.id}",
                     data={"decision": "approve", "csrf_token": first.cookies[CSRF_COOKIE]})
    assert own.status_code == 409 and "あなたが申請したもの" in own.text
    assert _pending(database)[0].status == "pending"
    ok = second.post(f"/console/attendance/corrections/{row.id}",
                     data={"decision": "approve", "csrf_token": second.cookies[CSRF_COOKIE]},
                     follow_redirects=False)
    assert ok.status_code == 303
    [done] = _pending(database)
    assert (done.status, done.approver) == ("approved", "hr-ono")
    day = second.get("/console/attendance/day", params={"department": "soumu",
                                                        "day": town.day.isoformat()}).text
    sato = _row(day, "佐藤花子")
    assert "08:25" in sato and "訂正あり" in sato and "遅刻" not in sato


def test_a_correction_with_a_12_digit_reason_or_a_bad_time_is_refused(app, database,
                                                                      town) -> None:
    hr = _bearer(app, database, "hr-bad", "hr")
    form = {"staff_number": "1002", "business_date": town.day.isoformat(), "kind": "out",
            "time": "25:30", "reason": "番号 123456789012"}
    assert hr.post("/console/attendance/corrections", data=form).status_code == 422
    for bad in ({"time": "48:00"}, {"time": "9:7"}, {"staff_number": "9999"}, {"kind": "x"}):
        assert hr.post("/console/attendance/corrections",
                       data={**form, "reason": "退勤打刻漏れ", **bad}).status_code == 422
    assert _pending(database) == []
    ok = hr.post("/console/attendance/corrections", data={**form, "reason": "退勤打刻漏れ"},
                 follow_redirects=False)
    assert ok.status_code == 303  # 25:30 is the next morning on the same business day
    assert _pending(database)[0].corrected_at == _at(town.day + timedelta(days=1), 1, 30)


# --- exports ------------------------------------------------------------------------------

def test_export_is_provisional_while_a_reader_is_behind(app, database, town) -> None:
    hr = _bearer(app, database, "hr-export", "hr")
    page = hr.get("/console/attendance/exports", params={"month": town.month}).text
    assert "暫定" in page and "reader-01" in page
    form = {"month": town.month, "dataset": "daily", "profile": "standard",
            "format": "cp932"}
    refused = hr.post("/console/attendance/exports", data=form)
    assert refused.status_code == 409 and "reader-01" in refused.text
    r = hr.post("/console/attendance/exports", data={**form, "provisional": "yes"})
    assert r.status_code == 200 and r.headers["x-export-provisional"] == "true"
    assert r.content.startswith("職員番号,氏名,所属コード,勤務日".encode("cp932"))
    assert "山田太郎".encode("cp932") in r.content
    assert "_provisional" in r.headers["content-disposition"]
    with database.session() as s:
        assert s.scalar(select(func.count()).select_from(ExportRun)) == 1


def test_export_is_final_once_every_reader_delivered(app, database, town, world) -> None:
    with database.session() as s:
        s.get(Device, DEVICE_ID).delivered_through = world.now + timedelta(days=40)
        s.commit()
    hr = _bearer(app, database, "hr-final", "hr")
    page = hr.get("/console/attendance/exports", params={"month": town.month}).text
    assert "確定" in page and "reader-01" not in page
    r = hr.post("/console/attendance/exports", data={
        "month": town.month, "dataset": "punches", "profile": "standard",
        "format": "utf8bom"})
    assert r.status_code == 200 and r.headers["x-export-provisional"] == "false"
    assert r.content.startswith("\ufeff職員番号,氏名".encode())
    x = hr.post("/console/attendance/exports", data={
        "month": town.month, "dataset": "monthly", "profile": "standard", "format": "xlsx"})
    sheet = load_workbook(io.BytesIO(x.content)).active
    assert sheet.cell(1, 1).value == "職員番号" and x.content.startswith(b"PK")
    listed = hr.get("/console/attendance/exports", params={"month": town.month}).text
    assert "月次時間外" in listed and "hr-final" in listed


def test_the_auditor_sees_exports_but_cannot_run_one(app, database, town) -> None:
    aud = _bearer(app, database, "aud-x", "auditor")
    page = aud.get("/console/attendance/exports", params={"month": town.month})
    assert page.status_code == 200 and "ダウンロード" not in page.text
    r = aud.post("/console/attendance/exports", data={
        "month": town.month, "dataset": "daily", "profile": "standard", "format": "cp932",
        "provisional": "yes"})
    assert r.status_code == 403
    with database.session() as s:
        assert s.scalar(select(func.count()).select_from(ExportRun)) == 0


def test_an_impossible_month_shows_this_month(app, database, town, world) -> None:
    hr = _bearer(app, database, "hr-month", "hr")
    this = rule_config().business_day.date_of(world.now).strftime("%Y-%m")
    for path in ("/console/attendance/exports", "/console/attendance/divergences"):
        r = hr.get(path, params={"month": "2026-13"})
        assert r.status_code == 200 and f'value="{this}"' in r.text, path
