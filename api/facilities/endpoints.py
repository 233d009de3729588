from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from api.bounded import Id
from api.db import SessionDep
from api.users.auth import require_admin

from . import service
from .schemas import FacilityCreate, FacilityRead, FacilityUpdate

router = APIRouter(prefix="/api/v1/facilities", tags=["facilities"])
Admin = Annotated[str, Depends(require_admin)]


@router.post("", status_code=201, response_model=FacilityRead)
def create_facility(data: FacilityCreate, session: SessionDep, actor: Admin) -> object:
    """Create a facility."""
    return service.create(session, data, actor=actor)


@router.get("", response_model=list[FacilityRead])
def list_facilities(session: SessionDep, actor: Admin) -> object:
    """List facilities."""
    return service.list_all(session)


@router.get("/{facility_id}", response_model=FacilityRead)
def get_facility(facility_id: Id, session: SessionDep, actor: Admin) -> object:
    """One facility."""
    return service.get_or_raise(session, facility_id)


@router.patch("/{facility_id}", response_model=FacilityRead)
def update_facility(facility_id: Id, data: FacilityUpdate, session: SessionDep,
                    actor: Admin) -> object:
    """Change a facility."""
    return service.update(session, facility_id, data, actor=actor)
