"""Uploader, heartbeat and snapshot watcher against the in-memory stand-in service."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from gate.events import verify_chain
from gate.policy import Reason
from reader_agent.agent import AgentConfig, ReaderAgent, enroll_agent
from reader_agent.client import ServiceUnavailable

from .fake_service import FakeService
from .helpers import cred, fake_card

REF = "aa" * 16


@pytest.fixture
def svc() -> FakeService:
    s = FakeService()
    s.set_credential(cred(REF))
    return s


def agent_for(svc: FakeService, tmp_path: Path, **kw) -> ReaderAgent:  # type: ignore[no-untyped-def]
    enroll_agent(tmp_path, "http://svc", svc.new_token(), transport=svc.transport())
    a = ReaderAgent(tmp_path, AgentConfig("sim:t", 1), transport=svc.transport(), **kw)
    a.watcher.sync()
    return a


def test_upload_marks_only_what_the_service_stored(svc: FakeService, tmp_path: Path):
    a = agent_for(svc, tmp_path)
    for _ in range(3):
        assert a.tap(fake_card(REF)).granted
    svc.drop_reply_after_store = 1  # stored, but the reply is lost
    with pytest.raises(ServiceUnavailable):
        a.uploader.run_once()
    assert a.outbox.stats()["pending"] == 3  # not marked: we never heard the ack
    a.uploader.run_once()  # resend: the service sees duplicates, stores nothing twice
    assert a.outbox.stats()["pending"] == 0
    assert len(svc.events) == 3 and svc.posts == 2
    a.close()


def test_service_down_then_back(svc: FakeService, tmp_path: Path):
    a = agent_for(svc, tmp_path)
    svc.down = True
    outcomes = [a.tap(fake_card(REF)) for _ in range(1200)]
    assert all(o.granted for o in outcomes)  # decided from the cached snapshot
    with pytest.raises(ServiceUnavailable):
        a.uploader.run_once()
    svc.down = False
    while a.outbox.stats()["pending"]:
        a.uploader.run_once()
    assert svc.posts == 3  # 500 + 500 + 200
    stored = sorted(svc.events.values(), key=lambda e: e["seq"])
    assert [e["seq"] for e in stored] == list(range(1, 1201))
    assert verify_chain(stored, None) is None
    a.close()


def test_backoff_grows_and_is_capped():
    from reader_agent.uploader import Backoff

    b = Backoff(base=0.5, cap=8)
    delays = [b.next_delay() for _ in range(8)]
    assert 0.25 <= delays[0] <= 0.5 and all(d <= 8 for d in delays) and delays[-1] >= 4
    b.reset()
    assert b.next_delay() <= 0.5


def test_revocation_reaches_a_running_agent_within_5s(svc: FakeService, tmp_path: Path):
    a = agent_for(svc, tmp_path, wait_s=25)
    a.start()
    assert a.tap(fake_card(REF)).granted
    t0 = time.monotonic()
    svc.set_credential(cred(REF, "revoked"))
    while time.monotonic() - t0 < 5:
        if a.cache.current and a.cache.current.index.credential(REF).status.value == "revoked":
            break
        time.sleep(0.01)
    elapsed = time.monotonic() - t0
    assert elapsed < 5
    assert a.tap(fake_card(REF)).reason is Reason.CREDENTIAL_REVOKED
    a.close()


def test_heartbeat_measures_offset_and_raises_skew_alarm(svc: FakeService, tmp_path: Path,
                                                         wall_clock: Callable[[], datetime]):
    skew = timedelta(seconds=-20)  # the device clock is 20 s behind
    a = agent_for(svc, tmp_path, device_clock=lambda: wall_clock() + skew)
    a.heartbeat.run_once()
    assert abs(a.client.clock_offset_ms - 20_000) < 500
    alarms = [e for e in a.outbox.all_events() if e["kind"] == "alarm"]
    assert len(alarms) == 1 and alarms[0]["data"]["alarm"] == "clock_skew"
    a.heartbeat.run_once()  # still skewed: no second alarm
    assert len([e for e in a.outbox.all_events() if e["kind"] == "alarm"]) == 1
    # Taps carry device time and the offset.
    ev = a.tap(fake_card(REF)).events[0]
    assert abs(ev["clock_offset_ms"] - 20_000) < 500
    a.close()


def test_one_agent_per_data_dir(svc: FakeService, tmp_path: Path):
    from reader_agent.agent import AgentAlreadyRunning

    a = agent_for(svc, tmp_path)
    with pytest.raises(AgentAlreadyRunning):
        ReaderAgent(tmp_path, AgentConfig("sim:t", 1), transport=svc.transport())
    a.close()
    ReaderAgent(tmp_path, AgentConfig("sim:t", 1), transport=svc.transport()).close()


def test_a_service_without_the_config_endpoint_is_no_fault(svc: FakeService, tmp_path: Path,
                                                           caplog: pytest.LogCaptureFixture):
    """An agent newer than its service (docs/upgrade.md): GET /device/v1/config answers 404;
    the snapshot round goes on, nothing is installed, refused or alarmed."""
    a = agent_for(svc, tmp_path)  # its sync already asked once
    try:
        with caplog.at_level("WARNING"):
            assert a.config.poll() is None
        assert a.cache.version is not None and a.config.version is None
        assert a.config.refused == 0 and a.outbox.all_events() == []
        assert not (tmp_path / "config.bundle.json").exists()
        assert not [r for r in caplog.records if r.name == "reader_agent.config_updater"]
    finally:
        a.close()
