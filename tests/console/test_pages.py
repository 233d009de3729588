"""Every console page: status, Japanese text, people by 職員番号 and name, never an internal
id, times in JST."""

from __future__ import annotations

import csv
import io
from datetime import UTC, timedelta

import pytest
from fastapi.testclient import TestClient

from api.console.rendering import jst
from api.models import Device, MailOutbox, MailStatus
from api.users.auth import SESSION_COOKIE
from api.users.secrets import totp_now
from tests.console.conftest import (
    DEVICE_ID,
    DOOR_IDS,
    STAFF_IDS,
    Recorder,
    assert_no_internal_ids,
    console_admin,
)

pytestmark = pytest.mark.postgres
PAGES = ["/console", "/console/events", "/console/presence", "/console/holiday-record",
         "/console/staff", "/console/staff/1001/timesheet", "/console/staff/1001/cards",
         "/console/overtime", "/console/devices", "/console/facility/bookings",
         "/console/attendance/day", "/console/attendance/divergences",
         "/console/attendance/corrections", "/console/attendance/exports",
         "/console/taps", "/console/locks",
         "/console/staff-admin/new", "/console/staff-admin/staff/1001",
         "/console/staff-admin/import",
         "/console/devices/reader-01", "/console/access", "/console/access/preview",
         "/console/audit"]


