"""Issue 10 through the real API: punches signed and sent through the device protocol, orders
and 代休日 through the admin API, results read from the daily API and all three export formats.

One row per case: the staff member, the punches, the orders, and what an HR officer expects,
with the arithmetic beside each number and the clause it follows. The month is 2025-11, in the
past on any day the suite runs: 11/3 文化の日 (Mon), 11/23 勤労感謝の日 (Sun), 11/24 振替休日 (Mon).
Default pattern 08:30–17:15, break 12:00–13:00 (465 min)."""

from __future__ import annotations

import base64
import io
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import openpyxl
import pytest

from api.attendance.rules import JST
from api.exports.writer import decode
from api.models import Credential, Department, DepartmentSupervisor, Door, Site
from gate.business_day import BusinessDay
from gate.events import chain_hash
from tests.device_protocol.signer import EVENT_FIELDS, enroll, iso

from . import factories as f

MONTH = "2025-11"


def t(d: str, hhmm: str) -> datetime:
    """``t("11-19", "29:40")``: a local time of 2025-MM-DD, past midnight written 24:00+."""
    mo, dd = (int(x) for x in d.split("-"))
    h, m = (int(x) for x in hhmm.split(":"))
    return datetime(2025, mo, dd, tzinfo=JST) + timedelta(hours=h, minutes=m)


@dataclass
class Case:
    name: str
    clause: str
    punches: list[tuple[str, str, str]]  # (MM-DD, HH:MM, in|out)
    orders: list[tuple[str, str, str]] = field(default_factory=list)  # (work day, start, end)
    daikyu: tuple[str, str] | None = None  # (代休日, worked 休日)
    furikae: tuple[str, str] | None = None  # (週休日 → 勤務日, 勤務日 → 週休日)
    # leave imported from the 庶務事務 CSV: (MM-DD, 種別, 単位, 開始, 終了); or entered by HR
    leave: list[tuple[str, str, str, str, str]] = field(default_factory=list)
    hr_leave: list[dict[str, str]] = field(default_factory=list)
    daily: dict[str, dict[str, Any]] = field(default_factory=dict)  # day → expected columns
    monthly: dict[str, int | str] = field(default_factory=dict)  # column → minutes (or text)
    overtime_class: str = "ordinary"  # of the person's department
    special_orders: list[tuple[str, str, str]] = field(default_factory=list)  # 特例業務
    caps: dict[str, str] | None = None  # GET /admin/overtime/caps: alert code → severity
    staff_name: str | None = None
    substitute: tuple[str, str] | None = None  # 代替文字 registered by HR (original, substitute)
    names: dict[str, str] = field(default_factory=dict)  # export format → 氏名 exported


def _evenings(days: list[str], end: str) -> tuple[list[tuple[str, str, str]],
                                                   list[tuple[str, str, str]]]:
    """08:30 in and out at ``end`` on each day, ordered 17:15 → ``end``: (punches, orders)."""
    punches = [(d, hhmm, io) for d in days for hhmm, io in (("08:30", "in"), (end, "out"))]
    return punches, [(d, "17:15", end) for d in days]


OCT_P, OCT_O = _evenings([f"10-{d:02d}" for d in (1, 2, 3, 6, 7, 8, 9, 10)], "29:00")
OCT2_P, OCT2_O = _evenings(["10-14"], "22:15")
NOV_P, NOV_O = _evenings([f"11-{d:02d}" for d in (4, 5, 6, 7, 10)], "29:00")
NOV2_P, NOV2_O = _evenings(["11-11"], "28:30")


