"""POST /device/v1/events: idempotency, gaps, the hash chain, staff attribution, races."""

from __future__ import annotations

import threading
import uuid
from datetime import datetime

import httpx
from sqlalchemy import func, select

from api.events.ingest import IncomingEvent, ingest
from api.models import Device, Event, SequenceGap
from gate.events import chain_hash

from .signer import enroll, make_events


def _count(database, device_id: str, positive_only: bool = True) -> int:
    with database.session() as s:
        q = select(func.count()).select_from(Event).where(
            Event.device_id == uuid.UUID(device_id))
        if positive_only:
            q = q.where(Event.seq > 0)
        return int(s.execute(q).scalar_one())


def _service_alarms(database, device_id: str) -> list[Event]:
    with database.session() as s:
        return list(s.execute(select(Event).where(
            Event.device_id == uuid.UUID(device_id), Event.seq < 0).order_by(Event.seq.desc()))
            .scalars())


def test_same_batch_three_times_stores_one_copy(admin, database, world):
    dev, _ = enroll(admin, door_ids=[world.archive.id])
    batch = make_events(10)
    replies = [dev.post_events(batch).json() for _ in range(3)]
    assert replies[0] == {"accepted": 10, "duplicates": 0, "acked_through_seq": 10,
                          "gaps": [], "chain_ok": True}
    for r in replies[1:]:
        assert r == {"accepted": 0, "duplicates": 10, "acked_through_seq": 10, "gaps": [],
                     "chain_ok": True}
    assert _count(database, dev.device_id) == 10
    with database.session() as s:
        stored = {str(i) for i in s.execute(select(Event.id)).scalars()}
    assert stored == {e["id"] for e in batch}


def test_same_seq_under_a_new_id_is_not_stored_twice_and_flags_the_chain(admin, database):
    dev, _ = enroll(admin)
    batch = make_events(3)
    assert dev.post_events(batch).json()["accepted"] == 3
    forged = make_events(1, start_seq=2, prev_hash=batch[0]["hash"], kind="tap")
    r = dev.post_events(forged).json()
    assert r["accepted"] == 0 and r["duplicates"] == 1 and r["chain_ok"] is False
    assert _count(database, dev.device_id) == 3
    alarms = _service_alarms(database, dev.device_id)
    assert alarms[0].data["alarm"] == "chain_broken"
    assert alarms[0].data["problems"] == [{"seq": 2, "problem": "seq_reused"}]


def test_gaps_are_recorded_then_closed(admin, database):
    dev, _ = enroll(admin)
    ev = make_events(10)
    r = dev.post_events(ev[0:2] + ev[4:5] + ev[7:8]).json()  # 1,2,5,8 → gaps 3-4, 6-7
    assert r["acked_through_seq"] == 2 and r["gaps"] == [[3, 4], [6, 7]]
    assert r["chain_ok"] is True
    r = dev.post_events(ev[3:4]).json()  # 4 arrives: 3-4 shrinks to 3
    assert r["gaps"] == [[3, 3], [6, 7]] and r["acked_through_seq"] == 2
    r = dev.post_events(ev[2:3] + ev[5:7]).json()  # 3, 6, 7 arrive
    assert r["gaps"] == [] and r["acked_through_seq"] == 8 and r["chain_ok"] is True
    r = dev.post_events(ev[8:]).json()
    assert r["acked_through_seq"] == 10
    with database.session() as s:
        rows = list(s.execute(select(SequenceGap).order_by(SequenceGap.id)).scalars())
        device = s.get(Device, uuid.UUID(dev.device_id))
    assert rows and all(g.closed_at is not None for g in rows)
    assert {(g.first_seq, g.last_seq) for g in rows} >= {(3, 4), (6, 7), (3, 3)}
    # The split row keeps the time the gap was first seen.
    first = next(g for g in rows if (g.first_seq, g.last_seq) == (3, 4))
    split = next(g for g in rows if (g.first_seq, g.last_seq) == (3, 3))
    assert split.detected_at == first.detected_at
    assert device is not None and device.max_seq == 10 and device.contiguous_seq == 10
    assert device.last_event_hash == ev[-1]["hash"]
    assert admin.get(f"/admin/devices/{dev.device_id}").json()["open_gaps"] == []


def test_chain_break_is_detected_and_events_still_stored(admin, database):
    dev, _ = enroll(admin)
    ev = make_events(6)
    assert dev.post_events(ev[:3]).json()["chain_ok"] is True
    # The device deleted event 4 and re-chained 5 onto 3: 5's prev_hash is not 4's hash.
    ev5 = dict(ev[4])
    ev5["prev_hash"] = ev[2]["hash"]
    ev5["hash"] = chain_hash(ev5)
    r = dev.post_events([ev5]).json()
    assert r["gaps"] == [[4, 4]]
    r = dev.post_events([ev[3]]).json()  # the real 4 shows up: 5 does not follow it
    assert r["chain_ok"] is False
    alarms = _service_alarms(database, dev.device_id)
    assert alarms[0].kind == "alarm" and alarms[0].data["alarm"] == "chain_broken"
    assert alarms[0].data["seqs"] == [5]
    # An edited event (content no longer matches its hash).
    edited = dict(ev[5])
    edited["prev_hash"] = ev5["hash"]
    edited["data"] = {"state": "open"}
    r = dev.post_events([edited]).json()
    assert r["chain_ok"] is False and r["accepted"] == 1
    assert _count(database, dev.device_id) == 6
    assert len(_service_alarms(database, dev.device_id)) == 2


def test_first_event_must_start_the_chain(admin):
    dev, _ = enroll(admin)
    ev = make_events(1, prev_hash="00" * 32)
    assert dev.post_events(ev).json()["chain_ok"] is False


