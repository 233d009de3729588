"""The console in Debian's headless chromium (Playwright with executable_path, no browser
download) against a live uvicorn: log in, open every page, save a screenshot of each under
tests/artifacts/console/ (or $MYNAGATE_TEST_ARTIFACTS), print the 休日入退庁記録 to A4 PDF."""

from __future__ import annotations

import os
import re
from datetime import date
from pathlib import Path

import pytest
from playwright.sync_api import Page

from api.console.rendering import jst
from api.models import DepartmentSupervisor, Staff
from api.users.secrets import totp_now
from tests.attendance import factories
from tests.console.conftest import DOOR_IDS, STAFF_IDS, Recorder, console_admin, past_workday

pytestmark = [pytest.mark.browser, pytest.mark.postgres]
A4 = (595.28, 841.89)  # points
ARTIFACTS = Path(os.environ.get("MYNAGATE_TEST_ARTIFACTS",
                                Path(__file__).parents[1] / "artifacts")) / "console"


def _log_in(page: Page, url: str, admin, wall_clock) -> None:  # type: ignore[no-untyped-def]
    """Log in through the form as a console admin: user name, password and TOTP code."""
    name, password, secret = console_admin(admin)
    page.goto(f"{url}/console")
    assert page.url.endswith("/console/login")
    page.fill("#username", name)
    page.fill("#password", password)
    page.fill("#totp", totp_now(secret, wall_clock()))
    page.click("button[type=submit]")
    page.wait_for_url(f"{url}/console")


def _shoot(page: Page, name: str, width: int) -> Path:
    page.set_viewport_size({"width": width, "height": 900})
    path = ARTIFACTS / f"{name}-{width}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def test_every_page_in_chromium(browser, live_server, world, card, smart_lock, admin,  # type: ignore[no-untyped-def]
                                wall_clock) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page = browser.new_page(locale="ja-JP")
    page.goto(f"{live_server.url}/console/login")
    _shoot(page, "login", 1280)
    _log_in(page, live_server.url, admin, wall_clock)
    sat = world.saturday.isoformat()
    pages = {"dashboard": ("/console", "正面玄関"),
             "events": ("/console/events?staff=1001", "山田太郎"),
             "presence": ("/console/presence", "在館者 1 名"),
             "holiday-record": (f"/console/holiday-record?from={sat}&to={sat}", "週休日"),
             "staff": ("/console/staff", "佐藤花子"),
             "timesheet": ("/console/staff/1001/timesheet", "出勤簿"),
             "overtime": ("/console/overtime", "所属別の超過勤務"),
             "cards": ("/console/staff/1001/cards", "紛失として登録"),
             "devices": ("/console/devices", "reader-01"),
             "attendance-day": ("/console/attendance/day", "総務課"),
             "divergences": ("/console/attendance/divergences", "乖離"),
             "corrections": ("/console/attendance/corrections", "訂正を申請"),
             "exports": ("/console/attendance/exports", "reader-01"),
             "taps": ("/console/taps", "時間帯別タッチ数"),
             "locks": ("/console/locks", "約 6 日"),
             "staff-new": ("/console/staff-admin/new", "任用開始日"),
             "staff-edit": ("/console/staff-admin/staff/1001", "退職"),
             "staff-import": ("/console/staff-admin/import", "所属コード"),
             "device": ("/console/devices/reader-01", "時計のずれ"),
             "access": ("/console/access", "入室権限一覧"),
             "access-preview": ("/console/access/preview?staff=1001", "判定プレビュー"),
             "audit": ("/console/audit", "ハッシュチェーンの検証")}
    for name, (path, text) in pages.items():
        page.goto(live_server.url + path)
        assert text in page.inner_text("main"), name
        for width in (1280, 800):  # desktop and tablet
            assert _shoot(page, name, width).stat().st_size > 5_000
    page.close()


