"""Admin sites and doors: CRUD, mode/assurance validation, lockdown toggle, fail_open,
snapshot bumps and audit."""

from __future__ import annotations

from sqlalchemy import select

from api.models import AuditLog, Door
from api.snapshot.versioning import current

from .factories import assert_problem, door, site


def _version(database) -> int:  # type: ignore[no-untyped-def]
    with database.session() as s:
        return current(s)


def test_sites_and_doors_crud(admin, database):
    st = site(admin)
    assert admin.get("/admin/sites").json()["items"] == [{"id": st["id"], "code": "honcho",
                                                 "name": "本庁舎"}]
    d = door(admin, st["id"], mode="access", assurance="card+pin")
    assert d["assurance"] == "card+pin" and d["lockdown"] is False and d["fail_open"] is False
    clock = door(admin, st["id"], code="clock-1f", name="1階打刻", mode="clock")
    assert [x["code"] for x in admin.get("/admin/doors?mode=clock").json()["items"]] == ["clock-1f"]
    assert len(admin.get(f"/admin/doors?site_id={st['id']}").json()["items"]) == 2
    page = admin.get("/admin/doors?limit=1&offset=1").json()
    assert page["total"] == 2 and [x["code"] for x in page["items"]] == ["shoko"]

    v = _version(database)
    r = admin.patch(f"/admin/doors/{d['id']}", json={"fail_open": True, "name": "休日通用口"})
    assert r.status_code == 200 and r.json()["fail_open"] is True
    assert _version(database) == v + 1
    # An update that changes nothing bumps nothing and writes no audit row.
    assert admin.patch(f"/admin/doors/{d['id']}", json={"fail_open": True}).status_code == 200
    assert _version(database) == v + 1

    assert admin.delete(f"/admin/doors/{clock['id']}").status_code == 204
    assert_problem(admin.delete(f"/admin/sites/{st['id']}"), 409, "id")
    assert admin.delete(f"/admin/doors/{d['id']}").status_code == 204
    assert admin.delete(f"/admin/sites/{st['id']}").status_code == 204
    with database.session() as s:
        actions = list(s.execute(select(AuditLog.action).order_by(AuditLog.id)).scalars())
    assert actions == ["site.create", "door.create", "door.create", "door.update",
                       "door.delete", "door.delete", "site.delete"]


def test_lockdown_toggle_is_audited_with_reason(admin, database):
    d = door(admin, site(admin)["id"])
    v = _version(database)
    r = admin.post(f"/admin/doors/{d['id']}/lockdown", json={"lockdown": True,
                                                              "reason": "不審者対応"})
    assert r.status_code == 200 and r.json()["lockdown"] is True
    r = admin.post(f"/admin/doors/{d['id']}/lockdown", json={"lockdown": False,
                                                              "reason": "解除"})
    assert r.json()["lockdown"] is False
    assert _version(database) == v + 2
    with database.session() as s:
        rows = list(s.execute(select(AuditLog).where(AuditLog.entity == "door")
                              .order_by(AuditLog.id)).scalars())
    assert [r.action for r in rows] == ["door.create", "door.lockdown", "door.lockdown_lift"]
    assert rows[1].before["lockdown"] is False and rows[1].after["lockdown"] is True
    assert rows[1].after["reason"] == "不審者対応"
    assert_problem(admin.post(f"/admin/doors/{d['id']}/lockdown", json={"lockdown": True}),
                   422, "reason")


def test_door_validation_names_the_field(admin, database):
    st = site(admin)
    base = {"site_id": st["id"], "code": "shoko", "name": "書庫"}
    assert_problem(admin.post("/admin/doors", json={**base, "mode": "exit"}), 422, "mode")
    assert_problem(admin.post("/admin/doors", json={**base, "assurance": "pin"}), 422,
                   "assurance")
    assert_problem(admin.post("/admin/doors", json={**base, "code": "書庫"}), 422, "code")
    assert_problem(admin.post("/admin/doors", json={**base, "site_id": 999}), 400, "site_id")
    assert_problem(admin.post("/admin/doors", json={**base, "name": "3" * 12}), 422, "name")
    door(admin, st["id"])
    assert_problem(admin.post("/admin/doors", json=base), 409, "code")
    d = admin.get("/admin/doors").json()["items"][0]
    assert_problem(admin.patch(f"/admin/doors/{d['id']}", json={"mode": None}), 400, "mode")
    assert_problem(admin.patch("/admin/doors/999", json={"mode": "both"}), 404, "id")
    with database.session() as s:
        assert len(list(s.execute(select(Door)).scalars())) == 1
