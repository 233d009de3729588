"""Facilities (gyms, halls, key-box sites)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.orm import Session

from api.audit.service import record
from api.errors import Conflict, NotFound
from api.models import Facility

from . import repository
from .schemas import FacilityCreate, FacilityUpdate


def get_or_raise(session: Session, facility_id: int) -> Facility:
    f = repository.get(session, facility_id)
    if f is None:
        raise NotFound(f"facility {facility_id} not found", field="facility_id")
    return f


def create(session: Session, data: FacilityCreate, *, actor: str) -> Facility:
    """Create a facility; its code is unique."""
    if repository.get_by_code(session, data.code) is not None:
        raise Conflict(f"facility code {data.code!r} already exists", field="code")
    f = Facility(**data.model_dump())
    session.add(f)
    session.flush()
    record(session, actor=actor, action="facility.create", entity="facility", entity_id=f.id,
           after=data.model_dump())
    return f


def update(session: Session, facility_id: int, data: FacilityUpdate, *, actor: str) -> Facility:
    f = get_or_raise(session, facility_id)
    changes = data.model_dump(exclude_unset=True)
    for k, v in changes.items():
        setattr(f, k, v)
    session.flush()
    record(session, actor=actor, action="facility.update", entity="facility", entity_id=f.id,
           after=changes)
    return f


def list_all(session: Session) -> Sequence[Facility]:
    return repository.list_all(session)
