"""Admin REST API for access groups, members, schedules, permissions and closed days."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query

from api.audit.admin import AdminRoute, LimitQuery, OffsetPage, OffsetQuery
from api.bounded import Id
from api.db import SessionDep
from api.users.auth import AdminDep

from . import repository, service
from .schemas import (
    ClosedDayCreate,
    ClosedDayRead,
    ClosedDayUpdate,
    GroupCreate,
    GroupMembers,
    GroupMembersRead,
    GroupRead,
    GroupUpdate,
    PermissionCreate,
    PermissionRead,
    ScheduleCreate,
    ScheduleRead,
    ScheduleUpdate,
)

router = APIRouter(prefix="/admin", tags=["access"], route_class=AdminRoute)


def _group(session: SessionDep, group_id: Id) -> GroupRead:
    group = service.get_group_or_raise(session, group_id)
    return GroupRead(id=group.id, name=group.name,
                     member_count=len(repository.member_ids(session, group_id)))


@router.get("/groups", response_model=OffsetPage[GroupRead])
def list_groups(session: SessionDep, actor: AdminDep, limit: LimitQuery = 100,
                offset: OffsetQuery = 0) -> OffsetPage[GroupRead]:
    """Access groups by name with their member counts, paged by offset."""
    rows, total = repository.list_groups(session, limit=limit, offset=offset)
    return OffsetPage[GroupRead](items=[GroupRead(id=g.id, name=g.name, member_count=n)
                                        for g, n in rows], total=total, limit=limit,
                                 offset=offset)


@router.post("/groups", status_code=201, response_model=GroupRead)
def create_group(data: GroupCreate, session: SessionDep, actor: AdminDep) -> GroupRead:
    """Create an access group."""
    group = service.create_group(session, data, actor=actor)
    return GroupRead(id=group.id, name=group.name, member_count=0)


@router.get("/groups/{group_id}", response_model=GroupRead)
def get_group(group_id: Id, session: SessionDep, actor: AdminDep) -> GroupRead:
    """One access group."""
    return _group(session, group_id)


@router.patch("/groups/{group_id}", response_model=GroupRead)
def update_group(group_id: Id, data: GroupUpdate, session: SessionDep,
                 actor: AdminDep) -> GroupRead:
    """Rename an access group."""
    service.update_group(session, group_id, data, actor=actor)
    return _group(session, group_id)


@router.delete("/groups/{group_id}", status_code=204)
def delete_group(group_id: Id, session: SessionDep, actor: AdminDep) -> None:
    """Delete an access group with its memberships and permissions."""
    service.delete_group(session, group_id, actor=actor)


@router.get("/groups/{group_id}/members", response_model=GroupMembersRead)
def list_members(group_id: Id, session: SessionDep, actor: AdminDep) -> GroupMembersRead:
    """The staff ids in a group."""
    service.get_group_or_raise(session, group_id)
    return GroupMembersRead(group_id=group_id, staff_ids=repository.member_ids(session, group_id))


@router.put("/groups/{group_id}/members", response_model=GroupMembersRead)
def set_members(group_id: Id, data: GroupMembers, session: SessionDep,
                actor: AdminDep) -> GroupMembersRead:
    """Replace a group's members (all or nothing)."""
    ids = service.set_members(session, group_id, data.staff_ids, actor=actor)
    return GroupMembersRead(group_id=group_id, staff_ids=ids)


@router.post("/groups/{group_id}/members", response_model=GroupMembersRead)
def add_members(group_id: Id, data: GroupMembers, session: SessionDep,
                actor: AdminDep) -> GroupMembersRead:
    """Add staff to a group (all or nothing)."""
    ids = service.add_members(session, group_id, data.staff_ids, actor=actor)
    return GroupMembersRead(group_id=group_id, staff_ids=ids)


@router.delete("/groups/{group_id}/members/{staff_id}", response_model=GroupMembersRead)
def remove_member(group_id: Id, staff_id: Id, session: SessionDep,
                  actor: AdminDep) -> GroupMembersRead:
    """Remove one staff member from a group."""
    ids = service.remove_member(session, group_id, staff_id, actor=actor)
    return GroupMembersRead(group_id=group_id, staff_ids=ids)


@router.get("/schedules", response_model=OffsetPage[ScheduleRead])
def list_schedules(session: SessionDep, actor: AdminDep, limit: LimitQuery = 100,
                   offset: OffsetQuery = 0) -> OffsetPage[ScheduleRead]:
    """Schedules by name with their weekday windows, paged by offset."""
    rows, total = repository.list_schedules(session, limit=limit, offset=offset)
    return OffsetPage[ScheduleRead](items=[ScheduleRead.model_validate(s) for s in rows],
                                    total=total, limit=limit, offset=offset)


