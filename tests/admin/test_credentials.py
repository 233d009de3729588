"""Admin credentials: enrolment from public key material, the status life cycle, at most one
active per kind (409 naming the field, also under a race), snapshot bumps and stamps, audit."""

from __future__ import annotations

import threading

from sqlalchemy import func, select

from api.credentials import service
from api.credentials.schemas import CredentialCreate
from api.errors import Conflict
from api.models import AuditLog, Credential
from api.snapshot.versioning import current

from .factories import assert_problem, department, jpki_body, staff, staff_ap_body


def _staff(admin):  # type: ignore[no-untyped-def]
    return staff(admin, department(admin)["id"])


def test_enrol_both_kinds_and_list(admin):
    s = _staff(admin)
    r = admin.post("/admin/credentials", json=staff_ap_body(s["id"]))
    assert r.status_code == 201, r.text
    ap = r.json()
    assert ap["status"] == "active" and ap["status_changed_at"] and ap["snapshot_version"] == 1
    r = admin.post("/admin/credentials", json=jpki_body(s["id"]))
    assert r.status_code == 201, r.text
    jp = r.json()
    assert jp["not_after"].startswith("2030-03-31T14:59:59")
    assert jp["snapshot_version"] == 2
    page = admin.get(f"/admin/credentials?staff_id={s['id']}").json()
    assert page["total"] == 2 and [c["id"] for c in page["items"]] == [ap["id"], jp["id"]]
    assert admin.get("/admin/credentials?kind=jpki_auth").json()["total"] == 1
    assert admin.get(f"/admin/credentials/{ap['id']}").json()["credential_ref"] == \
        ap["credential_ref"]
    assert_problem(admin.get("/admin/credentials/999"), 404, "id")


def test_second_active_of_a_kind_is_409_naming_kind(admin, database):
    s = _staff(admin)
    first = admin.post("/admin/credentials", json=staff_ap_body(s["id"])).json()
    body = assert_problem(admin.post("/admin/credentials", json=staff_ap_body(s["id"])), 409,
                          "kind")
    assert "active" in body["detail"]
    # The same card twice is a conflict on the card itself.
    again = {**staff_ap_body(s["id"]), "credential_ref": first["credential_ref"]}
    assert_problem(admin.post("/admin/credentials", json=again), 409, "credential_ref")
    # Once the first is marked lost, a replacement card can be enrolled.
    r = admin.post(f"/admin/credentials/{first['id']}/lost", json={"reason": "紛失届"})
    assert r.status_code == 200 and r.json()["status"] == "lost"
    second = admin.post("/admin/credentials", json=staff_ap_body(s["id"]))
    assert second.status_code == 201
    assert_problem(admin.delete(f"/admin/staff/{s['id']}"), 409, "id")
    with database.session() as db:
        assert db.execute(select(func.count()).select_from(Credential)
                          .where(Credential.status == "active")).scalar_one() == 1


def test_life_cycle_and_reactivation(admin):
    s = _staff(admin)
    c = admin.post("/admin/credentials", json=staff_ap_body(s["id"])).json()
    url = f"/admin/credentials/{c['id']}"
    r = admin.post(f"{url}/suspend", json={"reason": "カード置き忘れ"})
    assert r.status_code == 200
    assert r.json()["status"] == "suspended" and r.json()["status_reason"] == "カード置き忘れ"
    assert_problem(admin.post(f"{url}/suspend", json={"reason": "again"}), 409, "status")
    # While suspended a new card may be enrolled; then reactivation would make two active.
    other = admin.post("/admin/credentials", json=staff_ap_body(s["id"])).json()
    assert_problem(admin.post(f"{url}/reactivate", json={"reason": "見つかった"}), 409, "kind")
    admin.post(f"/admin/credentials/{other['id']}/revoke", json={"reason": "予備カード回収"})
    r = admin.post(f"{url}/reactivate", json={"reason": "見つかった"})
    assert r.status_code == 200 and r.json()["status"] == "active"
    assert r.json()["status_reason"] == "見つかった"
    assert admin.post(f"{url}/revoke", json={"reason": "退職"}).json()["status"] == "revoked"
    for action in ("suspend", "lost", "revoke", "reactivate"):
        assert_problem(admin.post(f"{url}/{action}", json={"reason": "x"}), 409, "status")
    assert_problem(admin.post(f"{url}/revoke", json={}), 422, "reason")
    assert_problem(admin.post(f"{url}/revoke", json={"reason": "1" * 12}), 422, "reason")


