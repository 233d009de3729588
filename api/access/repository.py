"""Queries for access groups, members, schedules, permissions and closed days."""

from __future__ import annotations

from collections.abc import Collection
from datetime import date

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session, selectinload

from api.audit.admin import paginate
from api.models import (
    AccessGroup,
    AccessGroupMember,
    ClosedDay,
    Door,
    Permission,
    Schedule,
    ScheduleWindow,
    Staff,
)


def get_group(session: Session, group_id: int, *, lock: bool = False) -> AccessGroup | None:
    stmt = select(AccessGroup).where(AccessGroup.id == group_id)
    if lock:
        stmt = stmt.with_for_update()
    return session.execute(stmt).scalar_one_or_none()


def get_group_by_name(session: Session, name: str) -> AccessGroup | None:
    return session.execute(select(AccessGroup).where(AccessGroup.name == name)
                           ).scalar_one_or_none()


def list_groups(session: Session, *, limit: int,
                offset: int) -> tuple[list[tuple[AccessGroup, int]], int]:
    counts = (select(AccessGroupMember.group_id, func.count().label("n"))
              .group_by(AccessGroupMember.group_id).subquery())
    stmt = (select(AccessGroup, func.coalesce(counts.c.n, 0))
            .outerjoin(counts, counts.c.group_id == AccessGroup.id).order_by(AccessGroup.name))
    rows, total = paginate(session, stmt, limit=limit, offset=offset, scalars=False)
    return [(g, int(n)) for g, n in rows], total


def member_ids(session: Session, group_id: int) -> list[int]:
    return list(session.execute(
        select(AccessGroupMember.staff_id).where(AccessGroupMember.group_id == group_id)
        .order_by(AccessGroupMember.staff_id)).scalars())


def existing_staff_ids(session: Session, staff_ids: Collection[int]) -> set[int]:
    if not staff_ids:
        return set()
    return set(session.execute(select(Staff.id).where(Staff.id.in_(list(staff_ids)))).scalars())


def add_members(session: Session, group_id: int, staff_ids: Collection[int]) -> None:
    session.add_all(AccessGroupMember(group_id=group_id, staff_id=s) for s in staff_ids)
    session.flush()


def remove_members(session: Session, group_id: int, staff_ids: Collection[int]) -> None:
    if staff_ids:
        session.execute(delete(AccessGroupMember).where(
            AccessGroupMember.group_id == group_id,
            AccessGroupMember.staff_id.in_(list(staff_ids))))


def delete_group(session: Session, group_id: int) -> None:
    session.execute(delete(AccessGroupMember).where(AccessGroupMember.group_id == group_id))
    session.execute(delete(Permission).where(Permission.group_id == group_id))
    session.execute(delete(AccessGroup).where(AccessGroup.id == group_id))


def get_schedule(session: Session, schedule_id: int, *, lock: bool = False) -> Schedule | None:
    stmt = select(Schedule).options(selectinload(Schedule.windows)).where(
        Schedule.id == schedule_id)
    if lock:
        stmt = stmt.with_for_update()
    return session.execute(stmt).scalar_one_or_none()


def get_schedule_by_name(session: Session, name: str) -> Schedule | None:
    return session.execute(select(Schedule).where(Schedule.name == name)).scalar_one_or_none()


def list_schedules(session: Session, *, limit: int,
                   offset: int) -> tuple[list[Schedule], int]:
    return paginate(session, select(Schedule).options(selectinload(Schedule.windows))
                    .order_by(Schedule.name), limit=limit, offset=offset)


def delete_windows(session: Session, schedule_id: int) -> None:
    session.execute(delete(ScheduleWindow).where(ScheduleWindow.schedule_id == schedule_id))


def schedule_in_use(session: Session, schedule_id: int) -> bool:
    return session.execute(select(Permission.id).where(Permission.schedule_id == schedule_id)
                           .limit(1)).first() is not None


def door_exists(session: Session, door_id: int) -> bool:
    return session.get(Door, door_id) is not None


def get_permission(session: Session, permission_id: int) -> Permission | None:
    return session.get(Permission, permission_id)


def find_permission(session: Session, group_id: int, door_id: int,
                    schedule_id: int) -> Permission | None:
    return session.execute(select(Permission).where(
        Permission.group_id == group_id, Permission.door_id == door_id,
        Permission.schedule_id == schedule_id)).scalar_one_or_none()


def permissions_of_group(session: Session, group_id: int) -> list[Permission]:
    return list(session.execute(select(Permission).where(Permission.group_id == group_id)
                                .order_by(Permission.id)).scalars())


def list_permissions(session: Session, *, group_id: int | None, door_id: int | None,
                     schedule_id: int | None, limit: int,
                     offset: int) -> tuple[list[Permission], int]:
    stmt = select(Permission).order_by(Permission.id)
    if group_id is not None:
        stmt = stmt.where(Permission.group_id == group_id)
    if door_id is not None:
        stmt = stmt.where(Permission.door_id == door_id)
    if schedule_id is not None:
        stmt = stmt.where(Permission.schedule_id == schedule_id)
    return paginate(session, stmt, limit=limit, offset=offset)


def get_closed_day(session: Session, day: date, *, for_update: bool = False
                   ) -> ClosedDay | None:
    return session.get(ClosedDay, day, with_for_update=for_update, populate_existing=for_update)


def list_closed_days(session: Session, start: date | None, end: date | None, *, limit: int,
                     offset: int) -> tuple[list[ClosedDay], int]:
    stmt = select(ClosedDay).order_by(ClosedDay.day)
    if start is not None:
        stmt = stmt.where(ClosedDay.day >= start)
    if end is not None:
        stmt = stmt.where(ClosedDay.day <= end)
    return paginate(session, stmt, limit=limit, offset=offset)
