"""Admin device management: one-time enrollment tokens (only the hash stored), list, detail,
revoke, audit, clear 4xx naming the field."""

from __future__ import annotations

import hashlib
import uuid

from sqlalchemy import select

from api.models import AuditLog, Device

from .signer import enroll, make_events


def test_create_shows_token_once_and_stores_only_its_hash(admin, database, world):
    r = admin.post("/admin/devices", json={"name": "書庫-reader", "door_ids": [world.archive.id]})
    assert r.status_code == 201, r.text
    body = r.json()
    token = body["enrollment_token"]
    assert body["status"] == "pending" and body["door_ids"] == [world.archive.id]
    assert body["enrollment_expires_at"]
    with database.session() as s:
        dev = s.get(Device, uuid.UUID(body["id"]))
        assert dev is not None
        assert dev.enrollment_token_hash == hashlib.sha256(token.encode()).hexdigest()
        assert token not in repr([getattr(dev, c.key) for c in Device.__table__.columns])
    # Listing and detail never show a token.
    listed = admin.get("/admin/devices").json()
    assert [d["name"] for d in listed] == ["書庫-reader"]
    assert all("enrollment_token" not in d for d in listed)
    assert "enrollment_token" not in admin.get(f"/admin/devices/{body['id']}").json()


def test_bad_input_names_the_field(admin, world):
    r = admin.post("/admin/devices", json={"name": "x", "door_ids": [world.archive.id, 9999]})
    assert r.status_code == 400 and r.json()["field"] == "door_ids"
    r = admin.post("/admin/devices", json={"name": "x", "site_id": 9999})
    assert r.status_code == 400 and r.json()["field"] == "site_id"
    assert admin.post("/admin/devices", json={"name": "x"}).status_code == 201
    r = admin.post("/admin/devices", json={"name": "x"})
    assert r.status_code == 409 and r.json()["field"] == "name"
    r = admin.post("/admin/devices", json={"door_ids": []})
    assert r.status_code == 422 and "name" in r.json()["detail"]
    assert admin.get(f"/admin/devices/{uuid.uuid4()}").status_code == 404
    # Nothing half-written: only the one good device exists.
    assert [d["name"] for d in admin.get("/admin/devices").json()] == ["x"]


def test_admin_token_required(client):
    assert client.get("/admin/devices").status_code == 401
    assert client.post("/admin/devices", json={"name": "x"}).status_code == 401


def test_detail_shows_delivery_state_and_revoke_is_audited(admin, database, world):
    dev, _ = enroll(admin, door_ids=[world.archive.id])
    events = make_events(5)
    assert dev.post_events(events[:2] + events[3:]).status_code == 200  # seq 3 missing
    assert dev.heartbeat().status_code == 200
    d = admin.get(f"/admin/devices/{dev.device_id}").json()
    assert d["status"] == "active" and d["enrolled_at"]
    assert d["max_seq"] == 5 and d["contiguous_seq"] == 2
    assert d["open_gaps"] == [[3, 3]]
    assert d["last_heartbeat_at"] and d["clock_offset_ms"] is not None
    assert d["config_version"] == 1 and d["snapshot_version"] == 0

    r = admin.post(f"/admin/devices/{dev.device_id}/revoke", json={"reason": "盗難"})
    assert r.status_code == 200 and r.json()["status"] == "revoked" and r.json()["revoked_at"]
    assert admin.post(f"/admin/devices/{dev.device_id}/revoke",
                      json={"reason": "again"}).status_code == 409
    with database.session() as s:
        actions = list(s.execute(select(AuditLog.action).where(
            AuditLog.entity_id == dev.device_id).order_by(AuditLog.id)).scalars())
    assert actions == ["device.create", "device.enroll", "device.confirm", "device.revoke"]


def test_reissue_token_for_pending_device_only(admin):
    first = admin.post("/admin/devices", json={"name": "r"}).json()
    r = admin.post(f"/admin/devices/{first['id']}/enrollment-token")
    assert r.status_code == 201
    new_token = r.json()["enrollment_token"]
    assert new_token != first["enrollment_token"]
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from gate.signing import public_key_b64

    pk = public_key_b64(Ed25519PrivateKey.generate().public_key())
    old = admin.post("/device/v1/enroll", json={"enrollment_token": first["enrollment_token"],
                                                "public_key": pk})
    assert old.status_code == 401
    assert admin.post("/device/v1/enroll", json={"enrollment_token": new_token,
                                                 "public_key": pk}).status_code == 200
    assert admin.post(f"/admin/devices/{first['id']}/enrollment-token").status_code == 409


def test_an_enrolled_reader_waits_for_confirmation(admin, database, world):
    """Enrolled with its token, a reader is pending: its heartbeat is taken (the console shows
    what to confirm), its snapshot, decisions, configuration and events are refused until an
    admin confirms it; then they are served."""
    dev, _ = enroll(admin, door_ids=[world.archive.id], confirm=False)
    assert dev.heartbeat(outbox_pending=3).status_code == 200
    d = admin.get(f"/admin/devices/{dev.device_id}").json()
    assert d["status"] == "pending" and d["enrolled_at"] and d["confirmed_at"] is None
    assert d["last_heartbeat_at"] and d["outbox_pending"] == 3
    decide = {"door_id": world.archive.id, "credential_ref": "ab" * 16}
    refused = [dev.request("GET", "/snapshot"), dev.request("POST", "/decide", decide),
               dev.request("GET", "/config"), dev.post_events(make_events(1))]
    assert [r.status_code for r in refused] == [401] * 4
    assert "awaiting confirmation" in refused[0].json()["detail"]
    assert admin.post(f"/admin/devices/{dev.device_id}/enrollment-token").status_code == 409

    r = admin.post(f"/admin/devices/{dev.device_id}/confirm")
    assert r.status_code == 200 and r.json()["status"] == "active" and r.json()["confirmed_at"]
    assert admin.post(f"/admin/devices/{dev.device_id}/confirm").status_code == 409
    assert dev.request("GET", "/snapshot").status_code == 200
    assert dev.request("POST", "/decide", decide).status_code == 200
    assert dev.post_events(make_events(1)).status_code == 200
    with database.session() as s:
        row = s.get(Device, uuid.UUID(dev.device_id))
        assert row is not None and row.confirmed_by and row.status == "active"


def test_a_device_not_enrolled_cannot_be_confirmed(admin):
    made = admin.post("/admin/devices", json={"name": "r"}).json()
    r = admin.post(f"/admin/devices/{made['id']}/confirm")
    assert r.status_code == 409 and r.json()["field"] == "status"
    assert admin.get(f"/admin/devices/{made['id']}").json()["status"] == "pending"