def test_revoke_bumps_snapshot_version_and_stamps_credential(admin, database):
    s = _staff(admin)
    c = admin.post("/admin/credentials", json=staff_ap_body(s["id"])).json()
    with database.session() as db:
        before = current(db)
    r = admin.post(f"/admin/credentials/{c['id']}/revoke", json={"reason": "紛失"})
    assert r.status_code == 200
    with database.session() as db:
        version = current(db)
        row = db.get(Credential, c["id"])
        audit = db.execute(select(AuditLog).where(AuditLog.action == "credential.revoke")
                           ).scalar_one()
    assert version == before + 1
    assert row is not None and row.snapshot_version == version == r.json()["snapshot_version"]
    assert row.status == "revoked" and row.status_reason == "紛失" and row.status_changed_at
    assert audit.entity_id == str(c["id"])
    assert audit.before["status"] == "active" and audit.after["status"] == "revoked"
    assert audit.after["snapshot_version"] == version


def test_key_material_is_checked_per_kind(admin, database):
    s = _staff(admin)
    ap = staff_ap_body(s["id"])
    assert_problem(admin.post("/admin/credentials", json={**ap, "credential_ref": "zz" * 16}),
                   400, "credential_ref")
    assert_problem(admin.post("/admin/credentials", json={**ap, "public_key": "not base64!"}),
                   400, "public_key")
    assert_problem(admin.post("/admin/credentials", json={**ap, "public_key": jpki_body(
        s["id"])["public_key"]}), 400, "public_key")
    no_issuer = dict(ap)
    del no_issuer["issuer_code"]
    assert_problem(admin.post("/admin/credentials", json=no_issuer), 400, "issuer_code")
    assert_problem(admin.post("/admin/credentials", json={**ap, "issuer_code": "12"}), 422,
                   "issuer_code")
    assert_problem(admin.post("/admin/credentials", json={**ap, "kind": "nfc_uid"}), 422,
                   "kind")
    assert_problem(admin.post("/admin/credentials", json={**ap, "staff_id": 999}), 400,
                   "staff_id")
    jp = jpki_body(s["id"])
    assert_problem(admin.post("/admin/credentials", json={**jp, "public_key": ap["public_key"]}),
                   400, "public_key")
    assert_problem(admin.post("/admin/credentials", json={**jp, "not_after": None}), 400,
                   "not_after")
    assert_problem(admin.post("/admin/credentials", json={**jp, "not_after":
                                                         "2020-03-31T00:00:00Z"}), 400,
                   "not_after")
    assert_problem(admin.post("/admin/credentials", json={**jp, "not_after":
                                                         "2030-03-31T00:00:00"}), 422,
                   "not_after")
    with database.session() as db:
        assert db.execute(select(func.count()).select_from(Credential)).scalar_one() == 0
        assert current(db) == 0


def test_concurrent_enrolment_leaves_one_active(admin, database):
    """Two sessions enrol a staff_ap card for the same person at once: one wins, the other
    gets the 409 naming ``kind`` (from the check under the staff lock, or from the index)."""
    s = _staff(admin)
    first = database.session()
    created = service.create(first, CredentialCreate(**staff_ap_body(s["id"])), actor="a")
    outcome: dict[str, object] = {}

    def other() -> None:
        with database.session() as second:
            try:
                service.create(second, CredentialCreate(**staff_ap_body(s["id"])), actor="b")
                second.commit()
                outcome["result"] = "created"
            except Conflict as err:
                second.rollback()
                outcome["result"] = err

    t = threading.Thread(target=other)
    t.start()
    t.join(0.5)  # the second waits on the first's lock (PostgreSQL) …
    first.commit()  # … until the first commits
    first.close()
    t.join(10)
    assert not t.is_alive()
    err = outcome["result"]
    assert isinstance(err, Conflict) and err.field == "kind", err
    with database.session() as db:
        rows = list(db.execute(select(Credential)).scalars())
    assert [r.id for r in rows] == [created.id] and rows[0].status == "active"


def test_integrity_error_maps_to_409_naming_the_field(database, admin):
    """The partial unique index itself (bypassing the service check) gives the same 409."""
    from sqlalchemy.exc import IntegrityError

    from api.credentials.service import _integrity_conflict

    s = _staff(admin)
    with database.session() as db:
        for _ in range(2):
            body = staff_ap_body(s["id"])
            db.add(Credential(staff_id=s["id"], kind="staff_ap",
                              credential_ref=body["credential_ref"],
                              public_key=body["public_key"], status="active"))
        try:
            db.flush()
        except IntegrityError as err:
            conflict = _integrity_conflict(err)
        else:
            raise AssertionError("the partial unique index did not fire")
    assert conflict.field == "kind"
