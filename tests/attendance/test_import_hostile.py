"""Hostile 庶務事務 overtime-order and leave imports (issue 9): the individual-number guard on
the text columns (finding 6), formula cells refused (finding 5), rows, lines and errors bounded
and the work kept off the event loop (findings 2 and 9)."""

from __future__ import annotations

import inspect

import pytest

from api.attendance.endpoints import import_leave
from api.bookings.endpoints import import_csv
from api.csv_import import MAX_LINE_BYTES, MAX_REPORTED_ERRORS, MAX_ROWS
from api.models import Leave, OvertimeRequest
from api.overtime.endpoints import import_orders

from . import factories as f

HEAD = "職員番号,勤務日,開始時刻,終了時刻,業務内容,特例,命令番号\r\n"
LEAVE_HEAD = "職員番号,休暇日,種別,単位,開始時刻,終了時刻,休暇番号\r\n"
LEAVE = "/admin/attendance/leave/import"
TWELVE = "".join(str(d) for d in (2, 4, 6, 8, 1, 3, 5, 7, 9, 0, 2, 4))  # made up


def seed(database) -> None:  # type: ignore[no-untyped-def]
    with database.session() as s:
        f.staff(s, f.department(s, "D01", "総務課"), "A0001", "土庄 太郎", "トノショウ タロウ")
        s.commit()


def post(admin, text: str):  # type: ignore[no-untyped-def]
    return admin.post("/admin/overtime/orders/import", content=text.encode("cp932"))


def test_import_refuses_12_digits_in_reason_or_order_number(admin, database):
    seed(database)
    kanji = "".join("〇一二三四五六七八九"[int(d)] for d in TWELVE)
    r = post(admin, HEAD + "A0001,2026/11/26,17:15,19:00,予算,0,R1\r\n"
             f"A0001,2026/11/27,17:15,19:00,予算 {kanji},0,R2\r\n"
             f"A0001,2026/11/28,17:15,19:00,予算,0,{TWELVE[:6]}-{TWELVE[6:]}\r\n")
    assert r.status_code == 400, r.text
    assert [(e["line"], e["field"]) for e in r.json()["errors"]] == [(3, "業務内容"),
                                                                     (4, "命令番号")]
    with database.session() as s:
        assert s.query(OvertimeRequest).count() == 0


@pytest.mark.parametrize(("column", "row"), [
    ("業務内容", "A0001,2026/11/27,17:15,19:00,=1+1,0,R2"),
    ("命令番号", "A0001,2026/11/27,17:15,19:00,予算,0,@R2"),
    ("職員番号", "-A0001,2026/11/27,17:15,19:00,予算,0,R2"),
])
def test_import_refuses_formula_cells_naming_line_and_column(admin, database, column, row):
    seed(database)
    r = post(admin, HEAD + "A0001,2026/11/26,17:15,19:00,予算,0,R1\r\n" + row + "\r\n")
    assert r.status_code == 400, r.text
    [err] = r.json()["errors"]
    assert (err["line"], err["field"]) == (3, column) and "formula" in err["message"]
    with database.session() as s:
        assert s.query(OvertimeRequest).count() == 0


def test_at_most_the_first_100_errors_with_their_count(admin, database):
    seed(database)
    bad = 5000
    r = post(admin, HEAD + "".join(f"Z{i:04d},2026/11/26,17:15,19:00,予算,0,R{i}\r\n"
                                   for i in range(bad)))
    assert r.status_code == 400
    body = r.json()
    assert body["error_count"] == bad and len(body["errors"]) == MAX_REPORTED_ERRORS
    assert [e["line"] for e in body["errors"]] == list(range(2, 2 + MAX_REPORTED_ERRORS))
    assert body["detail"].startswith(f"{bad} 行に誤り")
    assert len(r.content) < 40_000  # on main: one error per row


