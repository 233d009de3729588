"""Admin REST API for sites and doors."""

from __future__ import annotations

from fastapi import APIRouter

from api.audit.admin import AdminRoute, LimitQuery, OffsetPage, OffsetQuery
from api.bounded import Id
from api.db import SessionDep
from api.users.auth import AdminDep
from gate.door import DoorMode

from . import repository, service
from .schemas import (
    DoorCreate,
    DoorLockdown,
    DoorRead,
    DoorUpdate,
    SiteCreate,
    SiteRead,
    SiteUpdate,
)

router = APIRouter(prefix="/admin", tags=["doors"], route_class=AdminRoute)


@router.get("/sites", response_model=OffsetPage[SiteRead])
def list_sites(session: SessionDep, actor: AdminDep, limit: LimitQuery = 100,
               offset: OffsetQuery = 0) -> OffsetPage[SiteRead]:
    """Sites by code, paged by offset."""
    rows, total = repository.list_sites(session, limit=limit, offset=offset)
    return OffsetPage[SiteRead](items=[SiteRead.model_validate(s) for s in rows], total=total,
                                limit=limit, offset=offset)


@router.post("/sites", status_code=201, response_model=SiteRead)
def create_site(data: SiteCreate, session: SessionDep, actor: AdminDep) -> SiteRead:
    """Create a site (building)."""
    return SiteRead.model_validate(service.create_site(session, data, actor=actor))


@router.get("/sites/{site_id}", response_model=SiteRead)
def get_site(site_id: Id, session: SessionDep, actor: AdminDep) -> SiteRead:
    """One site."""
    return SiteRead.model_validate(service.get_site_or_raise(session, site_id))


@router.patch("/sites/{site_id}", response_model=SiteRead)
def update_site(site_id: Id, data: SiteUpdate, session: SessionDep, actor: AdminDep) -> SiteRead:
    """Rename a site or change its code."""
    return SiteRead.model_validate(service.update_site(session, site_id, data, actor=actor))


@router.delete("/sites/{site_id}", status_code=204)
def delete_site(site_id: Id, session: SessionDep, actor: AdminDep) -> None:
    """Delete a site without doors or devices."""
    service.delete_site(session, site_id, actor=actor)


@router.get("/doors", response_model=OffsetPage[DoorRead])
def list_doors(session: SessionDep, actor: AdminDep, limit: LimitQuery = 100,
               offset: OffsetQuery = 0, site_id: Id | None = None,
               mode: DoorMode | None = None) -> OffsetPage[DoorRead]:
    """Doors and clock points by code, filtered, paged by offset."""
    rows, total = repository.list_doors(session, site_id=site_id, mode=mode, limit=limit,
                                        offset=offset)
    return OffsetPage[DoorRead](items=[DoorRead.model_validate(d) for d in rows], total=total,
                                limit=limit, offset=offset)


@router.post("/doors", status_code=201, response_model=DoorRead)
def create_door(data: DoorCreate, session: SessionDep, actor: AdminDep) -> DoorRead:
    """Create a door or clock point."""
    return DoorRead.model_validate(service.create_door(session, data, actor=actor))


@router.get("/doors/{door_id}", response_model=DoorRead)
def get_door(door_id: Id, session: SessionDep, actor: AdminDep) -> DoorRead:
    """One door."""
    return DoorRead.model_validate(service.get_door_or_raise(session, door_id))


@router.patch("/doors/{door_id}", response_model=DoorRead)
def update_door(door_id: Id, data: DoorUpdate, session: SessionDep,
                actor: AdminDep) -> DoorRead:
    """Change a door (mode, assurance, fail_open, …); bumps the snapshot version."""
    return DoorRead.model_validate(service.update_door(session, door_id, data, actor=actor))


@router.post("/doors/{door_id}/lockdown", response_model=DoorRead)
def set_door_lockdown(door_id: Id, data: DoorLockdown, session: SessionDep,
                      actor: AdminDep) -> DoorRead:
    """Put a door in lockdown (every tap denied) or lift it, with a reason."""
    return DoorRead.model_validate(service.set_lockdown(
        session, door_id, lockdown=data.lockdown, reason=data.reason, actor=actor))


@router.delete("/doors/{door_id}", status_code=204)
def delete_door(door_id: Id, session: SessionDep, actor: AdminDep) -> None:
    """Delete a door without events (409 otherwise)."""
    service.delete_door(session, door_id, actor=actor)