CASES = [
    Case("rule1_holiday_overtime_135", "給与法 §16(1)(i), §17",
         [("11-24", "08:30", "in"), ("11-24", "19:00", "out")],
         orders=[("11-24", "08:30", "19:00")],
         daily={"2025/11/24": {"日区分": "休日", "勤務時間": 210 + 255,  # 08:30–12:00, 13:00–17:15
                               "時間外実績": 1140 - 1035}},  # 17:15–19:00 = 105, 休日勤務 excluded
         monthly={"休日勤務": 465, "時間外135": 105, "時間外125": 0}),
    Case("rule2_holiday_on_weekly_off", "勤務時間法 §14; 給与法 §16(1)(ii)",
         [("11-23", "09:00", "in"), ("11-23", "12:00", "out")],
         orders=[("11-23", "09:00", "12:00")],
         daily={"2025/11/23": {"日区分": "週休日", "勤務時間": 0, "時間外実績": 180}},  # 3 h
         monthly={"時間外135": 180, "休日勤務": 0}),
    Case("rule3_daikyu_cancels_holiday_pay", "給与法 §17; 勤務時間法 §15",
         [("11-03", "08:30", "in"), ("11-03", "18:00", "out")],
         orders=[("11-03", "08:30", "18:00")], daikyu=("11-10", "11-03"),
         daily={"2025/11/03": {"日区分": "休日(代休日指定)", "勤務時間": 465,
                               "時間外実績": 45},  # 17:15–18:00
                "2025/11/10": {"日区分": "代休日", "勤務時間": 0}},
         monthly={"時間外125": 45, "休日勤務": 0}),  # a day with hours and no 休日給: 125
    Case("rule3_work_on_the_daikyu_is_holiday_work", "給与法 §17",
         [("11-03", "08:30", "in"), ("11-03", "17:15", "out"),
          ("11-10", "08:30", "in"), ("11-10", "17:15", "out")],
         orders=[("11-03", "08:30", "17:15"), ("11-10", "08:30", "17:15")],
         daikyu=("11-10", "11-03"),
         daily={"2025/11/10": {"日区分": "代休日", "勤務時間": 465, "時間外実績": 0}},
         monthly={"休日勤務": 465, "時間外125": 0, "時間外135": 0}),
    Case("rule4_shift_to_0540_is_one_shift", "労基法 通達 昭63.1.1 基発1号",
         [("11-19", "08:30", "in"), ("11-19", "29:40", "out")],
         orders=[("11-19", "17:15", "29:40")],
         daily={"2025/11/19": {"出勤時刻": "08:30", "退勤時刻": "29:40",
                               "時間外実績": 1780 - 1035}},  # 17:15 → 29:40 = 745
         monthly={"時間外125": (1320 - 1035) + (1780 - 1740),  # 17:15–22:00 + 05:00–05:40
                  "時間外150": 1740 - 1320}),  # 22:00–05:00 = 420
    Case("rule4_call_in_at_0430_is_its_own_day", "労基法 通達 昭63.1.1 基発1号",
         [("11-17", "08:30", "in"), ("11-17", "17:15", "out"),
          ("11-18", "04:30", "in"), ("11-18", "17:15", "out")],
         orders=[("11-18", "04:30", "08:30")],
         daily={"2025/11/17": {"退勤時刻": "17:15", "乖離": 0},  # not 28:30, no 675-min 乖離
                "2025/11/18": {"出勤時刻": "04:30", "時間外実績": 240}},  # 04:30–08:30
         monthly={"時間外150": 30, "時間外125": 210}),  # 04:30–05:00 night, 05:00–08:30 day
    Case("rule9_weekly_off_moved_into_another_week", "給与法 §16 (週38h45m超 +25)",
         [(f"11-{d}", hhmm, io) for d in range(10, 16)
          for hhmm, io in (("08:30", "in"), ("17:15", "out"))],
         furikae=("11-15", "11-25"),  # Sat 11/15 worked; its 週休日 moves to next week
         daily={"2025/11/15": {"日区分": "勤務日", "勤務時間": 465}},
         monthly={"m25": 6 * 465 - 2325, "h25": 8}),  # 465 min beyond 38h45m → 7.75 h → 8
    # Rule 5 (人事院規則15-14 §16条の2の2 ①二, ③). October 8 × (17:15→29:00 = 705) + 300
    # (17:15→22:15) = 5,940 min (99 h) under 特例 orders, never exported; November 5 × 705 + 675
    # (17:15→28:30) = 4,200 (70 h). The 2-month average (5,940 + 4,200) / 2 = 5,070 > 4,800 is
    # read from recorded hours, and it is 特例: without October, 4,200 ≤ 2 × 4,800.
    Case("rule5_special_order_marks_its_own_month", "人事院規則15-14 §16条の2の2 ①二ロ, ③",
         NOV_P + NOV2_P + OCT_P + OCT2_P, orders=NOV_O + NOV2_O,
         special_orders=OCT_O + OCT2_O, overtime_class="high_external",
         monthly={"時間外合計": 5 * 705 + 675, "警告": "alert_45h・avg_80h"},
         caps={"alert_45h": "warning", "avg_80h": "exceeded_special"}),
    # The same hours with October ordered plainly and one 特例 order in September (17:15→17:30):
    # September is outside the 2-month window, so the average is plainly exceeded.
    Case("rule5_special_order_elsewhere_marks_nothing", "人事院規則15-14 §16条の2の2 ①二ロ, ③",
         NOV_P + NOV2_P + OCT_P + OCT2_P, orders=NOV_O + NOV2_O + OCT_O + OCT2_O,
         special_orders=[("09-30", "17:15", "17:30")], overtime_class="high_external",
         monthly={"時間外合計": 4200, "警告": "alert_45h・avg_80h"},
         caps={"alert_45h": "warning", "avg_80h": "exceeded"}),
    # 外字: 𠮷 is not in CP932. HR registers 𠮷→吉; the CP932 file writes 吉, UTF-8 and XLSX
    # keep 𠮷 (docs/attendance.md, Exports).
    Case("exports_gaiji_substitute", "JIS X 0208/CP932 外字; 住民基本台帳 文字",
         [("11-12", "08:30", "in"), ("11-12", "17:15", "out")],
         staff_name="𠮷田 一", substitute=("𠮷", "吉"),
         names={"cp932": "吉田 一", "utf8bom": "𠮷田 一", "xlsx": "𠮷田 一"},
         daily={"2025/11/12": {"勤務時間": 465}}),
    # Rule 6: 08:25–20:00 with no order: 乖離 = 5 (08:25–08:30) + 165 (17:15–20:00) = 170.
    # After 業務(事後命令) is confirmed the order covers 17:15–20:00 only (test below).
    Case("rule6_post_order_only_after_the_scheduled_end", "人事院 (2022) 乖離; 給与法 §16",
         [("11-26", "08:25", "in"), ("11-26", "20:00", "out")],
         daily={"2025/11/26": {"乖離": 5 + 165, "時間外実績": 0}}),
    # Rule 7: October 3 × 705 = 2,115 min (35.25 h), exported final; then two more evenings
    # arrive: 5 × 705 = 3,525 (58.75 h) > 45 h (test below).
    Case("rule7_amended_month_shows_its_alerts", "人事院規則15-14 §16条の2の2 ①一",
         *_evenings(["10-20", "10-21", "10-22"], "29:00")),
    Case("leave_day_by_hr_is_not_absent", "勤務時間法 §17 (年次休暇); 地方公務員法 §24",
         [], hr_leave=[{"day": "2025-11-05", "kind": "annual", "unit": "day"}],
         daily={"2025/11/05": {"注記": "休暇", "勤務時間": 0},  # not 記録なし
                "2025/11/04": {"注記": "記録なし"}}),  # no leave, no punch: still absent
    Case("leave_hours_shorten_expected_presence", "勤務時間法 §17 (時間単位の年次休暇)",
         [("11-06", "10:30", "in"), ("11-06", "17:15", "out"),
          ("11-07", "08:30", "in"), ("11-07", "12:00", "out")],
         leave=[("11-06", "年次", "時間", "08:30", "10:30"), ("11-07", "病気", "午後", "", "")],
         daily={"2025/11/06": {"遅刻": 0, "注記": "休暇",  # 10:30 is the expected start
                               "勤務時間": 465 - 120},  # 2 h of leave are not work
                "2025/11/07": {"早退": 0, "注記": "休暇", "勤務時間": 420 - 210}}),  # 08:30–12:00
]


