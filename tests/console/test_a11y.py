"""Every console page through axe-core (vendored, injected into Debian's headless chromium):
no serious or critical violation; and the console used with the keyboard alone: logging in,
and every link and control of each page reachable with Tab."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from playwright.sync_api import Page

from api.models import DepartmentSupervisor, Staff
from api.users.secrets import totp_now
from tests.attendance import factories as f
from tests.console.conftest import STAFF_IDS, console_admin, past_workday

pytestmark = [pytest.mark.browser, pytest.mark.postgres]
AXE = Path(__file__).parent / "vendor" / "axe-core" / "axe.min.js"
BLOCKING = ("serious", "critical")
# Every page of the console (a new page must be added here, see test_pages.PAGES).
PAGES = ["/console", "/console/events", "/console/events?staff=1001", "/console/presence",
         "/console/holiday-record", "/console/staff", "/console/staff/1001/timesheet",
         "/console/staff/1001/cards",
         "/console/overtime", "/console/devices", "/console/facility/bookings",
         "/console/attendance/day", "/console/attendance/divergences",
         "/console/attendance/corrections", "/console/attendance/exports",
         "/console/taps", "/console/locks",
         "/console/staff-admin/new", "/console/staff-admin/staff/1001",
         "/console/staff-admin/import",
         "/console/devices/reader-01", "/console/access", "/console/access/preview?staff=1001",
         "/console/audit"]
# The self-service pages, opened by a 課長 linked to a staff member ({month}: a past month
# with a 乖離 and leave, so the reason forms and the leave rows are on the page).
SELF_PAGES = ["/console/me", "/console/me/timesheet", "/console/me/approvals",
              "/console/me/leave?month={month}", "/console/me/divergences?month={month}"]
FOCUSABLE = ("a[href], button:not([disabled]), input:not([disabled]):not([type=hidden]), "
             "select:not([disabled]), textarea:not([disabled]), [tabindex]:not([tabindex='-1'])")


def _violations(page: Page) -> list[str]:
    """axe-core's serious and critical violations on the page, one line each."""
    page.add_script_tag(path=str(AXE))
    result = page.evaluate("axe.run(document, {resultTypes: ['violations']})")
    return [f"{v['id']} ({v['impact']}): {v['help']} at "
            f"{[n['target'] for n in v['nodes']][:3]}"
            for v in result["violations"] if v["impact"] in BLOCKING]


def _log_in_by_keyboard(page: Page, url: str, admin, wall_clock) -> None:  # type: ignore[no-untyped-def]
    """The login form with the keyboard alone: the name field has the focus, Tab moves on,
    Enter submits."""
    name, password, secret = console_admin(admin)
    page.goto(f"{url}/console/login")
    assert page.evaluate("document.activeElement.id") == "username"
    page.keyboard.type(name)
    page.keyboard.press("Tab")
    page.keyboard.type(password)
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "totp"
    page.keyboard.type(totp_now(secret, wall_clock()))
    page.keyboard.press("Enter")
    page.wait_for_url(f"{url}/console")


def _keyboard_gaps(page: Page, limit: int = 400) -> tuple[int, int]:
    """Press Tab until the focus comes round again: (visible controls, how many of them the
    focus never reached)."""
    visible = page.evaluate(f"""() => {{ let i = 0; const out = [];
        for (const el of document.querySelectorAll("{FOCUSABLE}")) {{
            el.dataset.a11y = String(i++);
            if (el.getClientRects().length) out.push(el.dataset.a11y); }}
        return out; }}""")
    page.evaluate("document.activeElement && document.activeElement.blur()")
    seen: list[str] = []
    for _ in range(limit):
        page.keyboard.press("Tab")
        mark = page.evaluate("document.activeElement && document.activeElement.dataset.a11y")
        if mark is None or (seen and mark == seen[0]):
            break
        seen.append(mark)
    return len(visible), len(set(visible) - set(seen))


def test_login_page_passes_axe(browser, live_server) -> None:  # type: ignore[no-untyped-def]
    page = browser.new_page(locale="ja-JP")
    page.goto(f"{live_server.url}/console/login")
    assert _violations(page) == []
    page.close()


def test_every_page_passes_axe_and_is_usable_by_keyboard(browser, live_server, world, card,  # type: ignore[no-untyped-def]
                                                         booking, smart_lock, admin,
                                                         wall_clock) -> None:
    page = browser.new_page(locale="ja-JP")
    _log_in_by_keyboard(page, live_server.url, admin, wall_clock)
    failures = {}
    for path in PAGES:
        page.goto(live_server.url + path)
        found = _violations(page)
        if found:
            failures[path] = found
        visible, unreachable = _keyboard_gaps(page)
        if unreachable or not visible:
            failures[f"{path} (keyboard)"] = [f"{unreachable} of {visible} visible controls "
                                               "never get the focus"]
    assert failures == {}
    page.close()


