"""Retention: old access events pruned in bulk, each pruning leaving a summary signed with the
service key so the hash chains still verify.

A device's events form a hash chain (``gate.events``), so only a *prefix* of it can go: the
events from the first one kept up to the last one whose every predecessor is past its
retention (taps etc. after ``events_days``, clock punches after ``punches_days``), and never
past ``contiguous_seq`` (a late event must still find its neighbours). The summary records
what went (count, seq range, time range, first and last hash) and links to the previous
summary; the chain then verifies from the summary's ``last_hash``: the first event kept has
``prev_hash == last_hash``. The service's own alarms (negative seq, outside the chain) are
pruned by age, the newest of each device kept so its numbering never restarts.

The audit log is pruned the same way (``prune_audit``): a prefix older than ``audit_days``,
its summary written before the delete, since the PostgreSQL trigger that keeps the log
append-only lets a DELETE through only for rows a summary covers. ``mynagate audit verify``
then checks the summaries and the rest of the chain from the newest one's ``last_hash``.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from sqlalchemy import and_, delete, func, or_, select
from sqlalchemy.orm import Session

from api.audit.chain import GENESIS
from api.audit.service import lock_chain, walk
from api.events.ingest import lock_device
from api.models import (
    AuditLog,
    ChainName,
    Device,
    Event,
    OutboundDelivery,
    OutboundStatus,
    RetentionSummary,
)
from api.retention.summary import Removed, latest_summary, sign_summary, verify_summary

from .settings import RetentionSettings

PUNCH = "clock_punch"


# --- device event chains ------------------------------------------------------------------

def _prunable_through(session: Session, device: Device, s: RetentionSettings,
                      now: datetime) -> int:
    """The last seq of the device's prunable prefix (0: nothing)."""
    keep = or_(and_(Event.kind == PUNCH, Event.occurred_at >= now - timedelta(days=s.punches_days)),
               and_(Event.kind != PUNCH, Event.occurred_at >= now - timedelta(days=s.events_days)))
    first_kept = session.execute(select(func.min(Event.seq)).where(
        Event.device_id == device.id, Event.seq > 0, keep)).scalar_one()
    first = session.execute(select(func.min(Event.seq)).where(
        Event.device_id == device.id, Event.seq > 0)).scalar_one()
    if first is None:
        return 0
    through = device.contiguous_seq if first_kept is None else min(first_kept - 1,
                                                                   device.contiguous_seq)
    return min(through, first + s.batch - 1)


def _remove_events(session: Session, device_id: uuid.UUID, low: int, high: int) -> Removed | None:
    """Delete the device's events with ``low <= seq <= high``; what went."""
    in_range = and_(Event.device_id == device_id, Event.seq >= low, Event.seq <= high)
    count, first_seq, last_seq, first_at, last_at = session.execute(select(
        func.count(), func.min(Event.seq), func.max(Event.seq), func.min(Event.occurred_at),
        func.max(Event.occurred_at)).where(in_range)).one()
    if not count:
        return None
    hashes = dict(session.execute(select(Event.seq, Event.hash).where(
        Event.device_id == device_id, Event.seq.in_([first_seq, last_seq]))).all())
    session.execute(delete(Event).where(in_range))
    return Removed(count=count, first_seq=first_seq, last_seq=last_seq,
                   first_hash=hashes[first_seq], last_hash=hashes[last_seq],
                   first_at=first_at, last_at=last_at)


def prune_device(session: Session, device: Device, s: RetentionSettings,
                 key: Ed25519PrivateKey, now: datetime) -> list[RetentionSummary]:
    """Prune one device's chain prefix and its old service alarms; the summaries left. The
    device row is locked first, as ingest does, so a batch never races the delete."""
    lock_device(session, device.id)
    out = []
    through = _prunable_through(session, device, s, now)
    removed = _remove_events(session, device.id, 1, through) if through > 0 else None
    if removed is not None:
        out.append(sign_summary(session, key, ChainName.DEVICE_EVENTS, device.id, removed,
                         cutoff=now - timedelta(days=s.events_days), now=now))
    # Service alarms: by age, never the newest (its seq numbers the next one).
    cutoff = now - timedelta(days=s.events_days)
    newest = session.execute(select(func.min(Event.seq)).where(
        Event.device_id == device.id, Event.seq < 0)).scalar_one()
    oldest_young = session.execute(select(func.max(Event.seq)).where(
        Event.device_id == device.id, Event.seq < 0, Event.occurred_at >= cutoff)).scalar_one()
    if newest is not None:
        low = max(newest + 1, (oldest_young or newest) + 1)
        service = _remove_events(session, device.id, low, -1) if low <= -1 else None
        if service is not None:
            out.append(sign_summary(session, key, ChainName.DEVICE_EVENTS, device.id, service,
                             cutoff=cutoff, now=now, chained=False))
    return out


# --- verification -------------------------------------------------------------------------

@dataclass(frozen=True)
class ChainCheck:
    ok: bool
    checked: int
    start_seq: int  # the seq the kept chain starts at (1, or a summary's last_seq + 1)
    problem: str | None = None


