"""Enrollment and the signed-request check: replay, revoked, pending, unknown, bad signature
and skewed clock are all 401; a replay sent to another API process is caught by the DB."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi.testclient import TestClient
from sqlalchemy import func, select, update

from api.db import Database
from api.device_protocol import auth
from api.models import Device, DeviceNonce
from gate.signing import key_id, load_public_key, public_key_b64

from .signer import SignedDevice, enroll


def _pk() -> str:
    return public_key_b64(Ed25519PrivateKey.generate().public_key())


def test_enroll_returns_service_key_and_token_is_one_time(admin, app):
    created = admin.post("/admin/devices", json={"name": "r1"}).json()
    body = {"enrollment_token": created["enrollment_token"], "public_key": _pk()}
    r = admin.post("/device/v1/enroll", json=body)
    assert r.status_code == 200, r.text
    got = r.json()
    assert got["device_id"] == created["id"]
    service_pub = app.state.signing_key.public_key()
    assert got["service_public_key"] == public_key_b64(service_pub)
    assert got["service_key_id"] == key_id(service_pub)
    again = admin.post("/device/v1/enroll", json=body)
    assert again.status_code == 401 and again.json()["field"] == "enrollment_token"


def test_enroll_refuses_unknown_expired_and_bad_key(admin, database, now):
    assert admin.post("/device/v1/enroll", json={"enrollment_token": "x" * 43,
                                                 "public_key": _pk()}).status_code == 401
    created = admin.post("/admin/devices", json={"name": "r1"}).json()
    bad = admin.post("/device/v1/enroll", json={"enrollment_token": created["enrollment_token"],
                                                "public_key": "AAAA" * 11})
    assert bad.status_code == 400 and bad.json()["field"] == "public_key"
    with database.session() as s:
        s.execute(update(Device).values(
            enrollment_expires_at=now - timedelta(seconds=1)))
        s.commit()
    r = admin.post("/device/v1/enroll", json={"enrollment_token": created["enrollment_token"],
                                              "public_key": _pk()})
    assert r.status_code == 401 and "expired" in r.json()["detail"]


def test_replayed_request_is_rejected(admin):
    dev, _ = enroll(admin)
    assert dev.heartbeat().status_code == 200
    r = dev.replay()
    assert r.status_code == 401
    assert "replay" in r.json()["detail"]


def test_replay_to_another_api_process_is_caught_by_the_database(admin, settings, db_url):
    from api.app import create_app

    dev, _ = enroll(admin)
    assert dev.request("GET", "/snapshot").status_code == 200
    other_db = Database(db_url)  # a second process: its own app, engine and memory
    try:
        with TestClient(create_app(settings, db=other_db,
                                   lock_settings=admin.app.state.lock_settings)) as other:
            method, full, content, headers = dev.last  # type: ignore[misc]
            r = other.request(method, full, content=content, headers=headers)
            assert r.status_code == 401 and "replay" in r.json()["detail"]
    finally:
        other_db.dispose()


def test_revoked_device_is_rejected(admin):
    dev, _ = enroll(admin)
    assert dev.heartbeat().status_code == 200
    assert admin.post(f"/admin/devices/{dev.device_id}/revoke",
                      json={"reason": "lost"}).status_code == 200
    for r in (dev.heartbeat(), dev.request("GET", "/snapshot"), dev.post_events([])):
        assert r.status_code == 401
    assert "revoked" in dev.heartbeat().json()["detail"]


def test_pending_and_unknown_devices_are_rejected(admin):
    created = admin.post("/admin/devices", json={"name": "never-enrolled"}).json()
    pending = SignedDevice(admin, created["id"], Ed25519PrivateKey.generate())
    r = pending.heartbeat()
    assert r.status_code == 401 and "pending" in r.json()["detail"]
    unknown = SignedDevice(admin, str(uuid.uuid4()), Ed25519PrivateKey.generate())
    assert unknown.heartbeat().status_code == 401


def test_bad_signature_is_rejected(admin):
    dev, _ = enroll(admin)
    # Signed by another key.
    r = dev.request("GET", "/snapshot", key=Ed25519PrivateKey.generate())
    assert r.status_code == 401 and "signature" in r.json()["detail"]
    # A body changed after signing.
    dev.heartbeat()
    method, full, _content, headers = dev.last  # type: ignore[misc]
    headers = {**headers, "X-Mynagate-Nonce": "ab" * 16}
    r = admin.request(method, full, content=b'{"device_time":"2026-01-01T00:00:00Z"}',
                      headers=headers)
    assert r.status_code == 401
    # A query changed after signing.
    dev.request("GET", "/snapshot", params={"since": 1})
    method, full, content, headers = dev.last  # type: ignore[misc]
    r = admin.request(method, full.replace("since=1", "since=0"), content=content,
                      headers=headers)
    assert r.status_code == 401 and "signature" in r.json()["detail"]


def test_missing_or_malformed_headers_are_rejected(admin):
    dev, _ = enroll(admin)
    assert admin.get("/device/v1/snapshot").status_code == 401
    headers = dev.sign("GET", "/device/v1/snapshot", b"")
    for name, value in [("X-Mynagate-Nonce", "not-hex"), ("X-Mynagate-Timestamp", "soon"),
                        ("X-Mynagate-Signature", "%%%"), ("X-Mynagate-Device", "nope")]:
        r = admin.get("/device/v1/snapshot", headers={**headers, name: value})
        assert r.status_code == 401, name
        assert r.json()["field"] == name.lower()


def test_skewed_clock_is_rejected_with_server_time(admin, now):
    dev, _ = enroll(admin)
    r = dev.heartbeat(timestamp=int(now.timestamp()) - 301 - 5)
    assert r.status_code == 401
    body = r.json()
    server_time = datetime.fromisoformat(body["server_time"].replace("Z", "+00:00"))
    assert abs((server_time - now).total_seconds()) < 5
    assert dev.heartbeat(timestamp=int(now.timestamp()) + 400).status_code == 401
    # Within the window is fine.
    assert dev.heartbeat(timestamp=int(now.timestamp()) - 200).status_code == 200


def test_expired_nonces_are_purged(admin, database, monkeypatch, now):
    dev, _ = enroll(admin)
    assert dev.heartbeat().status_code == 200
    with database.session() as s:
        s.execute(update(DeviceNonce).values(expires_at=now - timedelta(1)))
        s.commit()
    monkeypatch.setattr(auth, "_last_purge", 0.0)
    assert dev.heartbeat().status_code == 200
    with database.session() as s:
        count = s.execute(select(func.count()).select_from(DeviceNonce)).scalar_one()
        row = s.execute(select(DeviceNonce)).scalar_one()
    assert count == 1  # the old one is gone, the new one kept until its window has passed
    assert row.expires_at > now + timedelta(seconds=300)


def test_public_key_registered_is_the_one_that_verifies(admin, database):
    dev, _ = enroll(admin)
    with database.session() as s:
        stored = s.get(Device, uuid.UUID(dev.device_id))
        assert stored is not None and stored.public_key is not None
        assert load_public_key(stored.public_key) is not None
        assert stored.public_key == public_key_b64(dev.key.public_key())


def test_racing_enrollments_with_one_token_have_one_winner(live_server, admin_token):
    import threading

    import httpx

    with httpx.Client(base_url=live_server.url, timeout=30,
                      headers={"Authorization": f"Bearer {admin_token}"}) as http:
        token = http.post("/admin/devices", json={"name": "race"}).json()["enrollment_token"]
    barrier = threading.Barrier(4)
    codes: list[int] = []

    def attempt() -> None:
        with httpx.Client(base_url=live_server.url, timeout=30) as own:
            barrier.wait()
            codes.append(own.post("/device/v1/enroll", json={
                "enrollment_token": token, "public_key": _pk()}).status_code)

    threads = [threading.Thread(target=attempt) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(codes) == [200, 401, 401, 401]
