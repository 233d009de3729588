"""The admin event search: filters and keyset paging with an opaque cursor."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy.orm import Session

from api.audit.admin import CursorPage, decode_cursor, encode_cursor
from api.errors import BadRequest

from . import repository
from .repository import EventFilter
from .schemas import EventRead


def search(session: Session, f: EventFilter, *, limit: int, order: str,
           cursor: str | None) -> CursorPage[EventRead]:
    """One page of events, newest first (``order="desc"``) or oldest first."""
    if f.occurred_from is not None and f.occurred_to is not None \
            and f.occurred_to <= f.occurred_from:
        raise BadRequest("'to' must be after 'from'", field="to")
    after: tuple[datetime, uuid.UUID] | None = None
    if cursor is not None:
        values = decode_cursor(cursor)
        if values.get("o") != order:
            raise BadRequest("the cursor belongs to the other sort order", field="cursor")
        try:
            t = datetime.fromisoformat(values["t"])
            after = (t, uuid.UUID(values["id"]))
        except (KeyError, TypeError, ValueError) as err:
            raise BadRequest("cursor is not a cursor this API issued", field="cursor") from err
        if t.tzinfo is None:
            raise BadRequest("cursor is not a cursor this API issued", field="cursor")
    rows = repository.search(session, f, limit=limit + 1, descending=order == "desc",
                             after=after)
    more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = None
    if more and rows:
        last = rows[-1]
        next_cursor = encode_cursor({"t": last.occurred_at.isoformat(), "id": str(last.id),
                                     "o": order})
    return CursorPage[EventRead](items=[EventRead.model_validate(e) for e in rows],
                                 next_cursor=next_cursor, limit=limit)
