"""Compact snapshots (``compact=true``): full ones equal the per-request build, deltas carry
only what changed, and the shared table is read once per version however many ask."""

from __future__ import annotations

import threading
import uuid
from zoneinfo import ZoneInfo

from sqlalchemy import delete, update

from api.models import AccessGroupMember, Credential, Door
from api.snapshot.service import build_shared_payload
from api.snapshot.tables import TABLES
from api.snapshot.versioning import bump
from gate.policy import credential_digest

from .signer import enroll

SAME = ("version", "full", "doors", "permissions", "schedules", "closed_days", "credentials",
        "staff", "other_refs", "day_change", "timezone")


def _snapshot(dev, since=None, compact=True):  # type: ignore[no-untyped-def]
    params = {"since": since} if since is not None else {}
    if compact:
        params["compact"] = "true"
    r = dev.request("GET", "/snapshot", params=params)
    assert r.status_code == 200, r.text
    return r.json()["payload"]


def _revoke(database, cred_id):  # type: ignore[no-untyped-def]
    with database.session() as s:
        v = bump(s)
        s.execute(update(Credential).where(Credential.id == cred_id)
                  .values(status="revoked", status_reason="紛失", snapshot_version=v))
        s.commit()
    return v


def test_a_compact_full_snapshot_is_the_per_request_full_snapshot(admin, world):
    dev, _ = enroll(admin, door_ids=[world.archive.id, world.server.id])
    compact, legacy = _snapshot(dev), _snapshot(dev, compact=False)
    assert compact["full"] is True and "compact" not in compact
    assert {k: compact[k] for k in SAME} == {k: legacy[k] for k in SAME}
    assert [s["id"] for s in compact["staff"]] == [world.yamada.id]
    assert compact["other_refs"] == [credential_digest(world.sato_cred.credential_ref)]


def test_a_revocation_delta_carries_only_the_revoked_credential(admin, database, world):
    dev, _ = enroll(admin, door_ids=[world.archive.id])
    v0 = _snapshot(dev)["version"]
    same = _snapshot(dev, since=v0)
    assert same["compact"] is True and same["full"] is False and same["credentials"] == []
    v = _revoke(database, world.cred.id)
    delta = _snapshot(dev, since=v0)
    assert delta["version"] == v and delta["since"] == v0 and delta["compact"] is True
    assert [(c["ref"], c["status"]) for c in delta["credentials"]] == [
        (world.cred.credential_ref, "revoked")]
    assert delta["staff"] == delta["staff_removed"] == delta["credentials_removed"] == []
    assert delta["other_refs_added"] == delta["other_refs_removed"] == []
    assert delta["doors"] and delta["permissions"]  # the small lists stay complete


def test_leaving_the_group_removes_the_person_without_stamping(admin, database, world):
    dev, _ = enroll(admin, door_ids=[world.archive.id])
    v0 = _snapshot(dev)["version"]
    with database.session() as s:  # no credential row touched: the table diff still sees it
        s.execute(delete(AccessGroupMember).where(AccessGroupMember.staff_id == world.yamada.id))
        bump(s)
        s.commit()
    delta = _snapshot(dev, since=v0)
    assert delta["full"] is False and delta["staff_removed"] == [world.yamada.id]
    assert delta["credentials_removed"] == [world.cred.credential_ref]
    assert delta["other_refs_added"] == [credential_digest(world.cred.credential_ref)]
    assert delta["staff"] == delta["credentials"] == []


def test_a_version_this_process_did_not_serve_gets_a_full_snapshot(admin, database, world):
    dev, _ = enroll(admin, door_ids=[world.archive.id])
    v0 = _snapshot(dev, compact=False)["version"]  # served by the per-request build
    _revoke(database, world.cred.id)
    p = _snapshot(dev, since=v0)
    assert p["full"] is True and p["since"] is None and "compact" not in p
    assert _snapshot(dev, since=p["version"])["compact"] is True  # now it holds that one


def test_the_table_is_read_once_for_many_concurrent_devices(admin, database, world, now):
    devices = [uuid.UUID(enroll(admin, name=f"r{i}", door_ids=[world.archive.id])[0].device_id)
               for i in range(8)]
    tz = ZoneInfo("Asia/Tokyo")
    for d in devices:  # each device holds version v0
        with database.session() as s:
            v0 = build_shared_payload(s, device_id=d, since=None, now=now, tz=tz)["version"]
    _revoke(database, world.cred.id)
    before = TABLES.builds
    start = threading.Barrier(len(devices))
    got: list[dict] = []

    def fetch(device: uuid.UUID) -> None:
        with database.session() as s:
            start.wait()
            got.append(build_shared_payload(s, device_id=device, since=v0, now=now, tz=tz))

    threads = [threading.Thread(target=fetch, args=(d,)) for d in devices]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert TABLES.builds - before == 1
    assert len(got) == 8 and all(p["compact"] and len(p["credentials"]) == 1 for p in got)


def test_a_clock_point_lists_everyone_active_as_the_per_request_build_does(admin, database,
                                                                           world):
    dev, _ = enroll(admin, door_ids=[world.server.id])
    with database.session() as s:
        s.execute(update(Door).where(Door.id == world.server.id).values(mode="clock"))
        bump(s)
        s.commit()
    compact, legacy = _snapshot(dev), _snapshot(dev, compact=False)
    assert {k: compact[k] for k in SAME} == {k: legacy[k] for k in SAME}
    assert {**compact["overtime"], "as_of": None} == {**legacy["overtime"], "as_of": None}
    assert {s["id"] for s in compact["staff"]} == {world.yamada.id, world.sato.id}
    _revoke(database, world.sato_cred.id)  # 佐藤 holds no active card: no longer punches
    delta = _snapshot(dev, since=compact["version"])
    assert delta["compact"] is True and delta["staff_removed"] == [world.sato.id]
    assert delta["credentials_removed"] == [world.sato_cred.credential_ref]
