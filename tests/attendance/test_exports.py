"""Exports on a real database: golden files for the three datasets in CP932 and UTF-8 (BOM),
the CP932 error, the watermark, and exported months staying frozen."""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path

import pytest

from api.errors import Conflict
from api.exports.service import export_dataset
from api.exports.writer import ExportEncodingError, decode
from api.models import DayOverride, OvertimeRequest

from . import factories as f

GOLDEN = Path(__file__).parent / "golden"
NOW = f.jst(2026, 12, 3, 12)
DELIVERED = f.jst(2026, 12, 2)


def scenario(s, *, name2: str = "髙橋 花子"):  # type: ignore[no-untyped-def]
    """Three staff, a working week with overtime, night work, a 週休日, a 休日 and a 振替."""
    d1 = f.department(s, "D01", "総務課")
    d2 = f.department(s, "D02", "防災室", overtime_class="high_external")
    a = f.staff(s, d1, "A0001", "土庄 太郎", "トノショウ タロウ")
    b = f.staff(s, d2, "A0002", name2, "タカハシ ハナコ")
    c = f.staff(s, d1, "A0003", "小豆島 次郎", "ショウドシマ ジロウ")
    dev, door = f.device(s, "clock-1", delivered_through=DELIVERED)
    f.day(s, dev, door, a, date(2026, 11, 2), "08:27", "17:32")
    f.day(s, dev, door, a, date(2026, 11, 4), "08:40", "19:05")  # late, overtime
    f.day(s, dev, door, b, date(2026, 11, 4), "08:10", "26:30")  # night work past midnight
    f.day(s, dev, door, b, date(2026, 11, 7), "09:00", "15:00")  # 週休日 (Sat)
    f.day(s, dev, door, b, date(2026, 11, 23), "08:30", "18:00")  # 勤労感謝の日 (休日)
    f.punch(s, dev, door, c, f.jst(2026, 11, 5, 8, 20), hint="in")  # forgotten 退勤
    f.day(s, dev, door, c, date(2026, 11, 6), "08:29", "17:15")
    # 振替: Saturday 11/14 becomes a 勤務日, Monday 11/16 a 週休日 for staff c.
    s.add_all([DayOverride(staff_id=c.id, day=date(2026, 11, 14), day_type="workday",
                           kind="furikae", linked_day=date(2026, 11, 16)),
               DayOverride(staff_id=c.id, day=date(2026, 11, 16), day_type="weekly_off",
                           kind="furikae", linked_day=date(2026, 11, 14))])
    f.day(s, dev, door, c, date(2026, 11, 14), "08:30", "17:15")
    for person, dept, d, st, en in [
        (a, d1, date(2026, 11, 4), (17, 15), (19, 0)),
        (b, d2, date(2026, 11, 4), (17, 15), (26, 30)),
        (b, d2, date(2026, 11, 7), (9, 0), (15, 0)),
        (b, d2, date(2026, 11, 23), (8, 30), (18, 0)),
    ]:
        base = f.jst(d.year, d.month, d.day)
        from datetime import timedelta
        s.add(OvertimeRequest(
            staff_id=person.id, department_id=dept.id, work_date=d,
            start_at=base + timedelta(hours=st[0], minutes=st[1]),
            end_at=base + timedelta(hours=en[0], minutes=en[1]), kind="order",
            status="approved", requested_by="課長", decided_by="課長", decided_at=NOW))
    s.flush()
    return a, b, c, dev, door


@pytest.mark.parametrize("dataset", ["punches", "daily", "monthly"])
@pytest.mark.parametrize("fmt", ["cp932", "utf8bom"])
def test_golden_csv(database, dataset, fmt):
    with database.session() as s:
        scenario(s)
        out = export_dataset(s, dataset=dataset, month="2026-11", file_format=fmt, now=NOW,
                             record_run=False)
    path = GOLDEN / f"{dataset}.{fmt}.csv"
    if os.environ.get("UPDATE_GOLDEN"):
        path.write_bytes(out.content)
    assert out.content == path.read_bytes()
    rows = decode(out.content, fmt)
    tsv = GOLDEN / f"{dataset}.expected.tsv"
    if os.environ.get("UPDATE_GOLDEN") and fmt == "utf8bom":
        tsv.write_text("".join("\t".join(r) + "\n" for r in rows), "utf-8")
    expected = tsv.read_text("utf-8").splitlines()
    assert ["\t".join(r) for r in rows] == expected
    if fmt == "cp932":
        assert out.content.decode("cp932").endswith("\r\n")
    else:
        assert out.content.startswith(b"\xef\xbb\xbf")


def test_xlsx_round_trip(database):
    with database.session() as s:
        scenario(s)
        csv = export_dataset(s, dataset="daily", month="2026-11", file_format="utf8bom",
                             now=NOW, record_run=False)
        xl = export_dataset(s, dataset="daily", month="2026-11", file_format="xlsx", now=NOW,
                            record_run=False)
    assert decode(xl.content, "xlsx") == decode(csv.content, "utf8bom")


