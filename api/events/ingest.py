"""Storing event batches from a device: idempotent, gap-tracking, hash-chain-verifying.

``ingest`` runs in the request's transaction with the device row locked (``FOR UPDATE`` on
PostgreSQL; on SQLite a write to the row takes the database write lock first), so two
batches of one device never race on ``max_seq``, ``contiguous_seq`` or the gaps.

- A seq the device already stored is not inserted again: the batch's seqs are looked up first,
  under the device row lock. The table's own keys hold the partition key ``occurred_at``
  (``api.events.partitions``), so ``(device_id, seq, occurred_at)`` alone would let a seq
  re-sent with another time in twice.
- Each event is inserted with ``INSERT … ON CONFLICT DO NOTHING``: ``(id, occurred_at)``
  (primary key) and ``(device_id, seq, occurred_at)`` (unique) make a resent event a no-op
  even without the lookup.
- ``max_seq`` is the highest seq stored, ``contiguous_seq`` the highest below which none is
  missing; every missing range in between is an open ``sequence_gap`` row, closed when filled.
- Authority: a door counts only if it is bound to the sending device, a staff member only
  through a credential the event says was verified (``verified_staff``); the rest is kept as
  ``data.reported_*`` and raises a service alarm (``door_not_bound``,
  ``credential_auth_failed`` about the credential).
- The hash chain (``gate.events``) is checked for every new event against its stored or
  newly stored neighbours; a break (or a seq re-sent with different content) is recorded as
  an ``alarm`` event of the service (``data.alarm = "chain_broken"``) and reported as
  ``chain_ok: false``. The events are stored all the same.

Events the service writes itself (those alarms) carry negative sequence numbers, so they
never collide with the device's own sequence, which starts at 1.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, text, update
from sqlalchemy.dialects import sqlite
from sqlalchemy.orm import Session

from api.attendance.config import is_future_punch
from api.db import among
from api.errors import Unprocessable
from api.models import Credential, Device, DeviceDoor, Event, SequenceGap
from api.outbound.queue import queue_events
from gate.events import verify_chain
from gate.policy import Reason

log = logging.getLogger(__name__)

MAX_BATCH = 1000
# A device's sequence numbers: 1 .. MAX_SEQ, and a new one at most MAX_SEQ_AHEAD beyond the
# highest already stored (a jump past it would open a gap no real outbox can fill).
MAX_SEQ = 2**31 - 1
MAX_SEQ_AHEAD = 100_000
# Reasons meaning the card did not prove it holds the credential (or its PIN).
AUTH_FAILURES = frozenset({Reason.CARD_AUTH_FAILED, Reason.CARD_ERROR, Reason.PIN_WRONG,
                           Reason.PIN_TRIES_LOW})


@dataclass
class IncomingEvent:
    """One validated event with the raw JSON object it came from (the chain covers the raw)."""

    id: uuid.UUID
    seq: int
    kind: str
    occurred_at: datetime
    clock_offset_ms: int | None
    door_id: int | None
    credential_ref: str | None
    staff_id: int | None
    granted: bool | None
    reason: str | None
    data: dict[str, Any]
    prev_hash: str | None
    hash: str
    raw: Mapping[str, Any]


@dataclass
class IngestResult:
    accepted: int
    duplicates: int
    acked_through_seq: int
    gaps: list[tuple[int, int]]
    chain_ok: bool
    broken_at: list[int] = field(default_factory=list)


# --- repository functions ---------------------------------------------------------------------

def lock_device(session: Session, device_id: uuid.UUID) -> Device:
    """Load the device row locked for this transaction."""
    if session.get_bind().dialect.name == "sqlite":
        # SQLite has no row locks: a write takes the database write lock (waiting for it).
        session.execute(update(Device).where(Device.id == device_id)
                        .values(max_seq=Device.max_seq))
    return session.execute(
        select(Device).where(Device.id == device_id).with_for_update()
        .execution_options(populate_existing=True)).scalar_one()


# One short statement whatever the batch size: the rows travel as one JSON document (made
# by the C encoder, parsed by PostgreSQL), so neither SQLAlchemy nor psycopg compiles, rewrites
# or adapts anything per row (psycopg prepares the statement once per connection). A
# multi-row VALUES with thousands of bound values cost most of the ingest time. The values
# common to the batch (device, receipt time) are parameters of their own, not repeated per
# row. The same statement queues the events it stored for fan-out (``api.outbound.queue``),
# in seq order.
_PG_INSERT = text("""
    WITH ins AS (
        INSERT INTO event (id, device_id, seq, kind, occurred_at, device_clock_offset_ms,
                           received_at, door_id, staff_id, credential_ref, granted, reason,
                           data, prev_hash, hash)
        SELECT r.id, CAST(:device_id AS uuid), r.seq, r.kind, r.occurred_at,
               r.device_clock_offset_ms, CAST(:received_at AS timestamptz), r.door_id,
               r.staff_id, r.credential_ref, r.granted, r.reason, r.data, r.prev_hash, r.hash
        FROM json_to_recordset(CAST(:rows AS json)) AS r(
            id uuid, seq bigint, kind varchar, occurred_at timestamptz,
            device_clock_offset_ms integer, door_id integer, staff_id integer,
            credential_ref varchar, granted boolean, reason varchar, data json,
            prev_hash varchar, hash varchar)
        ON CONFLICT DO NOTHING
        RETURNING id, occurred_at, seq),
    queued AS (
        INSERT INTO outbound_event (event_id, occurred_at)
        SELECT id, occurred_at FROM ins ORDER BY seq)
    SELECT id FROM ins""")


def _insert_ignore(session: Session, device_id: uuid.UUID, now: datetime,
                   rows: list[dict[str, Any]]) -> set[uuid.UUID]:
    """Insert a device's rows (``_row``, in seq order) received at ``now``, skipping any that
    conflict on a unique key, and queue the inserted ones for fan-out; the ids inserted."""
    if not rows:
        return set()
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        # Strings made here: a ``default=`` hook called by the encoder for every UUID and
        # datetime cost four times the encoding itself.
        doc = json.dumps([{**r, "id": str(r["id"]), "occurred_at": r["occurred_at"].isoformat()}
                          for r in rows])
        return set(session.execute(_PG_INSERT, {"rows": doc, "device_id": str(device_id),
                                                "received_at": now.isoformat()}).scalars().all())
    if dialect == "sqlite":
        full = [{**r, "device_id": device_id, "received_at": now} for r in rows]
        stmt = sqlite.insert(Event).values(full).on_conflict_do_nothing()
        inserted = set(session.execute(stmt.returning(Event.id)).scalars())
        queue_events(session, [(r["id"], r["occurred_at"]) for r in rows
                               if r["id"] in inserted])
        return inserted
    raise RuntimeError(f"unsupported database dialect {dialect}")  # pragma: no cover


def _stored_links(session: Session, device_id: uuid.UUID,
                  seqs: set[int]) -> dict[int, tuple[uuid.UUID, str | None, str | None]]:
    """seq → (id, hash, prev_hash) of already stored events of the device."""
    if not seqs:
        return {}
    rows = session.execute(select(Event.seq, Event.id, Event.hash, Event.prev_hash)
                           .where(Event.device_id == device_id, among(session, Event.seq, seqs)))
    return {s: (i, h, p) for s, i, h, p in rows}


def _open_gaps(session: Session, device_id: uuid.UUID) -> list[SequenceGap]:
    return list(session.execute(
        select(SequenceGap).where(SequenceGap.device_id == device_id,
                                  SequenceGap.closed_at.is_(None))
        .order_by(SequenceGap.first_seq)).scalars())


def _next_service_seq(session: Session, device_id: uuid.UUID) -> int:
    low = session.execute(select(func.min(Event.seq)).where(
        Event.device_id == device_id, Event.seq < 0)).scalar_one()
    return (low or 0) - 1


def record_service_alarm(session: Session, device_id: uuid.UUID, *, alarm: str, now: datetime,
                         detail: Mapping[str, Any], credential_ref: str | None = None,
                         door_id: int | None = None) -> Event:
    """An alarm event written by the service about a device (negative seq), optionally about
    a credential and a door. Lock the device row first (``lock_device``)."""
    ev = Event(id=uuid.uuid4(), device_id=device_id, seq=_next_service_seq(session, device_id),
               kind="alarm", occurred_at=now, received_at=now, credential_ref=credential_ref,
               door_id=door_id, data={"alarm": alarm, "source": "service", **detail})
    session.add(ev)
    session.flush()
    queue_events(session, [(ev.id, ev.occurred_at)])  # events out, sent once this commits
    return ev


# --- gaps -------------------------------------------------------------------------------------

def _missing_ranges(start: int, end: int, present: Sequence[int]) -> list[tuple[int, int]]:
    """Ranges of (start, end] not in ``present`` (sorted)."""
    out: list[tuple[int, int]] = []
    cursor = start + 1
    for s in present:
        if s > cursor:
            out.append((cursor, s - 1))
        cursor = max(cursor, s + 1)
    if cursor <= end:
        out.append((cursor, end))
    return out


def _subtract(rng: tuple[int, int], covered: list[tuple[int, int]]) -> list[tuple[int, int]]:
    pieces = [rng]
    for a, b in covered:
        nxt: list[tuple[int, int]] = []
        for x, y in pieces:
            if b < x or a > y:
                nxt.append((x, y))
                continue
            if x < a:
                nxt.append((x, a - 1))
            if b < y:
                nxt.append((b + 1, y))
        pieces = nxt
    return pieces


def _intersect(rng: tuple[int, int], ranges: list[tuple[int, int]]) -> list[tuple[int, int]]:
    out = []
    for a, b in ranges:
        x, y = max(rng[0], a), min(rng[1], b)
        if x <= y:
            out.append((x, y))
    return out


def _reconcile_gaps(session: Session, device_id: uuid.UUID, open_rows: list[SequenceGap],
                    missing: list[tuple[int, int]], now: datetime) -> list[tuple[int, int]]:
    """Make the open gap rows match ``missing``: close filled ones, split partly filled ones
    (keeping their detection time), open new ones. Returns the open gaps."""
    kept: list[tuple[int, int]] = []
    for row in open_rows:
        rng = (row.first_seq, row.last_seq)
        remaining = _intersect(rng, missing)
        if remaining == [rng]:
            kept.append(rng)
            continue
        row.closed_at = now
        for a, b in remaining:
            session.add(SequenceGap(device_id=device_id, first_seq=a, last_seq=b,
                                    detected_at=row.detected_at))
            kept.append((a, b))
    for rng in missing:
        for a, b in _subtract(rng, kept):
            session.add(SequenceGap(device_id=device_id, first_seq=a, last_seq=b,
                                    detected_at=now))
            log.warning("events.ingest.gap device=%s first=%d last=%d", device_id, a, b)
    session.flush()
    return missing


# --- ingest -----------------------------------------------------------------------------------

@dataclass
class _Known:
    """What the service knows about the doors and credentials a batch names."""

    bound_doors: set[int]
    cred_staff: dict[str, int]


def _resolve(session: Session, device_id: uuid.UUID, events: list[IncomingEvent]) -> _Known:
    door_ids = {e.door_id for e in events if e.door_id is not None}
    refs = {e.credential_ref for e in events if e.credential_ref}
    bound = set(session.execute(select(DeviceDoor.door_id).where(
        DeviceDoor.device_id == device_id, DeviceDoor.door_id.in_(door_ids))).scalars()) \
        if door_ids else set()
    cred_staff = dict(session.execute(
        select(Credential.credential_ref, Credential.staff_id)
        .where(Credential.credential_ref.in_(refs))).all()) if refs else {}
    return _Known(bound, cred_staff)


def verified_staff(e: IncomingEvent, cred_staff: Mapping[str, int]) -> int | None:
    """The staff member an event may be credited to, or None.

    Only through a credential the event says was verified: the agent names the holder it
    found for the credential after a successful card authentication, that holder is the
    credential's enrolled owner here, and the reason is not a failed authentication. A punch
    counts only when granted as well."""
    if not e.credential_ref or e.staff_id is None or e.reason in AUTH_FAILURES:
        return None
    if cred_staff.get(e.credential_ref) != e.staff_id:
        return None
    if e.kind == "clock_punch" and e.granted is not True:
        return None
    return e.staff_id


def _row(e: IncomingEvent, now: datetime, known: _Known) -> dict[str, Any]:
    """The event's row but for the columns common to its batch (device, receipt time)."""
    data = dict(e.data)
    # A door counts only if it is bound to the device that signed the batch.
    door_id = e.door_id if e.door_id in known.bound_doors else None
    if e.door_id is not None and door_id is None:
        data["reported_door_id"] = e.door_id
    # Nobody is credited at a door the device does not serve.
    staff_id = verified_staff(e, known.cred_staff) if door_id == e.door_id else None
    if e.staff_id is not None and staff_id != e.staff_id:
        data["reported_staff_id"] = e.staff_id
    if is_future_punch(e.kind, e.occurred_at, e.clock_offset_ms, now):
        data["quarantined"] = "future"  # stored, alarmed, never counted by attendance
    return {"id": e.id, "seq": e.seq, "kind": e.kind,
            "occurred_at": e.occurred_at, "device_clock_offset_ms": e.clock_offset_ms,
            "door_id": door_id, "staff_id": staff_id,
            "credential_ref": e.credential_ref, "granted": e.granted, "reason": e.reason,
            "data": data, "prev_hash": e.prev_hash, "hash": e.hash}