def test_more_rows_than_the_limit_is_refused_naming_the_line(admin, database):
    r = post(admin, HEAD + "x\r\n" * (MAX_ROWS + 1))
    assert r.status_code == 413 and r.json()["line"] == MAX_ROWS + 2
    assert r.json()["max_rows"] == MAX_ROWS and "errors" not in r.json()


def test_a_line_past_the_line_limit_is_refused_naming_it(admin, database):
    seed(database)
    r = post(admin, HEAD + "A0001,2026/11/26,17:15,19:00,予算,0,R1\r\n"
             + "A0001,2026/11/27,17:15,19:00," + "予" * MAX_LINE_BYTES + ",0,R2\r\n")
    assert r.status_code == 413, r.text
    assert (r.json()["line"], r.json()["max_line_bytes"]) == (3, MAX_LINE_BYTES)


def test_an_unclosed_quote_is_a_line_error_not_a_500(admin, database):
    seed(database)
    # csv's own field limit (131,072 characters) is passed inside one quoted field.
    r = post(admin, HEAD + 'A0001,2026/11/26,17:15,19:00,"' + ("予" * 1000 + "\r\n") * 140)
    assert r.status_code == 400, r.text
    assert r.json()["line"] > 2 and "not valid CSV" in r.json()["detail"]


def post_leave(admin, text: str):  # type: ignore[no-untyped-def]
    return admin.post(LEAVE, content=text.encode("cp932"))


def test_leave_import_reports_the_first_100_of_5000_errors(admin, database):
    seed(database)
    bad = 5000
    r = post_leave(admin, LEAVE_HEAD + "".join(f"Z{i:04d},2026/11/26,年次,日,,,L{i}\r\n"
                                               for i in range(bad)))
    assert r.status_code == 400, r.text[:300]
    body = r.json()
    assert body["error_count"] == bad and len(body["errors"]) == MAX_REPORTED_ERRORS
    assert body["errors"][0] == {"line": 2, "field": "職員番号",
                                 "message": "2行目 職員番号: 職員 'Z0000' は登録されていません"}
    assert len(r.content) < 40_000  # on main: every error listed


def test_leave_import_has_the_row_limit(admin, database):
    r = post_leave(admin, LEAVE_HEAD + "x\r\n" * (MAX_ROWS + 1))
    assert r.status_code == 413 and r.json()["line"] == MAX_ROWS + 2


@pytest.mark.parametrize(("column", "row"), [
    ("休暇番号", "A0001,2026/11/27,年次,日,,,=1+1"),
    ("職員番号", "@A0001,2026/11/27,年次,日,,,L2"),
    ("休暇番号", f"A0001,2026/11/27,年次,日,,,L-{TWELVE[:4]}・{TWELVE[4:8]}・{TWELVE[8:]}"),
])
def test_leave_import_refuses_formulas_and_12_digits(admin, database, column, row):
    seed(database)
    r = post_leave(admin, LEAVE_HEAD + "A0001,2026/11/26,年次,日,,,L1\r\n" + row + "\r\n")
    assert r.status_code == 400, r.text
    [err] = r.json()["errors"]
    assert (err["line"], err["field"]) == (3, column)
    with database.session() as s:
        assert s.query(Leave).count() == 0


def test_leave_import_takes_good_lines(admin, database):
    seed(database)
    r = post_leave(admin, LEAVE_HEAD + "A0001,2026/11/26,年次,日,,,L1\r\n"
                   "A0001,2026/11/27,年次,時間,09:00,11:00,L2\r\n")
    assert r.status_code == 200 and r.json() == {"created": 2, "skipped_existing": 0}


def test_import_endpoints_run_in_the_thread_pool():
    """Sync ``def`` endpoints: FastAPI runs them in the thread pool, never on the event loop
    (tests/locks/test_import_hostile.py shows /healthz answering during a large import)."""
    for endpoint in (import_orders, import_csv, import_leave):
        assert not inspect.iscoroutinefunction(endpoint), endpoint.__qualname__
