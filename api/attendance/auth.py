"""Self-service identity (TEMPORARY, until the console issue adds users and roles).

A ``/me/…`` request carries the admin bearer token plus ``X-Staff-Number`` naming the staff
member it acts for. The console will replace this with the staff member's own login."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header

from api.auth import require_admin
from api.db import SessionDep
from api.errors import Unauthorized
from api.models import Staff

from . import repository as repo


def current_staff(session: SessionDep, _admin: Annotated[str, Depends(require_admin)],
                  x_staff_number: Annotated[str | None, Header()] = None) -> Staff:
    """FastAPI dependency: the staff member named by X-Staff-Number."""
    if not x_staff_number:
        raise Unauthorized("X-Staff-Number is required for self-service", field="X-Staff-Number")
    staff = repo.staff_by_number(session, x_staff_number)
    if staff is None:
        raise Unauthorized(f"unknown staff number {x_staff_number!r}", field="X-Staff-Number")
    return staff


StaffDep = Annotated[Staff, Depends(current_staff)]
