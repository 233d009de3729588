"""Admin REST API: search the event log (taps with their decisions, door states, punches)."""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from pydantic import AwareDatetime

from api.audit.admin import AdminRoute, CursorPage, CursorQuery, LimitQuery
from api.bounded import Id
from api.db import SessionDep
from api.users.auth import AdminDep
from gate.policy import Reason

from . import service
from .repository import EventFilter
from .schemas import EventRead

router = APIRouter(prefix="/admin/events", tags=["events"], route_class=AdminRoute)

EventKind = Literal["tap", "door_state", "clock_punch", "alarm", "card_error"]


@router.get("", response_model=CursorPage[EventRead])
def search_events(
    session: SessionDep, actor: AdminDep, limit: LimitQuery = 100, cursor: CursorQuery = None,
    order: Literal["desc", "asc"] = "desc",
    device_id: uuid.UUID | None = None, door_id: Id | None = None,
    staff_id: Id | None = None, kind: EventKind | None = None,
    granted: bool | None = None, reason: Reason | None = None,
    credential_ref: Annotated[str | None, Query(max_length=64)] = None,
    from_: Annotated[AwareDatetime | None, Query(alias="from", description=(
        "device time, inclusive (ISO 8601 with offset)"))] = None,
    to: Annotated[AwareDatetime | None, Query(description="device time, exclusive")] = None,
) -> CursorPage[EventRead]:
    """Events by device time, filtered; follow ``next_cursor`` for the next page."""
    f = EventFilter(device_id=device_id, door_id=door_id, staff_id=staff_id, kind=kind,
                    granted=granted, reason=reason.value if reason is not None else None,
                    credential_ref=credential_ref, occurred_from=from_, occurred_to=to)
    return service.search(session, f, limit=limit, order=order, cursor=cursor)
