"""API tokens: scoped by role, hashed at rest, shown once, revocable; the shared admin token
and the X-Staff-Number / X-Actor headers no longer identify anyone."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import select

from api.models import ApiToken, AuditLog
from api.users.secrets import token_digest


def test_token_is_shown_once_stored_hashed_and_revocable(admin, client, database):
    user = admin.post("/admin/users", json={"username": "kintai-sync", "role": "hr",
                                            "login": False}).json()
    assert user["password"] is None  # an API-only service user
    r = admin.post("/admin/api-tokens", json={"name": "kintai", "role": "hr",
                                              "user_id": user["user"]["id"]})
    assert r.status_code == 201, r.text
    token = r.json()["token"]
    assert token.startswith("mng_") and len(token) > 40
    listed = admin.get("/admin/api-tokens").json()
    assert all("token" not in t for t in listed)
    with database.session() as s:
        stored = s.execute(select(ApiToken.token_hash).where(ApiToken.name == "kintai")
                           ).scalar_one()
    assert stored == token_digest(token) and token not in stored
    hr = {"Authorization": f"Bearer {token}"}
    assert client.get("/auth/me", headers=hr).json()["username"] == "kintai-sync"
    assert client.get("/admin/departments", headers=hr).status_code == 200
    revoked = admin.post(f"/admin/api-tokens/{r.json()['id']}/revoke")
    assert revoked.status_code == 200 and revoked.json()["revoked_at"]
    assert client.get("/admin/departments", headers=hr).status_code == 401
    with database.session() as s:
        actions = list(s.execute(select(AuditLog.action).order_by(AuditLog.seq)).scalars())
    assert actions == ["user.create", "api_token.create", "api_token.revoke"]


def test_a_token_acts_only_within_its_role(admin, client):
    me = admin.get("/auth/me").json()
    assert me["role"] == "admin"
    users = admin.get("/admin/users").json()
    admin_id = next(u["id"] for u in users if u["username"] == "admin")
    token = admin.post("/admin/api-tokens", json={"name": "read-only", "role": "auditor",
                                                  "user_id": admin_id}).json()["token"]
    auditor = {"Authorization": f"Bearer {token}"}
    assert client.get("/admin/departments", headers=auditor).status_code == 200
    no = client.post("/admin/departments", json={"code": "x", "name": "x"}, headers=auditor)
    assert no.status_code == 403


OLD_SHARED_TOKEN = "test-admin-token"  # what the tests' shared token used to be


def test_the_old_shared_token_and_identity_headers_are_gone(app, admin):
    anonymous = TestClient(app)
    assert anonymous.get("/admin/departments",
                         headers={"Authorization": f"Bearer {OLD_SHARED_TOKEN}"}).status_code == 401
    admin.post("/admin/departments", json={"code": "d1", "name": "課"},
               headers={"X-Actor": "someone-else"})
    page = admin.get("/admin/audit").json()["items"]
    assert page[0]["actor"] == "admin"  # the authenticated user, whatever the header says
    r = anonymous.get("/me/timesheet", params={"month": "2026-11"},
                      headers={"X-Staff-Number": "1001"})
    assert r.status_code == 401
    # the admin user is no staff member, whichever number the header names
    r = admin.get("/me/timesheet", params={"month": "2026-11"},
                  headers={"X-Staff-Number": "1001"})
    assert r.status_code == 403 and "not linked" in r.json()["detail"]