def test_staff_comes_from_the_enrolled_credential(admin, database, world):
    dev, _ = enroll(admin, door_ids=[world.archive.id])
    ev = make_events(4, kind="tap", door_id=world.archive.id, granted=True, reason="granted")
    ev[0].update(credential_ref=world.cred.credential_ref, staff_id=world.yamada.id)  # true
    ev[1].update(credential_ref=world.cred.credential_ref, staff_id=world.sato.id)  # a lie
    ev[2].update(credential_ref="ff" * 16, staff_id=world.yamada.id)  # unknown card
    ev[3].update(door_id=424242)  # a door the service does not know
    prev = None
    for e in ev:
        e["prev_hash"] = prev
        e["hash"] = chain_hash(e)
        prev = e["hash"]
    r = dev.post_events(ev).json()
    assert r["accepted"] == 4 and r["chain_ok"] is True
    with database.session() as s:
        rows = {e.seq: e for e in s.execute(select(Event).where(Event.seq > 0)).scalars()}
    assert rows[1].staff_id == world.yamada.id
    # The event names another holder than the credential's: not verified, nobody credited.
    assert rows[2].staff_id is None and rows[2].data["reported_staff_id"] == world.sato.id
    assert rows[3].staff_id is None
    assert rows[4].door_id is None and rows[4].data["reported_door_id"] == 424242
    assert rows[1].door_id == world.archive.id and rows[1].granted is True
    assert rows[1].reason == "granted" and rows[1].credential_ref == world.cred.credential_ref


def test_malformed_events_are_refused_naming_the_field(admin, database):
    dev, _ = enroll(admin)
    ev = make_events(2)
    ev[1]["seq"] = 0
    r = dev.post_events(ev)
    assert r.status_code == 422 and r.json()["field"] == "events[1].seq"
    ev = make_events(1)
    ev[0]["occurred_at"] = "2026-11-27T06:00:00"  # no zone
    r = dev.post_events(ev)
    assert r.status_code == 422 and "occurred_at" in r.json()["detail"]
    assert _count(database, dev.device_id, positive_only=False) == 0


def test_concurrent_overlapping_batches_store_each_event_once(live_server, database, world,
                                                             admin_token):
    """Two uploaders of one device race with overlapping batches through a real server."""
    with httpx.Client(base_url=live_server.url, timeout=30,
                      headers={"Authorization": f"Bearer {admin_token}"}) as http:
        dev, _ = enroll(http, door_ids=[world.archive.id])
        ev = make_events(300)
        batches_a = [ev[i:i + 40] for i in range(0, 300, 20)]  # overlapping windows
        batches_b = [ev[i:i + 30] for i in range(290, -1, -15)]  # from the other end
        errors: list[str] = []
        barrier = threading.Barrier(2)

        def upload(batches):  # type: ignore[no-untyped-def]
            barrier.wait()
            with httpx.Client(base_url=live_server.url, timeout=60) as own:
                me = type(dev)(own, dev.device_id, dev.key)
                for b in batches:
                    r = me.post_events(b)
                    if r.status_code != 200:
                        errors.append(r.text)

        threads = [threading.Thread(target=upload, args=(b,)) for b in (batches_a, batches_b)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        assert errors == []
        final = dev.post_events(ev[:10]).json()
    assert final["acked_through_seq"] == 300 and final["gaps"] == []
    assert final["chain_ok"] is True
    with database.session() as s:
        seqs = list(s.execute(select(Event.seq).where(Event.seq > 0).order_by(Event.seq))
                    .scalars())
        device = s.get(Device, uuid.UUID(dev.device_id))
        alarms = s.execute(select(func.count()).select_from(Event).where(Event.seq < 0)) \
            .scalar_one()
    assert seqs == list(range(1, 301))
    assert device is not None and device.max_seq == 300 and device.contiguous_seq == 300
    assert alarms == 0


def test_two_sessions_racing_on_ingest_serialize_on_the_device_row(admin, database, now):
    """polar-style: two sessions ingest overlapping batches at once; the row lock orders them."""
    dev, _ = enroll(admin)
    raw = make_events(50)
    events = [IncomingEvent(
        id=uuid.UUID(e["id"]), seq=e["seq"], kind=e["kind"],
        occurred_at=datetime.fromisoformat(e["occurred_at"].replace("Z", "+00:00")),
        clock_offset_ms=0, door_id=None, credential_ref=None, staff_id=None, granted=None,
        reason=None, data=e["data"], prev_hash=e["prev_hash"], hash=e["hash"], raw=e)
        for e in raw]
    barrier = threading.Barrier(2)
    results = []
    failures: list[BaseException] = []

    def run(part):  # type: ignore[no-untyped-def]
        try:
            with database.session() as s:
                barrier.wait()
                res = ingest(s, device_id=uuid.UUID(dev.device_id), events=part,
                             now=now)
                s.commit()
                results.append(res)
        except BaseException as err:  # noqa: BLE001 - reported below
            failures.append(err)

    threads = [threading.Thread(target=run, args=(p,)) for p in (events[:35], events[15:])]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert failures == []
    assert sum(r.accepted for r in results) == 50
    assert sum(r.duplicates for r in results) == 20
    assert all(r.chain_ok for r in results)
    assert _count(database, dev.device_id) == 50
    with database.session() as s:
        device = s.get(Device, uuid.UUID(dev.device_id))
        open_gaps = s.execute(select(func.count()).select_from(SequenceGap).where(
            SequenceGap.closed_at.is_(None))).scalar_one()
    assert device is not None and device.contiguous_seq == 50 and device.max_seq == 50
    assert open_gaps == 0
