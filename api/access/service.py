"""Access groups, members, schedules, permissions and municipal closed days.

All of it is decision data: every change bumps the snapshot version in the same transaction.
A change that brings staff into a device's scope (members added, a permission created) also
stamps those staff members' credentials with the new version, so snapshot deltas carry them.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy.orm import Session

from api.audit.admin import json_value, row_view
from api.audit.service import record
from api.errors import BadRequest, Conflict, NotFound
from api.models import AccessGroup, ClosedDay, Permission, Schedule, ScheduleWindow
from api.snapshot.service import stamp_staff_credentials
from api.snapshot.versioning import bump

from . import repository
from .schemas import (
    ClosedDayCreate,
    GroupCreate,
    GroupUpdate,
    PermissionCreate,
    ScheduleCreate,
    ScheduleUpdate,
    WindowIn,
)

# Groups and members -----------------------------------------------------------------------


def get_group_or_raise(session: Session, group_id: int, *, lock: bool = False) -> AccessGroup:
    group = repository.get_group(session, group_id, lock=lock)
    if group is None:
        raise NotFound(f"access group {group_id} not found", field="id")
    return group


def create_group(session: Session, data: GroupCreate, *, actor: str) -> AccessGroup:
    if repository.get_group_by_name(session, data.name) is not None:
        raise Conflict(f"an access group named {data.name!r} already exists", field="name")
    group = AccessGroup(name=data.name)
    session.add(group)
    session.flush()
    record(session, actor=actor, action="group.create", entity="access_group",
           entity_id=group.id, after=row_view(group))
    return group


def update_group(session: Session, group_id: int, data: GroupUpdate, *,
                 actor: str) -> AccessGroup:
    group = get_group_or_raise(session, group_id, lock=True)
    if data.name == group.name:
        return group
    if repository.get_group_by_name(session, data.name) is not None:
        raise Conflict(f"an access group named {data.name!r} already exists", field="name")
    before = row_view(group)
    group.name = data.name
    session.flush()
    record(session, actor=actor, action="group.update", entity="access_group",
           entity_id=group.id, before=before, after=row_view(group))
    return group


def delete_group(session: Session, group_id: int, *, actor: str) -> None:
    """Delete a group with its memberships and permissions."""
    group = get_group_or_raise(session, group_id, lock=True)
    before = {**row_view(group), "staff_ids": repository.member_ids(session, group_id),
              "permissions": [row_view(p) for p in repository.permissions_of_group(
                  session, group_id)]}
    repository.delete_group(session, group_id)
    bump(session)
    record(session, actor=actor, action="group.delete", entity="access_group",
           entity_id=group_id, before=before)


def _check_staff(session: Session, staff_ids: list[int]) -> None:
    known = repository.existing_staff_ids(session, staff_ids)
    for i, staff_id in enumerate(staff_ids):
        if staff_id not in known:
            raise BadRequest(f"staff {staff_id} does not exist", field=f"staff_ids[{i}]")


def _change_members(session: Session, group_id: int, *, add: set[int], remove: set[int],
                    actor: str, action: str) -> list[int]:
    before = repository.member_ids(session, group_id)
    add -= set(before)
    remove &= set(before)
    if not add and not remove:
        return before
    repository.remove_members(session, group_id, remove)
    repository.add_members(session, group_id, sorted(add))
    version = bump(session)
    stamp_staff_credentials(session, sorted(add), version)
    after = repository.member_ids(session, group_id)
    record(session, actor=actor, action=action, entity="access_group", entity_id=group_id,
           before={"staff_ids": before}, after={"staff_ids": after})
    return after


def set_members(session: Session, group_id: int, staff_ids: list[int], *,
                actor: str) -> list[int]:
    """Replace the group's members (all or nothing)."""
    get_group_or_raise(session, group_id, lock=True)
    _check_staff(session, staff_ids)
    wanted = set(staff_ids)
    current = set(repository.member_ids(session, group_id))
    return _change_members(session, group_id, add=wanted - current, remove=current - wanted,
                           actor=actor, action="group.set_members")


def add_members(session: Session, group_id: int, staff_ids: list[int], *,
                actor: str) -> list[int]:
    """Add staff to a group (those already in it are left alone)."""
    get_group_or_raise(session, group_id, lock=True)
    _check_staff(session, staff_ids)
    return _change_members(session, group_id, add=set(staff_ids), remove=set(), actor=actor,
                           action="group.add_members")


def remove_member(session: Session, group_id: int, staff_id: int, *, actor: str) -> list[int]:
    get_group_or_raise(session, group_id, lock=True)
    if staff_id not in repository.member_ids(session, group_id):
        raise NotFound(f"staff {staff_id} is not a member of group {group_id}",
                       field="staff_id")
    return _change_members(session, group_id, add=set(), remove={staff_id}, actor=actor,
                           action="group.remove_member")


# Schedules --------------------------------------------------------------------------------


def _schedule_view(schedule: Schedule) -> dict[str, Any]:
    return {**row_view(schedule),
            "windows": [[w.weekday, w.start_minute, w.end_minute] for w in schedule.windows]}


def get_schedule_or_raise(session: Session, schedule_id: int, *,
                          lock: bool = False) -> Schedule:
    schedule = repository.get_schedule(session, schedule_id, lock=lock)
    if schedule is None:
        raise NotFound(f"schedule {schedule_id} not found", field="id")
    return schedule


def _windows(windows: list[WindowIn]) -> list[ScheduleWindow]:
    ordered = sorted(windows, key=lambda w: (w.weekday, w.start_minute, w.end_minute))
    return [ScheduleWindow(weekday=w.weekday, start_minute=w.start_minute,
                           end_minute=w.end_minute) for w in ordered]


