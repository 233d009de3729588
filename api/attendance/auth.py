"""Self-service identity: the staff member the logged-in user is (``/me/…``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from api.db import SessionDep
from api.errors import Forbidden
from api.models import Staff
from api.users.auth import PrincipalDep


def current_staff(session: SessionDep, principal: PrincipalDep) -> Staff:
    """FastAPI dependency: the staff member linked to the authenticated user, or 403."""
    staff = session.get(Staff, principal.staff_id) if principal.staff_id is not None else None
    if staff is None:
        raise Forbidden(f"user {principal.name!r} is not linked to a staff member")
    return staff


StaffDep = Annotated[Staff, Depends(current_staff)]
