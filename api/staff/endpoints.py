"""Admin REST API for departments (所属) and staff (職員)."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from fastapi import APIRouter, Query

from api.audit.admin import AdminRoute, LimitQuery, OffsetPage, OffsetQuery
from api.bounded import Id
from api.db import SessionDep
from api.text import Guard
from api.users.auth import AdminDep

from . import repository, service
from .schemas import (
    DepartmentCreate,
    DepartmentRead,
    DepartmentUpdate,
    StaffCreate,
    StaffRead,
    StaffUpdate,
)

router = APIRouter(prefix="/admin", tags=["staff"], route_class=AdminRoute)


@router.get("/departments", response_model=OffsetPage[DepartmentRead])
def list_departments(session: SessionDep, actor: AdminDep, limit: LimitQuery = 100,
                     offset: OffsetQuery = 0) -> OffsetPage[DepartmentRead]:
    """Departments by code, paged by offset."""
    rows, total = repository.list_departments(session, limit=limit, offset=offset)
    return OffsetPage[DepartmentRead](items=[DepartmentRead.model_validate(d) for d in rows],
                                      total=total, limit=limit, offset=offset)


@router.post("/departments", status_code=201, response_model=DepartmentRead)
def create_department(data: DepartmentCreate, session: SessionDep,
                      actor: AdminDep) -> DepartmentRead:
    """Create a department."""
    return DepartmentRead.model_validate(service.create_department(session, data, actor=actor))


@router.get("/departments/{department_id}", response_model=DepartmentRead)
def get_department(department_id: Id, session: SessionDep, actor: AdminDep) -> DepartmentRead:
    """One department."""
    return DepartmentRead.model_validate(service.get_department_or_raise(session, department_id))


@router.patch("/departments/{department_id}", response_model=DepartmentRead)
def update_department(department_id: Id, data: DepartmentUpdate, session: SessionDep,
                      actor: AdminDep) -> DepartmentRead:
    """Change a department's code, name or overtime class."""
    return DepartmentRead.model_validate(
        service.update_department(session, department_id, data, actor=actor))


@router.delete("/departments/{department_id}", status_code=204)
def delete_department(department_id: Id, session: SessionDep, actor: AdminDep) -> None:
    """Delete a department without staff."""
    service.delete_department(session, department_id, actor=actor)


@router.get("/staff", response_model=OffsetPage[StaffRead])
def list_staff(
    session: SessionDep, actor: AdminDep, limit: LimitQuery = 100, offset: OffsetQuery = 0,
    department_id: Id | None = None,
    employment_type: Literal["regular", "fiscal_year", "temporary"] | None = None,
    active_on: Annotated[date | None, Query(description="employed on this day")] = None,
    q: Annotated[str | None, Query(max_length=100, description="part of 職員番号, 氏名 or カナ"),
                 Guard] = None,
) -> OffsetPage[StaffRead]:
    """Staff by 職員番号, filtered, paged by offset."""
    rows, total = repository.list_staff(session, department_id=department_id,
                                        employment_type=employment_type, active_on=active_on,
                                        q=q, limit=limit, offset=offset)
    return OffsetPage[StaffRead](items=[StaffRead.model_validate(s) for s in rows], total=total,
                                 limit=limit, offset=offset)


@router.post("/staff", status_code=201, response_model=StaffRead)
def create_staff(data: StaffCreate, session: SessionDep, actor: AdminDep) -> StaffRead:
    """Create a staff member (never with the individual number)."""
    return StaffRead.model_validate(service.create_staff(session, data, actor=actor))


@router.get("/staff/{staff_id}", response_model=StaffRead)
def get_staff(staff_id: Id, session: SessionDep, actor: AdminDep) -> StaffRead:
    """One staff member."""
    return StaffRead.model_validate(service.get_staff_or_raise(session, staff_id))


@router.patch("/staff/{staff_id}", response_model=StaffRead)
def update_staff(staff_id: Id, data: StaffUpdate, session: SessionDep,
                 actor: AdminDep) -> StaffRead:
    """Change a staff member; a new name or active period bumps the snapshot version."""
    return StaffRead.model_validate(service.update_staff(session, staff_id, data, actor=actor))


@router.delete("/staff/{staff_id}", status_code=204)
def delete_staff(staff_id: Id, session: SessionDep, actor: AdminDep) -> None:
    """Delete a staff member entered by mistake (409 once they have credentials or history)."""
    service.delete_staff(session, staff_id, actor=actor)