def verify_device_chain(session: Session, device_id: uuid.UUID,
                        public_key: Ed25519PublicKey) -> ChainCheck:
    """Check a device's stored chain from its newest retention summary (signature, then
    ``prev_hash`` links) or from seq 1, up to ``contiguous_seq``."""
    summary = latest_summary(session, ChainName.DEVICE_EVENTS, device_id)
    if summary is not None and not verify_summary(summary, public_key):
        return ChainCheck(False, 0, summary.last_seq + 1, "summary signature does not verify")
    expected_seq = summary.last_seq + 1 if summary else 1
    expected_prev = summary.last_hash if summary else None
    start = expected_seq
    through = session.execute(select(Device.contiguous_seq).where(
        Device.id == device_id)).scalar_one()
    rows = session.execute(select(Event.seq, Event.prev_hash, Event.hash).where(
        Event.device_id == device_id, Event.seq > 0, Event.seq <= through)
        .order_by(Event.seq)).all()
    for n, (seq, prev_hash, hash_) in enumerate(rows):
        if seq != expected_seq:
            return ChainCheck(False, n, start, f"seq {expected_seq} missing (found {seq})")
        if (prev_hash or None) != (expected_prev or None):
            return ChainCheck(False, n, start, f"seq {seq}: prev_hash does not link")
        expected_seq, expected_prev = seq + 1, hash_
    return ChainCheck(True, len(rows), start)


def prune_outbound(session: Session, s: RetentionSettings, now: datetime) -> int:
    """Drop sent (or skipped) outbound messages after ``outbound_days`` and failed ones after
    ``events_days``: their payloads name staff, and the events themselves stay."""
    done = (OutboundStatus.DELIVERED, OutboundStatus.SKIPPED)
    result = session.execute(delete(OutboundDelivery).where(or_(
        and_(OutboundDelivery.status.in_(done),
             OutboundDelivery.created_at < now - timedelta(days=s.outbound_days)),
        and_(OutboundDelivery.status == OutboundStatus.FAILED,
             OutboundDelivery.created_at < now - timedelta(days=s.events_days)))))
    return int(result.rowcount)


# --- the audit log ------------------------------------------------------------------------

class AuditChainBroken(RuntimeError):
    """The rows due for pruning do not verify: the job fails rather than hide the break."""


def prune_audit(session: Session, s: RetentionSettings, key: Ed25519PrivateKey,
                now: datetime) -> RetentionSummary | None:
    """Remove the audit log's prefix older than ``audit_days`` (at most ``batch`` rows),
    leaving its signed summary; None when nothing is due. Holds the chain's lock, so no
    entry is appended meanwhile. The prefix stops at the first entry still within the
    period, so an entry kept never has a removed one after it."""
    lock_chain(session)
    cutoff = now - timedelta(days=s.audit_days)
    previous = latest_summary(session, ChainName.AUDIT, None)
    low = previous.last_seq + 1 if previous else 1
    first_kept = session.execute(select(func.min(AuditLog.seq)).where(
        AuditLog.seq >= low, AuditLog.at >= cutoff)).scalar_one()
    high = low + s.batch - 1 if first_kept is None else min(first_kept - 1, low + s.batch - 1)
    if high < low:
        return None
    # Never sign over a break: a summary would hide the edited or missing row for good.
    check = walk(session, start_seq=low, prev=(previous.last_hash or GENESIS) if previous
                 else GENESIS, through=high)
    if not check.ok:
        raise AuditChainBroken(f"not pruning the audit log: seq {check.first_bad_seq}: "
                               f"{check.reason} (run `mynagate audit verify`)")
    in_range = and_(AuditLog.seq >= low, AuditLog.seq <= high)
    count, first_seq, last_seq, first_at, last_at = session.execute(select(
        func.count(), func.min(AuditLog.seq), func.max(AuditLog.seq), func.min(AuditLog.at),
        func.max(AuditLog.at)).where(in_range)).one()
    if not count:
        return None
    hashes = dict(session.execute(select(AuditLog.seq, AuditLog.hash).where(
        AuditLog.seq.in_([first_seq, last_seq]))).all())
    removed = Removed(count=count, first_seq=first_seq, last_seq=last_seq,
                      first_hash=hashes[first_seq], last_hash=hashes[last_seq],
                      first_at=first_at, last_at=last_at)
    # The summary first: the append-only trigger lets through only rows a summary covers.
    summary = sign_summary(session, key, ChainName.AUDIT, None, removed, cutoff=cutoff, now=now)
    session.execute(delete(AuditLog).where(in_range))
    return summary


def prune_all(session: Session, s: RetentionSettings, key: Ed25519PrivateKey,
              now: datetime) -> list[RetentionSummary]:
    """Prune every device, the audit log and the outbound queue (the caller commits)."""
    prune_outbound(session, s, now)
    out: list[RetentionSummary] = []
    for device in session.execute(select(Device).order_by(Device.id)).scalars():
        out += prune_device(session, device, s, key, now)
    audit = prune_audit(session, s, key, now)
    return out if audit is None else [*out, audit]

