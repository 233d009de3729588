"""Password + TOTP login, session cookies with CSRF, lock-out, and every login audited."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pyotp
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from api.models import AuditLog, User, UserSession
from api.users import service
from api.users.auth import CSRF_COOKIE, SESSION_COOKIE
from api.users.roles import Role
from api.users.secrets import token_digest, totp_now

HTTPS = "https://testserver"
NOW = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)


def _make(admin, username: str, role: str, **kw):  # type: ignore[no-untyped-def]
    r = admin.post("/admin/users", json={"username": username, "role": role, **kw})
    assert r.status_code == 201, r.text
    return r.json()


def _browser(app) -> TestClient:  # type: ignore[no-untyped-def]
    """A browser on HTTPS (the session cookie is Secure, so it is never sent over HTTP)."""
    return TestClient(app, base_url=HTTPS)


def _code(secret: str, wall_clock: Callable[[], datetime]) -> str:
    # The login endpoint reads the service's clock: the code is for that same moment.
    return totp_now(secret, wall_clock())


def _actions(database) -> list[str]:  # type: ignore[no-untyped-def]
    with database.session() as s:
        return list(s.execute(select(AuditLog.action).order_by(AuditLog.seq)).scalars())


def test_staff_logs_in_with_a_password_and_gets_httponly_cookies(admin, app, database):
    made = _make(admin, "sato", "staff")
    assert made["totp_secret"] is None and len(made["password"]) >= 16
    browser = _browser(app)
    r = browser.post("/auth/login", json={"username": "sato", "password": made["password"]})
    assert r.status_code == 200, r.text
    cookies = r.headers.get_list("set-cookie")
    session_cookie = next(c for c in cookies if c.startswith(SESSION_COOKIE + "="))
    assert "HttpOnly" in session_cookie and "samesite=strict" in session_cookie.lower()
    assert "Secure" in session_cookie  # the default; MYNAGATE_SESSION_COOKIE_SECURE=false for HTTP
    assert any(c.startswith(CSRF_COOKIE + "=") and "HttpOnly" not in c for c in cookies)
    me = browser.get("/auth/me")
    assert me.status_code == 200 and me.json()["username"] == "sato"
    assert me.json()["role"] == "staff" and me.json()["via"] == "session"
    with database.session() as s:  # only the digest of the session token is stored
        stored = s.execute(select(UserSession.token_hash)).scalar_one()
    assert stored == token_digest(browser.cookies[SESSION_COOKIE])
    assert _actions(database)[-1] == "auth.login"


def test_totp_is_required_for_admin_security_and_hr(admin, app, wall_clock):
    for role in (Role.ADMIN, Role.SECURITY, Role.HR):
        made = _make(admin, f"x-{role.value}", role.value)
        assert made["totp_uri"].startswith("otpauth://totp/")
        browser = _browser(app)
        creds = {"username": f"x-{role.value}", "password": made["password"]}
        assert browser.post("/auth/login", json=creds).status_code == 401
        assert browser.post("/auth/login", json={**creds, "totp": "000000"}).status_code in {
            401, 200}  # 1 in 10^6 it is the right code; the next check is what matters
        code = _code(made["totp_secret"], wall_clock)
        ok = _browser(app).post("/auth/login", json={**creds, "totp": code})
        assert ok.status_code == 200, ok.text
        replay = _browser(app).post("/auth/login", json={**creds, "totp": code})
        assert replay.status_code == 401  # a code is accepted once


def test_cookie_requests_that_change_things_need_the_csrf_token(admin, app, wall_clock):
    made = _make(admin, "hr-a", "hr")
    browser = _browser(app)
    r = browser.post("/auth/login", json={"username": "hr-a", "password": made["password"],
                                          "totp": _code(made["totp_secret"], wall_clock)})
    csrf = r.json()["csrf_token"]
    body = {"code": "soumu", "name": "総務課"}
    assert browser.get("/admin/departments").status_code == 200  # reads need no token
    no = browser.post("/admin/departments", json=body)
    assert no.status_code == 403 and no.json()["field"] == "x-csrf-token"
    wrong = browser.post("/admin/departments", json=body, headers={"X-CSRF-Token": "csrf_x"})
    assert wrong.status_code == 403
    ok = browser.post("/admin/departments", json=body, headers={"X-CSRF-Token": csrf})
    assert ok.status_code == 201, ok.text
    assert browser.cookies[CSRF_COOKIE] == csrf  # double-submit: the page script reads it
    out = browser.post("/auth/logout", headers={"X-CSRF-Token": csrf})
    assert out.status_code == 204
    assert TestClient(app, base_url=HTTPS, cookies={SESSION_COOKIE: "gone"}).get("/auth/me").status_code == 401
    assert browser.get("/auth/me").status_code == 401


def test_five_failures_lock_the_user_out_with_an_audit_entry(admin, app, database):
    made = _make(admin, "tanaka", "facility")
    browser = _browser(app)
    for _ in range(5):
        r = browser.post("/auth/login", json={"username": "tanaka", "password": "wrong"})
        assert r.status_code == 401
    right = {"username": "tanaka", "password": made["password"]}
    locked = browser.post("/auth/login", json=right)
    assert locked.status_code == 401 and "locked until" in locked.json()["detail"]
    actions = _actions(database)
    assert actions.count("auth.login_failed") == 6 and actions.count("auth.lockout") == 1
    assert "auth.login" not in actions
    unknown = browser.post("/auth/login", json={"username": "nobody", "password": "x"})
    assert unknown.status_code == 401
    with database.session() as s:
        last = s.execute(select(AuditLog).order_by(AuditLog.seq.desc())).scalars().first()
        assert (last.action, last.actor, last.after["failure"]) == (
            "auth.login_failed", "nobody", "unknown_user")


def test_lock_out_ends_after_fifteen_minutes(database):
    with database.session() as s:
        new = service.create_user(s, username="ito", role=Role.STAFF, actor="t", now=NOW,
                                  password="correct horse battery")
        for i in range(5):
            assert service.login(s, username="ito", password="no", totp=None,
                                 now=NOW + timedelta(seconds=i), client="t").failure
        during = service.login(s, username="ito", password="correct horse battery",
                               totp=None, now=NOW + timedelta(minutes=14), client="t")
        assert during.failure is service.LoginFailure.LOCKED
        after = service.login(s, username="ito", password="correct horse battery", totp=None,
                              now=NOW + timedelta(minutes=16), client="t")
        assert after.failure is None and after.user is new.user
        assert s.get(User, new.user.id).failed_logins == 0


@pytest.mark.parametrize("step_offset,accepted", [(-2, False), (-1, True), (0, True),
                                                  (1, True), (2, False)])
def test_totp_window_is_one_step_either_side(database, step_offset, accepted):
    with database.session() as s:
        new = service.create_user(s, username="hr-w", role=Role.HR, actor="t", now=NOW,
                                  password="correct horse battery")
        assert new.totp_secret is not None
        code = pyotp.TOTP(new.totp_secret).at(NOW + timedelta(seconds=30 * step_offset))
        r = service.login(s, username="hr-w", password="correct horse battery", totp=code,
                          now=NOW, client="t")
        assert (r.failure is None) is accepted


def test_deactivating_a_user_ends_their_sessions(admin, app):
    made = _make(admin, "kato", "auditor")
    browser = _browser(app)
    browser.post("/auth/login", json={"username": "kato", "password": made["password"]})
    assert browser.get("/auth/me").status_code == 200
    r = admin.patch(f"/admin/users/{made['user']['id']}", json={"active": False})
    assert r.status_code == 200 and r.json()["user"]["active"] is False
    assert browser.get("/auth/me").status_code == 401
    again = _browser(app).post("/auth/login", json={"username": "kato",
                                                       "password": made["password"]})
    assert again.status_code == 401


def test_usernames_are_bounded_and_never_carry_a_12_digit_number(admin):
    for bad in ("Admin", "1abc", "a" * 61, "a123456789012", "a 1"):
        r = admin.post("/admin/users", json={"username": bad, "role": "staff"})
        assert r.status_code in {400, 422}, bad
    assert admin.post("/admin/users", json={"username": "a12345678901",
                                            "role": "staff"}).status_code == 201


def test_a_plain_form_post_carries_the_csrf_token_as_a_field(admin, app):
    made = _make(admin, "form-user", "staff")
    browser = _browser(app)
    csrf = browser.post("/auth/login", json={"username": "form-user",
                                             "password": made["password"]}).json()["csrf_token"]
    no = browser.post("/auth/logout", data={"csrf_token": "csrf_wrong"})
    assert no.status_code == 403
    ok = browser.post("/auth/logout", data={"csrf_token": csrf})
    assert ok.status_code == 204
    assert browser.get("/auth/me").status_code == 401
    # a multipart form (no form parser here) must send the header: 403, never a 500
    multi = _browser(app)
    multi.post("/auth/login", json={"username": "form-user", "password": made["password"]})
    r = multi.post("/auth/logout", files={"csrf_token": (None, "x")})
    assert r.status_code == 403


def test_a_session_ends_at_its_expiry_and_expired_ones_are_removed(database):
    with database.session() as s:
        new = service.create_user(s, username="ono", role=Role.STAFF, actor="t", now=NOW,
                                  password="correct horse battery")
        token, _csrf = service.start_session(s, new.user, now=NOW, ttl=timedelta(hours=1))
        assert service.from_session(s, token, NOW + timedelta(minutes=59)).name == "ono"
        assert service.from_session(s, token, NOW + timedelta(hours=1)) is None
        service.start_session(s, new.user, now=NOW + timedelta(hours=2), ttl=timedelta(hours=1))
        assert s.query(UserSession).count() == 1  # the expired one went with the new login


def test_a_failed_login_with_a_name_that_cannot_exist_is_audited_without_the_name(
        admin, app, database):
    r = _browser(app).post("/auth/login", json={"username": "1234-5678-9012",
                                                "password": "x"})
    assert r.status_code == 401
    with database.session() as s:
        last = s.execute(select(AuditLog).order_by(AuditLog.seq.desc())).scalars().first()
    assert (last.action, last.actor) == ("auth.login_failed", "(invalid name)")
    assert "9012" not in str(last.after)
