"""Issue 10, exports: XLSX numbers and dates, per-staff 代替文字 for CP932 with every offender
listed at once, and the LOSSY look-alikes counted in the export's report."""

from __future__ import annotations

import io

import openpyxl
import pytest

from api.errors import BadRequest
from api.exports.service import create_substitute, export_dataset
from api.exports.writer import LOSSY, ExportEncodingError, decode

from . import factories as f
from .test_exports import NOW, scenario

IVS_KATSU = "葛\U000E0100"  # 葛 with an ideographic variation selector (IVS)


def test_xlsx_minutes_are_numbers_and_dates_are_dates(database):
    with database.session() as s:
        scenario(s)
        xl = export_dataset(s, dataset="daily", month="2026-11", file_format="xlsx", now=NOW,
                            record_run=False)
    ws = openpyxl.load_workbook(io.BytesIO(xl.content))["data"]
    head = [c.value for c in ws[1]]
    row = [c for c in ws[2]]
    day, premises = row[head.index("勤務日")], row[head.index("在庁時間")]
    assert day.is_date and f"{day.value:%Y/%m/%d}" == "2026/11/01"
    assert premises.data_type == "n" and isinstance(premises.value, int)
    total = sum(r[head.index("在庁時間")].value for r in ws.iter_rows(min_row=2))
    assert total > 0  # what Excel's SUM sees: numbers, not text


def test_every_offender_is_listed_and_substitutes_fix_cp932(database):
    with database.session() as s:
        a, b, c, dev, door = scenario(s, name2="𠮷田 花子")
        c.name = f"{IVS_KATSU}西 次郎"
        s.flush()
        with pytest.raises(ExportEncodingError) as err:
            export_dataset(s, dataset="monthly", month="2026-11", file_format="cp932", now=NOW,
                           record_run=False)
        got = {(o["staff_number"], o["character"]) for o in err.value.extra["offenders"]}
        assert got == {("A0002", "𠮷"), ("A0003", "\U000E0100")}  # both, at once
        create_substitute(s, actor="hr", staff_id=b.id, original="𠮷", substitute="吉")
        with pytest.raises(ExportEncodingError) as err:
            export_dataset(s, dataset="monthly", month="2026-11", file_format="cp932", now=NOW,
                           record_run=False)
        assert {o["staff_number"] for o in err.value.extra["offenders"]} == {"A0003"}
        create_substitute(s, actor="hr", staff_id=c.id, original=IVS_KATSU, substitute="葛")
        ok = export_dataset(s, dataset="monthly", month="2026-11", file_format="cp932",
                            now=NOW, record_run=False)
        names = {r[0]: r[1] for r in decode(ok.content, "cp932")[1:]}
        assert names["A0002"] == "吉田 花子" and names["A0003"] == "葛西 次郎"
        assert ok.substitutions == {}  # 代替文字 are registered, not LOSSY look-alikes
        utf8 = export_dataset(s, dataset="monthly", month="2026-11", file_format="utf8bom",
                              now=NOW, record_run=False)
        assert "𠮷田 花子" in utf8.content.decode("utf-8-sig")  # UTF-8 keeps the original


def test_a_substitute_must_be_needed_encodable_and_digit_free(database):
    with database.session() as s:
        a, *_ = scenario(s)
        for original, sub in (("吉", "吉"), ("𠮷", "𠀋"), ("𠮷", "１２３")):
            with pytest.raises(BadRequest) as err:
                create_substitute(s, actor="hr", staff_id=a.id, original=original,
                                  substitute=sub)
            assert err.value.status == 400


@pytest.mark.parametrize("char", sorted(LOSSY))
def test_lossy_code_points_are_mapped_and_counted(database, char):
    with database.session() as s:
        dept = f.department(s, "D9", "企画課")
        f.staff(s, dept, "L0001", f"波{char}太郎")
        out = export_dataset(s, dataset="monthly", month="2026-11", file_format="cp932",
                             now=NOW, record_run=False)
    [row] = decode(out.content, "cp932")[1:]
    assert row[1] == f"波{LOSSY[char]}太郎"  # what reading the file back gives
    assert out.substitutions == {f"U+{ord(char):04X}": 1}