def test_live_events_over_sse_and_search_through_htmx(browser, live_server, world, database, admin, wall_clock) -> None:  # type: ignore[no-untyped-def]
    page = browser.new_page()
    _log_in(page, live_server.url, admin, wall_clock)
    page.wait_for_function("window.htmx !== undefined")  # the vendored htmx loaded
    at = wall_clock()
    with database.session() as s:  # a tap arrives while the dashboard is open
        Recorder(s, seq=1000)("tap", at, staff_id=STAFF_IDS[1], door_id=DOOR_IDS[1],
                              granted=False, reason="not_permitted")
        s.commit()
    row = page.wait_for_selector("#recent-events tbody tr:first-child >> text=not_permitted",
                                 timeout=15_000)  # pushed by the event stream
    assert jst(at) in page.inner_text("#recent-events") and row is not None
    assert "佐藤花子" in page.inner_text("#recent-events tbody tr:first-child")
    page.goto(f"{live_server.url}/console/staff")
    page.fill("input[name=q]", "サトウ")
    page.wait_for_url("**q=*")  # htmx swapped the list and pushed the URL
    assert "佐藤花子" in page.inner_text("main") and "山田太郎" not in page.inner_text("main")
    page.close()


def test_holiday_record_prints_to_a4_pdf(browser, live_server, world, admin, wall_clock) -> None:  # type: ignore[no-untyped-def]
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page = browser.new_page()
    _log_in(page, live_server.url, admin, wall_clock)
    sat = world.saturday.isoformat()
    page.goto(f"{live_server.url}/console/holiday-record?from={sat}&to={sat}")
    page.emulate_media(media="print")
    assert not page.is_visible("header.top")  # print CSS hides the menu
    assert jst(world.times["sat_in"], "%H:%M") in page.inner_text("main")
    pdf = ARTIFACTS / "holiday-record.pdf"
    page.pdf(path=str(pdf), format="A4", prefer_css_page_size=True)
    data = pdf.read_bytes()
    assert data.startswith(b"%PDF-") and len(data) > 10_000
    boxes = re.findall(rb"/MediaBox \[0 0 ([0-9.]+) ([0-9.]+)\]", data)
    assert boxes and all(abs(float(w) - A4[0]) < 1.5 and abs(float(h) - A4[1]) < 1.5
                         for w, h in boxes), boxes
    page.close()


def test_self_service_pages_in_chromium(browser, live_server, world, admin, database,  # type: ignore[no-untyped-def]
                                        wall_clock) -> None:
    """A 課長 applies for overtime on the form, sees it on their own list, and their own
    timesheet, leave and 乖離 days; screenshots of each."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    day = past_workday(world.now)
    with database.session() as s:
        s.add(DepartmentSupervisor(department_id=55, staff_id=STAFF_IDS[0],
                                   effective_from=date(2020, 4, 1)))
        dev, door = factories.device(s, "clock-x", delivered_through=world.now)
        factories.day(s, dev, door, s.get(Staff, STAFF_IDS[0]), day, "08:25", "20:00")
        s.commit()
    assert admin.post("/admin/attendance/leave", json={
        "staff_id": STAFF_IDS[0], "day": day.isoformat(), "kind": "annual", "unit": "hours",
        "start_time": "08:30", "end_time": "09:30"}).status_code == 201
    made = admin.post("/admin/users", json={"username": "yamada", "role": "supervisor",
                                            "staff_id": STAFF_IDS[0]}).json()
    page = browser.new_page(locale="ja-JP")
    page.goto(f"{live_server.url}/console/login")
    page.fill("#username", "yamada")
    page.fill("#password", made["password"])
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/console/me")
    page.fill("#work_date", world.workday.isoformat())
    page.fill("#start", "17:15")
    page.fill("#end", "19:30")
    page.fill("#reason", "議会答弁資料の作成")
    page.click("form.card button[type=submit]")
    page.wait_for_url("**/console/me?done=applied")
    assert "議会答弁資料の作成" in page.inner_text("main") and "決裁待ち" in page.inner_text("main")
    _shoot(page, "me-overtime", 1280)
    page.goto(f"{live_server.url}/console/me/timesheet")
    assert "山田太郎" in page.inner_text("main")
    _shoot(page, "me-timesheet", 1280)
    page.goto(f"{live_server.url}/console/me/approvals")
    assert "決裁待ちの申請はありません" in page.inner_text("main")  # never their own
    _shoot(page, "me-approvals", 1280)
    month = past_workday(world.now).strftime("%Y-%m")  # the leave and the 乖離 seeded above
    for name, path, text in (("me-leave", "/console/me/leave", "年次休暇"),
                             ("me-divergences", "/console/me/divergences", "理由を送る")):
        page.goto(f"{live_server.url}{path}?month={month}")
        assert text in page.inner_text("main")
        for width in (1280, 800):
            assert _shoot(page, name, width).stat().st_size > 5_000
    page.close()
