"""Issue 10 rule 5: caps come from recorded hours, not only from exported months, and the
projection reaches the month end (人事院規則15-14 §16条の2の2)."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from api.exports.service import export_dataset
from api.exports.writer import decode
from api.models import OvertimeRequest
from api.overtime.service import caps_report

from . import factories as f


def _evening(s, dev, door, person, dept, d: date, end: str,  # type: ignore[no-untyped-def]
             received: datetime | None = None, special: bool = False) -> None:
    """In 08:30, out at ``end`` (e.g. '29:00'), ordered 17:15 → ``end``; ``received`` is when
    the punches arrived and the order was decided (default: as they happened)."""
    h, m = (int(x) for x in end.split(":"))
    base = f.jst(d.year, d.month, d.day)
    for at, hint in ((base + timedelta(hours=8, minutes=30), "in"),
                     (base + timedelta(hours=h, minutes=m), "out")):
        f.punch(s, dev, door, person, at, hint=hint, received_at=received)
    s.add(OvertimeRequest(staff_id=person.id, department_id=dept.id, work_date=d,
                          start_at=base + timedelta(hours=17, minutes=15),
                          end_at=base + timedelta(hours=h, minutes=m), kind="order",
                          status="approved", requested_by="課長", decided_by="課長",
                          decided_at=received or base, special=special))


def _workdays(y: int, m: int) -> list[date]:
    d = date(y, m, 1)
    out = []
    while d.month == m:
        if d.weekday() < 5 and d not in (date(2025, 9, 15), date(2025, 9, 23),
                                         date(2025, 10, 13), date(2025, 11, 3)):
            out.append(d)
        d += timedelta(days=1)
    return out


def test_a_four_month_average_over_80h_alerts_before_any_export(database):
    with database.session() as s:
        dept = f.department(s, "B01", "防災室", overtime_class="high_external")
        person = f.staff(s, dept, "K0001")
        dev, door = f.device(s, "clock-k")
        for y, m in ((2025, 8), (2025, 9), (2025, 10), (2025, 11)):
            days = _workdays(y, m)
            for d in days[:7]:
                _evening(s, dev, door, person, dept, d, "29:00")  # 17:15→29:00 = 705 min
            _evening(s, dev, door, person, dept, days[8], "17:30")  # 15 min
        s.flush()
        [row] = caps_report(s, month="2025-11", now=datetime(2025, 12, 10, tzinfo=f.JST))
    # 7 × 705 + 15 = 4,950 min = 82.5 h in each month, none of them exported.
    assert row["month_minutes"] == 4950
    assert row["fiscal_year_minutes"] == 4950 * 4  # Aug–Nov of FY2025, from recorded hours
    avg = [a for a in row["alerts"] if a["code"] == "avg_80h"]
    assert avg and avg[0]["value_minutes"] == 4950  # (4950 + 4950) / 2 > 4800


def test_the_projection_counts_the_workdays_still_to_come(database):
    with database.session() as s:
        dept = f.department(s, "C01", "総務課")
        person = f.staff(s, dept, "P0001")
        dev, door = f.device(s, "clock-p")
        for d in (date(2025, 11, 4), date(2025, 11, 5), date(2025, 11, 6)):
            _evening(s, dev, door, person, dept, d, "22:15")  # 17:15→22:15 = 300 min
        s.flush()
        [row] = caps_report(s, month="2025-11", now=datetime(2025, 11, 7, 23, tzinfo=f.JST))
    # November 2025 has 18 workdays (30 − 10 weekend days − 11/3 and 11/24); 4 are past.
    assert row["month_minutes"] == 900
    assert row["projected_minutes"] == 900 * 18 // 4  # 4,050 min = 67.5 h
    assert [a["code"] for a in row["alerts"]] == ["projection"]  # over 45 h, not yet reached


def test_an_amended_frozen_month_shows_its_recomputed_alerts(database):
    """Rule 7: the amendment row's 警告 column carries the alerts of the corrected month."""
    with database.session() as s:
        dept = f.department(s, "A01", "総務課")
        person = f.staff(s, dept, "M0001")
        dev, door = f.device(s, "clock-m", delivered_through=datetime(2025, 12, 5, tzinfo=f.JST))
        days = _workdays(2025, 10)
        for d in days[:4]:
            _evening(s, dev, door, person, dept, d, "29:00")  # 4 × 705 = 2,820 min (47 h)
        s.flush()
        first = export_dataset(s, dataset="monthly", month="2025-10", file_format="utf8bom",
                               now=datetime(2025, 11, 3, tzinfo=f.JST))
        assert decode(first.content, "utf8bom")[1][-2] == "alert_45h・month_cap"
        for d in days[4:6]:  # approved and punched after the freeze: +1,410 min
            _evening(s, dev, door, person, dept, d, "29:00",
                     received=datetime(2025, 12, 1, tzinfo=f.JST))
        s.flush()
        nov = export_dataset(s, dataset="monthly", month="2025-11", file_format="utf8bom",
                             now=datetime(2025, 12, 8, tzinfo=f.JST))
    rows = decode(nov.content, "utf8bom")
    amended = [r for r in rows[1:] if r[-1] == "1"]
    assert [(r[3], r[-2]) for r in amended] == [("202510", "alert_45h・month_cap")]
    assert amended[0][rows[0].index("時間外合計")] == str(6 * 705)  # 4,230 min (70.5 h)


