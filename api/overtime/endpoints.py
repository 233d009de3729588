"""Overtime API: orders, applications, the 庶務事務 import, 乖離 and caps
(/admin/overtime…, /me/overtime…, /me/divergences…)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from api.attendance.auth import StaffDep
from api.attendance.service import month_bounds
from api.csv_import import ImportBody
from api.db import SessionDep
from api.users.auth import AdminDep

from . import repository as repo
from . import service
from .schemas import (
    DivergenceConfirm,
    DivergenceRead,
    DivergenceSubmit,
    OvertimeApply,
    OvertimeDecision,
    OvertimeOrderCreate,
    OvertimeRead,
)

router = APIRouter(tags=["overtime"])


@router.get("/admin/overtime/requests", response_model=list[OvertimeRead])
def list_requests(session: SessionDep, actor: AdminDep, month: str | None = None,
                  staff_id: int | None = None, status: str | None = None) -> list[OvertimeRead]:
    """Overtime applications and orders, filtered by month, staff member and status."""
    start, end = month_bounds(month) if month else (None, None)
    rows = repo.list_requests(session, staff_id=staff_id, status=status, start=start, end=end)
    return [OvertimeRead.model_validate(r) for r in rows]


@router.post("/admin/overtime/orders", status_code=201, response_model=OvertimeRead)
def create_order(data: OvertimeOrderCreate, session: SessionDep,
                 actor: AdminDep) -> OvertimeRead:
    """Record an overtime order (時間外勤務命令), approved as issued."""
    row = service.order(session, actor=actor, **data.model_dump())
    return OvertimeRead.model_validate(row)


@router.post("/admin/overtime/orders/import")
def import_orders(actor: AdminDep, body: ImportBody, session: SessionDep,
                  encoding: Annotated[str, Query(pattern="^(cp932|utf8bom)$")] = "cp932"
                  ) -> dict[str, Any]:
    """Import orders from a 庶務事務 CSV (request body, streamed into a spooled file); all or
    nothing, errors per line, at most 20,000 rows (413 naming the line past it), a 400 lists
    the first 100 errors and their count. A sync ``def``: the parsing and the database work
    run in the thread pool, never on the loop."""
    return service.import_orders(session, body, actor=actor, encoding=encoding)


@router.get("/admin/overtime/divergences")
def divergences(session: SessionDep, actor: AdminDep, month: str,
                department_id: int | None = None, include_confirmed: bool = False
                ) -> list[dict[str, Any]]:
    """The 乖離 report: days over the threshold, per department, open ones by default."""
    return service.divergence_report(session, month=month, department_id=department_id,
                                     only_open=not include_confirmed)


@router.get("/admin/overtime/caps")
def caps(session: SessionDep, actor: AdminDep, month: str,
         department_id: int | None = None) -> list[dict[str, Any]]:
    """Overtime against the caps (month, fiscal year, averages) with alerts and projection."""
    return service.caps_report(session, month=month, department_id=department_id)


@router.get("/me/overtime", response_model=list[OvertimeRead])
def my_overtime(session: SessionDep, me: StaffDep, month: str | None = None
                ) -> list[OvertimeRead]:
    """The caller's own overtime applications and orders."""
    start, end = month_bounds(month) if month else (None, None)
    rows = repo.list_requests(session, staff_id=me.id, start=start, end=end)
    return [OvertimeRead.model_validate(r) for r in rows]


@router.post("/me/overtime", status_code=201, response_model=OvertimeRead)
def apply_overtime(data: OvertimeApply, session: SessionDep, me: StaffDep) -> OvertimeRead:
    """Apply for overtime; the supervisor of the caller's 課 decides."""
    return OvertimeRead.model_validate(service.apply(session, staff=me, **data.model_dump()))


@router.get("/me/overtime/to-approve", response_model=list[OvertimeRead])
def to_approve(session: SessionDep, me: StaffDep) -> list[OvertimeRead]:
    """Pending applications in the departments the caller supervises on their work dates."""
    return [OvertimeRead.model_validate(r) for r in repo.pending_for_supervisor(session, me.id)]


@router.post("/me/overtime/{request_id}/decision", response_model=OvertimeRead)
def decide(request_id: int, data: OvertimeDecision, session: SessionDep,
           me: StaffDep) -> OvertimeRead:
    """The supervisor approves or rejects an application."""
    row = service.decide(session, request_id, approver=me, approve=data.approve)
    return OvertimeRead.model_validate(row)


@router.get("/me/divergences")
def my_divergences(session: SessionDep, me: StaffDep, month: str) -> list[dict[str, Any]]:
    """The caller's own days with a 乖離 over the threshold, and their reasons."""
    return service.divergence_report(session, month=month, staff_ids=[me.id], only_open=False)


@router.post("/me/divergences", status_code=201, response_model=DivergenceRead)
def submit_divergence(data: DivergenceSubmit, session: SessionDep,
                      me: StaffDep) -> DivergenceRead:
    """Give the reason for a day's 乖離 (業務(事後命令), 自己啓発, 私用, 打刻忘れ, 休憩, その他)."""
    row = service.submit_reason(session, staff=me, **data.model_dump())
    return DivergenceRead.model_validate(row)


@router.post("/me/divergences/{divergence_id}/confirmation", response_model=DivergenceRead)
def confirm_divergence(divergence_id: int, data: DivergenceConfirm, session: SessionDep,
                       me: StaffDep) -> DivergenceRead:
    """The 所属長 confirms (or returns) a 乖離 reason."""
    row = service.confirm_reason(session, divergence_id, supervisor=me, confirm=data.confirm)
    return DivergenceRead.model_validate(row)
