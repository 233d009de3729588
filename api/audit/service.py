"""Recording changes, logins and exports in the audit log, and verifying its hash chain.

Services call ``record`` in the same transaction as the change, so a change and its audit row
land together or not at all. Appending takes a transaction-scoped advisory lock on PostgreSQL
(SQLite serialises writers itself), so two concurrent appends never fork the chain; the unique
``seq`` is the backstop.

Retention removes the oldest rows in bulk (``api.worker.retention.prune_audit``), leaving
signed summaries (``api.retention``); ``verify`` then checks the summaries and walks the
chain from the newest one's ``last_hash``."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from api.models import AuditLog, ChainName, RetentionSummary
from api.models.base import utcnow
from api.retention.summary import latest_summary, verify_summary

from .chain import GENESIS, Verification, canonical, link_hash

CHAIN_LOCK_KEY = 0x6D796E61  # pg_advisory_xact_lock key of the audit chain ("myna")
VERIFY_BATCH = 1000
_COLUMNS = (AuditLog.id, AuditLog.seq, AuditLog.at, AuditLog.actor, AuditLog.action,
            AuditLog.entity, AuditLog.entity_id, AuditLog.before, AuditLog.after,
            AuditLog.prev_hash, AuditLog.hash)


def lock_chain(session: Session) -> None:
    """Serialise appends (and pruning) of the chain until the transaction ends."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": CHAIN_LOCK_KEY})


def _head(session: Session) -> tuple[int, str]:
    row = session.execute(select(AuditLog.seq, AuditLog.hash).order_by(AuditLog.seq.desc())
                          .limit(1)).first()
    if row is not None:
        return int(row[0]), str(row[1])
    pruned = latest_summary(session, ChainName.AUDIT, None)  # every row pruned: go on from it
    return (0, GENESIS) if pruned is None else (pruned.last_seq, pruned.last_hash or GENESIS)


def record(
    session: Session,
    *,
    actor: str,
    action: str,
    entity: str,
    entity_id: object,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    now: datetime | None = None,
) -> AuditLog:
    lock_chain(session)
    session.flush()  # our own earlier rows in this transaction are part of the head
    seq, prev = _head(session)
    row = AuditLog(seq=seq + 1, at=now or utcnow(), actor=actor[:100], action=action,
                   entity=entity, entity_id=str(entity_id)[:64], before=before, after=after,
                   prev_hash=prev)
    row.hash = link_hash(prev, _content(row))
    session.add(row)
    session.flush()
    return row


def _content(row: Any) -> bytes:
    return canonical(seq=row.seq, at=row.at, actor=row.actor, action=row.action,
                     entity=row.entity, entity_id=row.entity_id, before=row.before,
                     after=row.after)


def verify(session: Session, public_key: Ed25519PublicKey | None = None) -> Verification:
    """Check the retention summaries (signed with the service key ``public_key``), then walk
    the chain in ``seq`` order from the newest summary's anchor (or from the first row):
    the first summary or row whose sequence, link, hash or signature is wrong."""
    summaries = list(session.execute(select(RetentionSummary).where(
        RetentionSummary.chain == ChainName.AUDIT.value).order_by(RetentionSummary.id))
        .scalars())
    seq, prev = 0, GENESIS
    for n, summary in enumerate(summaries):
        reason = _summary_problem(summary, summaries[n - 1] if n else None, public_key)
        if reason is not None:
            return Verification(ok=False, checked=0, first_bad_seq=summary.first_seq,
                                reason=f"retention summary {summary.id}: {reason}",
                                start_seq=seq + 1, summaries=n)
        seq, prev = summary.last_seq, summary.last_hash or ""
    result = walk(session, start_seq=seq + 1, prev=prev)
    return Verification(ok=result.ok, checked=result.checked, first_bad_id=result.first_bad_id,
                        first_bad_seq=result.first_bad_seq, reason=result.reason,
                        start_seq=seq + 1, summaries=len(summaries))


def walk(session: Session, *, start_seq: int, prev: str,
         through: int | None = None) -> Verification:
    """Check the rows from ``start_seq`` (whose ``prev_hash`` must be ``prev``) up to
    ``through`` (default: the head)."""
    expected_seq, checked, last_seq = start_seq, 0, 0
    end = [] if through is None else [AuditLog.seq <= through]
    while True:
        rows = list(session.execute(select(*_COLUMNS).where(AuditLog.seq > last_seq, *end)
                                    .order_by(AuditLog.seq).limit(VERIFY_BATCH)))
        if not rows:
            return Verification(ok=True, checked=checked, start_seq=start_seq)
        for row in rows:
            reason = _problem(row, expected_seq, prev)
            if reason is not None:
                return Verification(ok=False, checked=checked, first_bad_id=row.id,
                                    first_bad_seq=row.seq, reason=reason, start_seq=start_seq)
            prev, expected_seq, checked = row.hash, expected_seq + 1, checked + 1
        last_seq = rows[-1].seq


def _summary_problem(summary: RetentionSummary, previous: RetentionSummary | None,
                     public_key: Ed25519PublicKey | None) -> str | None:
    if public_key is None:
        return "the service key is needed to check it (MYNAGATE_SIGNING_KEY_FILE)"
    if not verify_summary(summary, public_key):
        return "signature does not verify (edited, or not signed by this service's key)"
    expected = previous.last_seq + 1 if previous else 1
    if summary.first_seq != expected or summary.previous_summary_id != (
            previous.id if previous else None):
        return f"does not follow the previous summary (starts at {summary.first_seq}, " \
               f"{expected} expected)"
    if summary.removed != summary.last_seq - summary.first_seq + 1:
        return "count does not match its sequence range"
    return None


def _problem(row: Any, expected_seq: int, prev: str) -> str | None:
    if row.seq != expected_seq:
        return f"sequence {row.seq} where {expected_seq} was expected (a row is missing)"
    if row.prev_hash != prev:
        return "prev_hash does not match the previous row's hash"
    if row.hash != link_hash(prev, _content(row)):
        return "hash does not match the row's content"
    return None
