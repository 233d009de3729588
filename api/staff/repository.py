"""Queries for departments and staff."""

from __future__ import annotations

from datetime import date

from sqlalchemy import delete, func, or_, select
from sqlalchemy.orm import Session

from api.audit.admin import paginate
from api.models import AccessGroupMember, Credential, Department, Staff


def get_department(session: Session, department_id: int) -> Department | None:
    return session.get(Department, department_id)


def get_department_by_code(session: Session, code: str) -> Department | None:
    return session.execute(select(Department).where(Department.code == code)).scalar_one_or_none()


def list_departments(session: Session, *, limit: int,
                     offset: int) -> tuple[list[Department], int]:
    return paginate(session, select(Department).order_by(Department.code), limit=limit,
                    offset=offset)


def department_has_staff(session: Session, department_id: int) -> bool:
    return session.execute(select(Staff.id).where(Staff.department_id == department_id)
                           .limit(1)).first() is not None


def get_staff(session: Session, staff_id: int, *, lock: bool = False) -> Staff | None:
    stmt = select(Staff).where(Staff.id == staff_id)
    if lock:
        stmt = stmt.with_for_update()
    return session.execute(stmt).scalar_one_or_none()


def get_staff_by_number(session: Session, staff_number: str) -> Staff | None:
    return session.execute(select(Staff).where(Staff.staff_number == staff_number)
                           ).scalar_one_or_none()


def list_staff(session: Session, *, department_id: int | None, employment_type: str | None,
               active_on: date | None, q: str | None, limit: int,
               offset: int) -> tuple[list[Staff], int]:
    conds = []
    if department_id is not None:
        conds.append(Staff.department_id == department_id)
    if employment_type is not None:
        conds.append(Staff.employment_type == employment_type)
    if active_on is not None:
        conds.append(Staff.active_from <= active_on)
        conds.append(or_(Staff.active_until.is_(None), Staff.active_until >= active_on))
    if q:
        like = f"%{q}%"
        conds.append(or_(Staff.staff_number.ilike(like), Staff.name.ilike(like),
                         Staff.name_kana.ilike(like)))
    total = session.execute(select(func.count()).select_from(Staff).where(*conds)).scalar_one()
    rows = session.execute(select(Staff).where(*conds).order_by(Staff.staff_number)
                           .limit(limit).offset(offset)).scalars()
    return list(rows), int(total)


def staff_has_credentials(session: Session, staff_id: int) -> bool:
    return session.execute(select(Credential.id).where(Credential.staff_id == staff_id)
                           .limit(1)).first() is not None


def delete_memberships(session: Session, staff_id: int) -> list[int]:
    """Remove the staff member from every group; the group ids it was in."""
    groups = list(session.execute(select(AccessGroupMember.group_id)
                                  .where(AccessGroupMember.staff_id == staff_id)).scalars())
    session.execute(delete(AccessGroupMember).where(AccessGroupMember.staff_id == staff_id))
    return sorted(groups)