def _number(name: str) -> str:
    """The 職員番号 the town gives a case's person."""
    return f"T{[c.name for c in CASES].index(name):04d}"


class Town:
    def __init__(self, admin: Any, database: Any) -> None:
        self.admin = admin
        with database.session() as s:
            depts = {"ordinary": f.department(s, "D10", "総務課"),
                     "high_external": f.department(s, "D11", "防災室",
                                                   overtime_class="high_external")}
            site = s.query(Site).first() or Site(code="main", name="本庁舎")
            s.add(site)
            s.flush()
            door = Door(site_id=site.id, code="clock-a", name="打刻機A", mode="clock")
            s.add(door)
            s.flush()
            self.door_id = door.id
            self.staff: dict[str, tuple[int, str]] = {}
            for i, c in enumerate(CASES):
                person = f.staff(s, depts[c.overtime_class], f"T{i:04d}",
                                 c.staff_name or f"試験 {i}", "シケン")
                ref = f"{i:02x}" * 16
                s.add(Credential(staff_id=person.id, kind="staff_ap", credential_ref=ref,
                                 public_key=base64.b64encode(b"\x04" + bytes([i + 1]) * 64)
                                 .decode(), status="active", snapshot_version=0))
                self.staff[c.name] = (person.id, ref)
            s.commit()
        self.device, _ = enroll(admin, name="clock-a", door_ids=[self.door_id])
        self.seq = 0
        self.prev: str | None = None

    def punch(self, ref: str, at: datetime, direction: str) -> None:
        self.seq += 1
        ev: dict[str, Any] = dict.fromkeys(EVENT_FIELDS)
        ev.update({"id": str(uuid.uuid4()), "seq": self.seq, "kind": "clock_punch",
                   "occurred_at": iso(at), "clock_offset_ms": 0, "door_id": self.door_id,
                   "credential_ref": ref, "granted": True, "reason": "granted",
                   # the holder the agent found for the verified credential (as a real agent)
                   "staff_id": next(sid for sid, r in self.staff.values() if r == ref),
                   "data": {"punch": direction,
                            "business_date": BusinessDay().date_of(at).isoformat()},
                   "prev_hash": self.prev})
        ev["hash"] = chain_hash(ev)
        self.prev = ev["hash"]
        r = self.device.post_events([ev])
        assert r.status_code == 200 and r.json()["accepted"] == 1, r.text


