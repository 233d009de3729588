"""Finding 4 of issue 9: events are authorised by the device that sends them."""

from __future__ import annotations

from sqlalchemy import select

from api.models import Event
from gate.events import chain_hash
from tests.device_protocol.signer import World, enroll, make_events


def _chain(events: list[dict]) -> list[dict]:
    prev = None
    for i, e in enumerate(events, start=1):
        e["seq"], e["prev_hash"] = i, prev
        e["hash"] = chain_hash(e)
        prev = e["hash"]
    return events


def _rows(database, device_id: str) -> tuple[dict[int, Event], list[Event]]:  # type: ignore[no-untyped-def]
    with database.session() as s:
        rows = list(s.execute(select(Event).where(Event.device_id == device_id)
                              .order_by(Event.seq)).scalars())
    return {r.seq: r for r in rows if r.seq > 0}, [r for r in rows if r.seq < 0]


PUNCH = {"punch": "in", "business_date": "2026-11-27", "offline": False}


def test_an_event_for_a_door_bound_to_another_device_is_not_accepted_for_it(admin, database):
    world = World(database)
    enroll(admin, name="archive-reader", door_ids=[world.archive.id])
    rogue, _ = enroll(admin, name="rogue", door_ids=[world.server.id])
    ev = _chain(make_events(1, kind="tap", door_id=world.archive.id, granted=True,
                            reason="granted", credential_ref=world.cred.credential_ref,
                            staff_id=world.yamada.id, data={"auth": "staff_ap"})
                + make_events(1, kind="clock_punch", door_id=world.archive.id, granted=True,
                              reason="granted", credential_ref=world.cred.credential_ref,
                              staff_id=world.yamada.id, data=PUNCH))
    assert rogue.post_events(ev).status_code == 200
    rows, alarms = _rows(database, rogue.device_id)
    for r in rows.values():
        assert r.door_id is None and r.data["reported_door_id"] == world.archive.id
        assert r.staff_id is None  # nobody is credited at a door the device does not serve
    assert [a.data["alarm"] for a in alarms] == ["door_not_bound"]
    assert alarms[0].data["door_ids"] == [world.archive.id]
    listed = admin.get("/admin/events", params={"door_id": world.archive.id}).json()["items"]
    assert listed == []


def test_a_punch_naming_only_a_staff_id_is_not_credited(admin, database):
    world = World(database)
    dev, _ = enroll(admin, door_ids=[world.archive.id])
    ev = _chain(make_events(1, kind="clock_punch", door_id=world.archive.id, granted=True,
                            reason="granted", staff_id=world.sato.id, data=PUNCH)
                + make_events(1, kind="clock_punch", door_id=world.archive.id, granted=False,
                              reason="no_permission", credential_ref=world.cred.credential_ref,
                              staff_id=world.yamada.id, data=PUNCH)
                + make_events(1, kind="clock_punch", door_id=world.archive.id, granted=True,
                              reason="granted", credential_ref=world.cred.credential_ref,
                              staff_id=world.yamada.id, data=PUNCH))
    assert dev.post_events(ev).json()["accepted"] == 3
    rows, _ = _rows(database, dev.device_id)
    assert rows[1].staff_id is None and rows[1].data["reported_staff_id"] == world.sato.id
    assert rows[2].staff_id is None  # not granted: no punch
    assert rows[3].staff_id == world.yamada.id  # verified credential, granted: credited


def test_a_failed_card_authentication_is_an_alarm_about_the_credential(admin, database):
    world = World(database)
    dev, _ = enroll(admin, door_ids=[world.archive.id])
    # What the agent sends for a cloned card: the credential it claimed, no holder.
    ev = _chain(make_events(1, kind="tap", door_id=world.archive.id, granted=False,
                            reason="card_auth_failed", credential_ref=world.cred.credential_ref,
                            data={"auth": "staff_ap", "failure": "card_auth_failed"}))
    assert dev.post_events(ev).status_code == 200
    rows, alarms = _rows(database, dev.device_id)
    assert rows[1].staff_id is None
    assert [(a.data["alarm"], a.credential_ref, a.door_id) for a in alarms] == [
        ("credential_auth_failed", world.cred.credential_ref, world.archive.id)]
    assert alarms[0].data["event_id"] == ev[0]["id"]
    taps = admin.get("/admin/events", params={"staff_id": world.yamada.id}).json()["items"]
    assert taps == []
    about = admin.get("/admin/events", params={
        "credential_ref": world.cred.credential_ref, "kind": "alarm"}).json()["items"]
    assert len(about) == 1