@router.post("/schedules", status_code=201, response_model=ScheduleRead)
def create_schedule(data: ScheduleCreate, session: SessionDep, actor: AdminDep) -> ScheduleRead:
    """Create a schedule with its windows (one bad window creates nothing)."""
    return ScheduleRead.model_validate(service.create_schedule(session, data, actor=actor))


@router.get("/schedules/{schedule_id}", response_model=ScheduleRead)
def get_schedule(schedule_id: Id, session: SessionDep, actor: AdminDep) -> ScheduleRead:
    """One schedule."""
    return ScheduleRead.model_validate(service.get_schedule_or_raise(session, schedule_id))


@router.patch("/schedules/{schedule_id}", response_model=ScheduleRead)
def update_schedule(schedule_id: Id, data: ScheduleUpdate, session: SessionDep,
                    actor: AdminDep) -> ScheduleRead:
    """Change a schedule; ``windows`` replaces them all."""
    return ScheduleRead.model_validate(
        service.update_schedule(session, schedule_id, data, actor=actor))


@router.delete("/schedules/{schedule_id}", status_code=204)
def delete_schedule(schedule_id: Id, session: SessionDep, actor: AdminDep) -> None:
    """Delete a schedule no permission uses."""
    service.delete_schedule(session, schedule_id, actor=actor)


@router.get("/permissions", response_model=OffsetPage[PermissionRead])
def list_permissions(session: SessionDep, actor: AdminDep, limit: LimitQuery = 100,
                     offset: OffsetQuery = 0, group_id: Id | None = None,
                     door_id: Id | None = None,
                     schedule_id: Id | None = None) -> OffsetPage[PermissionRead]:
    """Permissions (group × door × schedule), filtered, paged by offset."""
    rows, total = repository.list_permissions(session, group_id=group_id, door_id=door_id,
                                              schedule_id=schedule_id, limit=limit,
                                              offset=offset)
    return OffsetPage[PermissionRead](items=[PermissionRead.model_validate(p) for p in rows],
                                      total=total, limit=limit, offset=offset)


@router.post("/permissions", status_code=201, response_model=PermissionRead)
def create_permission(data: PermissionCreate, session: SessionDep,
                      actor: AdminDep) -> PermissionRead:
    """Let a group through a door on a schedule."""
    return PermissionRead.model_validate(service.create_permission(session, data, actor=actor))


@router.delete("/permissions/{permission_id}", status_code=204)
def delete_permission(permission_id: Id, session: SessionDep, actor: AdminDep) -> None:
    """Delete a permission."""
    service.delete_permission(session, permission_id, actor=actor)


@router.get("/closed-days", response_model=OffsetPage[ClosedDayRead])
def list_closed_days(
    session: SessionDep, actor: AdminDep, limit: LimitQuery = 100, offset: OffsetQuery = 0,
    from_: Annotated[date | None, Query(alias="from")] = None,
    to: Annotated[date | None, Query()] = None,
) -> OffsetPage[ClosedDayRead]:
    """Municipal closed days, paged (national holidays and 12/29–1/3 apply on top)."""
    rows, total = repository.list_closed_days(session, from_, to, limit=limit, offset=offset)
    return OffsetPage[ClosedDayRead](items=[ClosedDayRead.model_validate(d) for d in rows],
                                     total=total, limit=limit, offset=offset)


@router.post("/closed-days", status_code=201, response_model=ClosedDayRead)
def create_closed_day(data: ClosedDayCreate, session: SessionDep,
                      actor: AdminDep) -> ClosedDayRead:
    """Add a municipal closed day."""
    return ClosedDayRead.model_validate(service.create_closed_day(session, data, actor=actor))


@router.patch("/closed-days/{day}", response_model=ClosedDayRead)
def rename_closed_day(day: date, data: ClosedDayUpdate, session: SessionDep,
                      actor: AdminDep) -> ClosedDayRead:
    """Rename a municipal closed day."""
    return ClosedDayRead.model_validate(
        service.rename_closed_day(session, day, data.name, actor=actor))


@router.delete("/closed-days/{day}", status_code=204)
def delete_closed_day(day: date, session: SessionDep, actor: AdminDep) -> None:
    """Remove a municipal closed day."""
    service.delete_closed_day(session, day, actor=actor)