def create_schedule(session: Session, data: ScheduleCreate, *, actor: str) -> Schedule:
    if repository.get_schedule_by_name(session, data.name) is not None:
        raise Conflict(f"a schedule named {data.name!r} already exists", field="name")
    schedule = Schedule(name=data.name, allow_closed_days=data.allow_closed_days,
                        windows=_windows(data.windows))
    session.add(schedule)
    session.flush()
    bump(session)
    record(session, actor=actor, action="schedule.create", entity="schedule",
           entity_id=schedule.id, after=_schedule_view(schedule))
    return schedule


def update_schedule(session: Session, schedule_id: int, data: ScheduleUpdate, *,
                    actor: str) -> Schedule:
    schedule = get_schedule_or_raise(session, schedule_id, lock=True)
    changes = data.model_dump(exclude_unset=True)
    for key in ("name", "allow_closed_days", "windows"):
        if key in changes and changes[key] is None:
            raise BadRequest(f"{key} cannot be null", field=key)
    if "name" in changes and changes["name"] != schedule.name \
            and repository.get_schedule_by_name(session, changes["name"]) is not None:
        raise Conflict(f"a schedule named {changes['name']!r} already exists", field="name")
    before = _schedule_view(schedule)
    if "name" in changes:
        schedule.name = changes["name"]
    if "allow_closed_days" in changes:
        schedule.allow_closed_days = changes["allow_closed_days"]
    if data.windows is not None:
        new = _windows(data.windows)
        if [[w.weekday, w.start_minute, w.end_minute] for w in new] != before["windows"]:
            schedule.windows.clear()
            session.flush()
            schedule.windows.extend(new)
    session.flush()
    after = _schedule_view(schedule)
    if after == before:
        return schedule
    bump(session)
    record(session, actor=actor, action="schedule.update", entity="schedule",
           entity_id=schedule.id, before=before, after=after)
    return schedule


def delete_schedule(session: Session, schedule_id: int, *, actor: str) -> None:
    schedule = get_schedule_or_raise(session, schedule_id, lock=True)
    if repository.schedule_in_use(session, schedule_id):
        raise Conflict("the schedule is used by permissions; delete them first", field="id")
    before = _schedule_view(schedule)
    session.delete(schedule)
    session.flush()
    bump(session)
    record(session, actor=actor, action="schedule.delete", entity="schedule",
           entity_id=schedule_id, before=before)


# Permissions ------------------------------------------------------------------------------


def create_permission(session: Session, data: PermissionCreate, *, actor: str) -> Permission:
    """Let a group through a door on a schedule."""
    get_group_or_raise_field(session, data.group_id)
    if not repository.door_exists(session, data.door_id):
        raise BadRequest(f"door {data.door_id} does not exist", field="door_id")
    if repository.get_schedule(session, data.schedule_id) is None:
        raise BadRequest(f"schedule {data.schedule_id} does not exist", field="schedule_id")
    if repository.find_permission(session, data.group_id, data.door_id,
                                  data.schedule_id) is not None:
        raise Conflict("this group already has this door on this schedule",
                       field="schedule_id")
    permission = Permission(group_id=data.group_id, door_id=data.door_id,
                            schedule_id=data.schedule_id)
    session.add(permission)
    session.flush()
    version = bump(session)
    stamp_staff_credentials(session, repository.member_ids(session, data.group_id), version)
    record(session, actor=actor, action="permission.create", entity="permission",
           entity_id=permission.id, after=row_view(permission))
    return permission


def get_group_or_raise_field(session: Session, group_id: int) -> AccessGroup:
    group = repository.get_group(session, group_id, lock=True)
    if group is None:
        raise BadRequest(f"access group {group_id} does not exist", field="group_id")
    return group


def delete_permission(session: Session, permission_id: int, *, actor: str) -> None:
    permission = repository.get_permission(session, permission_id)
    if permission is None:
        raise NotFound(f"permission {permission_id} not found", field="id")
    before = row_view(permission)
    session.delete(permission)
    session.flush()
    bump(session)
    record(session, actor=actor, action="permission.delete", entity="permission",
           entity_id=permission_id, before=before)


# Closed days ------------------------------------------------------------------------------


def create_closed_day(session: Session, data: ClosedDayCreate, *, actor: str) -> ClosedDay:
    if repository.get_closed_day(session, data.day) is not None:
        raise Conflict(f"{data.day.isoformat()} is already a closed day", field="day")
    row = ClosedDay(day=data.day, name=data.name)
    session.add(row)
    session.flush()
    bump(session)
    record(session, actor=actor, action="closed_day.create", entity="closed_day",
           entity_id=data.day.isoformat(), after=row_view(row))
    return row


def get_closed_day_or_raise(session: Session, day: date, *, for_update: bool = False
                            ) -> ClosedDay:
    # Locked before a rename or delete: a row deleted meanwhile is then a 404, not a 500.
    row = repository.get_closed_day(session, day, for_update=for_update)
    if row is None:
        raise NotFound(f"{day.isoformat()} is not a municipal closed day", field="day")
    return row


def rename_closed_day(session: Session, day: date, name: str, *, actor: str) -> ClosedDay:
    row = get_closed_day_or_raise(session, day, for_update=True)
    if row.name == name:
        return row
    before = row_view(row)
    row.name = name
    session.flush()
    bump(session)
    record(session, actor=actor, action="closed_day.update", entity="closed_day",
           entity_id=json_value(day), before=before, after=row_view(row))
    return row


def delete_closed_day(session: Session, day: date, *, actor: str) -> None:
    row = get_closed_day_or_raise(session, day, for_update=True)
    before = row_view(row)
    session.delete(row)
    session.flush()
    bump(session)
    record(session, actor=actor, action="closed_day.delete", entity="closed_day",
           entity_id=json_value(day), before=before)
