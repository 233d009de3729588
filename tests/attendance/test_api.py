"""The attendance, overtime and export APIs end to end through the app (PostgreSQL)."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from api.attendance.rules import JST
from api.exports.writer import decode
from api.models import AuditLog, DepartmentSupervisor, Staff

from . import factories as f
from .test_exports import DELIVERED, scenario


def _seed(database):  # type: ignore[no-untyped-def]
    with database.session() as s:
        a, b, c, dev, door = scenario(s)
        boss = f.staff(s, _dept(s, a), "B0001", "課長 一郎", "カチョウ イチロウ")
        s.add(DepartmentSupervisor(department_id=a.department_id, staff_id=boss.id,
                                   effective_from=date(2020, 4, 1)))
        s.commit()
        return a.id, c.id, boss.id


def _dept(s, person):  # type: ignore[no-untyped-def]
    from api.models import Department

    return s.get(Department, person.department_id)


def test_daily_endpoint_and_self_service_timesheet(admin, database, login_as):
    a, _c, _boss = _seed(database)
    r = admin.get("/admin/attendance/daily", params={"staff_id": a, "from": "2026-11-02"})
    assert r.status_code == 200, r.text
    [line] = r.json()
    assert (line["in_time"], line["out_time"], line["premises_minutes"]) == ("08:27", "17:32", 545)
    assert "出勤 08:27" in line["text"]
    me = login_as("a0001", "staff", a).get("/me/timesheet", params={"month": "2026-10"})
    # a past month: every day is shown
    assert me.status_code == 200 and len(me.json()) == 31
    assert {x["day_type"] for x in me.json()} == {"workday", "weekly_off", "holiday"}  # 10/12
    # the admin user is linked to no staff member; without credentials: 401
    assert admin.get("/me/timesheet", params={"month": "2026-11"}).status_code == 403
    assert login_as("a0001", "staff", a).get(
        "/me/timesheet", params={"month": "2026-11"}, headers={"Authorization": ""}
    ).status_code == 401


def test_overtime_application_is_decided_by_the_supervisor_only(admin, database, login_as):
    a, c, boss_id = _seed(database)
    applicant, colleague = login_as("a0001", "staff", a), login_as("a0003", "staff", c)
    boss = login_as("b0001", "supervisor", boss_id)
    body = {"work_date": "2026-11-26", "start_at": "2026-11-26T17:15:00+09:00",
            "end_at": "2026-11-26T19:00:00+09:00", "reason": "議会資料作成"}
    r = applicant.post("/me/overtime", json=body)
    assert r.status_code == 201, r.text
    rid = r.json()["id"]
    # A colleague (not the supervisor) cannot approve; the supervisor can.
    no = colleague.post(f"/me/overtime/{rid}/decision", json={"approve": True})
    assert no.status_code == 403
    own = applicant.post(f"/me/overtime/{rid}/decision", json={"approve": True})
    assert own.status_code == 403
    pending = boss.get("/me/overtime/to-approve")
    assert [p["id"] for p in pending.json()] == [rid]
    ok = boss.post(f"/me/overtime/{rid}/decision", json={"approve": True})
    assert ok.status_code == 200 and ok.json()["status"] == "approved"
    again = boss.post(f"/me/overtime/{rid}/decision", json={"approve": False})
    assert again.status_code == 409
    bad = dict(body, end_at="2026-11-26T17:00:00+09:00")
    err = applicant.post("/me/overtime", json=bad)
    assert err.status_code == 400 and err.json()["field"] == "end_at"
    with database.session() as s:
        assert {r.action for r in s.query(AuditLog)} >= {"overtime.apply", "overtime.approved"}


def test_divergence_reason_confirmed_as_post_order_creates_the_order(admin, database, login_as):
    a, _c, boss_id = _seed(database)
    me, boss = login_as("a0001", "staff", a), login_as("b0001", "supervisor", boss_id)
    with database.session() as s:
        dev, door = f.device(s, "clock-x", delivered_through=DELIVERED)
        from api.models import Staff

        person = s.get(Staff, a)
        f.day(s, dev, door, person, date(2026, 11, 26), "08:25", "20:00")  # 2h45m unapproved
        s.commit()
    report = admin.get("/admin/overtime/divergences", params={"month": "2026-11"}).json()
    mine = [x for x in report if x["staff_number"] == "A0001"]
    assert [(x["date"], x["divergence_minutes"], x["state"]) for x in mine] == [
        ("2026-11-26", 170, "open")]
    sub = me.post("/me/divergences", json={"business_date": "2026-11-26",
                                           "reason_code": "post_order", "note": "窓口対応"})
    assert sub.status_code == 201, sub.text
    bad = me.post("/me/divergences", json={"business_date": "2026-11-02",
                                           "reason_code": "private"})
    assert bad.status_code == 409  # 20 min is under the threshold
    conf = boss.post(f"/me/divergences/{sub.json()['id']}/confirmation", json={"confirm": True})
    assert conf.status_code == 200 and conf.json()["status"] == "confirmed"
    after = admin.get("/admin/overtime/divergences", params={"month": "2026-11"}).json()
    assert [x for x in after if x["staff_number"] == "A0001"] == []
    orders = admin.get("/admin/overtime/requests",
                       params={"staff_id": a, "month": "2026-11"}).json()
    post = [o for o in orders if o["source"] == "divergence"]
    assert [o["status"] for o in post] == ["approved"]
    # Issue 10 rule 6: only the time after the scheduled end (17:15–20:00 = 165 min); the
    # 5 min of arriving at 08:25 are not overtime.
    span = [datetime.fromisoformat(post[0][k]).astimezone(JST) for k in ("start_at", "end_at")]
    assert span == [f.jst(2026, 11, 26, 17, 15), f.jst(2026, 11, 26, 20, 0)]


def test_import_orders_reports_every_bad_line_and_imports_nothing(admin, database):
    _seed(database)
    bad = ("職員番号,勤務日,開始時刻,終了時刻,業務内容,特例,命令番号\r\n"
           "A0001,2026/11/26,17:15,19:00,予算,0,R1\r\n"
           "Z9999,2026/11/26,17:15,19:00,予算,0,R2\r\n"
           "A0003,2026/11/31,17:15,19:00,予算,0,R3\r\n"
           "A0003,2026/11/27,19:00,18:00,予算,0,R4\r\n").encode("cp932")
    r = admin.post("/admin/overtime/orders/import", content=bad)
    assert r.status_code == 400
    errs = r.json()["errors"]
    assert [(e["line"], e["field"]) for e in errs] == [(3, "職員番号"), (4, "勤務日"),
                                                       (5, "終了時刻")]
    assert admin.get("/admin/overtime/requests", params={"month": "2026-11",
                                                        "status": "approved"}).json().__len__() == 4
    good = ("職員番号,勤務日,開始時刻,終了時刻,業務内容,特例,命令番号\r\n"
            "A0001,2026/11/26,17:15,19:00,予算,0,R1\r\n"
            "A0003,2026/11/27,17:15,25:30,災害対応,1,R2\r\n").encode("cp932")
    ok = admin.post("/admin/overtime/orders/import", content=good)
    assert ok.status_code == 200 and ok.json() == {"created": 2, "skipped_existing": 0}
    again = admin.post("/admin/overtime/orders/import", content=good)
    assert again.json() == {"created": 0, "skipped_existing": 2}


def test_caps_report_alerts(admin, database):
    _seed(database)
    rows = admin.get("/admin/overtime/caps", params={"month": "2026-11"}).json()
    b = next(r for r in rows if r["staff_number"] == "A0002")
    assert b["month_minutes"] == 900 and b["overtime_class"] == "high_external"
    assert b["alerts"] == []


def test_correction_needs_a_second_person_and_is_used(admin, database, login_as):
    _a, c, _boss = _seed(database)
    hr1, hr2 = login_as("hr1", "hr"), login_as("hr2", "hr")
    body = {"staff_id": c, "business_date": "2026-11-05", "kind": "out",
            "corrected_at": "2026-11-05T17:30:00+09:00", "reason": "退勤打刻忘れ"}
    r = hr1.post("/admin/attendance/corrections", json=body)
    assert r.status_code == 201, r.text
    cid = r.json()["id"]
    same = hr1.post(f"/admin/attendance/corrections/{cid}/decision", json={"approve": True})
    assert same.status_code == 409
    ok = hr2.post(f"/admin/attendance/corrections/{cid}/decision", json={"approve": True})
    assert ok.status_code == 200 and ok.json()["approver"] == "hr2"
    [line] = admin.get("/admin/attendance/daily",
                       params={"staff_id": c, "from": "2026-11-05"}).json()
    assert (line["in_time"], line["out_time"]) == ("08:20", "17:30")
    assert line["out_source"] == "correction" and "corrected" in line["flags"]
    assert "missing_out" not in line["flags"]


def test_furikae_override_writes_both_days(admin, database):
    _a, c, _boss = _seed(database)
    r = admin.post("/admin/attendance/day-overrides",
                   json={"staff_id": c, "day": "2026-11-21", "day_type": "workday",
                         "kind": "furikae", "linked_day": "2026-11-25"})
    assert r.status_code == 201, r.text
    assert [(x["day"], x["day_type"]) for x in r.json()] == [("2026-11-21", "workday"),
                                                             ("2026-11-25", "weekly_off")]
    far = admin.post("/admin/attendance/day-overrides",
                     json={"staff_id": c, "day": "2026-11-22", "day_type": "workday",
                           "kind": "furikae", "linked_day": "2027-03-01"})
    assert far.status_code == 400 and far.json()["field"] == "linked_day"


def test_export_download_profile_and_watermark(admin, database):
    _seed(database)
    r = admin.get("/admin/exports/daily", params={"month": "2026-11", "format": "utf8bom"})
    assert r.status_code == 200, r.text
    assert r.headers["x-export-provisional"] == "false"
    rows = decode(r.content, "utf8bom")
    assert rows[0][:4] == ["職員番号", "氏名", "所属コード", "勤務日"]
    # A town maps its vendor's columns with a profile of its own.
    spec = {"columns": [{"header": "SHAIN_NO", "field": "staff_number"},
                        {"header": "YMD", "field": "date", "format": "yyyymmdd"},
                        {"header": "IN", "field": "in", "format": "hhmm"},
                        {"header": "ZAICHO_H", "field": "premises", "format": "hours"}]}
    p = admin.post("/admin/exports/profiles", json={"name": "vendor-x", "dataset": "daily",
                                                    "spec": spec})
    assert p.status_code == 201 and p.json()["version"] == 1
    bad = admin.post("/admin/exports/profiles", json={
        "name": "vendor-x", "dataset": "daily",
        "spec": {"columns": [{"header": "X", "field": "nope"}]}})
    assert bad.status_code == 400 and bad.json()["field"] == "columns[0].field"
    v = admin.get("/admin/exports/daily", params={"month": "2026-11", "profile": "vendor-x",
                                                  "allow_provisional": "true"})
    got = decode(v.content, "cp932")
    assert got[0] == ["SHAIN_NO", "YMD", "IN", "ZAICHO_H"]
    assert ["A0001", "20261102", "0827", "9.08"] in got
    with database.session() as s:
        f.device(s, "late-reader", delivered_through=f.jst(2026, 11, 20))
        s.commit()
    refused = admin.get("/admin/exports/monthly", params={"month": "2026-11"})
    assert refused.status_code == 409 and refused.json()["lagging_devices"] == ["late-reader"]
    prov = admin.get("/admin/exports/monthly", params={"month": "2026-11",
                                                       "allow_provisional": "true"})
    assert prov.status_code == 200 and prov.headers["x-export-provisional"] == "true"
    runs = admin.get("/admin/exports/runs").json()
    assert [r["provisional"] for r in runs][:2] == [True, False]


def test_caps_add_hours_before_and_after_a_transfer(admin, database):
    """October in 総務課 (ordinary), November in 防災室: the fiscal year adds both."""
    from datetime import timedelta

    from api.exports.service import export_dataset
    from api.models import Department, OvertimeRequest, Staff

    with database.session() as s:
        a, b, _c, dev, door = scenario(s)
        dev.delivered_through = f.jst(2026, 12, 2)
        for day in (5, 6, 7, 8, 9):  # 5 × 4 h of ordered overtime in October
            d = date(2026, 10, day)
            f.day(s, dev, door, s.get(Staff, a.id), d, "08:30", "21:15")
            base = f.jst(2026, 10, day)
            s.add(OvertimeRequest(staff_id=a.id, department_id=a.department_id, work_date=d,
                                  start_at=base + timedelta(hours=17, minutes=15),
                                  end_at=base + timedelta(hours=21, minutes=15), kind="order",
                                  status="approved", requested_by="課長"))
        s.flush()
        export_dataset(s, dataset="monthly", month="2026-10", now=f.jst(2026, 11, 3))
        # The transfer: from November staff A0001 belongs to 防災室.
        s.get(Staff, a.id).department_id = s.get(Department, b.department_id).id
        s.commit()
    rows = admin.get("/admin/overtime/caps", params={"month": "2026-11"}).json()
    mine = next(r for r in rows if r["staff_number"] == "A0001")
    assert mine["department"] == "D02" and mine["month_minutes"] == 105
    assert mine["fiscal_year_minutes"] == 20 * 60 + 105


def test_amendments_endpoint_lists_a_late_punch_after_a_final_export(admin, database, now):
    _a, c, _boss = _seed(database)
    r = admin.get("/admin/exports/daily", params={"month": "2026-11"})
    assert r.status_code == 200 and r.headers["x-export-provisional"] == "false"
    assert admin.get("/admin/attendance/amendments").json() == []
    with database.session() as s:
        from api.models import Device, Door, Staff

        dev = s.query(Device).filter_by(name="clock-1").one()
        door = s.query(Door).first()
        f.punch(s, dev, door, s.get(Staff, c), f.jst(2026, 11, 5, 18, 40), hint="out",
                received_at=now + timedelta(hours=1))  # after the export
        s.commit()
    [amend] = admin.get("/admin/attendance/amendments").json()
    assert amend["business_date"] == "2026-11-05" and amend["staff_id"] == c
    assert amend["exported_line"]["out"] == "" and amend["current_line"]["out"] == "18:40"


def test_work_pattern_with_effective_date_changes_the_schedule(admin, database):
    a, _c, _boss = _seed(database)
    p = admin.post("/admin/attendance/work-patterns", json={
        "code": "early", "name": "早番", "start_time": "07:30", "end_time": "16:15",
        "break_start": "12:00", "break_end": "13:00"})
    assert p.status_code == 201, p.text
    r = admin.post("/admin/attendance/work-pattern-assignments", json={
        "staff_id": a, "code": "early", "effective_from": "2026-11-03"})
    assert r.status_code == 201
    lines = admin.get("/admin/attendance/daily", params={"staff_id": a, "from": "2026-11-02",
                                                         "to": "2026-11-04"}).json()
    nov2, _nov3, nov4 = lines
    assert "late" not in nov2["flags"]  # 08:27 under the standard 08:30 start
    assert "late" in nov4["flags"] and nov4["unscheduled_minutes"] == 19 * 60 + 5 - 16 * 60 - 15
    missing = admin.post("/admin/attendance/work-pattern-assignments", json={
        "staff_id": a, "code": "nope", "effective_from": "2026-11-03"})
    assert missing.status_code == 404 and missing.json()["field"] == "code"


def test_to_approve_lists_what_the_supervisor_may_decide_on_the_work_date(admin, database,
                                                                         login_as):
    """A 課長 whose term ended before the work date neither sees nor decides the application;
    the list uses the decision's own test (supervisor on the work date), not today's date."""
    a, _c, boss_id = _seed(database)
    with database.session() as s:
        former = f.staff(s, _dept(s, s.get(Staff, a)), "B0002", "前課長 二郎", "ゼンカチョウ ジロウ")
        s.add(DepartmentSupervisor(department_id=former.department_id, staff_id=former.id,
                                   effective_from=date(2020, 4, 1),
                                   effective_until=date(2026, 11, 25)))
        s.commit()
        former_id = former.id
    rid = login_as("a0001", "staff", a).post("/me/overtime", json={
        "work_date": "2026-11-26", "start_at": "2026-11-26T17:15:00+09:00",
        "end_at": "2026-11-26T19:00:00+09:00", "reason": "議会資料作成"}).json()["id"]
    former_user = login_as("b0002", "supervisor", former_id)
    assert former_user.get("/me/overtime/to-approve").json() == []
    no = former_user.post(f"/me/overtime/{rid}/decision", json={"approve": True})
    assert no.status_code == 403
    boss = login_as("b0001", "supervisor", boss_id)
    assert [p["id"] for p in boss.get("/me/overtime/to-approve").json()] == [rid]