def test_self_service_pages_pass_axe_and_are_usable_by_keyboard(  # type: ignore[no-untyped-def]
        browser, live_server, world, admin, database, now) -> None:
    day = past_workday(now)
    with database.session() as s:
        s.add(DepartmentSupervisor(department_id=55, staff_id=STAFF_IDS[0],
                                   effective_from=date(2020, 4, 1)))
        dev, door = f.device(s, "clock-x", delivered_through=now)
        f.day(s, dev, door, s.get(Staff, STAFF_IDS[0]), day, "08:25", "20:00")
        s.commit()
    assert admin.post("/admin/attendance/leave", json={
        "staff_id": STAFF_IDS[0], "day": day.isoformat(), "kind": "annual",
        "unit": "hours", "start_time": "08:30", "end_time": "09:30"}).status_code == 201
    made = admin.post("/admin/users", json={"username": "yamada", "role": "supervisor",
                                            "staff_id": STAFF_IDS[0]}).json()
    page = browser.new_page(locale="ja-JP")
    page.goto(f"{live_server.url}/console/login")
    page.keyboard.type("yamada")
    page.keyboard.press("Tab")
    page.keyboard.type(made["password"])
    page.keyboard.press("Enter")
    page.wait_for_url(f"{live_server.url}/console/me")
    failures = {}
    for path in (p.format(month=day.strftime("%Y-%m")) for p in SELF_PAGES):
        page.goto(live_server.url + path)
        assert page.url.endswith(path), path  # opened, not sent elsewhere
        if found := _violations(page):
            failures[path] = found
        visible, unreachable = _keyboard_gaps(page)
        if unreachable or not visible:
            failures[f"{path} (keyboard)"] = [f"{unreachable} of {visible} visible controls "
                                               "never get the focus"]
    assert "理由を送る" in page.inner_text("main")  # the last page holds the reason form
    assert failures == {}
    page.close()


def test_the_checks_find_what_they_look_for(browser) -> None:  # type: ignore[no-untyped-def]
    """Both checks fail on a page built to fail them (neither can pass by doing nothing)."""
    page = browser.new_page()
    page.set_content('<html lang="ja"><head><title>t</title></head><body><main>'
                     '<input id="q"><img src="x.png">'
                     '<a href="#a">a</a><div inert><a href="#b">b</a></div></main></body></html>')
    assert any(v.startswith(("label", "image-alt")) for v in _violations(page))
    assert _keyboard_gaps(page) == (3, 1)  # the inert link is never reached
    page.close()


def test_the_enrollment_page_passes_axe_and_is_usable_by_keyboard(browser, live_server, world,  # type: ignore[no-untyped-def]
                                                                  admin, wall_clock) -> None:
    """The enrollment page has no fixed address: it is opened from the cards page's form,
    with the keyboard."""
    page = browser.new_page(locale="ja-JP")
    _log_in_by_keyboard(page, live_server.url, admin, wall_clock)
    page.goto(f"{live_server.url}/console/staff/1001/cards")
    page.focus("select#kind")
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    page.wait_for_url("**/console/enrollments/*")
    assert _violations(page) == []
    visible, unreachable = _keyboard_gaps(page)
    assert visible and unreachable == 0
    page.close()


def test_the_access_page_forms_pass_axe_with_their_errors_shown(  # type: ignore[no-untyped-def]
        browser, live_server, world, admin, wall_clock) -> None:
    """The door and schedule forms, sent with a bad line: the error beside the field is
    announced, and the page stays clean for axe and the keyboard."""
    page = browser.new_page(locale="ja-JP")
    _log_in_by_keyboard(page, live_server.url, admin, wall_clock)
    page.goto(f"{live_server.url}/console/access")
    page.fill("#schedule-name", "夜間")
    page.fill("#schedule-windows", "月 08:30-17:15\n木曜 9時")
    page.click("text=時間帯を保存")
    error = page.locator("#schedule-windows-error")
    assert "2 行目" in error.inner_text()
    assert page.get_attribute("#schedule-windows", "aria-describedby") == "schedule-windows-error"
    assert _violations(page) == []
    visible, unreachable = _keyboard_gaps(page)
    assert visible and unreachable == 0
    page.close()
