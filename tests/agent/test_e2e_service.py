"""The agent against the real service over loopback HTTP (uvicorn + the test database), with
virtual staff cards presented through the real sim: driver and card sequence."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

import httpx
from cryptography.hazmat.primitives.asymmetric import ec

from gate.policy import Reason
from reader_agent.agent import AgentConfig, ReaderAgent
from reader_agent.cards.staff_ap import VirtualStaffCard

from .sim_cards import ISSUER, Presenter, new_card
from .town import add_credential, enroll_confirmed, seed_town, set_credential_status, stored_events


def refuse(request: httpx.Request) -> httpx.Response:
    raise httpx.ConnectError("connection refused", request=request)


def test_tap_upload_revoke_online_and_offline(live_server, admin, database, tmp_path: Path):  # type: ignore[no-untyped-def]
    town = seed_town(database)
    card = new_card()
    add_credential(database, town.staff_id, card.credential_ref, card.public_key)
    identity = enroll_confirmed(admin, tmp_path, live_server.url, [town.door_id])
    agent = ReaderAgent(tmp_path, AgentConfig("sim:e2e", town.door_id), wait_s=2,
                        upload_idle_s=0.05)
    present = Presenter(card, "e2e")
    try:
        agent.heartbeat.run_once()
        agent.watcher.sync()
        assert agent.cache.current is not None
        assert agent.cache.current.staff_name(town.staff_id) == "山田"
        agent.start()
        out = agent.tap(present)
        assert out.granted, out.reason
        assert out.events[0]["data"]["apdus"] == 4  # SELECT, SELECT EF, READ, INTERNAL AUTH

        # A clone: same credential id, another key. Denied (the enrolled key decides).
        clone = VirtualStaffCard(card.credential_id, ec.generate_private_key(ec.SECP256R1()),
                                 ISSUER)
        assert agent.tap(Presenter(clone, "e2e")).reason is Reason.CARD_AUTH_FAILED

        # Revocation reaches the running agent through the long-poll within 5 s.
        t0 = time.monotonic()
        set_credential_status(database, card.credential_ref, "revoked")
        while time.monotonic() - t0 < 5:
            cur = agent.cache.current
            if cur and cur.index.credential(card.credential_ref).status.value == "revoked":
                break
            time.sleep(0.01)
        took = time.monotonic() - t0
        assert took < 5, f"revocation took {took:.2f}s"
        assert agent.tap(present).reason is Reason.CREDENTIAL_REVOKED

        # The network goes: the revoked card stays denied offline, from the cached snapshot
        # — also after a restart, which re-verifies the file on disk.
        agent.client.set_transport(httpx.MockTransport(refuse))
        agent.connectivity.failed()
        off = agent.tap(present)
        assert off.reason is Reason.CREDENTIAL_REVOKED and off.events[0]["data"]["offline"]
        agent.client.set_transport(None)
        deadline = time.monotonic() + 10
        while agent.outbox.stats()["pending"] and time.monotonic() < deadline:
            agent.uploader.notify()
            time.sleep(0.02)
        assert agent.outbox.stats()["pending"] == 0
    finally:
        agent.close()
    print(f"\nrevocation reached the online agent in {took * 1000:.0f} ms")
    restarted = ReaderAgent(tmp_path, AgentConfig("sim:e2e", town.door_id),
                            transport=httpx.MockTransport(refuse))
    try:
        assert restarted.tap(present).reason is Reason.CREDENTIAL_REVOKED
    finally:
        restarted.close()
    stored = stored_events(database, identity.device_id)
    rows = [r for r in stored if r.seq > 0]
    assert [r.reason for r in rows] == ["granted", "card_auth_failed", "credential_revoked",
                                        "credential_revoked"]
    # The clone's failed authentication is an alarm about the credential, not 山田's tap.
    assert rows[1].staff_id is None
    alarms = [r for r in stored if r.seq < 0]
    assert [(a.data["alarm"], a.credential_ref) for a in alarms] == [
        ("credential_auth_failed", rows[1].credential_ref)]
    assert [r.seq for r in rows] == [1, 2, 3, 4]
    assert all(rows[i].prev_hash == rows[i - 1].hash for i in range(1, 4))
    dev = admin.get(f"/admin/devices/{identity.device_id}").json()
    assert dev["contiguous_seq"] == 4 and dev["last_heartbeat_at"] is not None


def test_clock_point_punches_reach_the_service(live_server, admin, database, tmp_path: Path):  # type: ignore[no-untyped-def]
    town = seed_town(database)
    card = new_card()
    add_credential(database, town.staff_id, card.credential_ref, card.public_key)
    identity = enroll_confirmed(admin, tmp_path, live_server.url, [town.clock_door_id])
    agent = ReaderAgent(tmp_path, AgentConfig("sim:clock", town.clock_door_id), wait_s=2)
    try:
        agent.watcher.sync()
        first = agent.tap(Presenter(card, "clock"))
        assert first.granted and "おはようございます 山田さん" in first.text and "出勤" in first.text
        again = agent.tap(Presenter(card, "clock"))
        assert again.text.startswith("打刻済みです")
        while agent.outbox.stats()["pending"]:
            agent.uploader.run_once()
    finally:
        agent.close()
    rows = stored_events(database, identity.device_id)
    punches = [r.data["punch"] for r in rows if r.kind == "clock_punch"]
    assert punches == ["in", "repeat"]
    assert all(r.staff_id == town.staff_id for r in rows)


def test_device_clock_skew_is_measured_and_alarmed(live_server, admin, database,  # type: ignore[no-untyped-def]
                                                    tmp_path: Path,
                                                    wall_clock: Callable[[], datetime]):
    town = seed_town(database)
    identity = enroll_confirmed(admin, tmp_path, live_server.url, [town.door_id])
    behind = timedelta(seconds=-40)  # the reader host's clock is 40 s slow
    agent = ReaderAgent(tmp_path, AgentConfig("sim:skew", town.door_id), wait_s=2,
                        device_clock=lambda: wall_clock() + behind)
    try:
        agent.heartbeat.run_once()
        assert abs(agent.client.clock_offset_ms - 40_000) < 1000
        assert agent.heartbeat.status.skew_alarm
        # The service saw the skew and recorded the alarm; the agent does not add a second.
        assert agent.outbox.all_events() == []
    finally:
        agent.close()
    rows = stored_events(database, identity.device_id)
    assert [(r.kind, r.data["alarm"]) for r in rows] == [("alarm", "clock_skew")]
    dev = admin.get(f"/admin/devices/{identity.device_id}").json()
    assert abs(dev["clock_offset_ms"] - 40_000) < 1000
