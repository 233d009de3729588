"""Admin and self-service API for attendance (/admin/attendance…, /me/timesheet)."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Query

from api.audit.service import record
from api.csv_import import ImportBody
from api.db import SessionDep
from api.errors import BadRequest, Unprocessable
from api.models import Department, DepartmentSupervisor, WorkPattern
from api.models.base import utcnow
from api.users.auth import AdminDep

from . import leave as leave_service
from . import repository as repo
from . import service
from .auth import StaffDep
from .closing import find_amendments
from .config import rule_config
from .rules import total
from .schemas import (
    AmendmentRead,
    CorrectionCreate,
    CorrectionDecision,
    CorrectionRead,
    DailyLineRead,
    DayOverrideCreate,
    DayOverrideRead,
    LeaveCreate,
    SupervisorCreate,
    WorkPatternAssign,
    WorkPatternCreate,
    WorkPatternRead,
)

router = APIRouter(tags=["attendance"])


def _lines(session, staff_id: int, start: date, end: date) -> list[DailyLineRead]:  # type: ignore[no-untyped-def]
    if end < start or (end - start).days > 62:
        raise BadRequest("the period must run forwards and span at most 62 days", field="to")
    cfg = rule_config()
    service.get_staff_or_raise(session, staff_id)
    res = service.compute_period(session, start, end, staff_ids=[staff_id], cfg=cfg)
    out = []
    for r in res.days.get(staff_id, []):
        ln = r.line
        out.append(DailyLineRead(
            staff_id=staff_id, business_date=ln.business_date, day_type=ln.day_type.value,
            first_in=ln.first_in, last_out=ln.last_out,
            in_time=service.hhmm(ln.first_in, ln.business_date, cfg),
            out_time=service.hhmm(ln.last_out, ln.business_date, cfg),
            in_source=ln.in_source, out_source=ln.out_source,
            premises_minutes=ln.premises_minutes, break_minutes=ln.break_minutes,
            scheduled_minutes=ln.scheduled_minutes,
            worked_in_schedule_minutes=ln.worked_in_schedule_minutes,
            unscheduled_minutes=ln.unscheduled_minutes,
            approved_overtime_minutes=total(r.approved), overtime_minutes=total(r.paid),
            divergence_minutes=r.divergence, flags=list(ln.flags),
            text=service.format_line(ln, cfg=cfg)))
    return out


def _period(month: str | None, start: date | None, end: date | None) -> tuple[date, date]:
    if month:
        return service.month_bounds(month)
    if start is None:
        raise BadRequest("give month=YYYY-MM or from/to", field="month")
    return start, end or start


@router.get("/admin/attendance/daily", response_model=list[DailyLineRead])
def daily(session: SessionDep, actor: AdminDep, staff_id: int,
          month: str | None = None, start: Annotated[date | None, Query(alias="from")] = None,
          end: Annotated[date | None, Query(alias="to")] = None) -> list[DailyLineRead]:
    """A staff member's day lines (出勤, 退勤, 在庁時間, flags) for a month or a date range."""
    s, e = _period(month, start, end)
    return _lines(session, staff_id, s, e)


@router.get("/me/timesheet", response_model=list[DailyLineRead])
def my_timesheet(session: SessionDep, me: StaffDep, month: str | None = None,
                 start: Annotated[date | None, Query(alias="from")] = None,
                 end: Annotated[date | None, Query(alias="to")] = None) -> list[DailyLineRead]:
    """The caller's own timesheet (self-service: the staff member linked to the user)."""
    s, e = _period(month, start, end)
    return _lines(session, me.id, s, e)


@router.post("/admin/attendance/corrections", status_code=201, response_model=CorrectionRead)
def create_correction(data: CorrectionCreate, session: SessionDep,
                      actor: AdminDep) -> CorrectionRead:
    """Request a correction of a day's 出勤/退勤 (the punch itself is never changed)."""
    row = service.create_correction(session, author=actor, **data.model_dump())
    return CorrectionRead.model_validate(row)


@router.post("/admin/attendance/corrections/{correction_id}/decision",
             response_model=CorrectionRead)
def decide_correction(correction_id: int, data: CorrectionDecision, session: SessionDep,
                      actor: AdminDep) -> CorrectionRead:
    """Approve or reject a correction (by someone other than its author; audited)."""
    row = service.decide_correction(session, correction_id, approve=data.approve, approver=actor)
    return CorrectionRead.model_validate(row)


