"""HR's staff pages: add, edit and retire a person through forms with the session's CSRF
token, import the roster from a CSV file (CP932 or UTF-8) with every bad line named, and
nothing changed by a role the matrix does not let write here."""

from __future__ import annotations

from datetime import date

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from api.models import AuditLog, Staff
from api.users.auth import CSRF_COOKIE

from .conftest import assert_no_internal_ids, log_in

pytestmark = pytest.mark.postgres
NEW = "/console/staff-admin/new"
IMPORT = "/console/staff-admin/import"
HEADER = "職員番号,氏名,カナ,所属コード,雇用区分,任用開始日,任用終了日,メール\r\n"


def _person(database, number: str) -> Staff | None:  # type: ignore[no-untyped-def]
    with database.session() as s:
        return s.execute(select(Staff).where(Staff.staff_number == number)).scalar_one_or_none()


def _count(database) -> int:  # type: ignore[no-untyped-def]
    with database.session() as s:
        return s.execute(select(func.count()).select_from(Staff)).scalar_one()


def _form(**fields: str) -> dict[str, str]:
    base = {"staff_number": "2001", "name": "高橋次郎", "name_kana": "タカハシジロウ",
            "department": "soumu", "employment_type": "fiscal_year", "email": "",
            "active_from": "2026-04-01", "active_until": ""}
    return {**base, **fields}


@pytest.fixture
def hr(app, admin, world, wall_clock) -> TestClient:  # type: ignore[no-untyped-def]
    return log_in(app, admin, "jinji", "hr", wall_clock)


