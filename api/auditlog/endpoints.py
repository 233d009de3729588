"""Admin REST API: read the audit log (newest first) and verify its hash chain."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from pydantic import AwareDatetime

from api.audit import repository, service
from api.audit.admin import (
    AdminRoute,
    CursorPage,
    CursorQuery,
    LimitQuery,
    decode_cursor,
    encode_cursor,
)
from api.audit.repository import AuditFilter
from api.audit.schemas import AuditRead, VerificationRead
from api.db import SessionDep
from api.errors import BadRequest
from api.users.auth import AdminDep

router = APIRouter(prefix="/admin/audit", tags=["audit"], route_class=AdminRoute)
Short = Annotated[str | None, Query(max_length=100)]


@router.get("", response_model=CursorPage[AuditRead])
def search_audit(
    session: SessionDep, actor: AdminDep, limit: LimitQuery = 100, cursor: CursorQuery = None,
    by: Annotated[str | None, Query(max_length=100, description="the acting admin")] = None,
    action: Short = None, entity: Short = None, entity_id: Short = None,
    from_: Annotated[AwareDatetime | None, Query(alias="from")] = None,
    to: Annotated[AwareDatetime | None, Query()] = None,
) -> CursorPage[AuditRead]:
    """Audit rows (who changed what, before/after), filtered; follow ``next_cursor``."""
    before_id = None
    if cursor is not None:
        before_id = decode_cursor(cursor).get("id")
        if not isinstance(before_id, int):
            raise BadRequest("cursor is not a cursor this API issued", field="cursor")
    if from_ is not None and to is not None and to <= from_:
        raise BadRequest("'to' must be after 'from'", field="to")
    f = AuditFilter(actor=by, action=action, entity=entity, entity_id=entity_id, at_from=from_,
                    at_to=to)
    rows = repository.search(session, f, limit=limit + 1, before_id=before_id)
    more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = encode_cursor({"id": rows[-1].id}) if more and rows else None
    return CursorPage[AuditRead](items=[AuditRead.model_validate(r) for r in rows],
                                 next_cursor=next_cursor, limit=limit)


@router.get("/verify", response_model=VerificationRead)
def verify_chain(request: Request, session: SessionDep, actor: AdminDep) -> VerificationRead:
    """Check the retention summaries and the hash chain after them; ``first_bad_id`` names
    the first row that fails (none when a summary fails: ``reason`` names it)."""
    public_key = request.app.state.signing_key.public_key()
    return VerificationRead.model_validate(service.verify(session, public_key))
