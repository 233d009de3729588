"""The outbox: seq and hash chain assigned in one durable transaction, delivery marks."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from api.device_protocol.schemas import EventIn
from gate.events import chain_hash, verify_chain
from gate.individual_number import REDACTED
from reader_agent.outbox import Outbox


def ev(i: int) -> dict[str, object]:
    return {"kind": "tap", "occurred_at": f"2026-11-27T00:00:{i % 60:02d}.000Z",
            "clock_offset_ms": 0, "door_id": 1, "granted": True, "reason": "granted",
            "data": {"i": i}}


def test_append_assigns_seq_and_chain(tmp_path: Path):
    ob = Outbox(tmp_path / "o.sqlite3")
    stored = [ob.append(ev(i)) for i in range(5)]
    assert [e["seq"] for e in stored] == [1, 2, 3, 4, 5]
    assert stored[0]["prev_hash"] is None
    assert all(e["hash"] == chain_hash(e) for e in stored)
    assert verify_chain(stored, None) is None
    assert len({e["id"] for e in stored}) == 5
    assert ob.pending(3) == stored[:3]


def test_wal_and_full_sync(tmp_path: Path):
    ob = Outbox(tmp_path / "o.sqlite3")
    ob.append(ev(0))
    assert ob._db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert ob._db.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL


def test_mark_delivered_and_reopen_continues_chain(tmp_path: Path):
    path = tmp_path / "o.sqlite3"
    ob = Outbox(path)
    first = [ob.append(ev(i)) for i in range(4)]
    assert ob.mark_delivered(2) == 2
    assert [e["seq"] for e in ob.pending()] == [3, 4]
    ob.close()
    ob2 = Outbox(path)  # a restart
    nxt = ob2.append(ev(9))
    assert nxt["seq"] == 5 and nxt["prev_hash"] == first[-1]["hash"]
    assert ob2.stats()["pending"] == 3 and ob2.stats()["last_seq"] == 5


def test_prune_keeps_chain_tail(tmp_path: Path):
    ob = Outbox(tmp_path / "o.sqlite3")
    stored = [ob.append(ev(i)) for i in range(10)]
    ob.mark_delivered(10)
    assert ob.prune(keep_last=3) == 7
    nxt = ob.append(ev(11))
    assert nxt["seq"] == 11 and nxt["prev_hash"] == stored[-1]["hash"]


def test_another_reader_sees_committed_event(tmp_path: Path):
    """append returns after COMMIT: a separate connection (another process) sees the event."""
    path = tmp_path / "o.sqlite3"
    ob = Outbox(path)
    e = ob.append(ev(1))
    other = sqlite3.connect(path)
    assert other.execute("SELECT id FROM event WHERE seq = 1").fetchone()[0] == e["id"]


def test_data_holding_12_digits_is_redacted_before_it_is_hashed(tmp_path: Path):
    """The service refuses event data holding 12 digits (issue 9, finding 6); the agent never
    queues such data, so an honest reader's outbox can never jam on a refused batch."""
    ob = Outbox(tmp_path / "o.sqlite3")
    twelve = "-".join(["1234", "5678", "9012"])
    stored = ob.append({**ev(0), "data": {"detail": f"card said {twelve}", "apdus": 3}})
    assert stored["data"] == {"detail": REDACTED, "apdus": 3}
    assert stored["hash"] == chain_hash(stored) and ob.pending(1) == [stored]
    EventIn.model_validate(stored)  # the service takes it
