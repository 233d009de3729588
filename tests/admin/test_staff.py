"""Admin staff and departments: CRUD, validation naming the field, the individual-number
guard, paging, audit, snapshot bumps."""

from __future__ import annotations

from sqlalchemy import func, select

from api.models import AuditLog, Staff
from api.snapshot.versioning import current

from .factories import assert_problem, department, staff


def test_admin_token_required(client):
    for path in ("/admin/staff", "/admin/departments", "/admin/credentials", "/admin/doors",
                 "/admin/sites", "/admin/groups", "/admin/schedules", "/admin/permissions",
                 "/admin/closed-days", "/admin/events", "/admin/audit"):
        r = client.get(path)
        assert r.status_code == 401, path
        assert r.headers["content-type"].startswith("application/problem+json")
    assert client.post("/admin/staff", json={}).status_code == 401
    r = client.get("/admin/staff", headers={"Authorization": "Bearer wrong"})
    assert r.status_code == 401


def test_staff_crud_happy_path(admin, database):
    dept = department(admin)
    other = department(admin, "zeimu", "税務課")
    s = staff(admin, dept["id"], employment_type="会計年度任用", email="yamada@example.jp")
    assert s["employment_type"] == "fiscal_year" and s["employment_type_label"] == "会計年度任用"
    assert admin.get(f"/admin/staff/{s['id']}").json()["name"] == "山田 太郎"

    r = admin.patch(f"/admin/staff/{s['id']}", json={"department_id": other["id"],
                                                     "name_kana": "ヤマダ　タロー"})
    assert r.status_code == 200, r.text
    assert r.json()["department_id"] == other["id"] and r.json()["name_kana"] == "ヤマダ　タロー"

    version = admin_version(database)
    r = admin.patch(f"/admin/staff/{s['id']}", json={"active_until": "2027-03-31"})
    assert r.status_code == 200 and r.json()["active_until"] == "2027-03-31"
    assert admin_version(database) == version + 1  # active period is decision data

    assert admin.delete(f"/admin/staff/{s['id']}").status_code == 204
    assert_problem(admin.get(f"/admin/staff/{s['id']}"), 404, "id")
    with database.session() as db:
        actions = list(db.execute(select(AuditLog.action).where(AuditLog.entity == "staff")
                                  .order_by(AuditLog.id)).scalars())
        assert actions == ["staff.create", "staff.update", "staff.update", "staff.delete"]
        update = db.execute(select(AuditLog).where(AuditLog.action == "staff.update")
                            .order_by(AuditLog.id.desc())).scalars().first()
        assert update is not None and update.actor == "admin"
        assert update.before["active_until"] is None
        assert update.after["active_until"] == "2027-03-31"


def admin_version(database) -> int:  # type: ignore[no-untyped-def]
    with database.session() as s:
        return current(s)


def test_departments_crud(admin):
    d = department(admin)
    assert [x["code"] for x in admin.get("/admin/departments").json()["items"]] == ["somu"]
    r = admin.patch(f"/admin/departments/{d['id']}", json={"overtime_class": "high_external"})
    assert r.status_code == 200 and r.json()["overtime_class"] == "high_external"
    assert_problem(admin.post("/admin/departments", json={"code": "somu", "name": "x"}),
                   409, "code")
    s = staff(admin, d["id"])
    assert_problem(admin.delete(f"/admin/departments/{d['id']}"), 409, "id")
    assert admin.delete(f"/admin/staff/{s['id']}").status_code == 204
    assert admin.delete(f"/admin/departments/{d['id']}").status_code == 204
    assert admin.get("/admin/departments").json()["items"] == []


def test_validation_names_the_field(admin, database):
    dept = department(admin)
    base = {"staff_number": "T001", "name": "山田 太郎", "name_kana": "ヤマダ タロウ",
            "department_id": dept["id"], "active_from": "2020-04-01"}
    cases = [
        ({"staff_number": "T-001"}, "staff_number"),
        ({"staff_number": "A" * 21}, "staff_number"),
        ({"name_kana": "やまだ たろう"}, "name_kana"),
        ({"name_kana": "Yamada"}, "name_kana"),
        ({"employment_type": "contract"}, "employment_type"),
        ({"name": "   "}, "name"),
        ({"email": "not-an-address"}, "email"),
        ({"active_until": "2019-01-01"}, "active_until"),
        ({"surprise": 1}, "surprise"),
    ]
    for change, field in cases:
        body = assert_problem(admin.post("/admin/staff", json={**base, **change}), 422, field)
        assert body["errors"][0]["field"] == field
    assert_problem(admin.post("/admin/staff", json={**base, "department_id": 999}),
                   400, "department_id")
    missing = dict(base)
    del missing["name_kana"]
    assert_problem(admin.post("/admin/staff", json=missing), 422, "name_kana")
    assert_problem(admin.get("/admin/staff?limit=501"), 422, "limit")
    # Nothing was written by any of them.
    with database.session() as s:
        assert s.execute(select(func.count()).select_from(Staff)).scalar_one() == 0
        assert s.execute(select(func.count()).select_from(AuditLog)
                         .where(AuditLog.entity == "staff")).scalar_one() == 0
    staff(admin, dept["id"])
    assert_problem(admin.post("/admin/staff", json=base), 409, "staff_number")


