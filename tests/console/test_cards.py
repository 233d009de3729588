"""A person's cards in the console: reported lost, suspended, revoked or reactivated with a
reason, through a form that carries the session's CSRF token; only the roles the admin API's
matrix lets change credentials see the form or can post it."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from api.models import AuditLog, Credential
from api.users.auth import CSRF_COOKIE

pytestmark = pytest.mark.postgres
CARDS = "/console/staff/1001/cards"


def _status(database, card: int) -> str:  # type: ignore[no-untyped-def]
    with database.session() as s:
        return s.get(Credential, card).status  # type: ignore[union-attr]


def _post(client: TestClient, card: int, **form: str):  # type: ignore[no-untyped-def]
    return client.post(f"{CARDS}/{card}", data=form, follow_redirects=False)


def test_admin_reports_a_card_lost_with_the_csrf_token(console, card, database) -> None:
    page = console.get(CARDS)
    assert page.status_code == 200 and "使用中" in page.text and "職員カード（空き領域）" in page.text
    assert 'name="csrf_token"' in page.text and "紛失として登録" in page.text
    csrf = console.cookies[CSRF_COOKIE]
    assert re.search(rf'name="csrf_token" value="{re.escape(csrf)}"', page.text)
    no_token = _post(console, card, action="lost", reason="窓口で紛失の届出")
    assert no_token.status_code == 403 and _status(database, card) == "active"
    r = _post(console, card, action="lost", reason="窓口で紛失の届出", csrf_token=csrf)
    assert r.status_code == 303 and r.headers["location"] == f"{CARDS}?done=lost"
    after = console.get(r.headers["location"]).text
    assert "「紛失として登録」を行いました" in after and "窓口で紛失の届出" in after
    assert _status(database, card) == "lost"
    with database.session() as s:
        row = s.execute(select(AuditLog).where(AuditLog.action == "credential.lost")).scalar_one()
        assert row.actor == "console-admin"


def test_a_reason_holding_12_digits_or_an_impossible_change_is_refused(console, card,
                                                                       database) -> None:
    csrf = console.cookies[CSRF_COOKIE]
    bad = _post(console, card, action="revoke", reason="番号 1234 5678 9012", csrf_token=csrf)
    assert bad.status_code == 422 and "12 桁の数字は入力できません" in bad.text
    assert _status(database, card) == "active"
    # reactivate is only from suspended: the form does not offer it, and a post is a conflict
    assert "再開する" not in console.get(CARDS).text
    r = _post(console, card, action="reactivate", reason="戻った", csrf_token=csrf)
    assert r.status_code == 409 and _status(database, card) == "active"


def test_an_auditor_sees_the_cards_but_cannot_change_them(app, admin, card, database) -> None:
    made = admin.post("/admin/users", json={"username": "kansa", "role": "auditor"}).json()
    browser = TestClient(app, base_url="https://testserver")
    r = browser.post("/console/login", data={"username": "kansa", "password": made["password"]},
                     follow_redirects=False)
    assert r.status_code == 303, r.text
    page = browser.get(CARDS)
    assert page.status_code == 200 and "使用中" in page.text
    assert "/cards/" not in page.text and 'name="csrf_token"' not in page.text  # no form
    denied = _post(browser, card, action="lost", reason="試行",
                   csrf_token=browser.cookies[CSRF_COOKIE])
    assert denied.status_code == 403 and _status(database, card) == "active"
