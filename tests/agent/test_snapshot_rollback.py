"""Snapshots only move forward (issue 9 finding 7): a replayed older snapshot, an old
snapshot.json put back, and a host clock set back neither revive a revoked card nor stretch the
72-hour offline limit."""

from __future__ import annotations

import json
import logging
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given
from hypothesis import strategies as st

from gate.door import Alarm
from gate.policy import Reason
from reader_agent.agent import AgentConfig, ReaderAgent, TapProcessor, enroll_agent
from reader_agent.client import ServiceUnavailable
from reader_agent.outbox import Outbox
from reader_agent.snapshot_cache import JOURNAL_SUFFIX, SnapshotCache, SnapshotRollback
from reader_agent.snapshot_state import STATE_FILE, SnapshotState, TimeFloor

from .fake_service import FakeService
from .helpers import DEVICE_ID, cred, fake_card, payload, signed

REF = "aa" * 16
ISSUED = datetime(2026, 11, 27, 0, 0, tzinfo=UTC)
LIMIT = timedelta(hours=72)


class Mono:
    """A monotonic clock the test moves (seconds)."""

    def __init__(self, t: float = 1000.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t

    def advance(self, d: timedelta) -> None:
        self.t += d.total_seconds()


class Wall:
    def __init__(self, t: datetime) -> None:
        self.t = t

    def __call__(self) -> datetime:
        return self.t


@pytest.fixture
def key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


def cache_at(tmp_path: Path, key: Ed25519PrivateKey, mono: Mono | None = None) -> SnapshotCache:
    state = SnapshotState(tmp_path / STATE_FILE, monotonic=mono or Mono())
    return SnapshotCache(tmp_path / "snapshot.json", key.public_key(), DEVICE_ID, state=state)


def processor(cache: SnapshotCache, tmp_path: Path, wall: Wall) -> TapProcessor:
    return TapProcessor(AgentConfig("sim:t", 1, max_offline_age=LIMIT), cache,
                        Outbox(tmp_path / "outbox.sqlite3"), device_clock=wall)


def active_then_revoked(key: Ed25519PrivateKey) -> tuple[dict, dict]:  # type: ignore[type-arg]
    old = signed(payload(version=4, issued_at=ISSUED, credentials=[cred(REF)]), key)
    new = signed(payload(version=5, issued_at=ISSUED + timedelta(minutes=10),
                         credentials=[cred(REF, "revoked")]), key)
    return old, new


def test_replayed_older_snapshot_is_refused(tmp_path: Path, key: Ed25519PrivateKey,
                                            caplog: pytest.LogCaptureFixture):
    """The finding's reproduction: a genuinely signed older snapshot sent again by the network
    must not bring the revoked card back to active."""
    c = cache_at(tmp_path, key)
    old, new = active_then_revoked(key)
    c.apply(old)
    c.apply(new)
    with caplog.at_level(logging.ERROR), pytest.raises(SnapshotRollback):
        c.apply(old)
    assert "snapshot.fetch.rejected" in caplog.text
    assert c.version == 5
    out = processor(c, tmp_path, Wall(ISSUED + timedelta(hours=1))).tap(fake_card(REF))
    assert not out.granted and out.reason is Reason.CREDENTIAL_REVOKED
    # The file on disk still holds the newer snapshot.
    assert cache_at(tmp_path, key).load().version == 5  # type: ignore[union-attr]


def test_same_version_issued_earlier_is_refused(tmp_path: Path, key: Ed25519PrivateKey):
    c = cache_at(tmp_path, key)
    c.apply(signed(payload(version=7, issued_at=ISSUED + timedelta(hours=2)), key))
    with pytest.raises(SnapshotRollback):
        c.apply(signed(payload(version=7, issued_at=ISSUED), key))
    with pytest.raises(SnapshotRollback):  # a newer version that claims an earlier issue
        c.apply(signed(payload(version=8, issued_at=ISSUED), key))
    # The same document again is harmless (idempotent), a newer one is taken.
    c.apply(signed(payload(version=7, issued_at=ISSUED + timedelta(hours=2)), key))
    c.apply(signed(payload(version=8, issued_at=ISSUED + timedelta(hours=3)), key))
    assert c.version == 8


def test_restored_snapshot_file_is_refused_on_load(tmp_path: Path, key: Ed25519PrivateKey,
                                                   caplog: pytest.LogCaptureFixture):
    c = cache_at(tmp_path, key)
    old, new = active_then_revoked(key)
    c.apply(old)
    backup = tmp_path / "backup.json"
    shutil.copy(tmp_path / "snapshot.json", backup)
    c.apply(new)
    shutil.copy(backup, tmp_path / "snapshot.json")  # the old file is put back

    restarted = cache_at(tmp_path, key)
    with caplog.at_level(logging.ERROR):
        assert restarted.load() is None
    assert "rollback" in caplog.text
    assert restarted.rolled_back is not None and restarted.rolled_back.version == 5
    out = processor(restarted, tmp_path, Wall(ISSUED + timedelta(hours=1))).tap(fake_card(REF))
    assert not out.granted and out.reason is Reason.NO_SNAPSHOT


def test_agent_raises_an_alarm_for_a_restored_snapshot(tmp_path: Path):
    svc = FakeService()
    svc.set_credential(cred(REF))
    enroll_agent(tmp_path, "http://svc", svc.new_token(), transport=svc.transport())
    agent = ReaderAgent(tmp_path, AgentConfig("sim:rb", 1), transport=svc.transport())
    agent.watcher.sync()
    shutil.copy(tmp_path / "snapshot.json", tmp_path / "backup.json")
    journal = (tmp_path / "snapshot.json").with_suffix(JOURNAL_SUFFIX)
    backup_journal = journal.read_bytes()  # the deltas applied since the file was written
    svc.set_credential(cred(REF, "revoked"))
    agent.watcher.sync()
    agent.close()
    assert journal.read_bytes() != backup_journal  # the revocation was appended to it
    # The old snapshot put back: the file and its journal as they were.
    shutil.copy(tmp_path / "backup.json", tmp_path / "snapshot.json")
    journal.write_bytes(backup_journal)

    agent = ReaderAgent(tmp_path, AgentConfig("sim:rb", 1), transport=svc.transport())
    try:
        assert agent.cache.current is None
        alarms = [e for e in agent.outbox.all_events() if e["kind"] == "alarm"]
        assert [a["data"]["alarm"] for a in alarms] == [Alarm.SNAPSHOT_ROLLBACK.value]
        assert alarms[0]["data"]["accepted_version"] == svc.version
        assert agent.tap(fake_card(REF)).reason is Reason.NO_SNAPSHOT
    finally:
        agent.close()


def test_clock_set_back_while_running_does_not_extend_the_offline_limit(
        tmp_path: Path, key: Ed25519PrivateKey):
    mono = Mono()
    c = cache_at(tmp_path, key, mono)
    c.apply(signed(payload(issued_at=ISSUED), key))
    wall = Wall(ISSUED + timedelta(hours=1))
    tp = processor(c, tmp_path, wall)
    assert tp.tap(fake_card(REF)).granted
    mono.advance(timedelta(hours=72))  # 72 h pass, but the host clock was set back meanwhile
    wall.t = ISSUED + timedelta(hours=2)
    out = tp.tap(fake_card(REF))
    assert not out.granted and out.reason is Reason.SNAPSHOT_STALE
    assert out.events[0]["data"]["snapshot_age_s"] == (73 * 3600)


def test_clock_set_back_while_stopped_does_not_extend_the_offline_limit(
        tmp_path: Path, key: Ed25519PrivateKey):
    mono = Mono()
    c = cache_at(tmp_path, key, mono)
    c.apply(signed(payload(issued_at=ISSUED), key))
    mono.advance(timedelta(hours=71))
    c.tick(ISSUED + timedelta(hours=71))  # the heartbeat saves the floor, offline too
    saved = json.loads((tmp_path / STATE_FILE).read_text())
    assert saved["time_floor"] == (ISSUED + timedelta(hours=71)).isoformat()

    # Reboot: the monotonic clock starts again and the host clock says it is just after issue.
    after_boot = Mono(5.0)
    restarted = cache_at(tmp_path, key, after_boot)
    assert restarted.load() is not None
    wall = Wall(ISSUED + timedelta(minutes=30))
    tp = processor(restarted, tmp_path, wall)
    assert tp.tap(fake_card(REF)).granted  # 71 h: still within the limit
    after_boot.advance(timedelta(hours=2))
    out = tp.tap(fake_card(REF))
    assert not out.granted and out.reason is Reason.SNAPSHOT_STALE


def test_a_floor_pushed_ahead_by_a_wrong_clock_heals_with_a_newer_snapshot(
        tmp_path: Path, key: Ed25519PrivateKey):
    mono = Mono()
    c = cache_at(tmp_path, key, mono)
    c.apply(signed(payload(issued_at=ISSUED), key))
    wall = Wall(ISSUED + timedelta(days=365))  # an RTC glitch a year ahead
    tp = processor(c, tmp_path, wall)
    assert tp.tap(fake_card(REF)).reason is Reason.SNAPSHOT_STALE
    wall.t = ISSUED + timedelta(minutes=5)  # NTP fixed the clock; the floor stays ahead …
    assert tp.tap(fake_card(REF)).reason is Reason.SNAPSHOT_STALE
    # … until the service signs a newer snapshot: its issue time is proven, the floor re-bases.
    c.apply(signed(payload(version=2, issued_at=ISSUED + timedelta(minutes=4)), key))
    assert tp.tap(fake_card(REF)).granted


def test_unreadable_state_is_treated_as_missing(tmp_path: Path, key: Ed25519PrivateKey,
                                                caplog: pytest.LogCaptureFixture):
    cache_at(tmp_path, key).apply(signed(payload(issued_at=ISSUED), key))
    (tmp_path / STATE_FILE).write_text("{garbage")
    with caplog.at_level(logging.ERROR):
        c = cache_at(tmp_path, key)
    assert "snapshot.state.unreadable" in caplog.text
    assert c.load() is not None and c.state.mark is not None and c.state.mark.version == 1
    assert json.loads((tmp_path / STATE_FILE).read_text())["version"] == 1


steps = st.lists(st.tuples(st.floats(0, 1e6), st.integers(-10**7, 10**7)), min_size=1,
                 max_size=30)


@given(steps)
def test_time_floor_never_runs_back_and_counts_elapsed_time(seq: list[tuple[float, int]]):
    mono = Mono(0.0)
    floor = TimeFloor(None, mono)
    seen: list[tuple[float, datetime, datetime]] = []
    for step, wall_s in seq:
        mono.t += step
        wall = ISSUED + timedelta(seconds=wall_s)
        t = floor.now(wall)
        assert t >= wall
        # datetime rounds to a microsecond at each re-anchoring: allow one per step.
        slack = timedelta(microseconds=len(seen) + 1)
        for m, _w, earlier in seen:
            # Never backwards, and at least the monotonic time elapsed since.
            assert t - earlier >= timedelta(seconds=mono.t - m) - slack
        seen.append((mono.t, wall, t))


def test_heartbeat_saves_the_time_floor_while_offline(tmp_path: Path):
    svc = FakeService()
    svc.set_credential(cred(REF))
    enroll_agent(tmp_path, "http://svc", svc.new_token(), transport=svc.transport())
    wall = Wall(ISSUED)
    agent = ReaderAgent(tmp_path, AgentConfig("sim:hb", 1), transport=svc.transport(),
                        device_clock=wall)
    try:
        agent.watcher.sync()
        issued = agent.cache.current.issued_at  # type: ignore[union-attr]
        svc.down = True
        wall.t = issued + timedelta(hours=10)
        with pytest.raises(ServiceUnavailable):
            agent.heartbeat.run_once()
        saved = json.loads((tmp_path / STATE_FILE).read_text())
        floor = datetime.fromisoformat(saved["time_floor"])
        assert wall.t <= floor < wall.t + timedelta(seconds=5)  # + the real time elapsed
        assert saved["version"] == svc.version
    finally:
        agent.close()