def test_a_name_cp932_cannot_hold_is_a_clear_error(database):
    with database.session() as s:
        scenario(s, name2="𠮷田 花子")
        with pytest.raises(ExportEncodingError) as err:
            export_dataset(s, dataset="daily", month="2026-11", file_format="cp932", now=NOW,
                           record_run=False)
        assert "A0002" in err.value.message and "氏名" in err.value.message
        assert "𠮷" in err.value.message and err.value.field == "name"
        # UTF-8 holds it.
        ok = export_dataset(s, dataset="daily", month="2026-11", file_format="utf8bom",
                            now=NOW, record_run=False)
        assert "𠮷田 花子" in ok.content.decode("utf-8-sig")


def test_watermark_makes_an_export_provisional(database):
    with database.session() as s:
        _a, _b, _c, dev, _door = scenario(s)
        f.device(s, "clock-2", delivered_through=f.jst(2026, 11, 30, 18))  # behind
        with pytest.raises(Conflict) as err:
            export_dataset(s, dataset="daily", month="2026-11", now=NOW)
        assert "clock-2" in err.value.message
        out = export_dataset(s, dataset="daily", month="2026-11", now=NOW,
                             allow_provisional=True)
        assert out.provisional and out.lagging_devices == ["clock-2"]
        assert "provisional" in out.filename
        # A provisional run never freezes the month.
        from api.models import AttendanceFrozenMonth
        assert s.query(AttendanceFrozenMonth).count() == 0
        f.device(s, "old", status="revoked")  # a revoked device does not hold it back
        # An open sequence gap holds an up-to-date device back too, until it is filled.
        from api.models import SequenceGap

        gap = SequenceGap(device_id=dev.id, first_seq=5, last_seq=6, detected_at=NOW)
        s.add(gap)
        s.flush()
        assert export_dataset(s, dataset="daily", month="2026-11", now=NOW,
                              allow_provisional=True).lagging_devices == ["clock-1", "clock-2"]
        gap.closed_at = NOW
        s.flush()
        again = export_dataset(s, dataset="daily", month="2026-11", now=NOW,
                               allow_provisional=True)
        assert again.lagging_devices == ["clock-2"]


def test_a_late_punch_never_silently_changes_an_exported_month(database):
    with database.session() as s:
        a, b, c, dev, door = scenario(s)
        first = export_dataset(s, dataset="daily", month="2026-11", now=NOW)
        monthly = export_dataset(s, dataset="monthly", month="2026-11", now=NOW)
        assert not first.provisional
        # A punch of 11/5 for staff c arrives late (its 退勤), after the export.
        f.punch(s, dev, door, c, f.jst(2026, 11, 5, 18, 40), hint="out",
                received_at=f.jst(2026, 12, 4))
        later = f.jst(2026, 12, 5)
        again = export_dataset(s, dataset="daily", month="2026-11", now=later)
        assert again.content == first.content  # the exported month did not change
        monthly2 = export_dataset(s, dataset="monthly", month="2026-11", now=later)
        assert monthly2.content == monthly.content
        dev.delivered_through = f.jst(2027, 1, 2)
        dec = export_dataset(s, dataset="daily", month="2026-12", now=f.jst(2027, 1, 3))
        rows = decode(dec.content, "cp932")
        amended = [r for r in rows if r[-1] == "1"]
        assert len(amended) == 1 and dec.amendments == 1
        assert amended[0][0] == "A0003" and amended[0][3] == "2026/11/05"
        assert amended[0][5] == "08:20" and amended[0][6] == "18:40"
        # Carried once: the next export does not repeat it.
        dec2 = export_dataset(s, dataset="daily", month="2026-12", now=f.jst(2027, 1, 3))
        assert [r for r in decode(dec2.content, "cp932") if r[-1] == "1"] == []
        punches = export_dataset(s, dataset="punches", month="2026-12", now=f.jst(2027, 1, 3))
        late = [r for r in decode(punches.content, "cp932") if r[-1] == "1"]
        assert [(r[0], r[3], r[4]) for r in late] == [("A0003", "2026/11/05", "18:40")]


def test_fast_daily_cells_match_the_generic_writer_for_any_column_order(database):
    """The daily dataset's shortcut gives the same cells as formatting each row dict."""
    from api.attendance.service import compute_period
    from api.exports.profiles import BUILTIN, Profile
    from api.exports.rows import daily_rows
    from api.exports.writer import table

    with database.session() as s:
        scenario(s)
        res = compute_period(s, date(2026, 11, 1), date(2026, 11, 30), now=NOW)
    rows = daily_rows(res, res.records())
    std = BUILTIN["daily"]
    shuffled = Profile("x", 1, "daily", tuple(reversed(std.columns)))
    for prof in (std, shuffled):
        assert rows.cells(prof) == table(list(rows), prof)


def test_split_fy_separates_the_fiscal_year_from_earlier_months():
    from api.overtime.caps import split_fy

    inside, before = split_fy({(2027, 1): 1, (2027, 3): 2, (2027, 4): 3}, date(2027, 5, 1))
    assert inside == {(2027, 4): 3} and before == {(2027, 1): 1, (2027, 3): 2}
