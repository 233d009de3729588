"""What the fault tests share: an agent tuned to notice faults in seconds, waits, and the
exactly-once check against the service's event table."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from api.db import Database
from reader_agent.agent import AgentConfig, ReaderAgent
from reader_agent.uploader import AdaptiveBatch, Backoff
from tests.agent.town import stored_events


def quick_agent(data_dir: Path, door_id: int, reader: str, *, timeout_s: float = 1.0,
                **kwargs: object) -> ReaderAgent:
    """A real agent whose uploader times out after ``timeout_s`` (up to 4x) and retries
    within 1 s, so a fault and its healing show in seconds rather than the production
    minutes."""
    agent = ReaderAgent(data_dir, AgentConfig(reader, door_id), wait_s=1, upload_idle_s=0.05,
                        heartbeat_s=0.5, **kwargs)  # type: ignore[arg-type]
    agent.uploader.adapt = AdaptiveBatch(agent.uploader.batch_limit, timeout_s,
                                        max_timeout_s=4 * timeout_s)
    for worker in (agent.uploader, agent.heartbeat, agent.watcher):
        worker.backoff = Backoff(base=0.1, cap=1.0)
    return agent


def wait_for(check: Callable[[], bool], timeout: float, what: str) -> float:
    """Poll ``check`` until true; return the seconds it took, fail after ``timeout``."""
    t0 = time.monotonic()
    while not check():
        assert time.monotonic() - t0 < timeout, f"{what}: not within {timeout} s"
        time.sleep(0.02)
    return time.monotonic() - t0


def drain(agent: ReaderAgent, timeout: float) -> float:
    def done() -> bool:
        agent.uploader.notify()
        return agent.outbox.stats()["pending"] == 0
    return wait_for(done, timeout, "outbox drained")


def assert_exactly_once(db: Database, device_id: str, acked: dict[str, int]) -> int:
    """Every event the agent committed (id -> seq) is stored once, under its seq, in one
    unbroken chain; returns how many sequenced events the service holds."""
    rows = [r for r in stored_events(db, device_id) if r.seq > 0]
    seqs = [r.seq for r in rows]
    assert seqs == list(range(1, len(seqs) + 1)), f"gap or duplicate in {seqs}"
    ids = [str(r.id) for r in rows]
    assert len(set(ids)) == len(ids), "an event id stored twice"
    assert all(rows[i].prev_hash == rows[i - 1].hash for i in range(1, len(rows))), \
        "chain broken"
    by_id = dict(zip(ids, seqs, strict=True))
    missing = [eid for eid in acked if eid not in by_id]
    assert not missing, f"{len(missing)} committed events never stored"
    assert all(by_id[eid] == seq for eid, seq in acked.items())
    assert len(rows) == len(acked), f"{len(rows)} stored, {len(acked)} committed"
    return len(rows)
