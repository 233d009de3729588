"""The demo town seed: what it creates, readable through the admin API, idempotent, no
credentials, devices or individual numbers."""

from __future__ import annotations

from sqlalchemy import func, select

from api.models import AuditLog, Credential, Device, Staff
from api.seed import seed_demo_town
from api.snapshot.versioning import current
from gate.individual_number import holds_individual_number


def test_seed_demo_town(admin, database):
    with database.session() as s:
        ids = seed_demo_town(s)
        s.commit()
    assert set(ids["doors"]) == {"shoko", "server", "kyujitsu", "clock-1f", "clock-2f"}
    assert set(ids["groups"]) == {"all_staff", "archive_users", "info_policy"}
    assert len(ids["staff"]) == 10 and set(ids["departments"]) == {"somu", "zeimu", "jumin",
                                                                    "joho"}
    doors = {d["code"]: d for d in admin.get("/admin/doors").json()["items"]}
    assert doors["server"]["assurance"] == "card+pin" and doors["kyujitsu"]["fail_open"]
    assert doors["clock-1f"]["mode"] == "clock" and doors["shoko"]["mode"] == "access"
    scheds = {s["name"]: s for s in admin.get("/admin/schedules").json()["items"]}
    assert scheds["平日"]["windows"][0] == {"weekday": 0, "start_minute": 480,
                                           "end_minute": 1200}
    assert len(scheds["平日"]["windows"]) == 5 and not scheds["平日"]["allow_closed_days"]
    assert len(scheds["常時"]["windows"]) == 7 and scheds["常時"]["allow_closed_days"]
    members = admin.get(f"/admin/groups/{ids['groups']['info_policy']}/members").json()
    assert members["staff_ids"] == sorted([ids["staff"]["1007"], ids["staff"]["1008"]])
    server_perms = admin.get(
        f"/admin/permissions?door_id={ids['doors']['server']}").json()["items"]
    assert [p["group_id"] for p in server_perms] == [ids["groups"]["info_policy"]]
    assert admin.get("/admin/staff").json()["total"] == 10
    with database.session() as s:
        assert s.execute(select(func.count()).select_from(Credential)).scalar_one() == 0
        assert s.execute(select(func.count()).select_from(Device)).scalar_one() == 0
        for row in s.execute(select(Staff)).scalars():
            assert not any(holds_individual_number(v) for v in
                           (row.staff_number, row.name, row.name_kana))
        assert s.execute(select(func.count()).select_from(AuditLog)
                         .where(AuditLog.actor == "seed")).scalar_one() > 30
        version = current(s)
        # A second call creates nothing and answers the same ids.
        assert seed_demo_town(s) == ids
        s.commit()
        assert current(s) == version
