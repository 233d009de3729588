"""Queries behind the admin event search (keyset paging on occurred_at, id)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from api.models import Event


@dataclass(frozen=True)
class EventFilter:
    device_id: uuid.UUID | None = None
    door_id: int | None = None
    staff_id: int | None = None
    kind: str | None = None
    granted: bool | None = None
    reason: str | None = None
    credential_ref: str | None = None
    occurred_from: datetime | None = None  # inclusive
    occurred_to: datetime | None = None  # exclusive


def search(session: Session, f: EventFilter, *, limit: int, descending: bool,
           after: tuple[datetime, uuid.UUID] | None) -> list[Event]:
    """Up to ``limit`` events matching ``f``, ordered by (occurred_at, id), after the key."""
    conds = []
    for column, value in ((Event.device_id, f.device_id), (Event.door_id, f.door_id),
                          (Event.staff_id, f.staff_id), (Event.kind, f.kind),
                          (Event.granted, f.granted), (Event.reason, f.reason),
                          (Event.credential_ref, f.credential_ref)):
        if value is not None:
            conds.append(column == value)
    if f.occurred_from is not None:
        conds.append(Event.occurred_at >= f.occurred_from)
    if f.occurred_to is not None:
        conds.append(Event.occurred_at < f.occurred_to)
    if after is not None:
        t, event_id = after
        if descending:
            conds.append(or_(Event.occurred_at < t,
                             and_(Event.occurred_at == t, Event.id < event_id)))
        else:
            conds.append(or_(Event.occurred_at > t,
                             and_(Event.occurred_at == t, Event.id > event_id)))
    order = (Event.occurred_at.desc(), Event.id.desc()) if descending else \
        (Event.occurred_at.asc(), Event.id.asc())
    return list(session.execute(select(Event).where(*conds).order_by(*order).limit(limit))
                .scalars())
