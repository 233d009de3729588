"""Heartbeat (clock offset, skew alarm, delivery watermark) and the online decision."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from sqlalchemy import select

from api.models import Credential, Device, Door, Event
from api.snapshot.versioning import bump

from .signer import enroll, iso, make_events


def _device(database, device_id: str) -> Device:
    with database.session() as s:
        d = s.get(Device, uuid.UUID(device_id))
        assert d is not None
        return d


def test_heartbeat_measures_offset_and_raises_skew_alarm_once(admin, database, now):
    dev, _ = enroll(admin)
    slow = now - timedelta(seconds=10)  # device clock 10 s behind
    r = dev.heartbeat(device_time=iso(slow)).json()
    assert 10_000 <= r["clock_offset_ms"] < 12_000
    assert r["skew_alarm"] is True and r["snapshot_version"] == 0
    server_time = datetime.fromisoformat(r["server_time"].replace("Z", "+00:00"))
    assert abs((server_time - now).total_seconds()) < 5
    r2 = dev.heartbeat(device_time=iso(slow)).json()
    assert r2["skew_alarm"] is True
    ok = dev.heartbeat().json()
    assert ok["skew_alarm"] is False and abs(ok["clock_offset_ms"]) < 2000
    with database.session() as s:
        alarms = list(s.execute(select(Event).where(Event.seq < 0)).scalars())
    assert [a.data["alarm"] for a in alarms] == ["clock_skew"]  # once, not per heartbeat
    assert alarms[0].data["offset_ms"] >= 10_000
    d = _device(database, dev.device_id)
    assert d.last_heartbeat_at is not None and d.clock_offset_ms == ok["clock_offset_ms"]


def test_watermark_moves_only_when_everything_is_delivered(admin, database, now):
    dev, _ = enroll(admin)
    t1 = now - timedelta(minutes=5)
    dev.heartbeat(device_time=iso(t1), outbox_pending=3, last_seq=3)
    assert _device(database, dev.device_id).delivered_through is None
    ev = make_events(3)
    dev.post_events([ev[0], ev[2]])  # seq 2 missing at the service
    dev.heartbeat(device_time=iso(t1), outbox_pending=0, last_seq=3)
    assert _device(database, dev.device_id).delivered_through is None
    dev.post_events([ev[1]])
    dev.heartbeat(device_time=iso(t1), outbox_pending=0, last_seq=3)
    assert _device(database, dev.device_id).delivered_through == \
        datetime.fromisoformat(iso(t1).replace("Z", "+00:00"))
    # Never backwards.
    dev.heartbeat(device_time=iso(t1 - timedelta(minutes=1)), outbox_pending=0, last_seq=3)
    assert _device(database, dev.device_id).delivered_through == \
        datetime.fromisoformat(iso(t1).replace("Z", "+00:00"))


def test_heartbeat_reports_current_snapshot_version(admin, database):
    dev, _ = enroll(admin)
    with database.session() as s:
        bump(s)
        bump(s)
        s.commit()
    assert dev.heartbeat().json()["snapshot_version"] == 2


def test_online_decision_from_the_database(admin, database, world):
    dev, _ = enroll(admin, door_ids=[world.archive.id, world.server.id])

    def decide(door_id: int, ref: str, pin: bool = False) -> dict:
        r = dev.request("POST", "/decide", {"door_id": door_id, "credential_ref": ref,
                                            "pin_verified": pin})
        assert r.status_code == 200, r.text
        return r.json()

    assert decide(world.archive.id, world.cred.credential_ref) == {"granted": True,
                                                                   "reason": "granted"}
    assert decide(world.server.id, world.cred.credential_ref)["reason"] == "no_permission"
    assert decide(world.archive.id, "ee" * 16)["reason"] == "unknown_credential"
    with database.session() as s:
        s.execute(select(Credential))  # noqa: B018
        cred = s.get(Credential, world.cred.id)
        assert cred is not None
        cred.status = "revoked"
        s.commit()
    assert decide(world.archive.id, world.cred.credential_ref) == {
        "granted": False, "reason": "credential_revoked"}
    with database.session() as s:
        door = s.get(Door, world.archive.id)
        assert door is not None
        door.lockdown = True
        s.commit()
    assert decide(world.archive.id, world.cred.credential_ref)["reason"] == "lockdown"
    # A door this device does not serve.
    r = dev.request("POST", "/decide", {"door_id": world.other.id,
                                        "credential_ref": world.cred.credential_ref})
    assert r.status_code == 403 and r.json()["field"] == "door_id"
