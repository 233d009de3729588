"""Recording changes, logins and exports in the audit log, and verifying its hash chain.

Services call ``record`` in the same transaction as the change, so a change and its audit row
land together or not at all. Appending takes a transaction-scoped advisory lock on PostgreSQL
(SQLite serialises writers itself), so two concurrent appends never fork the chain; the unique
``seq`` is the backstop."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from api.models import AuditLog
from api.models.base import utcnow

from .chain import GENESIS, Verification, canonical, link_hash

CHAIN_LOCK_KEY = 0x6D796E61  # pg_advisory_xact_lock key of the audit chain ("myna")
VERIFY_BATCH = 1000
_COLUMNS = (AuditLog.id, AuditLog.seq, AuditLog.at, AuditLog.actor, AuditLog.action,
            AuditLog.entity, AuditLog.entity_id, AuditLog.before, AuditLog.after,
            AuditLog.prev_hash, AuditLog.hash)


def _lock_chain(session: Session) -> None:
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": CHAIN_LOCK_KEY})


def _head(session: Session) -> tuple[int, str]:
    row = session.execute(select(AuditLog.seq, AuditLog.hash).order_by(AuditLog.seq.desc())
                          .limit(1)).first()
    return (0, GENESIS) if row is None else (int(row[0]), str(row[1]))


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
    _lock_chain(session)
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


def verify(session: Session) -> Verification:
    """Walk the chain in ``seq`` order; the first row whose sequence, link or hash is wrong."""
    prev, expected_seq, checked = GENESIS, 1, 0
    last_seq = 0
    while True:
        rows = list(session.execute(select(*_COLUMNS).where(AuditLog.seq > last_seq)
                                    .order_by(AuditLog.seq).limit(VERIFY_BATCH)))
        if not rows:
            return Verification(ok=True, checked=checked)
        for row in rows:
            reason = _problem(row, expected_seq, prev)
            if reason is not None:
                return Verification(ok=False, checked=checked, first_bad_id=row.id,
                                    first_bad_seq=row.seq, reason=reason)
            prev, expected_seq, checked = row.hash, expected_seq + 1, checked + 1
        last_seq = rows[-1].seq


def _problem(row: Any, expected_seq: int, prev: str) -> str | None:
    if row.seq != expected_seq:
        return f"sequence {row.seq} where {expected_seq} was expected (a row is missing)"
    if row.prev_hash != prev:
        return "prev_hash does not match the previous row's hash"
    if row.hash != link_hash(prev, _content(row)):
        return "hash does not match the row's content"
    return None
