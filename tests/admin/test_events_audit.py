"""Admin event search (filters, keyset paging in both orders) and audit log search."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from api.models import Department, Device, Door, Event, Site, Staff

from .factories import assert_problem, department

T0 = datetime(2026, 11, 2, 8, 30, tzinfo=UTC)


def _world(database):  # type: ignore[no-untyped-def]
    """Two devices, two doors, two staff, 30 events (some sharing a timestamp)."""
    with database.session() as s:
        site = Site(code="honcho", name="本庁舎")
        dept = Department(code="somu", name="総務課")
        s.add_all([site, dept])
        s.flush()
        doors = [Door(site_id=site.id, code="shoko", name="書庫"),
                 Door(site_id=site.id, code="server", name="サーバ室")]
        people = [Staff(staff_number="T001", name="山田 太郎", name_kana="ヤマダ タロウ",
                        department_id=dept.id, active_from=T0.date()),
                  Staff(staff_number="T002", name="佐藤 花子", name_kana="サトウ ハナコ",
                        department_id=dept.id, active_from=T0.date())]
        devices = [Device(id=uuid.uuid4(), name="r1", status="active"),
                   Device(id=uuid.uuid4(), name="r2", status="active")]
        s.add_all(doors + people + devices)
        s.flush()
        events = []
        for i in range(30):
            dev = devices[i % 2]
            granted = i % 3 != 0
            events.append(Event(
                id=uuid.uuid4(), device_id=dev.id, seq=i // 2 + 1,
                kind="clock_punch" if i % 5 == 4 else "tap",
                # pairs of events share a device time, so the id breaks the tie
                occurred_at=T0 + timedelta(minutes=i // 2), received_at=T0 + timedelta(hours=1),
                door_id=doors[i % 2].id, staff_id=people[(i // 3) % 2].id,
                credential_ref=f"{i:032x}", granted=granted,
                reason="granted" if granted else "no_permission", data={"i": i}))
        s.add_all(events)
        s.commit()
        return {"devices": [d.id for d in devices], "doors": [d.id for d in doors],
                "staff": [p.id for p in people], "events": events}


def _all_pages(admin, query: str, limit: int) -> list[dict]:  # type: ignore[no-untyped-def]
    items: list[dict] = []
    cursor = None
    for _ in range(100):
        url = f"/admin/events?limit={limit}{query}" + (f"&cursor={cursor}" if cursor else "")
        r = admin.get(url)
        assert r.status_code == 200, r.text
        page = r.json()
        assert len(page["items"]) <= limit
        items += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            return items
    raise AssertionError("paging did not end")


def test_keyset_paging_visits_every_event_once_in_order(admin, database):
    w = _world(database)
    expected = sorted(w["events"], key=lambda e: (e.occurred_at, str(e.id)))
    asc = _all_pages(admin, "&order=asc", 7)
    assert [e["id"] for e in asc] == [str(e.id) for e in expected]
    desc = _all_pages(admin, "", 4)
    assert [e["id"] for e in desc] == [str(e.id) for e in reversed(expected)]
    first = admin.get("/admin/events?limit=30").json()
    assert len(first["items"]) == 30 and first["next_cursor"] is None
    e = first["items"][-1]
    assert datetime.fromisoformat(e["occurred_at"]) == T0 and e["data"] in ({"i": 0}, {"i": 1})
    assert e["seq"] == 1 and e["received_at"]


def test_filters(admin, database):
    w = _world(database)
    ev = w["events"]

    def ids(query: str) -> set[str]:
        return {e["id"] for e in _all_pages(admin, query, 500)}

    def want(pred) -> set[str]:  # type: ignore[no-untyped-def]
        return {str(e.id) for e in ev if pred(e)}

    dev = w["devices"][1]
    assert ids(f"&device_id={dev}") == want(lambda e: e.device_id == dev)
    assert ids(f"&door_id={w['doors'][0]}") == want(lambda e: e.door_id == w["doors"][0])
    assert ids(f"&staff_id={w['staff'][1]}") == want(lambda e: e.staff_id == w["staff"][1])
    assert ids("&kind=clock_punch") == want(lambda e: e.kind == "clock_punch")
    assert ids("&granted=false") == want(lambda e: not e.granted)
    assert ids("&reason=no_permission&kind=tap") == want(
        lambda e: e.reason == "no_permission" and e.kind == "tap")
    assert ids(f"&credential_ref={ev[7].credential_ref}") == {str(ev[7].id)}
    start, end = T0 + timedelta(minutes=3), T0 + timedelta(minutes=6)
    q = f"&from={start.isoformat().replace('+', '%2B')}&to={end.isoformat().replace('+', '%2B')}"
    got = ids(q)
    assert got == want(lambda e: start <= e.occurred_at < end) and len(got) == 6
    # Filters and paging together.
    paged = _all_pages(admin, f"&granted=true&device_id={dev}", 3)
    assert {e["id"] for e in paged} == want(lambda e: e.granted and e.device_id == dev)
    assert len(paged) == len({e["id"] for e in paged})


def test_event_query_errors_name_the_field(admin, database):
    _world(database)
    assert_problem(admin.get("/admin/events?kind=teleport"), 422, "kind")
    assert_problem(admin.get("/admin/events?reason=because"), 422, "reason")
    assert_problem(admin.get("/admin/events?device_id=nope"), 422, "device_id")
    assert_problem(admin.get("/admin/events?from=2026-11-02T08:00:00"), 422, "from")
    assert_problem(admin.get("/admin/events?limit=0"), 422, "limit")
    assert_problem(admin.get("/admin/events?limit=501"), 422, "limit")
    assert_problem(admin.get("/admin/events?cursor=garbage!!"), 400, "cursor")
    cursor = admin.get("/admin/events?limit=2").json()["next_cursor"]
    assert_problem(admin.get(f"/admin/events?order=asc&cursor={cursor}"), 400, "cursor")
    assert_problem(admin.get("/admin/events?from=2026-11-02T09:00:00Z"
                             "&to=2026-11-02T08:00:00Z"), 400, "to")


def test_audit_search_with_filters_and_paging(admin, login_as):
    for i in range(5):
        department(admin, code=f"d{i}", name=f"課{i}")
    d0 = admin.get("/admin/departments").json()["items"][0]
    login_as("suzuki", "hr").patch(f"/admin/departments/{d0['id']}", json={"name": "総務課"})
    page = admin.get("/admin/audit?limit=2").json()
    assert [r["action"] for r in page["items"]] == ["department.update", "department.create"]
    assert page["items"][0]["actor"] == "suzuki"
    assert page["items"][0]["before"]["name"] == "課0"
    assert page["items"][0]["after"]["name"] == "総務課"
    seen = [r["id"] for r in page["items"]]
    cursor = page["next_cursor"]
    while cursor:
        page = admin.get(f"/admin/audit?limit=2&cursor={cursor}").json()
        seen += [r["id"] for r in page["items"]]
        cursor = page["next_cursor"]
    assert seen == sorted(seen, reverse=True) and len(seen) == 6
    assert [r["actor"] for r in admin.get("/admin/audit?by=suzuki").json()["items"]] == [
        "suzuki"]
    assert len(admin.get("/admin/audit?action=department.create").json()["items"]) == 5
    one = admin.get(f"/admin/audit?entity=department&entity_id={d0['id']}").json()["items"]
    assert [r["action"] for r in one] == ["department.update", "department.create"]
    assert admin.get("/admin/audit?from=2999-01-01T00:00:00Z").json()["items"] == []
    assert_problem(admin.get("/admin/audit?cursor=e30"), 400, "cursor")


def test_rows_with_history_cannot_be_deleted(admin, database):
    w = _world(database)
    door_id, staff_id = w["doors"][0], w["staff"][0]
    assert_problem(admin.delete(f"/admin/doors/{door_id}"), 409, "id")
    assert_problem(admin.delete(f"/admin/staff/{staff_id}"), 409, "id")
    assert admin.get(f"/admin/doors/{door_id}").status_code == 200
    assert admin.get(f"/admin/staff/{staff_id}").status_code == 200
    assert admin.get("/admin/audit").json()["items"] == []
