"""kill -9 at random moments never loses or duplicates an event (issue 3)."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import time
from pathlib import Path

import pytest

from gate.events import verify_chain
from reader_agent.agent import enroll_agent
from tests.clock import python

from .fake_service import FakeHTTPServer, FakeService
from .helpers import cred
from .sim_cards import new_card, save_card
from .town import add_credential, enroll_confirmed, seed_town, stored_events

ROOT = Path(__file__).resolve().parents[2]
REF = "aa" * 16


def start_driver(data_dir: Path, out: Path, *extra: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    with out.open("wb") as f:
        return subprocess.Popen(
            python("-m", "tests.agent.tap_driver", "--data-dir", str(data_dir), *extra), stdout=f, stderr=subprocess.DEVNULL, cwd=ROOT, env=env)


def wait_ready(out: Path, proc: subprocess.Popen[bytes], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while b"READY" not in out.read_bytes():
        assert proc.poll() is None, f"driver exited early: {out.read_text()}"
        assert time.monotonic() < deadline, "driver did not start"
        time.sleep(0.01)


def acked_lines(out: Path) -> list[tuple[int, str]]:
    text = out.read_text()
    complete = text[: text.rfind("\n") + 1]  # a line cut by the kill was never acknowledged
    return [(int(p[1]), p[2]) for p in (ln.split() for ln in complete.splitlines())
            if p and p[0] == "ACK" and len(p) == 3]


def kill9_loop(data_dir: Path, extra: list[str], iterations: int, seed: int) -> dict[str, int]:
    rng = random.Random(seed)
    acked: dict[str, int] = {}
    for i in range(iterations):
        out = data_dir.parent / f"run-{i}.out"
        proc = start_driver(data_dir, out, *extra)
        wait_ready(out, proc)
        time.sleep(rng.uniform(0.0, 0.4))
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        for seq, eid in acked_lines(out):
            assert acked.setdefault(eid, seq) == seq
    out = data_dir.parent / "drain.out"
    proc = start_driver(data_dir, out, "--drain", *extra)
    assert proc.wait(120) == 0, out.read_text()
    return acked


@pytest.mark.slow
def test_kill9_loop_against_stand_in_service(tmp_path: Path):
    svc = FakeService()
    svc.set_credential(cred(REF))
    http = FakeHTTPServer(svc)
    try:
        data_dir = tmp_path / "agent"
        enroll_agent(data_dir, http.url, svc.new_token())
        acked = kill9_loop(data_dir, [], iterations=20, seed=random.randrange(2**32))
    finally:
        http.stop()
    stored = sorted(svc.events.values(), key=lambda e: e["seq"])
    seqs = [e["seq"] for e in stored]
    assert seqs == list(range(1, len(seqs) + 1)), "gap or duplicate in delivered sequence"
    assert verify_chain(stored, None) is None
    assert len(acked) > 20
    by_id = {e["id"]: e["seq"] for e in stored}
    missing = [eid for eid in acked if eid not in by_id]
    assert not missing, f"{len(missing)} acknowledged events never delivered"
    assert all(by_id[eid] == seq for eid, seq in acked.items())


@pytest.mark.slow
def test_kill9_loop_real_service(live_server, admin, database, tmp_path: Path):  # type: ignore[no-untyped-def]
    """The agent subprocess taps a sim card (real card sequence) against the real service."""
    town = seed_town(database)
    card = new_card()
    add_credential(database, town.staff_id, card.credential_ref, card.public_key)
    card_file = tmp_path / "card.json"
    save_card(card, card_file)
    data_dir = tmp_path / "agent"
    identity = enroll_confirmed(admin, data_dir, live_server.url, [town.door_id])
    seed = random.randrange(2**32)
    acked = kill9_loop(data_dir, ["--door", str(town.door_id), "--card-file", str(card_file)],
                       iterations=20, seed=seed)
    rows = stored_events(database, identity.device_id)
    seqs = [r.seq for r in rows]
    assert seqs == list(range(1, len(seqs) + 1)), f"gap or duplicate (seed {seed})"
    chain = [(r.seq, r.prev_hash, r.hash) for r in rows]
    assert all(chain[i][1] == chain[i - 1][2] for i in range(1, len(chain))), "chain broken"
    by_id = {str(r.id): r.seq for r in rows}
    missing = [eid for eid in acked if eid not in by_id]
    assert not missing, f"{len(missing)} acknowledged events never delivered (seed {seed})"
    assert all(by_id[eid] == seq for eid, seq in acked.items())
    assert len(acked) > 20 and all(r.reason == "granted" for r in rows)
    dev = admin.get(f"/admin/devices/{identity.device_id}").json()
    assert dev["contiguous_seq"] == dev["max_seq"] == len(rows)
    print(f"\nkill -9 loop (seed {seed}): {len(acked)} acknowledged, {len(rows)} delivered")