@router.get("/admin/attendance/work-patterns", response_model=list[WorkPatternRead])
def list_patterns(session: SessionDep, actor: AdminDep) -> list[WorkPatternRead]:
    """Every work pattern."""
    return [WorkPatternRead.model_validate(p) for p in repo.work_patterns(session)]


@router.post("/admin/attendance/work-patterns", status_code=201, response_model=WorkPatternRead)
def create_pattern(data: WorkPatternCreate, session: SessionDep,
                   actor: AdminDep) -> WorkPatternRead:
    """A new work pattern (scheduled hours and break)."""
    row: WorkPattern = service.create_work_pattern(session, actor=actor, **data.model_dump())
    return WorkPatternRead.model_validate(row)


@router.post("/admin/attendance/work-pattern-assignments", status_code=201)
def assign_pattern(data: WorkPatternAssign, session: SessionDep,
                   actor: AdminDep) -> dict[str, int]:
    """Assign a work pattern to a staff member from a date."""
    row = service.assign_work_pattern(session, actor=actor, **data.model_dump())
    return {"id": row.id}


@router.post("/admin/attendance/day-overrides", status_code=201,
             response_model=list[DayOverrideRead])
def create_override(data: DayOverrideCreate, session: SessionDep,
                    actor: AdminDep) -> list[DayOverrideRead]:
    """週休日の振替 (both days), a 代休日, or another day-type override."""
    rows = service.create_override(session, actor=actor, **data.model_dump())
    return [DayOverrideRead.model_validate(r) for r in rows]


@router.post("/admin/attendance/leave", status_code=201)
def create_leave(data: LeaveCreate, session: SessionDep, actor: AdminDep) -> dict[str, Any]:
    """Leave entered by HR (年次休暇 by day, half-day or hours; 特別休暇; 病気休暇)."""
    return leave_service.leave_dict(leave_service.create_leave(session, actor=actor,
                                                               **data.model_dump()))


@router.post("/admin/attendance/leave/import")
def import_leave(actor: AdminDep, body: ImportBody, session: SessionDep,
                 encoding: Annotated[str, Query(pattern="^(cp932|utf8bom)$")] = "cp932"
                 ) -> dict[str, Any]:
    """Import leave from the 庶務事務 CSV (request body, streamed into a spooled file); all
    or nothing, errors per line (the first 100 and their count), at most 20,000 rows. A sync
    ``def``: parsing and the database work run in the thread pool, never on the loop."""
    return leave_service.import_leave(session, body, actor=actor, encoding=encoding)


@router.get("/admin/attendance/leave")
def list_leave(session: SessionDep, actor: AdminDep, month: str,
               staff_id: int | None = None) -> list[dict[str, Any]]:
    """Leave recorded in a month."""
    start, end = service.month_bounds(month)
    rows = repo.leaves(session, start, end, None if staff_id is None else [staff_id])
    return [leave_service.leave_dict(r) for r in rows]


@router.post("/admin/attendance/supervisors", status_code=201)
def add_supervisor(data: SupervisorCreate, session: SessionDep,
                   actor: AdminDep) -> dict[str, int]:
    """Make a staff member the supervisor (所属長) of a department from a date."""
    service.get_staff_or_raise(session, data.staff_id)
    if session.get(Department, data.department_id) is None:
        raise Unprocessable(f"department {data.department_id} does not exist",
                            field="department_id")
    row = DepartmentSupervisor(**data.model_dump())
    session.add(row)
    session.flush()
    record(session, actor=actor, action="attendance.supervisor.add",
           entity="department_supervisor", entity_id=row.id,
           after={"department_id": data.department_id, "staff_id": data.staff_id})
    return {"id": row.id}


@router.get("/admin/attendance/amendments", response_model=list[AmendmentRead])
def amendments(session: SessionDep, actor: AdminDep) -> list[AmendmentRead]:
    """Changes found in exported (frozen) months that no export has carried yet: the stored
    ones, and (with ``id`` null) those the next export will store. A GET never writes."""
    found = find_amendments(session, before=date.max - timedelta(days=40), now=utcnow(),
                            cfg=rule_config())
    stored = [AmendmentRead.model_validate(a) for a in repo.open_amendments(session)]
    return stored + [AmendmentRead.model_validate(a) for a in found]
