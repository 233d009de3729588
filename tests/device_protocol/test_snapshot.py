"""Snapshots: signed with the service key, scoped to the device's doors, full and delta."""

from __future__ import annotations

import copy
from datetime import date
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import update

from api.models import Credential, Door
from api.snapshot.versioning import bump
from gate.signing import SignatureError, load_public_key, verify_document

from .signer import enroll


def _snapshot(dev, since=None):  # type: ignore[no-untyped-def]
    r = dev.request("GET", "/snapshot", params={"since": since} if since is not None else None)
    assert r.status_code == 200, r.text
    return r.json()


def test_snapshot_signature_verifies_with_the_enrolled_service_key(admin, world):
    dev, enrolled = enroll(admin, door_ids=[world.archive.id])
    doc = _snapshot(dev)
    service_key = load_public_key(enrolled["service_public_key"])
    payload = verify_document(doc, service_key)
    assert doc["key_id"] == enrolled["service_key_id"]
    assert payload["device_id"] == dev.device_id and payload["full"] is True
    tampered = copy.deepcopy(doc)
    tampered["payload"]["credentials"][0]["status"] = "active"
    tampered["payload"]["doors"][0]["lockdown"] = True
    with pytest.raises(SignatureError):
        verify_document(tampered, service_key)


def test_full_snapshot_is_scoped_to_the_devices_doors(admin, world, now):
    dev, enrolled = enroll(admin, door_ids=[world.archive.id, world.server.id])
    p = _snapshot(dev)["payload"]
    assert p["format"] == 1 and p["timezone"] == "Asia/Tokyo" and p["since"] is None
    assert [d["code"] for d in p["doors"]] == ["shoko", "server"]
    # Only 山田's group has a permission on these doors; 佐藤 (休日通用口 only) is out of scope.
    assert [s["id"] for s in p["staff"]] == [world.yamada.id]
    assert p["staff"][0]["display_name"] == "山田"
    assert p["staff"][0]["group_ids"] == [world.group_id]
    assert [c["ref"] for c in p["credentials"]] == [world.cred.credential_ref]
    assert p["permissions"] == [{"group_id": world.group_id, "door_id": world.archive.id,
                                 "schedule_id": world.schedule_id}]
    assert [s["id"] for s in p["schedules"]] == [world.schedule_id]
    assert len(p["schedules"][0]["windows"]) == 7
    today = now.astimezone(ZoneInfo("Asia/Tokyo")).date()
    y = today.year if today < date(today.year, 12, 29) else today.year + 1  # the next 年末年始
    assert f"{y}-12-29" in p["closed_days"] and f"{y + 1}-01-03" in p["closed_days"]
    assert f"{y + 1}-01-01" in p["closed_days"]  # 元日 (national holiday and 年末年始)


def test_delta_contains_a_revocation_and_only_changes(admin, database, world):
    dev, _ = enroll(admin, door_ids=[world.archive.id])
    base = _snapshot(dev)["payload"]
    v0 = base["version"]
    delta = _snapshot(dev, since=v0)["payload"]
    assert delta["full"] is False and delta["since"] == v0 and delta["credentials"] == []
    # Revoke 山田's card (as the credentials service does: bump and stamp the row).
    with database.session() as s:
        v = bump(s)
        s.execute(update(Credential).where(Credential.id == world.cred.id)
                  .values(status="revoked", status_reason="紛失", snapshot_version=v))
        s.commit()
    delta = _snapshot(dev, since=v0)["payload"]
    assert delta["version"] == v and delta["full"] is False
    assert [(c["ref"], c["status"]) for c in delta["credentials"]] == [
        (world.cred.credential_ref, "revoked")]
    # The other lists are complete in a delta.
    assert delta["doors"] and delta["permissions"] and delta["schedules"] and delta["staff"]
    # Nothing changed since v.
    assert _snapshot(dev, since=v)["payload"]["credentials"] == []


def test_revocation_of_out_of_scope_credential_still_reaches_the_agent(admin, database, world):
    dev, _ = enroll(admin, door_ids=[world.archive.id])
    v0 = _snapshot(dev)["payload"]["version"]
    with database.session() as s:
        v = bump(s)
        s.execute(update(Credential).where(Credential.id == world.sato_cred.id)
                  .values(status="suspended", snapshot_version=v))
        s.commit()
    delta = _snapshot(dev, since=v0)["payload"]
    assert [(c["ref"], c["status"]) for c in delta["credentials"]] == [
        (world.sato_cred.credential_ref, "suspended")]


def test_since_from_the_future_gets_a_full_snapshot(admin, world, database):
    dev, _ = enroll(admin, door_ids=[world.archive.id])
    with database.session() as s:
        s.execute(update(Door).values(name="書庫(新)"))
        bump(s)
        s.commit()
    p = _snapshot(dev, since=99)["payload"]
    assert p["full"] is True and p["since"] is None and p["credentials"]
    assert p["doors"][0]["name"] == "書庫(新)"
    r = dev.request("GET", "/snapshot", params={"since": -1})
    assert r.status_code == 422


def test_adding_a_door_brings_its_staff_into_the_next_delta(admin, world):
    dev, _ = enroll(admin, door_ids=[world.archive.id])
    v0 = _snapshot(dev)["payload"]["version"]
    r = admin.put(f"/admin/devices/{dev.device_id}/doors",
                  json={"door_ids": [world.archive.id, world.other.id]})
    assert r.status_code == 200 and r.json()["door_ids"] == [world.archive.id, world.other.id]
    delta = _snapshot(dev, since=v0)["payload"]
    assert delta["version"] > v0 and delta["full"] is False
    assert {c["ref"] for c in delta["credentials"]} >= {world.sato_cred.credential_ref}
    assert {d["code"] for d in delta["doors"]} == {"shoko", "kyujitsu"}
    r = admin.put(f"/admin/devices/{dev.device_id}/doors", json={"door_ids": [777]})
    assert r.status_code == 400 and r.json()["field"] == "door_ids"
