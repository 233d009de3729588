"""The agent against the real service over loopback HTTP (uvicorn + the test database)."""

from __future__ import annotations

import time
from pathlib import Path

from gate.events import verify_chain
from gate.policy import Reason
from reader_agent.agent import AgentConfig, ReaderAgent, enroll_agent

from .helpers import fake_card
from .town import add_credential, device_token, seed_town, set_credential_status, stored_events

REF = "ab" * 16


def test_enroll_sync_tap_upload_revoke(live_server, admin, database, tmp_path: Path):  # type: ignore[no-untyped-def]
    town = seed_town(database)
    add_credential(database, town.staff_id, REF, b"\x04" + b"\x02" * 64)
    token = device_token(admin, [town.door_id])
    identity = enroll_agent(tmp_path, live_server.url, token)
    agent = ReaderAgent(tmp_path, AgentConfig("sim:e2e", town.door_id), wait_s=2,
                        upload_idle_s=0.05)
    try:
        agent.heartbeat.run_once()
        agent.watcher.sync()
        assert agent.cache.current is not None
        assert agent.cache.current.staff_names[town.staff_id] == "山田"
        agent.start()
        out = agent.tap(fake_card(REF))
        assert out.granted, out.reason
        # Revocation reaches the running agent through the long-poll within 5 s.
        t0 = time.monotonic()
        set_credential_status(database, REF, "revoked")
        while time.monotonic() - t0 < 5:
            cur = agent.cache.current
            if cur and cur.credentials[REF].info.status.value == "revoked":
                break
            time.sleep(0.01)
        took = time.monotonic() - t0
        assert took < 5, f"revocation took {took:.2f}s"
        out2 = agent.tap(fake_card(REF))
        assert out2.reason is Reason.CREDENTIAL_REVOKED
        deadline = time.monotonic() + 10
        while agent.outbox.stats()["pending"] and time.monotonic() < deadline:
            time.sleep(0.02)
        assert agent.outbox.stats()["pending"] == 0
    finally:
        agent.close()
    rows = stored_events(database, identity.device_id)
    assert [r.seq for r in rows] == [1, 2]
    assert [r.reason for r in rows] == ["granted", "credential_revoked"]
    evs = [{"id": str(r.id), "seq": r.seq, "hash": r.hash, "prev_hash": r.prev_hash}
           for r in rows]
    assert evs[1]["prev_hash"] == evs[0]["hash"]
    assert verify_chain  # the service checks chains itself; see the device view below
    dev = admin.get(f"/admin/devices/{identity.device_id}").json()
    assert dev["contiguous_seq"] == 2 and dev["last_heartbeat_at"] is not None
