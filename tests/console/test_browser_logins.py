"""Every role logs in through the console's real login form in Debian's headless chromium:
admin, security and hr must give a TOTP code (none, or a wrong one, is refused; the right one,
computed here with pyotp from the secret the admin API handed out, is accepted), the others
need none; each lands on a page its role opens, and a screenshot of it is saved. Then the
overtime four-eyes rule in the browser: the applicant cannot approve their own application,
their 課長 can."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pyotp
import pytest
from playwright.sync_api import Page
from sqlalchemy import select

from api.models import DepartmentSupervisor, OvertimeRequest
from api.users.roles import TOTP_ROLES, Role
from tests.console.conftest import STAFF_IDS
from tests.console.test_browser import ARTIFACTS

pytestmark = [pytest.mark.browser, pytest.mark.postgres]
WRONG = "ユーザー名、パスワードまたは確認コードが正しくありません。"
FORBIDDEN = "この役割ではこの画面を開けません。"
# Where each role lands, and a text of that page; the self-service roles are linked to staff.
LANDING = {Role.ADMIN: ("/console", "正面玄関"), Role.SECURITY: ("/console", "正面玄関"),
           Role.HR: ("/console", "正面玄関"), Role.AUDITOR: ("/console", "正面玄関"),
           Role.FACILITY: ("/console/facility/bookings", "これからの予約"),
           Role.SUPERVISOR: ("/console/me", "山田太郎"), Role.STAFF: ("/console/me", "佐藤花子")}
STAFF_OF = {Role.SUPERVISOR: STAFF_IDS[0], Role.STAFF: STAFF_IDS[1]}


def _wrong_code(secret: str, at: datetime) -> str:
    """Six digits that are no code of the accepted window around ``at``."""
    totp = pyotp.TOTP(secret)
    near = {totp.at(at + timedelta(seconds=30 * k)) for k in range(-3, 4)}
    return next(c for c in (f"{d}" * 6 for d in range(10)) if c not in near)


def _submit(page: Page, url: str, name: str, password: str, code: str | None) -> None:
    page.goto(f"{url}/console/login")
    page.fill("#username", name)
    page.fill("#password", password)
    if code is not None:
        page.fill("#totp", code)
    page.click("button[type=submit]")
    page.wait_for_load_state()


def _refused(page: Page) -> bool:
    return page.url.endswith("/console/login") and WRONG in page.inner_text("main")


@pytest.mark.parametrize("role", list(Role), ids=lambda r: r.value)
def test_every_role_logs_in_through_the_form(role, browser, live_server, world, admin,  # type: ignore[no-untyped-def]
                                             database, wall_clock) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with database.session() as s:  # 山田太郎 heads 総務課, so the supervisor has a 課
        s.add(DepartmentSupervisor(department_id=55, staff_id=STAFF_IDS[0],
                                   effective_from=date(2020, 4, 1)))
        s.commit()
    body = {"username": f"login-{role.value}", "role": role.value}
    if role in STAFF_OF:
        body["staff_id"] = STAFF_OF[role]
    made = admin.post("/admin/users", json=body)
    assert made.status_code == 201, made.text
    password, secret = made.json()["password"], made.json()["totp_secret"]
    assert (secret is not None) is (role in TOTP_ROLES)
    page = browser.new_page(locale="ja-JP")
    url, (home, text) = live_server.url, LANDING[role]
    if role in TOTP_ROLES:
        _submit(page, url, body["username"], password, None)  # the code is demanded
        assert _refused(page)
        _submit(page, url, body["username"], password, _wrong_code(secret, wall_clock()))
        assert _refused(page)
        _submit(page, url, body["username"], password, pyotp.TOTP(secret).at(wall_clock()))
    else:
        _submit(page, url, body["username"], password, None)
    page.wait_for_url(url + home)
    assert text in page.inner_text("main"), (role, page.url)
    page.set_viewport_size({"width": 1280, "height": 900})
    page.screenshot(path=str(ARTIFACTS / f"login-as-{role.value}-1280.png"), full_page=True)
    if home != "/console":  # the office pages stay closed to the other roles
        page.goto(f"{url}/console/staff")
        assert FORBIDDEN in page.inner_text("main"), role
    page.close()


def _log_in(page: Page, url: str, admin, name: str, role: Role, staff_id: int) -> None:  # type: ignore[no-untyped-def]
    made = admin.post("/admin/users", json={"username": name, "role": role.value,
                                            "staff_id": staff_id})
    assert made.status_code == 201, made.text
    _submit(page, url, name, made.json()["password"], None)
    page.wait_for_url(f"{url}/console/me")


def _statuses(database) -> list[str]:  # type: ignore[no-untyped-def]
    with database.session() as s:
        return list(s.execute(select(OvertimeRequest.status)).scalars())


def test_the_supervisor_approves_and_the_applicant_cannot(browser, live_server, world,  # type: ignore[no-untyped-def]
                                                          admin, database) -> None:
    with database.session() as s:
        s.add(DepartmentSupervisor(department_id=55, staff_id=STAFF_IDS[0],
                                   effective_from=date(2020, 4, 1)))
        s.commit()
    url = live_server.url
    applicant = browser.new_context(locale="ja-JP")
    page = applicant.new_page()
    _log_in(page, url, admin, "sato", Role.STAFF, STAFF_IDS[1])
    page.fill("#work_date", world.workday.isoformat())
    page.fill("#start", "17:15")
    page.fill("#end", "19:00")
    page.fill("#reason", "予算資料の作成")
    page.click("form.card button[type=submit]")
    page.wait_for_url("**/console/me?done=applied")
    with database.session() as s:
        rid = s.execute(select(OvertimeRequest.id)).scalar_one()
    # The applicant's approvals page lists nothing; a hand-made form with her own valid CSRF
    # token (what a curious user could post) is refused by the overtime service.
    csrf = page.input_value("input[name=csrf_token]")
    page.goto(f"{url}/console/me/approvals")
    assert "決裁待ちの申請はありません" in page.inner_text("main")
    page.evaluate("""([rid, csrf]) => {
        const f = document.createElement('form');
        f.method = 'post'; f.action = '/console/me/approvals/' + rid;
        for (const [k, v] of [['decision', 'approve'], ['csrf_token', csrf]]) {
            const i = document.createElement('input');
            i.type = 'hidden'; i.name = k; i.value = v; f.appendChild(i);
        }
        document.body.appendChild(f); f.submit();
    }""", [rid, csrf])
    page.wait_for_selector("p.error[role=alert]")
    assert "この申請は決裁できません" in page.inner_text("main")
    assert _statuses(database) == ["pending"]
    page.screenshot(path=str(ARTIFACTS / "me-approve-own-refused-1280.png"), full_page=True)
    applicant.close()
    boss = browser.new_context(locale="ja-JP")
    page = boss.new_page()
    _log_in(page, url, admin, "yamada", Role.SUPERVISOR, STAFF_IDS[0])
    page.goto(f"{url}/console/me/approvals")
    assert "予算資料の作成" in page.inner_text("main") and "佐藤花子" in page.inner_text("main")
    page.click("button[value=approve]")
    page.wait_for_url("**/console/me/approvals?done=approve")
    assert _statuses(database) == ["approved"]
    page.screenshot(path=str(ARTIFACTS / "me-approved-1280.png"), full_page=True)
    boss.close()
