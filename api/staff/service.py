"""Departments and staff: create, update, delete, with audit rows and snapshot bumps.

Staff rows are decision data (name on the reader display, active period): a change to
``name``, ``active_from`` or ``active_until`` bumps the snapshot version. A staff member who
has credentials or any history cannot be deleted: end the employment with ``active_until``.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from api.audit.admin import row_view
from api.audit.service import record
from api.errors import BadRequest, Conflict, NotFound
from api.models import Department, Staff
from api.snapshot.versioning import bump

from . import repository
from .schemas import (
    DepartmentCreate,
    DepartmentUpdate,
    StaffCreate,
    StaffUpdate,
)

SNAPSHOT_FIELDS = ("name", "active_from", "active_until")


# Departments ------------------------------------------------------------------------------

def get_department_or_raise(session: Session, department_id: int) -> Department:
    dept = repository.get_department(session, department_id)
    if dept is None:
        raise NotFound(f"department {department_id} not found", field="id")
    return dept


def _department_exists(session: Session, department_id: int, field: str) -> None:
    if repository.get_department(session, department_id) is None:
        raise BadRequest(f"department {department_id} does not exist", field=field)


def create_department(session: Session, data: DepartmentCreate, *, actor: str) -> Department:
    if repository.get_department_by_code(session, data.code) is not None:
        raise Conflict(f"a department with code {data.code!r} already exists", field="code")
    dept = Department(**data.model_dump())
    session.add(dept)
    session.flush()
    record(session, actor=actor, action="department.create", entity="department",
           entity_id=dept.id, after=row_view(dept))
    return dept


def update_department(session: Session, department_id: int, data: DepartmentUpdate, *,
                      actor: str) -> Department:
    dept = get_department_or_raise(session, department_id)
    changes = data.model_dump(exclude_unset=True)
    for key in ("code", "name", "overtime_class"):
        if key in changes and changes[key] is None:
            raise BadRequest(f"{key} cannot be null", field=key)
    if "code" in changes and changes["code"] != dept.code:
        other = repository.get_department_by_code(session, changes["code"])
        if other is not None:
            raise Conflict(f"a department with code {changes['code']!r} already exists",
                           field="code")
    before = row_view(dept)
    for key, value in changes.items():
        setattr(dept, key, value)
    session.flush()
    after = row_view(dept)
    if after != before:
        record(session, actor=actor, action="department.update", entity="department",
               entity_id=dept.id, before=before, after=after)
    return dept


def delete_department(session: Session, department_id: int, *, actor: str) -> None:
    dept = get_department_or_raise(session, department_id)
    if repository.department_has_staff(session, department_id):
        raise Conflict("the department still has staff; move them first", field="id")
    before = row_view(dept)
    session.delete(dept)
    session.flush()
    record(session, actor=actor, action="department.delete", entity="department",
           entity_id=department_id, before=before)


# Staff ------------------------------------------------------------------------------------

def get_staff_or_raise(session: Session, staff_id: int, *, lock: bool = False) -> Staff:
    staff = repository.get_staff(session, staff_id, lock=lock)
    if staff is None:
        raise NotFound(f"staff {staff_id} not found", field="id")
    return staff


def create_staff(session: Session, data: StaffCreate, *, actor: str) -> Staff:
    if repository.get_staff_by_number(session, data.staff_number) is not None:
        raise Conflict(f"staff number {data.staff_number!r} is already in use",
                       field="staff_number")
    _department_exists(session, data.department_id, "department_id")
    staff = Staff(**data.model_dump())
    session.add(staff)
    session.flush()
    record(session, actor=actor, action="staff.create", entity="staff", entity_id=staff.id,
           after=row_view(staff))
    return staff


def update_staff(session: Session, staff_id: int, data: StaffUpdate, *, actor: str) -> Staff:
    staff = get_staff_or_raise(session, staff_id, lock=True)
    changes = data.model_dump(exclude_unset=True)
    for key in ("staff_number", "name", "name_kana", "department_id", "employment_type",
                "work_pattern", "active_from"):
        if key in changes and changes[key] is None:
            raise BadRequest(f"{key} cannot be null", field=key)
    if "staff_number" in changes and changes["staff_number"] != staff.staff_number:
        if repository.get_staff_by_number(session, changes["staff_number"]) is not None:
            raise Conflict(f"staff number {changes['staff_number']!r} is already in use",
                           field="staff_number")
    if "department_id" in changes:
        _department_exists(session, changes["department_id"], "department_id")
    start: date = changes.get("active_from", staff.active_from)
    end: date | None = changes.get("active_until", staff.active_until)
    if end is not None and end < start:
        raise BadRequest("active_until must not be before active_from",
                         field="active_until" if "active_until" in changes else "active_from")
    before = row_view(staff)
    for key, value in changes.items():
        setattr(staff, key, value)
    session.flush()
    after = row_view(staff)
    if after == before:
        return staff
    if any(before[k] != after[k] for k in SNAPSHOT_FIELDS):
        bump(session)
    record(session, actor=actor, action="staff.update", entity="staff", entity_id=staff.id,
           before=before, after=after)
    return staff


def delete_staff(session: Session, staff_id: int, *, actor: str) -> None:
    """Delete a staff member entered by mistake (no credentials, no history)."""
    staff = get_staff_or_raise(session, staff_id, lock=True)
    if repository.staff_has_credentials(session, staff_id):
        raise Conflict("the staff member has credentials; end the employment with "
                       "active_until instead of deleting", field="id")
    before = row_view(staff)
    try:
        with session.begin_nested():
            groups = repository.delete_memberships(session, staff_id)
            session.delete(staff)
            session.flush()
    except IntegrityError as err:
        raise Conflict("the staff member has history (events, attendance, …); end the "
                       "employment with active_until instead of deleting", field="id") from err
    bump(session)
    record(session, actor=actor, action="staff.delete", entity="staff", entity_id=staff_id,
           before={**before, "group_ids": groups})
