"""Signing, checking and finding retention summaries (``RetentionSummary`` rows)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from sqlalchemy import select
from sqlalchemy.orm import Session

from api.models import ChainName, RetentionSummary
from gate.signing import SignatureError, sign_document, verify_document


@dataclass(frozen=True)
class Removed:
    """What one bulk delete removed, before it is signed into a summary."""

    count: int
    first_seq: int
    last_seq: int
    first_hash: str | None
    last_hash: str | None
    first_at: datetime
    last_at: datetime


def _iso(dt: datetime | None) -> str | None:
    return dt.astimezone(UTC).isoformat() if dt is not None else None


def summary_payload(row: RetentionSummary) -> dict[str, Any]:
    """The fields the signature covers (everything but the id and the signature)."""
    return {"chain": row.chain, "device_id": str(row.device_id) if row.device_id else None,
            "removed": row.removed, "first_seq": row.first_seq, "last_seq": row.last_seq,
            "first_hash": row.first_hash, "last_hash": row.last_hash,
            "first_at": _iso(row.first_at), "last_at": _iso(row.last_at),
            "cutoff": _iso(row.cutoff), "pruned_at": _iso(row.pruned_at),
            "previous_summary_id": row.previous_summary_id}


def verify_summary(row: RetentionSummary, public_key: Ed25519PublicKey) -> bool:
    try:
        verify_document({"payload": summary_payload(row), "signature": row.signature},
                        public_key)
    except SignatureError:
        return False
    return True


def latest_summary(session: Session, chain: ChainName, device_id: uuid.UUID | None, *,
                   chained: bool = True) -> RetentionSummary | None:
    """The newest summary of a chain (``chained``: of its hash chain, not of the service's
    alarms outside it)."""
    conds = [RetentionSummary.chain == chain.value]
    conds.append(RetentionSummary.device_id == device_id if device_id is not None
                 else RetentionSummary.device_id.is_(None))
    conds.append(RetentionSummary.first_seq > 0 if chained else RetentionSummary.first_seq < 0)
    return session.execute(select(RetentionSummary).where(*conds)
                           .order_by(RetentionSummary.id.desc()).limit(1)).scalar_one_or_none()


def sign_summary(session: Session, key: Ed25519PrivateKey, chain: ChainName,
                 device_id: uuid.UUID | None, removed: Removed, *, cutoff: datetime,
                 now: datetime, chained: bool = True) -> RetentionSummary:
    """Store the signed summary of ``removed``, linked to the chain's previous summary."""
    previous = latest_summary(session, chain, device_id, chained=chained)
    row = RetentionSummary(chain=chain.value, device_id=device_id, removed=removed.count,
                           first_seq=removed.first_seq, last_seq=removed.last_seq,
                           first_hash=removed.first_hash, last_hash=removed.last_hash,
                           first_at=removed.first_at, last_at=removed.last_at, cutoff=cutoff,
                           pruned_at=now,
                           previous_summary_id=previous.id if previous else None, signature="")
    row.signature = sign_document(summary_payload(row), key)["signature"]
    session.add(row)
    session.flush()
    return row