def test_a_special_order_marks_only_its_own_month(database):
    """Rule 5, last bullet (人事院規則15-14 §16条の2の2 ③): 特例 orders in October make the
    2-month average special in November, because November alone keeps to it; November's own
    45 h alert does not become special."""
    with database.session() as s:
        dept = f.department(s, "D01", "危機管理室", overtime_class="high_external")
        person = f.staff(s, dept, "T0001")
        dev, door = f.device(s, "clock-t")
        oct_days, nov_days = _workdays(2025, 10), _workdays(2025, 11)
        for d in oct_days[:8]:
            _evening(s, dev, door, person, dept, d, "29:00", special=True)  # 8 × 705
        _evening(s, dev, door, person, dept, oct_days[8], "22:15", special=True)  # 300
        for d in nov_days[:5]:
            _evening(s, dev, door, person, dept, d, "29:00")  # 5 × 705
        _evening(s, dev, door, person, dept, nov_days[5], "28:30")  # 17:15→28:30 = 675
        s.flush()
        [row] = caps_report(s, month="2025-11", now=datetime(2025, 12, 10, tzinfo=f.JST))
    # October 8 × 705 + 300 = 5,940 (99 h, 特例); November 5 × 705 + 675 = 4,200 (70 h).
    assert row["month_minutes"] == 4200
    by_code = {a["code"]: a for a in row["alerts"]}
    # (5,940 + 4,200) / 2 = 5,070 > 4,800; without October, 4,200 ≤ 9,600 → 特例.
    assert by_code["avg_80h"]["value_minutes"] == 5070
    assert by_code["avg_80h"]["severity"] == "exceeded_special"
    assert by_code["alert_45h"]["severity"] == "warning"
    assert "month_cap" not in by_code


def test_special_orders_of_another_person_or_month_change_nothing(database):
    """The same hours with no 特例 in October or November: a 特例 order in September,
    outside the 2-month window, marks nothing, so the average is plainly exceeded."""
    with database.session() as s:
        dept = f.department(s, "D02", "危機管理室", overtime_class="high_external")
        person = f.staff(s, dept, "T0002")
        dev, door = f.device(s, "clock-u")
        oct_days, nov_days = _workdays(2025, 10), _workdays(2025, 11)
        for d in oct_days[:8]:
            _evening(s, dev, door, person, dept, d, "29:00")
        _evening(s, dev, door, person, dept, oct_days[8], "22:15")
        for d in nov_days[:6]:
            _evening(s, dev, door, person, dept, d, "29:00" if d != nov_days[5] else "28:30")
        # A 特例 order in September, outside the 2-month window, marks nothing here.
        _evening(s, dev, door, person, dept, date(2025, 9, 1), "17:30", special=True)
        s.flush()
        [row] = caps_report(s, month="2025-11", now=datetime(2025, 12, 10, tzinfo=f.JST))
    avg = [a for a in row["alerts"] if a["code"] == "avg_80h"]
    assert [(a["value_minutes"], a["severity"]) for a in avg] == [(5070, "exceeded")]
