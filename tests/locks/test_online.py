"""An online lock polling a real uvicorn: slots pushed and revoked at once, the slot limit and
"slots full", remote emergency unlock (admin only, audited), battery telemetry and alerts."""

from __future__ import annotations

import time
from datetime import datetime, timedelta

import httpx

from api.locks.secrets import lock_key
from api.models import AuditLog, LockAlert, SmartLock
from reader_agent.lock_emulator import OnlineLock

from .helpers import create_site, wire


def paid(admin, fid: int, start: datetime, hours: float = 1.0) -> int:  # type: ignore[no-untyped-def]
    r = admin.post("/api/v1/bookings", json={
        "facility_id": fid, "start_at": start.isoformat(),
        "end_at": (start + timedelta(hours=hours)).isoformat(), "booker_name": "佐藤 一郎",
        "booker_email": "ichiro@example.jp", "payment_status": "paid"})
    assert r.status_code == 201, r.text
    return int(r.json()["id"])


def test_online_lock_slots_cancel_limit_remote_unlock(admin, app, database, live_server, login_as,
                                                      tmp_path, now):
    ls = wire(app, tmp_path)
    fid, lock_pk = create_site(admin, kind="online", lock_id="aso-gym-01", slot_limit=2)
    with database.session() as s:
        key = lock_key(s, ls, s.get(SmartLock, lock_pk))
        s.commit()
    b1 = paid(admin, fid, now - timedelta(minutes=10))
    b2 = paid(admin, fid, now + timedelta(hours=2))
    with httpx.Client(base_url=live_server.url, timeout=10) as http:
        lock = OnlineLock("aso-gym-01", key, http, now=time.time, slot_limit=2, battery=80.0,
                          state_path=tmp_path / "online.json")
        answer = lock.poll()
        assert len(lock.slots) == 2 and not answer["slots_full"]
        pins = {p["lock_id"]: p["pin"] for p in admin.get(f"/api/v1/bookings/{b1}/pins").json()}
        pin1 = pins["aso-gym-01"]
        pin2 = admin.get(f"/api/v1/bookings/{b2}/pins").json()[0]["pin"]
        assert lock.enter(pin1).opened  # inside its slot
        assert not lock.enter(pin2).opened  # pushed, but its slot is two hours away
        # power cut: slots and the throttle come back from flash
        for _ in range(6):
            lock.enter("0000000000")
        assert lock.enter(pin1).reason == "wait"
        lock = OnlineLock("aso-gym-01", key, http, now=time.time, slot_limit=2, battery=80.0,
                          state_path=tmp_path / "online.json")
        assert len(lock.slots) == 2 and lock.enter(pin1).reason == "wait"
        lock.throttle = type(lock.throttle)()  # (staff reset for the rest of this test)
        # cancel: gone at the next poll
        admin.post(f"/api/v1/bookings/{b1}/cancel")
        lock.poll()
        assert not lock.enter(pin1).opened
        # slot limit 2: a third and a fourth booking → one waits, "slots full" alerted
        paid(admin, fid, now + timedelta(hours=4))
        paid(admin, fid, now + timedelta(hours=6))
        answer = lock.poll()
        assert answer["slots_full"] and len(lock.slots) == 2
        # remote emergency unlock: admin only, reason required, audited with the actor
        assert httpx.post(f"{live_server.url}/api/v1/locks/{lock_pk}/remote-unlock",
                          json={"reason": "閉じ込め"}).status_code == 401
        r = login_as("suzuki", "security").post(f"/api/v1/locks/{lock_pk}/remote-unlock",
                                                json={"reason": "閉じ込め"})
        assert r.status_code == 202, r.text
        answer = lock.poll()
        assert [c["kind"] for c in answer["commands"]] == ["unlock"]
        assert lock.poll()["commands"] == []  # delivered once
        lock.battery = 15.0
        lock.door(True)
        lock.poll()
        # a forged poll is refused
        bad = httpx.post(f"{live_server.url}/api/v1/locks/aso-gym-01/poll", content=b"{}",
                         headers={"X-Lock-Timestamp": str(int(now.timestamp())),
                                  "X-Lock-Signature": "00" * 32})
        assert bad.status_code == 401
    with database.session() as s:
        a = s.query(AuditLog).filter_by(action="lock.remote_unlock").one()
        assert a.actor == "suzuki" and a.after["reason"] == "閉じ込め"
        kinds = {x.kind for x in s.query(LockAlert).all()}
    assert {"slots_full", "low_battery"} <= kinds
    st = admin.get(f"/api/v1/locks/{lock_pk}").json()
    assert st["battery_percent"] == 15.0 and st["low_battery"] and st["slots_full"]
    assert st["log_seq"] >= 4  # open_pin, wrong codes, open_remote, door_open uploaded
