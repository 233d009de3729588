"""The console's attendance pages for HR, supervisors and auditors: a department's day (who
came, who is late, on leave or absent), the 乖離 queue, corrections with four-eyes approval,
and the HR exports. Every rule is the attendance, overtime and export services' own; this
module only picks whose data the user may see and turns it into pages."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import RedirectResponse
from pydantic import ValidationError

from api.attendance import service as attendance
from api.attendance.config import rule_config
from api.attendance.rules import DailyLine, DivergenceReason
from api.attendance.schemas import CorrectionCreate
from api.bounded import Id
from api.db import SessionDep
from api.errors import Conflict, Forbidden, MynagateError, NotFound
from api.exports import repository as export_repo
from api.exports import service as exports
from api.exports.profiles import DATASETS, FILE_FORMATS
from api.limits import RawBody
from api.models import Staff
from api.models.base import utcnow
from api.overtime import repository as overtime_repo
from api.overtime import service as overtime
from api.users import repository as users_repo
from api.users.auth import CSRF_COOKIE
from api.users.roles import Role

from . import attendance_queries as aq
from . import queries
from .attendance_queries import DepartmentRow
from .deps import ConsoleIdentity, ConsoleUser, NotYours
from .pages import ConsoleRoute, MonthQuery, form_fields
from .rendering import render

router = APIRouter(prefix="/console/attendance", tags=["console"], route_class=ConsoleRoute,
                   include_in_schema=False)
CodeQuery = Annotated[str, Query(max_length=40)]
DayQuery = Annotated[date | None, Query()]
HHMM_MAX = 48 * 60  # a 退勤 may be written past midnight as 24:00–47:59 of its business day


# --- whose data -----------------------------------------------------------------------------

def visible_departments(session: SessionDep, user: ConsoleIdentity,
                        day: date) -> list[DepartmentRow]:
    """Every department, or for a supervisor only the 課 they head on ``day`` (the same
    table api.users.scope checks for the admin API)."""
    if Role(user.role) is not Role.SUPERVISOR:
        return aq.departments(session)
    if user.staff_id is None:
        return []
    return aq.departments(session, users_repo.supervised_departments(session, user.staff_id,
                                                                     day))


def _chosen(user: ConsoleIdentity, departments: list[DepartmentRow],
            code: str) -> DepartmentRow | None:
    """The department asked for (a code outside the user's is refused), else the first."""
    if not code:
        return departments[0] if departments else None
    found = next((d for d in departments if d.code == code), None)
    if found is None:
        raise NotYours(user)
    return found


def _today() -> date:
    return rule_config().business_day.date_of(utcnow())


# --- the department's day -----------------------------------------------------------------

@dataclass(frozen=True)
class DayRow:
    number: str
    name: str
    first_in: str  # JST, written 25:30 past midnight
    last_out: str
    status: str  # leave | late | absent | came | not_in
    flags: tuple[str, ...]
    leave_kinds: tuple[str, ...]


def _status(line: DailyLine) -> str:
    """The one word the day view sorts people under; the flags are the service's own."""
    if line.leave:
        return "leave"
    if line.late:
        return "late"
    if line.absent:
        return "absent"
    seen = line.first_in is not None or line.last_out is not None or line.no_clock
    return "came" if seen else "not_in"  # seen at a door without punching: came all the same


def day_rows(session: SessionDep, department: DepartmentRow, day: date,
             now: datetime) -> list[DayRow]:
    cfg = rule_config()
    ids = overtime_repo.staff_ids_of_department(session, department.id)
    res = attendance.compute_period(session, day, day, staff_ids=ids, now=now, cfg=cfg)
    leave = aq.leave_kinds(session, day, list(res.days))
    out = []
    for sid, days in res.days.items():
        info = res.staff[sid]
        for r in days:
            ln = r.line
            out.append(DayRow(info.number, info.name, attendance.hhmm(ln.first_in, day, cfg),
                              attendance.hhmm(ln.last_out, day, cfg), _status(ln), ln.flags,
                              tuple(leave.get(sid, ()))))
    return sorted(out, key=lambda r: r.number)


@router.get("/day")
def department_day(request: Request, session: SessionDep, user: ConsoleUser,
                   department: CodeQuery = "", day: DayQuery = None) -> Response:
    """A department's business day: who came (first in, last out in JST), who is late, on
    leave or absent. A supervisor sees only the 課 they head."""
    now = utcnow()
    day = day or rule_config().business_day.date_of(now)
    depts = visible_departments(session, user, day)
    chosen = _chosen(user, depts, department)
    rows = day_rows(session, chosen, day, now) if chosen else []
    counts = {s: sum(1 for r in rows if r.status == s)
              for s in ("came", "late", "leave", "absent", "not_in")}
    return render(request, "attendance_day.html", user=user, departments=depts,
                  chosen=chosen, day=day, rows=rows, counts=counts,
                  prev_day=day - timedelta(days=1), next_day=day + timedelta(days=1))


# --- the 乖離 queue ---------------------------------------------------------------------------

def _queue(session: SessionDep, user: ConsoleIdentity, month: str,
           department: str) -> tuple[list[DepartmentRow], DepartmentRow | None,
                                     list[dict[str, Any]]]:
    """The open 乖離 (no reason yet, submitted, returned) of the user's departments."""
    depts = visible_departments(session, user, _today())
    chosen = _chosen(user, depts, department) if department or Role(user.role) is Role.SUPERVISOR \
        else None
    now = utcnow()
    if chosen is not None:
        return depts, chosen, overtime.divergence_report(session, month=month,
                                                          department_id=chosen.id, now=now)
    if Role(user.role) is Role.SUPERVISOR:  # heads no 課: nothing of anyone's
        return depts, None, []
    return depts, None, overtime.divergence_report(session, month=month, now=now)


def _queue_page(request: Request, session: SessionDep, user: ConsoleIdentity, month: str,
                department: str, status_code: int = 200, **context: object) -> Response:
    depts, chosen, rows = _queue(session, user, month, department)
    return render(request, "attendance_divergences.html", status_code=status_code, user=user,
                  departments=depts, chosen=chosen, month=month, rows=rows,
                  may_confirm=user.may("POST", "/console/attendance/divergences/{divergence_id}"),
                  csrf=request.cookies.get(CSRF_COOKIE, ""), reasons=DivergenceReason,
                  **context)


@router.get("/divergences")
def divergences(request: Request, session: SessionDep, user: ConsoleUser,
                month: MonthQuery = None, department: CodeQuery = "") -> Response:
    """The 乖離 queue: days whose time on the premises exceeds the approved overtime by more
    than the threshold, with the reason given and whether the 所属長 confirmed it."""
    return _queue_page(request, session, user, _month_or_this(month), department,
                       done=request.query_params.get("done"))


DIVERGENCE_DECISIONS = {"confirm": True, "return": False}


@router.post("/divergences/{divergence_id}")
def decide_divergence(request: Request, divergence_id: Id, body: RawBody, session: SessionDep,
                      user: ConsoleUser) -> Response:
    """Confirm or return a reason: the overtime service checks the user heads the person's 課
    on that day (業務(事後命令) confirmed issues the order after the fact)."""
    field = form_fields(body, "decision", "month", "csrf_token")
    month = _month_or_this(field["month"])
    if field["decision"] not in DIVERGENCE_DECISIONS:
        return _queue_page(request, session, user, month, "", status_code=422,
                           error="decision")
    if not user.csrf_ok(field["csrf_token"]):
        return _queue_page(request, session, user, month, "", status_code=403,
                           error="forbidden")
    me = session.get(Staff, user.staff_id) if user.staff_id is not None else None
    try:
        if me is None:
            raise Forbidden("the user is not linked to a staff member")
        overtime.confirm_reason(session, divergence_id, supervisor=me,
                                confirm=DIVERGENCE_DECISIONS[field["decision"]], now=utcnow())
    except NotFound:
        return _queue_page(request, session, user, month, "", status_code=404, error="gone")
    except Forbidden:
        return _queue_page(request, session, user, month, "", status_code=403,
                           error="not_yours")
    except Conflict:
        return _queue_page(request, session, user, month, "", status_code=409, error="decided")
    return RedirectResponse(f"/console/attendance/divergences?month={month}"
                            f"&done={field['decision']}", status_code=303)


def _is_month(text: str | None) -> bool:
    if not text or len(text) != 7:
        return False
    try:
        attendance.month_bounds(text)
    except MynagateError:  # 2026-13
        return False
    return True


def _month_or_this(text: str | None) -> str:
    """A valid YYYY-MM as given, else this business month."""
    return text if text and _is_month(text) else _today().strftime("%Y-%m")


# --- corrections (four eyes) ------------------------------------------------------------------

def _corrections_page(request: Request, session: SessionDep, user: ConsoleIdentity,
                      status_code: int = 200, **context: object) -> Response:
    return render(request, "attendance_corrections.html", status_code=status_code, user=user,
                  pending=aq.corrections(session, pending=True),
                  decided=aq.corrections(session, pending=False, limit=20),
                  may_write=user.may("POST", "/console/attendance/corrections"),
                  csrf=request.cookies.get(CSRF_COOKIE, ""), today=_today(), **context)


@router.get("/corrections")
def corrections(request: Request, session: SessionDep, user: ConsoleUser) -> Response:
    """Corrections of 出勤/退勤 awaiting a second HR user's decision, and the form to file one."""
    return _corrections_page(request, session, user, done=request.query_params.get("done"))


def _corrected_at(day: str, hhmm: str) -> tuple[date, datetime]:
    """The business date and the time typed as HH:MM on it (24:00–47:59: the next day)."""
    business_date = date.fromisoformat(day)
    hours, _, minutes = hhmm.partition(":")
    if not (hours.isascii() and hours.isdigit() and len(hours) <= 2 and minutes.isascii()
            and minutes.isdigit() and len(minutes) == 2 and int(minutes) < 60):
        raise ValueError(hhmm)
    total = int(hours) * 60 + int(minutes)
    if total >= HHMM_MAX:
        raise ValueError(hhmm)
    midnight = datetime.combine(business_date, time(0), rule_config().business_day.tz)
    return business_date, midnight + timedelta(minutes=total)


@router.post("/corrections")
def file_correction(request: Request, body: RawBody, session: SessionDep,
                    user: ConsoleUser) -> Response:
    """File a correction; the attendance service records the authenticated user as author."""
    field = form_fields(body, "staff_number", "business_date", "kind", "time", "reason",
                        "csrf_token")
    if not user.csrf_ok(field["csrf_token"]):
        return _corrections_page(request, session, user, status_code=403, error="forbidden")
    person = queries.staff_by_number(session, field["staff_number"].strip())
    if person is None:
        return _corrections_page(request, session, user, status_code=422, error="staff",
                                 form=field)
    try:
        business_date, at = _corrected_at(field["business_date"], field["time"])
        data = CorrectionCreate(staff_id=person.id, business_date=business_date,
                                kind=field["kind"], corrected_at=at, reason=field["reason"])
        attendance.create_correction(session, author=user.name, **data.model_dump())
    except (ValueError, ValidationError, MynagateError):
        return _corrections_page(request, session, user, status_code=422, error="input",
                                 form=field)
    return RedirectResponse("/console/attendance/corrections?done=filed", status_code=303)


CORRECTION_DECISIONS = {"approve": True, "reject": False}


@router.post("/corrections/{correction_id}")
def decide_correction(request: Request, correction_id: Id, body: RawBody, session: SessionDep,
                      user: ConsoleUser) -> Response:
    """Approve or reject a correction: never by its author (the service's four-eyes check,
    against the authenticated user's name)."""
    field = form_fields(body, "decision", "csrf_token")
    if field["decision"] not in CORRECTION_DECISIONS:
        return _corrections_page(request, session, user, status_code=422, error="decision")
    if not user.csrf_ok(field["csrf_token"]):
        return _corrections_page(request, session, user, status_code=403, error="forbidden")
    try:
        attendance.decide_correction(session, correction_id, approver=user.name,
                                     approve=CORRECTION_DECISIONS[field["decision"]])
    except NotFound:
        return _corrections_page(request, session, user, status_code=404, error="gone")
    except Conflict as err:
        own = err.field == "approver"
        return _corrections_page(request, session, user, status_code=409,
                                 error="own" if own else "decided")
    return RedirectResponse(f"/console/attendance/corrections?done={field['decision']}",
                            status_code=303)


# --- exports ------------------------------------------------------------------------------

def _exports_page(request: Request, session: SessionDep, user: ConsoleIdentity, month: str,
                  status_code: int = 200, **context: object) -> Response:
    _first, last = attendance.month_bounds(month)
    profiles = sorted({p["name"] for p in exports.list_profiles(session)})
    return render(request, "attendance_exports.html", status_code=status_code, user=user,
                  month=month, lagging=exports.lagging_devices(session, last, rule_config()),
                  runs=export_repo.runs(session, limit=20), profiles=profiles,
                  datasets=DATASETS, formats=FILE_FORMATS,
                  may_run=user.may("POST", "/console/attendance/exports"),
                  csrf=request.cookies.get(CSRF_COOKIE, ""), **context)


@router.get("/exports")
def exports_page(request: Request, session: SessionDep, user: ConsoleUser,
                 month: MonthQuery = None) -> Response:
    """Run and download an export of a month; the devices that have not delivered up to the
    month's end are listed, and an export made before they do is provisional."""
    return _exports_page(request, session, user, _month_or_this(month))


@router.post("/exports")
def run_export(request: Request, body: RawBody, session: SessionDep,
               user: ConsoleUser) -> Response:
    """Run the export service (audited, a final run freezes the month) and send the file."""
    field = form_fields(body, "month", "dataset", "profile", "format", "provisional",
                        "csrf_token")
    if not _is_month(field["month"]):
        return _exports_page(request, session, user, _month_or_this(None), status_code=422,
                             error="input", form=field)
    if not user.csrf_ok(field["csrf_token"]):
        return _exports_page(request, session, user, field["month"], status_code=403,
                             error="forbidden", form=field)
    try:
        out = exports.export_dataset(
            session, dataset=field["dataset"], month=field["month"],
            file_format=field["format"], profile=field["profile"] or "standard",
            allow_provisional=field["provisional"] == "yes", actor=user.name, now=utcnow())
    except Conflict:
        return _exports_page(request, session, user, field["month"], status_code=409,
                             error="provisional", form=field)
    except MynagateError:
        return _exports_page(request, session, user, field["month"], status_code=422,
                             error="input", form=field)
    headers = {"Content-Disposition": f"attachment; filename*=UTF-8''{quote(out.filename)}",
               "X-Export-Provisional": "true" if out.provisional else "false"}
    return Response(out.content, media_type=out.media_type, headers=headers)
