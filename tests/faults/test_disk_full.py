"""The agent's disk fills up (its data directory on a small tmpfs of the test's own, filled to
the last byte): it keeps deciding from its snapshot and recording, raises a ``disk_full``
alarm, and every event it had committed reaches the service once."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from gate.door import Alarm
from tests.agent.sim_cards import Presenter, new_card
from tests.agent.town import add_credential, enroll_confirmed, seed_town, stored_events

from .helpers import assert_exactly_once, drain, quick_agent

pytestmark = pytest.mark.faults

TAPS_BEFORE = 3
TAPS_FULL = 20


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 2 MB tmpfs: the agent's own filesystem, so filling it touches nothing else."""
    mnt = tmp_path / "disk"
    mnt.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m,mode=0700", "tmpfs",
                           str(mnt)], capture_output=True, text=True)
    assert done.returncode == 0, f"mount tmpfs: {done.stderr}"
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=True)


def fill(path: Path) -> int:
    """Write zeros until the filesystem refuses; returns the bytes written."""
    written = 0
    with path.open("wb", buffering=0) as f:
        try:
            while True:
                written += f.write(bytes(4096))
        except OSError as err:
            assert err.errno == 28, err  # ENOSPC
    return written


def test_full_disk_keeps_deciding_alarms_and_loses_nothing(  # type: ignore[no-untyped-def]
        small_disk: Path, live_server, admin, database, tmp_path: Path):
    town = seed_town(database)
    card = new_card()
    add_credential(database, town.staff_id, card.credential_ref, card.public_key)
    data_dir = small_disk / "agent"
    identity = enroll_confirmed(admin, data_dir, live_server.url, [town.door_id])
    agent = quick_agent(data_dir, town.door_id, "sim:faults-disk")
    present = Presenter(card, "faults-disk")
    acked: dict[str, int] = {}
    try:
        agent.heartbeat.run_once()
        agent.watcher.sync()
        for _ in range(TAPS_BEFORE):
            out = agent.tap(present)
            assert out.granted
            acked.update((e["id"], e["seq"]) for e in out.events)
        filled = fill(small_disk / "filler")
        assert agent.outbox.reserve.exists() and not agent.outbox.disk_full
        for _ in range(TAPS_FULL):
            out = agent.tap(present)
            assert out.granted, out.reason  # decided from the snapshot, recorded
            acked.update((e["id"], e["seq"]) for e in out.events)
        assert agent.outbox.disk_full and not agent.outbox.reserve.exists()
        alarms = [e for e in agent.outbox.all_events() if e["kind"] == "alarm"]
        assert [e["data"]["alarm"] for e in alarms] == [Alarm.DISK_FULL.value]
        acked.update((e["id"], e["seq"]) for e in alarms)
        agent.start()  # uploading (and marking delivered) works on the full disk too
        drain(agent, 30)
    finally:
        agent.close()
    assert assert_exactly_once(database, identity.device_id, acked) == TAPS_BEFORE \
        + TAPS_FULL + 1
    rows = stored_events(database, identity.device_id)
    assert [r.data["alarm"] for r in rows if r.kind == "alarm"] == [Alarm.DISK_FULL.value]
    print(f"\ndisk full after {filled} bytes of filler: {TAPS_FULL} taps recorded on the reserve")