@pytest.fixture
def town(admin, database):  # type: ignore[no-untyped-def]
    town = Town(admin, database)
    for c in CASES:
        sid, ref = town.staff[c.name]
        for d, hhmm, direction in c.punches:
            town.punch(ref, t(d, hhmm), direction)
        for (d, a, b), special in ([(o, False) for o in c.orders]
                                   + [(o, True) for o in c.special_orders]):
            r = admin.post("/admin/overtime/orders", json={
                "staff_id": sid, "work_date": t(d, "00:00").date().isoformat(),
                "start_at": t(d, a).isoformat(), "end_at": t(d, b).isoformat(),
                "reason": c.name, "special": special})
            assert r.status_code == 201, r.text
        if c.substitute:
            r = admin.post("/admin/exports/substitutes", json={
                "staff_id": sid, "original": c.substitute[0], "substitute": c.substitute[1]})
            assert r.status_code == 201, r.text
        for body in c.hr_leave:
            r = admin.post("/admin/attendance/leave", json={"staff_id": sid, **body})
            assert r.status_code == 201, r.text
        if c.furikae:
            r = admin.post("/admin/attendance/day-overrides", json={
                "staff_id": sid, "day": t(c.furikae[0], "00:00").date().isoformat(),
                "day_type": "workday", "kind": "furikae",
                "linked_day": t(c.furikae[1], "00:00").date().isoformat()})
            assert r.status_code == 201, r.text
        if c.daikyu:
            r = admin.post("/admin/attendance/day-overrides", json={
                "staff_id": sid, "day": t(c.daikyu[0], "00:00").date().isoformat(),
                "day_type": "compensatory", "kind": "daikyu",
                "linked_day": t(c.daikyu[1], "00:00").date().isoformat()})
            assert r.status_code == 201, r.text
    numbers = {c.name: f"T{i:04d}" for i, c in enumerate(CASES)}
    lines = ["職員番号,休暇日,種別,単位,開始時刻,終了時刻,休暇番号"]
    for c in CASES:
        for k, (d, kind, unit, a, b) in enumerate(c.leave):
            lines.append(f"{numbers[c.name]},2025/{d.replace('-', '/')},{kind},{unit},{a},{b},"
                         f"{c.name}-{k}")
    r = admin.post("/admin/attendance/leave/import", params={"encoding": "cp932"},
                   content="\r\n".join(lines).encode("cp932"))
    assert r.status_code == 200 and r.json()["created"] == len(lines) - 1, r.text
    return town


MONTHLY_PROFILE = {"columns": [{"header": h, "field": fld} for h, fld in (
    ("職員番号", "staff_number"), ("時間外125", "m125"), ("時間外135", "m135"),
    ("時間外150", "m150"), ("時間外160", "m160"), ("休日勤務", "mholiday"),
    ("m25", "m25"), ("h25", "h25"), ("時間外合計", "total"), ("警告", "alerts"))]}