def test_individual_number_is_never_stored(admin, database):
    dept = department(admin)
    twelve = "1" * 12  # made up at runtime; never a literal
    spaced = " ".join(["4" * 4] * 3)
    fullwidth = "２" * 12
    base = {"staff_number": "T001", "name": "山田 太郎", "name_kana": "ヤマダ タロウ",
            "department_id": dept["id"], "active_from": "2020-04-01"}
    for field, value in (("staff_number", twelve), ("name", f"山田 {twelve}"),
                         ("name", spaced), ("name", fullwidth), ("name_kana", twelve),
                         ("email", f"{twelve}@example.jp"), ("work_pattern", twelve)):
        body = assert_problem(admin.post("/admin/staff", json={**base, field: value}), 422,
                              field)
        assert "individual number" in body["detail"] and "never be stored" in body["detail"]
    s = staff(admin, dept["id"])
    assert_problem(admin.patch(f"/admin/staff/{s['id']}", json={"name": twelve}), 422, "name")
    assert_problem(admin.post("/admin/departments", json={"code": "x", "name": twelve}),
                   422, "name")
    # Not even as a search term (it would land in access logs).
    assert_problem(admin.get(f"/admin/staff?q={twelve}"), 422, "q")
    # 11 digits are not an individual number (a phone number, say) and are accepted.
    assert admin.patch(f"/admin/staff/{s['id']}",
                       json={"staff_number": "9" * 11}).status_code == 200
    with database.session() as db:
        for row in db.execute(select(Staff)).scalars():
            assert twelve not in repr(vars(row))
        for row in db.execute(select(AuditLog)).scalars():
            assert twelve not in repr((row.before, row.after))


def test_list_filters_and_offset_paging(admin):
    a = department(admin)
    b = department(admin, "zeimu", "税務課")
    for i in range(7):
        staff(admin, a["id"] if i % 2 else b["id"], number=f"T{i:03d}", name=f"職員 {i}",
              kana="ショクイン", employment_type="temporary" if i == 3 else "regular")
    page = admin.get("/admin/staff?limit=3").json()
    assert page["total"] == 7 and [x["staff_number"] for x in page["items"]] == [
        "T000", "T001", "T002"]
    page = admin.get("/admin/staff?limit=3&offset=6").json()
    assert [x["staff_number"] for x in page["items"]] == ["T006"]
    page = admin.get(f"/admin/staff?department_id={a['id']}").json()
    assert page["total"] == 3
    assert admin.get("/admin/staff?employment_type=temporary").json()["total"] == 1
    assert admin.get("/admin/staff?q=T00").json()["total"] == 7
    assert admin.get("/admin/staff?q=T005").json()["items"][0]["name"] == "職員 5"
    assert admin.get("/admin/staff?active_on=2019-01-01").json()["total"] == 0


def test_concurrent_duplicate_answers_409_not_500(admin, database):
    """Another session inserts the same department code after this request's check: the unique
    constraint fires at this request's flush and answers 409 naming ``code``."""
    import threading

    from api.models import Department

    other = database.session()
    other.add(Department(code="somu", name="総務課"))
    other.flush()  # holds the unique key until it commits
    result: dict[str, object] = {}

    def request() -> None:
        result["r"] = admin.post("/admin/departments", json={"code": "somu", "name": "x"})

    t = threading.Thread(target=request)
    t.start()
    pg = database.engine.dialect.name == "postgresql"
    if pg:
        _wait_until_blocked(database, "INSERT INTO department")
    else:
        t.join(0.5)
    other.commit()
    other.close()
    t.join(10)
    r = result["r"]
    if pg:  # blocked on the key, then the constraint fired at the flush
        assert "same time" in assert_problem(r, 409, "code")["detail"]
    else:
        assert r.status_code == 409  # SQLite: the writer lock serialises; the check sees it
    with database.session() as s:
        assert s.execute(select(func.count()).select_from(Department)).scalar_one() == 1
        assert s.execute(select(func.count()).select_from(AuditLog)).scalar_one() == 0


def _wait_until_blocked(database, query_start: str) -> None:  # type: ignore[no-untyped-def]
    import time

    from sqlalchemy import text

    deadline = time.monotonic() + 10
    with database.engine.connect() as conn:
        while time.monotonic() < deadline:
            waiting = conn.execute(text(
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                "AND datname = current_database() AND query LIKE :q"),
                {"q": query_start + "%"}).scalar_one()
            conn.rollback()
            if waiting:
                return
            time.sleep(0.02)
    raise AssertionError("the request never blocked on the lock")
