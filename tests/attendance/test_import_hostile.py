"""Hostile 庶務事務 overtime-order imports (issue 9): the individual-number guard on the text
columns (finding 6)."""

from __future__ import annotations

from api.models import OvertimeRequest

from . import factories as f

HEAD = "職員番号,勤務日,開始時刻,終了時刻,業務内容,特例,命令番号\r\n"
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
