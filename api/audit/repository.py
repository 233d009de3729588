"""Queries behind the audit log search (keyset paging on id, newest first)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from api.models import AuditLog


@dataclass(frozen=True)
class AuditFilter:
    actor: str | None = None
    action: str | None = None
    entity: str | None = None
    entity_id: str | None = None
    at_from: datetime | None = None  # inclusive
    at_to: datetime | None = None  # exclusive


def search(session: Session, f: AuditFilter, *, limit: int, before_id: int | None
           ) -> list[AuditLog]:
    conds = []
    for column, value in ((AuditLog.actor, f.actor), (AuditLog.action, f.action),
                          (AuditLog.entity, f.entity), (AuditLog.entity_id, f.entity_id)):
        if value is not None:
            conds.append(column == value)
    if f.at_from is not None:
        conds.append(AuditLog.at >= f.at_from)
    if f.at_to is not None:
        conds.append(AuditLog.at < f.at_to)
    if before_id is not None:
        conds.append(AuditLog.id < before_id)
    return list(session.execute(select(AuditLog).where(*conds).order_by(AuditLog.id.desc())
                                .limit(limit)).scalars())