@pytest.mark.parametrize("path", PAGES)
def test_pages_need_a_login(client, path: str) -> None:
    r = client.get(path, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/console/login"


def test_login_needs_the_password_and_the_totp_code(app, admin, wall_clock) -> None:
    name, password, secret = console_admin(admin)
    browser = TestClient(app, base_url="https://testserver")
    form = {"username": name, "password": password}
    wrong = browser.post("/console/login", data={**form, "password": "wrong"},
                         follow_redirects=False)
    assert wrong.status_code == 401
    assert "ユーザー名、パスワードまたは確認コードが正しくありません" in wrong.text
    no_code = browser.post("/console/login", data=form, follow_redirects=False)
    assert no_code.status_code == 401 and SESSION_COOKIE not in browser.cookies  # TOTP enforced
    ok = browser.post("/console/login", data={**form, "totp": totp_now(secret, wall_clock())},
                      follow_redirects=False)
    assert ok.status_code == 303 and ok.headers["location"] == "/console"
    assert browser.get("/console").status_code == 200
    out = browser.post("/console/logout", follow_redirects=False)
    assert out.status_code == 303 and out.headers["location"] == "/console/login"
    assert browser.get("/console", follow_redirects=False).status_code == 303


def test_a_role_without_console_pages_is_told_so(app, admin) -> None:
    made = admin.post("/admin/users", json={"username": "tanaka", "role": "staff"}).json()
    browser = TestClient(app, base_url="https://testserver")
    r = browser.post("/console/login", data={"username": "tanaka", "password": made["password"]},
                     follow_redirects=False)
    assert r.status_code == 403 and "このユーザーは管理画面を使えません" in r.text
    assert SESSION_COOKIE not in browser.cookies


def test_five_failures_lock_the_user_out(app, admin) -> None:
    name, _password, _secret = console_admin(admin)
    browser = TestClient(app, base_url="https://testserver")
    for _ in range(5):
        browser.post("/console/login", data={"username": name, "password": "wrong"})
    r = browser.post("/console/login", data={"username": name, "password": "wrong"})
    assert r.status_code == 401 and "15 分間ログインできません" in r.text


def test_bearer_token_also_opens_the_console(admin, world) -> None:
    assert admin.get("/console").status_code == 200


@pytest.mark.parametrize("path", PAGES)
def test_every_page_is_japanese_without_internal_ids(console, world, path: str) -> None:
    r = console.get(path)
    assert r.status_code == 200, r.text
    assert '<html lang="ja">' in r.text and "休日入退庁記録" in r.text  # the menu
    assert_no_internal_ids(r.text)


def test_english_through_the_catalog(console, world) -> None:
    r = console.get("/console/presence?lang=en")
    assert '<html lang="en">' in r.text and "Presence now" in r.text and "在館者" not in r.text
    assert "Presence now" in console.get("/console").text  # remembered in a cookie


def test_dashboard_doors_alarms_and_events_in_jst(console, world) -> None:
    html = console.get("/console").text
    assert "正面玄関" in html and "開" in html and "通用口" in html
    assert "カード認証失敗" in html  # the credential_auth_failed alarm
    assert jst(world.times["in1"]) in html and "山田太郎" in html and "1001" in html
    utc = world.times["in1"].astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")
    assert utc not in html  # shown in JST, never UTC
    fragment = console.get("/console/fragments/recent-events").text
    assert jst(world.times["alarm"]) in fragment and "<html" not in fragment


def test_dashboard_alarms_for_an_offline_device_and_failed_mail(console, world, database) -> None:
    assert "端末オフライン" not in console.get("/console").text
    with database.session() as s:
        s.get(Device, DEVICE_ID).last_heartbeat_at = world.now - timedelta(hours=2)
        s.add(MailOutbox(kind="pin_issued", status=MailStatus.FAILED, to_addr="a@example.jp",
                         message_id="<m1@example.jp>", next_attempt_at=world.now,
                         failed_at=world.now, last_error="550 mailbox unavailable"))
        s.commit()
    html = console.get("/console").text
    assert "端末オフライン" in html and "メール送信失敗" in html and "550 mailbox" in html


def test_a_denied_tap_shows_the_doors_words_not_its_code(console, world, database) -> None:
    with database.session() as s:
        Recorder(s, seq=100)("tap", world.now - timedelta(minutes=2), staff_id=STAFF_IDS[2],
                             door_id=DOOR_IDS[1], granted=False, reason="no_permission")
        s.commit()
    html = console.get("/console/events", params={"staff": "1003"}).text
    assert "この扉の権限がありません" in html and "no_permission" not in html
    english = console.get("/console/events", params={"staff": "1003", "lang": "en"}).text
    assert "No permission for this door" in english


def test_events_filter_by_staff_number_door_and_day(console, world) -> None:
    html = console.get("/console/events", params={"staff": "1002"}).text
    assert "佐藤花子" in html and "山田太郎" not in html and "退勤" in html
    html = console.get("/console/events", params={"door": "通用口"}).text
    assert "カード認証失敗" in html and "佐藤花子" not in html
    html = console.get("/console/events", params={"day": world.saturday.isoformat()}).text
    assert jst(world.times["sat_in"]) in html and jst(world.times["in1"]) not in html
    html = console.get("/console/events", params={"staff": "9999"}).text
    assert "イベントはありません" in html


def test_presence_lists_who_is_inside(console, world) -> None:
    html = console.get("/console/presence").text
    assert "山田太郎" in html and jst(world.times["in1"], "%H:%M") in html
    assert "佐藤花子" not in html  # punched out
    assert "在館者 1 名" in html and "@media print" not in html  # print CSS is in the sheet
    assert "window.print()" in html


def test_holiday_record_lists_weekly_day_off_visits(console, world) -> None:
    day = world.saturday.isoformat()
    html = console.get("/console/holiday-record", params={"from": day, "to": day}).text
    assert "週休日" in html and "山田太郎" in html and "通用口" in html
    assert jst(world.times["sat_in"], "%H:%M") in html
    assert jst(world.times["sat_out"], "%H:%M") in html
    assert "佐藤花子" not in html
    workday = world.workday.isoformat()  # 佐藤花子 came on this 勤務日: not a holiday visit
    html = console.get("/console/holiday-record", params={"from": workday, "to": workday}).text
    assert "佐藤花子" not in html and "週休日・休日の入退庁はありません" in html


def test_holiday_record_csv_is_neutralised(console, world) -> None:
    day = world.saturday.isoformat()
    r = console.get("/console/holiday-record.csv", params={"from": day, "to": day})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"))))
    assert rows[0][:4] == ["日付", "日の区分", "職員番号", "氏名"]
    by_number = {row[2]: row for row in rows[1:]}
    assert by_number["1001"][5:9] == [jst(world.times["sat_in"], "%H:%M"), "通用口",
                                      jst(world.times["sat_out"], "%H:%M"), "正面玄関"]
    assert by_number["1003"][3] == "'=1+2"  # never a formula
    assert_no_internal_ids(r.text)


def test_staff_search_by_number_and_name(console, world) -> None:
    assert "山田太郎" in console.get("/console/staff", params={"q": "1001"}).text
    html = console.get("/console/staff", params={"q": "サトウ"}).text
    assert "佐藤花子" in html and "山田太郎" not in html
    assert "該当する職員はいません" in console.get("/console/staff", params={"q": "zzz"}).text


def test_timesheet_shows_the_month(console, world) -> None:
    month = world.saturday.strftime("%Y-%m")
    html = console.get("/console/staff/1001/timesheet", params={"month": month}).text
    assert "出勤簿" in html and "山田太郎" in html and "総務課" in html
    assert world.saturday.strftime("%m/%d") + " (土)" in html
    assert console.get("/console/staff/9999/timesheet").status_code == 404


def test_static_assets_are_an_allow_list(client) -> None:
    assert client.get("/console/static/vendor/htmx.min.js").status_code == 200
    assert client.get("/console/static/console.css").status_code == 200
    assert client.get("/console/static/../deps.py").status_code == 404
    assert client.get("/console/static/vendor/VENDORED.md").status_code == 404
