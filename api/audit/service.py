"""Recording admin changes in the audit log. Services call ``record`` in the same transaction
as the change, so a change and its audit row land together or not at all."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from api.models import AuditLog


def record(
    session: Session,
    *,
    actor: str,
    action: str,
    entity: str,
    entity_id: object,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> AuditLog:
    row = AuditLog(actor=actor, action=action, entity=entity, entity_id=str(entity_id),
                   before=before, after=after)
    session.add(row)
    session.flush()
    return row
