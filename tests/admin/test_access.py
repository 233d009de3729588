"""Admin access data: groups and members, schedules with windows, permissions, closed days.
Every change bumps the snapshot version; scope changes stamp credentials; nothing is ever
half-written."""

from __future__ import annotations

from sqlalchemy import func, select

from api.models import AccessGroupMember, AuditLog, Credential, Schedule, ScheduleWindow
from api.snapshot.versioning import current

from .factories import assert_problem, department, door, site, staff, staff_ap_body

WEEKDAYS = [{"weekday": d, "start_minute": "08:00", "end_minute": "20:00"} for d in range(5)]


def _version(database) -> int:  # type: ignore[no-untyped-def]
    with database.session() as s:
        return current(s)


def _count(database, model) -> int:  # type: ignore[no-untyped-def]
    with database.session() as s:
        return int(s.execute(select(func.count()).select_from(model)).scalar_one())


def test_schedule_crud(admin, database):
    r = admin.post("/admin/schedules", json={"name": "平日", "windows": WEEKDAYS})
    assert r.status_code == 201, r.text
    sched = r.json()
    assert sched["allow_closed_days"] is False
    assert sched["windows"][0] == {"weekday": 0, "start_minute": 480, "end_minute": 1200}
    assert len(sched["windows"]) == 5
    v = _version(database)
    r = admin.patch(f"/admin/schedules/{sched['id']}", json={
        "allow_closed_days": True,
        "windows": [{"weekday": 5, "start_minute": 0, "end_minute": 1440}]})
    assert r.status_code == 200, r.text
    assert r.json()["windows"] == [{"weekday": 5, "start_minute": 0, "end_minute": 1440}]
    assert _version(database) == v + 1
    assert _count(database, ScheduleWindow) == 1
    assert [s["name"] for s in admin.get("/admin/schedules").json()["items"]] == ["平日"]
    assert_problem(admin.post("/admin/schedules", json={"name": "平日", "windows": []}), 409,
                   "name")
    assert admin.delete(f"/admin/schedules/{sched['id']}").status_code == 204
    assert _count(database, ScheduleWindow) == 0
    with database.session() as s:
        audit = s.execute(select(AuditLog).where(AuditLog.action == "schedule.update")
                          ).scalar_one()
    assert len(audit.before["windows"]) == 5 and audit.after["windows"] == [[5, 0, 1440]]


def test_schedule_with_one_bad_window_creates_nothing(admin, database):
    v = _version(database)
    for bad, field in (({"weekday": 7, "start_minute": 0, "end_minute": 60}, "windows[2].weekday"),
                       ({"weekday": 1, "start_minute": 600, "end_minute": 600}, "windows[2]"),
                       ({"weekday": 1, "start_minute": 0, "end_minute": 1441},
                        "windows[2].end_minute"),
                       ({"weekday": 1, "start_minute": -1, "end_minute": 60},
                        "windows[2].start_minute"),
                       ({"weekday": 1, "start_minute": "8時", "end_minute": 60},
                        "windows[2].start_minute")):
        windows = [WEEKDAYS[0], WEEKDAYS[1], bad, WEEKDAYS[2]]
        body = assert_problem(admin.post("/admin/schedules",
                                         json={"name": "平日", "windows": windows}), 422, field)
        assert body["errors"]
    sched = admin.post("/admin/schedules", json={"name": "平日", "windows": WEEKDAYS}).json()
    r = admin.patch(f"/admin/schedules/{sched['id']}",
                    json={"windows": [WEEKDAYS[0], {"weekday": 2, "start_minute": 900,
                                                    "end_minute": 100}]})
    assert_problem(r, 422, "windows[1]")
    # Only the one good schedule, with its five windows, and its one audit row and bump.
    with database.session() as s:
        assert s.execute(select(func.count()).select_from(Schedule)).scalar_one() == 1
        assert s.execute(select(func.count()).select_from(ScheduleWindow)).scalar_one() == 5
        assert s.execute(select(func.count()).select_from(AuditLog)).scalar_one() == 1
    assert _version(database) == v + 1