def _record_authority_alarms(session: Session, device_id: uuid.UUID,
                             stored: list[IncomingEvent], known: _Known, now: datetime) -> None:
    """Alarms for what a batch was not allowed to say: doors not bound to the device, and
    failed card authentications (alarms about the credential, not its holder's taps)."""
    unbound = [e for e in stored if e.door_id is not None and e.door_id not in known.bound_doors]
    if unbound:
        doors = sorted({e.door_id for e in unbound if e.door_id is not None})
        log.warning("events.ingest.door_not_bound device=%s doors=%s", device_id, doors[:20])
        record_service_alarm(session, device_id, alarm="door_not_bound", now=now, detail={
            "seqs": [e.seq for e in unbound][:100], "door_ids": doors[:100]})
    for e in stored:
        if e.kind in ("tap", "card_error") and e.credential_ref in known.cred_staff \
                and e.reason in AUTH_FAILURES:
            record_service_alarm(
                session, device_id, alarm="credential_auth_failed", now=now,
                credential_ref=e.credential_ref,
                door_id=e.door_id if e.door_id in known.bound_doors else None,
                detail={"event_id": str(e.id), "seq": e.seq, "reason": e.reason})


def ingest(session: Session, *, device_id: uuid.UUID, events: list[IncomingEvent],
           now: datetime) -> IngestResult:
    """Store one batch from a device (see the module docstring)."""
    device = lock_device(session, device_id)
    for i, e in enumerate(events):
        if e.seq > device.max_seq + MAX_SEQ_AHEAD:
            raise Unprocessable(
                f"seq {e.seq} is more than {MAX_SEQ_AHEAD} beyond the highest stored "
                f"({device.max_seq})", field=f"events[{i}].seq")
    unique: dict[uuid.UUID, IncomingEvent] = {}
    seen_seq: set[int] = set()
    for e in events:
        if e.id not in unique and e.seq not in seen_seq:
            unique[e.id] = e
            seen_seq.add(e.seq)
    batch = sorted(unique.values(), key=lambda e: e.seq)
    # The batch's seqs and their neighbours in one lookup: under the device lock only this
    # batch adds to them, so the neighbours stored now are those the chain check needs.
    links = _stored_links(session, device_id,
                          {x for s in seen_seq for x in (s - 1, s, s + 1) if x > 0})
    stored_before = {s: links[s] for s in seen_seq if s in links}
    known = _resolve(session, device_id, batch)
    rows = [_row(e, now, known) for e in batch if e.seq not in stored_before]
    inserted_ids = _insert_ignore(session, device_id, now, rows)
    new = {e.seq: e for e in batch if e.id in inserted_ids}
    _record_authority_alarms(session, device_id, [new[s] for s in sorted(new)], known, now)
    broken: list[tuple[int, str]] = []
    future = [s for s, e in new.items()
              if is_future_punch(e.kind, e.occurred_at, e.clock_offset_ms, now)]
    if future:
        record_service_alarm(session, device_id, alarm="punch_in_future", now=now,
                             detail={"seqs": sorted(future)[:100]})

    # A seq already stored under a different hash: the device rewrote its history.
    resent = {e.seq: e for e in batch if e.seq in stored_before}
    for s, (_id, stored_hash, _prev) in stored_before.items():
        if stored_hash != resent[s].hash:
            broken.append((s, "seq_reused"))

    # Sequence state and gaps, incrementally: the open gaps are exactly the missing seqs in
    # (contiguous_seq, max_seq]; new events fill some of them or extend max_seq.
    open_rows = _open_gaps(session, device_id)
    if new:
        new_seqs = sorted(new)
        old_max = device.max_seq
        missing: list[tuple[int, int]] = []
        for row in open_rows:
            inside = [x for x in new_seqs if row.first_seq <= x <= row.last_seq]
            missing += _missing_ranges(row.first_seq - 1, row.last_seq, inside)
        if new_seqs[-1] > old_max:
            missing += _missing_ranges(old_max, new_seqs[-1],
                                       [x for x in new_seqs if x > old_max])
            device.max_seq = new_seqs[-1]
        missing.sort()
        contiguous = missing[0][0] - 1 if missing else device.max_seq
        if contiguous != device.contiguous_seq:
            device.contiguous_seq = contiguous
            head = new.get(contiguous)
            device.last_event_hash = head.hash if head is not None else \
                _stored_links(session, device_id, {contiguous})[contiguous][1]
        gaps = _reconcile_gaps(session, device_id, open_rows, missing, now)
    else:
        gaps = [(g.first_seq, g.last_seq) for g in open_rows]

    # Hash chain: each run of consecutive new events, anchored on the stored neighbours.
    if new:
        neighbours = {s - 1 for s in new} | {s + 1 for s in new}
        stored = {s: links[s] for s in neighbours if s in links}  # new ones were not stored
        runs: list[list[IncomingEvent]] = []
        for s in sorted(new):
            if runs and runs[-1][-1].seq == s - 1:
                runs[-1].append(new[s])
            else:
                runs.append([new[s]])
        for run in runs:
            first, last = run[0], run[-1]
            if first.seq == 1:
                anchor: str | None = None
            elif first.seq - 1 in stored:
                anchor = stored[first.seq - 1][1]
            else:
                anchor = first.prev_hash  # predecessor missing: checked when it arrives
            at = verify_chain([e.raw for e in run], anchor)
            if at is not None:
                broken.append((at, "chain_mismatch"))
            succ = stored.get(last.seq + 1)
            if succ is not None and succ[2] != last.hash:
                broken.append((last.seq + 1, "successor_mismatch"))
    session.flush()

    chain_ok = not broken
    if broken:
        seqs = sorted({s for s, _ in broken})
        log.error("events.ingest.chain_broken device=%s seqs=%s", device_id, seqs[:20])
        record_service_alarm(session, device_id, alarm="chain_broken", now=now,
                             detail={"seqs": seqs[:100],
                                     "problems": [{"seq": s, "problem": p}
                                                  for s, p in broken[:100]]})
    return IngestResult(accepted=len(new), duplicates=len(events) - len(new),
                        acked_through_seq=device.contiguous_seq, gaps=gaps,
                        chain_ok=chain_ok, broken_at=[s for s, _ in broken])