def _export(admin: Any, dataset: str, fmt: str, profile: str = "standard") -> list[list[str]]:
    if profile != "standard":  # a town profile that also maps the +25 columns
        made = admin.post("/admin/exports/profiles", json={
            "name": profile, "dataset": dataset, "spec": MONTHLY_PROFILE})
        assert made.status_code == 201, made.text
    r = admin.get(f"/admin/exports/{dataset}", params={"month": MONTH, "format": fmt,
                                                      "allow_provisional": "true",
                                                      "profile": profile})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == {
        "cp932": "text/csv; charset=Windows-31J", "utf8bom": "text/csv; charset=utf-8",
        "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}[fmt]
    if fmt == "xlsx":  # numbers stay numbers; dates are date cells
        ws = openpyxl.load_workbook(io.BytesIO(r.content)).active
        return [[f"{v:%Y/%m/%d}" if isinstance(v, datetime) else "" if v is None else str(v)
                 for v in row] for row in ws.iter_rows(values_only=True)]
    return decode(r.content, fmt)


@pytest.mark.parametrize("fmt", ["cp932", "utf8bom", "xlsx"])
def test_issue10_rules_in_every_export_format(town, admin, fmt):
    numbers = {c.name: f"T{i:04d}" for i, c in enumerate(CASES)}
    daily = _export(admin, "daily", fmt)
    head = daily[0]
    by_day = {(r[0], r[head.index("勤務日")]): r for r in daily[1:]}
    monthly = _export(admin, "monthly", fmt, profile="hr-issue10")
    mhead = monthly[0]
    by_staff = {r[0]: r for r in monthly[1:]}
    for c in CASES:
        for day, want in c.daily.items():
            row = by_day[(numbers[c.name], day)]
            got = {k: row[head.index(k)] for k in want}
            assert got == {k: str(v) for k, v in want.items()}, (c.name, c.clause, day)
        if c.names:
            names = {r[head.index("氏名")] for r in daily[1:] if r[0] == numbers[c.name]}
            assert names == {c.names[fmt]}, (c.name, c.clause)
        if c.monthly:
            row = by_staff[numbers[c.name]]
            got_m = {k: row[mhead.index(k)] for k in c.monthly}
            assert got_m == {k: str(v) for k, v in c.monthly.items()}, (c.name, c.clause)


def test_caps_read_recorded_hours_and_special_months(town, admin):
    """Rule 5 through GET /admin/overtime/caps: severities per alert."""
    r = admin.get("/admin/overtime/caps", params={"month": MONTH})
    assert r.status_code == 200, r.text
    by_number = {row["staff_number"]: row for row in r.json()}
    for i, c in enumerate(CASES):
        if c.caps is not None:
            row = by_number[f"T{i:04d}"]
            got = {a["code"]: a["severity"] for a in row["alerts"]}
            assert got == c.caps, (c.name, c.clause)


def test_daily_api_shows_the_shift_on_its_start_day(town, admin):
    sid, _ = town.staff["rule4_shift_to_0540_is_one_shift"]
    r = admin.get("/admin/attendance/daily", params={"staff_id": sid, "from": "2025-11-19",
                                                     "to": "2025-11-20"})
    assert r.status_code == 200, r.text
    first, second = r.json()
    assert (first["in_time"], first["out_time"]) == ("08:30", "29:40")
    assert "missing_out" not in first["flags"] and "missing_in" not in second["flags"]


def test_a_daikyu_linked_to_an_ordinary_workday_is_refused(town, admin):
    sid, _ = town.staff["rule2_holiday_on_weekly_off"]
    for linked in ("2025-11-04", "2025-11-24"):  # a workday; a 休日 without an order
        r = admin.post("/admin/attendance/day-overrides", json={
            "staff_id": sid, "day": "2025-11-25", "day_type": "compensatory", "kind": "daikyu",
            "linked_day": linked})
        assert r.status_code == 400 and r.json()["field"] == "linked_day", r.text


def test_leave_import_is_all_or_nothing_with_every_bad_line(town, admin):
    csv_text = "\r\n".join([
        "職員番号,休暇日,種別,単位,開始時刻,終了時刻,休暇番号",
        "T0000,2025/11/12,年次,日,,,ok-1",
        "X9999,2025/11/12,年次,日,,,bad-1",  # unknown staff
        "T0000,2025/11/31,年次,日,,,bad-2",  # no such date
        "T0000,2025/11/13,年次,時間,10:00,09:00,bad-3",  # ends before it starts
        "T0000,2025/11/14,夏季,日,,,bad-4",  # unknown kind
    ]).encode("cp932")
    r = admin.post("/admin/attendance/leave/import", content=csv_text)
    assert r.status_code == 400, r.text
    assert [(e["line"], e["field"]) for e in r.json()["errors"]] == [
        (3, "職員番号"), (4, "休暇日"), (5, "開始時刻"), (6, "種別")]
    listed = admin.get("/admin/attendance/leave", params={"month": MONTH}).json()
    assert "ok-1" not in {x["external_ref"] for x in listed}  # nothing imported
    # HR entering leave that overlaps recorded leave is refused.
    sid, _ = town.staff["leave_day_by_hr_is_not_absent"]
    dup = admin.post("/admin/attendance/leave", json={"staff_id": sid, "day": "2025-11-05",
                                                      "kind": "special", "unit": "am"})
    assert dup.status_code == 409, dup.text


def test_rule6_a_post_order_covers_only_the_time_after_the_scheduled_end(town, admin, database,
                                                                         login_as):
    """Rule 6: confirming 業務(事後命令) orders 17:15–20:00 (165 min), not the 5 early minutes."""
    sid, _ = town.staff["rule6_post_order_only_after_the_scheduled_end"]
    with database.session() as s:
        dept = s.query(Department).filter_by(code="D10").one()
        boss = f.staff(s, dept, "B0001", "課長 一郎", "カチョウ イチロウ")
        s.add(DepartmentSupervisor(department_id=dept.id, staff_id=boss.id,
                                   effective_from=t("04-01", "00:00").date()))
        s.commit()
        boss_id = boss.id
    me, sup = login_as("t-rule6", "staff", sid), login_as("b-rule6", "supervisor", boss_id)
    sub = me.post("/me/divergences", json={"business_date": "2025-11-26",
                                           "reason_code": "post_order"})
    assert sub.status_code == 201, sub.text
    conf = sup.post(f"/me/divergences/{sub.json()['id']}/confirmation", json={"confirm": True})
    assert conf.status_code == 200, conf.text
    orders = admin.get("/admin/overtime/requests", params={"staff_id": sid, "month": MONTH})
    post = [o for o in orders.json() if o["source"] == "divergence"]
    span = [(datetime.fromisoformat(o["start_at"]).astimezone(JST),
             datetime.fromisoformat(o["end_at"]).astimezone(JST)) for o in post]
    assert span == [(t("11-26", "17:15"), t("11-26", "20:00"))]
    daily = _export(admin, "daily", "utf8bom")
    head = daily[0]
    number = _number("rule6_post_order_only_after_the_scheduled_end")
    [row] = [r for r in daily[1:] if r[head.index("勤務日")] == "2025/11/26" and r[0] == number]
    assert (row[head.index("時間外実績")], row[head.index("乖離")]) == ("165", "5")


def test_rule7_an_amended_month_shows_its_recomputed_alerts(town, admin, now):
    """Rule 7: the amendment row of the next final monthly export carries the alerts of the
    corrected month in 警告."""
    name = "rule7_amended_month_shows_its_alerts"
    sid, ref = town.staff[name]
    number = _number(name)
    beat = town.device.heartbeat(device_time=iso(now), last_seq=town.seq)
    assert beat.status_code == 200, beat.text
    october = admin.get("/admin/exports/monthly", params={"month": "2025-10",
                                                         "format": "utf8bom"})
    assert october.status_code == 200 and october.headers["x-export-provisional"] == "false"
    rows = decode(october.content, "utf8bom")
    [before] = [r for r in rows[1:] if r[0] == number]
    assert before[rows[0].index("時間外合計")] == str(3 * 705) and before[-2] == ""
    late_p, late_o = _evenings(["10-23", "10-24"], "29:00")  # arrive after the freeze
    for d, hhmm, direction in late_p:
        town.punch(ref, t(d, hhmm), direction)
    for d, a, b in late_o:
        r = admin.post("/admin/overtime/orders", json={
            "staff_id": sid, "work_date": t(d, "00:00").date().isoformat(),
            "start_at": t(d, a).isoformat(), "end_at": t(d, b).isoformat(), "reason": name})
        assert r.status_code == 201, r.text
    beat = town.device.heartbeat(device_time=iso(now), last_seq=town.seq)
    assert beat.status_code == 200, beat.text
    nov = admin.get("/admin/exports/monthly", params={"month": MONTH, "format": "utf8bom"})
    assert nov.status_code == 200 and nov.headers["x-export-provisional"] == "false", nov.text
    rows = decode(nov.content, "utf8bom")
    amended = [r for r in rows[1:] if r[0] == number and r[-1] == "1"]
    assert [(r[3], r[rows[0].index("時間外合計")], r[-2]) for r in amended] == [
        ("202510", str(5 * 705), "alert_45h・month_cap")]  # 3,525 min = 58.75 h > 45 h