def test_groups_members_and_permissions(admin, database):
    dept = department(admin)
    a = staff(admin, dept["id"], number="T001")
    b = staff(admin, dept["id"], number="T002", name="佐藤 花子", kana="サトウ ハナコ")
    cred = admin.post("/admin/credentials", json=staff_ap_body(b["id"])).json()
    d = door(admin, site(admin)["id"])
    sched = admin.post("/admin/schedules", json={"name": "常時", "allow_closed_days": True,
                                                 "windows": [{"weekday": w, "start_minute": 0,
                                                              "end_minute": 1440}
                                                             for w in range(7)]}).json()
    g = admin.post("/admin/groups", json={"name": "書庫利用者"})
    assert g.status_code == 201
    gid = g.json()["id"]
    assert_problem(admin.post("/admin/groups", json={"name": "書庫利用者"}), 409, "name")

    r = admin.put(f"/admin/groups/{gid}/members", json={"staff_ids": [a["id"]]})
    assert r.status_code == 200 and r.json()["staff_ids"] == [a["id"]]
    v = _version(database)
    r = admin.post(f"/admin/groups/{gid}/members", json={"staff_ids": [b["id"], a["id"]]})
    assert r.json()["staff_ids"] == sorted([a["id"], b["id"]])
    # Adding b brought b's credential into scope: it is stamped with the new version.
    assert _version(database) == v + 1
    with database.session() as s:
        row = s.get(Credential, cred["id"])
        assert row is not None and row.snapshot_version == v + 1
    assert admin.get(f"/admin/groups/{gid}").json()["member_count"] == 2

    r = admin.post("/admin/permissions", json={"group_id": gid, "door_id": d["id"],
                                               "schedule_id": sched["id"]})
    assert r.status_code == 201, r.text
    perm = r.json()
    with database.session() as s:
        row = s.get(Credential, cred["id"])
        assert row is not None and row.snapshot_version == current(s)
    assert_problem(admin.post("/admin/permissions", json={
        "group_id": gid, "door_id": d["id"], "schedule_id": sched["id"]}), 409, "schedule_id")
    for field in ("group_id", "door_id", "schedule_id"):
        body = {"group_id": gid, "door_id": d["id"], "schedule_id": sched["id"], field: 999}
        assert_problem(admin.post("/admin/permissions", json=body), 400, field)
    page = admin.get(f"/admin/permissions?door_id={d['id']}").json()
    assert [p["id"] for p in page["items"]] == [perm["id"]] and page["total"] == 1
    assert_problem(admin.delete(f"/admin/schedules/{sched['id']}"), 409, "id")

    r = admin.delete(f"/admin/groups/{gid}/members/{a['id']}")
    assert r.status_code == 200 and r.json()["staff_ids"] == [b["id"]]
    assert_problem(admin.delete(f"/admin/groups/{gid}/members/{a['id']}"), 404, "staff_id")
    assert admin.delete(f"/admin/permissions/{perm['id']}").status_code == 204
    assert admin.delete(f"/admin/groups/{gid}").status_code == 204
    assert admin.get("/admin/groups").json()["items"] == []
    assert _count(database, AccessGroupMember) == 0
    with database.session() as s:
        actions = list(s.execute(select(AuditLog.action).where(
            AuditLog.entity == "access_group").order_by(AuditLog.id)).scalars())
    assert actions == ["group.create", "group.set_members", "group.add_members",
                       "group.remove_member", "group.delete"]


def test_members_all_or_nothing(admin, database):
    dept = department(admin)
    a = staff(admin, dept["id"])
    gid = admin.post("/admin/groups", json={"name": "全職員"}).json()["id"]
    v = _version(database)
    r = admin.put(f"/admin/groups/{gid}/members", json={"staff_ids": [a["id"], 999]})
    assert_problem(r, 400, "staff_ids[1]")
    assert_problem(admin.post(f"/admin/groups/{gid}/members", json={"staff_ids": ["x"]}), 422,
                   "staff_ids[0]")
    assert _count(database, AccessGroupMember) == 0
    assert _version(database) == v
    assert_problem(admin.put("/admin/groups/999/members", json={"staff_ids": []}), 404, "id")


def test_closed_days(admin, database):
    v = _version(database)
    r = admin.post("/admin/closed-days", json={"day": "2026-08-14", "name": "夏季閉庁日"})
    assert r.status_code == 201 and r.json() == {"day": "2026-08-14", "name": "夏季閉庁日"}
    assert_problem(admin.post("/admin/closed-days", json={"day": "2026-08-14", "name": "x"}),
                   409, "day")
    assert_problem(admin.post("/admin/closed-days", json={"day": "2026-13-01", "name": "x"}),
                   422, "day")
    r = admin.patch("/admin/closed-days/2026-08-14", json={"name": "お盆閉庁"})
    assert r.json()["name"] == "お盆閉庁"
    assert admin.get("/admin/closed-days?from=2026-08-01&to=2026-08-31").json()["items"] == [
        {"day": "2026-08-14", "name": "お盆閉庁"}]
    assert admin.get("/admin/closed-days?from=2026-09-01").json()["items"] == []
    assert admin.delete("/admin/closed-days/2026-08-14").status_code == 204
    assert_problem(admin.delete("/admin/closed-days/2026-08-14"), 404, "day")
    assert _version(database) == v + 3