def test_add_edit_and_retire_round_trip(hr, database) -> None:
    page = hr.get(NEW)
    assert page.status_code == 200 and "総務課" in page.text and 'name="csrf_token"' in page.text
    csrf = hr.cookies[CSRF_COOKIE]
    r = hr.post(NEW, data={**_form(), "csrf_token": csrf}, follow_redirects=False)
    edit = "/console/staff-admin/staff/2001"
    assert r.status_code == 303 and r.headers["location"] == f"{edit}?done=created"
    shown = hr.get(r.headers["location"])
    assert "職員を登録しました" in shown.text and "高橋次郎" in shown.text
    assert_no_internal_ids(shown.text)
    person = _person(database, "2001")
    assert person is not None and person.employment_type == "fiscal_year"
    r = hr.post(edit, data={**_form(name="高橋二郎", email="jiro@example.jp"),
                            "csrf_token": csrf}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == f"{edit}?done=updated"
    person = _person(database, "2001")
    assert person.name == "高橋二郎" and person.email == "jiro@example.jp"  # type: ignore[union-attr]
    last = date(2026, 11, 30)
    unconfirmed = hr.post(f"{edit}/retire", data={"last_day": last.isoformat(),
                                                  "csrf_token": csrf})
    assert unconfirmed.status_code == 422 and _person(database, "2001").active_until is None  # type: ignore[union-attr]
    r = hr.post(f"{edit}/retire", data={"last_day": last.isoformat(), "confirm": "1",
                                        "csrf_token": csrf}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == f"{edit}?done=retired"
    assert _person(database, "2001").active_until == last  # type: ignore[union-attr]
    with database.session() as s:
        actions = s.execute(select(AuditLog.action, AuditLog.actor)
                            .where(AuditLog.entity == "staff")).all()
    assert [a for a, _ in actions] == ["staff.create", "staff.update", "staff.update"]
    assert {actor for _, actor in actions} == {"jinji"}


def test_field_errors_are_japanese_next_to_the_field(hr, database) -> None:
    csrf = hr.cookies[CSRF_COOKIE]
    r = hr.post(NEW, data={**_form(name_kana="takahashi", name="番号 1234 5678 9012"),
                           "csrf_token": csrf})
    assert r.status_code == 422 and _count(database) == 3
    assert 'id="name_kana-error"' in r.text and "全角カタカナ" in r.text
    assert 'id="name-error"' in r.text and "12 桁の数字" in r.text
    assert 'aria-describedby="name_kana-error"' in r.text
    taken = hr.post(NEW, data={**_form(staff_number="1001"), "csrf_token": csrf})
    assert taken.status_code == 422 and "この職員番号はすでに使われています" in taken.text
    later = hr.post("/console/staff-admin/staff/1002",
                    data={**_form(staff_number="1002", active_until="2019-01-01"),
                          "csrf_token": csrf})
    assert later.status_code == 422 and 'id="active_until-error"' in later.text
    assert _person(database, "1002").active_until is None  # type: ignore[union-attr]
    blank = hr.post("/console/staff-admin/staff/1002",
                    data={**_form(staff_number="1002", name=""), "csrf_token": csrf})
    assert blank.status_code == 422 and 'id="name-error"' in blank.text
    assert _person(database, "1002").name == "佐藤花子"  # type: ignore[union-attr]


def test_a_form_without_the_csrf_token_changes_nothing(hr, database) -> None:
    r = hr.post(NEW, data=_form())
    assert r.status_code == 403 and _count(database) == 3
    r = hr.post("/console/staff-admin/staff/1001/retire",
                data={"last_day": "2026-11-30", "confirm": "1", "csrf_token": "forged"})
    assert r.status_code == 403 and _person(database, "1001").active_until is None  # type: ignore[union-attr]
    csv = (HEADER + "2002,木村三郎,キムラサブロウ,soumu,正規,2026/04/01,,\r\n").encode()
    r = hr.post(IMPORT, files={"file": ("s.csv", csv, "text/csv")},
                data={"csrf_token": "forged"})
    assert r.status_code == 403 and _count(database) == 3


@pytest.mark.parametrize("role", ["security", "auditor", "facility"])
def test_a_role_other_than_hr_cannot_write_staff(app, admin, world, database, wall_clock,
                                                 role) -> None:
    browser = log_in(app, admin, f"u-{role}", role, wall_clock)
    csrf = browser.cookies.get(CSRF_COOKIE, "")
    before = _count(database)
    r = browser.post(NEW, data={**_form(), "csrf_token": csrf}, follow_redirects=False)
    assert r.status_code == 403 and _count(database) == before
    r = browser.post("/console/staff-admin/staff/1001/retire",
                     data={"last_day": "2026-11-30", "confirm": "1", "csrf_token": csrf},
                     follow_redirects=False)
    assert r.status_code == 403 and _person(database, "1001").active_until is None  # type: ignore[union-attr]
    assert "/console/staff-admin" not in browser.get("/console/staff").text


def _import(client: TestClient, data: bytes):  # type: ignore[no-untyped-def]
    return client.post(IMPORT, files={"file": ("roster.csv", data, "text/csv")},
                       data={"csrf_token": client.cookies[CSRF_COOKIE]})


def test_import_cp932_adds_and_updates(hr, database) -> None:
    rows = (HEADER + "2002,木村三郎,キムラサブロウ,soumu,会計年度任用,2026/04/01,,kimura@example.jp\r\n"
            "1001,山田太郎,ヤマダタロウ,soumu,正規,2020/04/01,2026/12/31,\r\n")
    r = _import(hr, rows.encode("cp932"))
    assert r.status_code == 200, r.text
    assert "取り込みました: 追加 1 件、更新 1 件" in r.text
    kimura = _person(database, "2002")
    assert kimura is not None and kimura.name == "木村三郎" and kimura.employment_type == "fiscal_year"
    assert _person(database, "1001").active_until == date(2026, 12, 31)  # type: ignore[union-attr]


def test_import_utf8_with_bom(hr, database) -> None:
    rows = HEADER + "2003,林四郎,ハヤシシロウ,soumu,,2026-04-01,,\r\n"
    r = _import(hr, "\ufeff".encode() + rows.encode())
    assert r.status_code == 200 and "追加 1 件" in r.text
    assert _person(database, "2003").name == "林四郎"  # type: ignore[union-attr]


def test_import_names_the_bad_line_and_imports_nothing(hr, database) -> None:
    rows = (HEADER + "2004,森五郎,モリゴロウ,soumu,正規,2026/04/01,,\r\n"
            "2005,池田六郎,ikeda,soumu,正規,2026/04/01,,\r\n"
            "2006,=HYPERLINK(1),イケダ,soumu,正規,2026/04/01,,\r\n"
            "2007,上田七郎,ウエダシチロウ,nosuch,正規,2026/4/1x,,\r\n")
    r = _import(hr, rows.encode("cp932"))
    assert r.status_code == 422 and "誤りのある行が 3 行あります" in r.text
    assert "3行目 カナ: 全角カタカナで書いてください" in r.text
    assert "4行目 氏名:" in r.text
    assert "5行目 所属コード:" in r.text and "2 行目" not in r.text
    assert _person(database, "2004") is None and _count(database) == 3


def test_import_refuses_a_bad_header_and_a_file_too_large(hr, database) -> None:
    r = _import(hr, "番号,名前\r\n1,2\r\n".encode("cp932"))
    assert r.status_code == 422 and "1行目は見出し" in r.text
    big = HEADER.encode() + b"x" * (3 * 1024 * 1024)
    r = _import(hr, big)
    assert r.status_code == 413 and _count(database) == 3


def test_the_staff_list_links_to_the_forms_for_hr(hr) -> None:
    page = hr.get("/console/staff").text
    assert "/console/staff-admin/new" in page and "/console/staff-admin/staff/1001" in page
