"""The durable event outbox: SQLite in WAL mode with ``synchronous=FULL``.

``append`` gives each event the device's next sequence number, the previous event's hash and
its own chain hash (``gate.events.chain_hash``) in one transaction, and returns only once the
commit is on disk. The tap path calls it before the door opens or the clock point says OK, so
a kill -9 at any moment either leaves the event in the outbox (it will be uploaded) or the door
never opened for it.

Delivery is at-least-once: the uploader sends ``pending`` batches and calls
``mark_delivered`` only for what the service acknowledged; the service is idempotent by event
id and by (device, seq).

A disk that fills up must not stop the reader: the outbox keeps a reserve file beside it
(``RESERVE_BYTES``). When a write fails for lack of space, it deletes the reserve, writes the
events again with a ``disk_full`` alarm after them, and carries on in the freed room; nothing
committed before is touched. The reserve is made again at the next start, if there is room.

The outbox also holds the clock point's remembered punches (``punch_state``), written in the
same transaction as the punch event so the two never disagree after a crash.
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime
from pathlib import Path
from typing import Any

from gate.clock import PunchKind, PunchState
from gate.door import Alarm
from gate.events import chain_hash
from gate.individual_number import redact

SCHEMA = """
CREATE TABLE IF NOT EXISTS event (
    seq INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL,
    occurred_at TEXT NOT NULL,
    body TEXT NOT NULL,
    hash TEXT NOT NULL,
    delivered INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS ix_event_pending ON event (delivered, seq);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS punch_state (
    staff_id INTEGER PRIMARY KEY,
    business_date TEXT NOT NULL,
    first_at TEXT NOT NULL,
    last_at TEXT NOT NULL,
    last_kind TEXT NOT NULL
);
"""

log = logging.getLogger(__name__)

# Room kept for a full disk: some hundreds of taps (about 1 kB each) and the alarm.
RESERVE_BYTES = 512 * 1024
CACHE_KB = 256  # the connection's page cache (SQLite's default is 2,000 kB)

EVENT_FIELDS = ("id", "seq", "kind", "occurred_at", "clock_offset_ms", "door_id",
                "credential_ref", "staff_id", "granted", "reason", "data", "prev_hash")


class Outbox:
    """One device's append-only, hash-chained event log with delivery marks."""

    def __init__(self, path: Path, reserve_bytes: int = RESERVE_BYTES) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self.reserve = path.with_name(path.name + ".reserve")
        self.disk_full = False  # the reserve was spent since this start
        self._make_reserve(reserve_bytes)
        self._lock = threading.RLock()
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False,
                                   timeout=30)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        # An append log: new rows go to the last pages, and the uploader reads each pending row
        # once. SQLite's default page cache (2 MB) would hold pages not read again.
        self._db.execute(f"PRAGMA cache_size=-{CACHE_KB}")
        self._db.executescript(SCHEMA)

    def _make_reserve(self, size: int) -> None:
        if self.reserve.exists():
            return
        try:
            with self.reserve.open("wb") as f:
                f.write(bytes(size))
                f.flush()
                os.fsync(f.fileno())
        except OSError:  # no room for it: the disk is full already
            self.reserve.unlink(missing_ok=True)
            log.error("agent.outbox.no_reserve path=%s", self.reserve)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
                self._db.execute("COMMIT")
            except BaseException:
                if self._db.in_transaction:  # a failed COMMIT (disk full) leaves it open
                    self._db.execute("ROLLBACK")
                raise

    # --- writing ----------------------------------------------------------------------------
    def append(self, event: dict[str, Any], *, punch: PunchState | None = None) -> dict[str, Any]:
        """Make ``event`` durable and return it with ``id``, ``seq``, ``prev_hash`` and ``hash``.

        ``event`` holds the other envelope fields (kind, occurred_at, …); missing optional
        fields are set to null. ``punch`` (the clock point's new state) is saved in the same
        transaction.
        """
        return self.append_many([event], punch=punch)[0]

    def append_many(self, events: list[dict[str, Any]], *,
                    punch: PunchState | None = None) -> list[dict[str, Any]]:
        """Append several events (e.g. a tap and its clock punch) in one durable transaction.
        A full disk spends the reserve once, and the events carry a ``disk_full`` alarm."""
        with self._lock:
            try:
                return self._append(events, punch)
            except sqlite3.OperationalError as err:
                if err.sqlite_errorcode != sqlite3.SQLITE_FULL or not self.reserve.exists():
                    raise
            self.reserve.unlink()
            self.disk_full = True
            log.error("agent.outbox.disk_full reserve_released path=%s", self.path)
            first = events[0]
            alarm = {"kind": "alarm", "occurred_at": first["occurred_at"],
                     "clock_offset_ms": first.get("clock_offset_ms"),
                     "data": {"alarm": Alarm.DISK_FULL.value}}
            return self._append([*events, alarm], punch)[: len(events)]

    def _append(self, events: list[dict[str, Any]],
                punch: PunchState | None) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        with self._tx() as db:
            row = db.execute("SELECT seq, hash FROM event ORDER BY seq DESC LIMIT 1").fetchone()
            seq = row[0] if row else self._base_seq(db)
            prev_hash = row[1] if row else self._base_hash(db)
            for event in events:
                seq += 1
                full: dict[str, Any] = {k: event.get(k) for k in EVENT_FIELDS}
                full["id"] = str(event.get("id") or uuid.uuid4())
                full["seq"] = seq
                full["prev_hash"] = prev_hash
                # The service refuses data holding 12 digits; never queue what it would refuse.
                full["data"] = redact(dict(event.get("data") or {}))
                full["hash"] = chain_hash(full)
                db.execute(
                    "INSERT INTO event (seq, id, kind, occurred_at, body, hash) "
                    "VALUES (?, ?, ?, ?, ?, ?)",
                    (seq, full["id"], full["kind"], full["occurred_at"],
                     json.dumps(full, ensure_ascii=False), full["hash"]))
                prev_hash = full["hash"]
                out.append(full)
            if punch is not None:
                db.execute(
                    "INSERT OR REPLACE INTO punch_state "
                    "(staff_id, business_date, first_at, last_at, last_kind) "
                    "VALUES (?, ?, ?, ?, ?)",
                    (punch.staff_id, punch.business_date.isoformat(),
                     punch.first_at.isoformat(), punch.last_at.isoformat(),
                     punch.last_kind.value))
        return out

    def mark_delivered(self, through_seq: int) -> int:
        """Mark every event with ``seq <= through_seq`` delivered; returns how many changed."""
        with self._tx() as db:
            cur = db.execute("UPDATE event SET delivered = 1 WHERE seq <= ? AND delivered = 0",
                             (through_seq,))
            return cur.rowcount

    def prune(self, keep_last: int = 10_000) -> int:
        """Delete delivered events, keeping the newest ``keep_last`` and the chain's tail."""
        with self._tx() as db:
            row = db.execute("SELECT max(seq) FROM event WHERE delivered = 1").fetchone()
            if row is None or row[0] is None:
                return 0
            cutoff = int(row[0]) - keep_last
            if cutoff <= 0:
                return 0
            tail = db.execute("SELECT seq, hash FROM event WHERE seq = ?", (cutoff,)).fetchone()
            if tail is None:
                return 0
            self._set_meta(db, "base_seq", str(tail[0]))
            self._set_meta(db, "base_hash", tail[1])
            cur = db.execute("DELETE FROM event WHERE seq <= ? AND delivered = 1", (cutoff,))
            return cur.rowcount

    # --- reading ----------------------------------------------------------------------------
    def pending(self, limit: int = 500) -> list[dict[str, Any]]:
        with self._lock:
            rows = self._db.execute(
                "SELECT body FROM event WHERE delivered = 0 ORDER BY seq LIMIT ?",
                (limit,)).fetchall()
        return [json.loads(r[0]) for r in rows]

    def stats(self) -> dict[str, Any]:
        """``pending``, ``oldest_pending_at`` (device time) and ``last_seq``."""
        with self._lock:
            n, oldest = self._db.execute(
                "SELECT count(*), min(occurred_at) FROM event WHERE delivered = 0").fetchone()
            last = self._db.execute("SELECT max(seq) FROM event").fetchone()[0]
            if last is None:
                last = self._base_seq(self._db)
        return {"pending": int(n), "oldest_pending_at": oldest, "last_seq": int(last)}

    def all_events(self) -> list[dict[str, Any]]:
        with self._lock:
            rows = self._db.execute("SELECT body FROM event ORDER BY seq").fetchall()
        return [json.loads(r[0]) for r in rows]

    def punch_state(self, staff_id: int) -> PunchState | None:
        with self._lock:
            row = self._db.execute(
                "SELECT business_date, first_at, last_at, last_kind FROM punch_state "
                "WHERE staff_id = ?", (staff_id,)).fetchone()
        if row is None:
            return None
        return PunchState(staff_id, date.fromisoformat(row[0]), datetime.fromisoformat(row[1]),
                          datetime.fromisoformat(row[2]), PunchKind(row[3]))

    # --- meta -------------------------------------------------------------------------------
    def get_meta(self, key: str) -> str | None:
        with self._lock:
            row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def set_meta(self, key: str, value: str) -> None:
        with self._tx() as db:
            self._set_meta(db, key, value)

    @staticmethod
    def _set_meta(db: sqlite3.Connection, key: str, value: str) -> None:
        db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))

    @staticmethod
    def _base_seq(db: sqlite3.Connection) -> int:
        row = db.execute("SELECT value FROM meta WHERE key = 'base_seq'").fetchone()
        return int(row[0]) if row else 0

    @staticmethod
    def _base_hash(db: sqlite3.Connection) -> str | None:
        row = db.execute("SELECT value FROM meta WHERE key = 'base_hash'").fetchone()
        return str(row[0]) if row else None
