"""The console's self-service pages (``/console/me``) for every user linked to a staff
member: their own timesheet, their overtime applications, the leave they have taken, their
乖離 days with the form to give a reason, and, for a 課長, the applications to decide. Each
change goes through the overtime service, as ``/me/overtime`` and ``/me/divergences`` do."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from fastapi import APIRouter, Request, Response
from fastapi.responses import RedirectResponse
from pydantic import ValidationError

from api.attendance import repository as attendance_repo
from api.attendance import service as attendance
from api.attendance.config import rule_config
from api.bounded import Id
from api.db import SessionDep
from api.errors import Conflict, Forbidden, MynagateError, NotFound
from api.limits import RawBody
from api.models import Staff
from api.models.base import utcnow
from api.overtime import repository as overtime_repo
from api.overtime import service as overtime
from api.overtime.schemas import DivergenceSubmit, OvertimeApply
from api.users.auth import CSRF_COOKIE

from .deps import SelfUser
from .pages import ConsoleRoute, MonthQuery, form_fields, timesheet_page
from .rendering import render

router = APIRouter(prefix="/console/me", tags=["console"], route_class=ConsoleRoute,
                   include_in_schema=False)


def _me(session: SessionDep, user: SelfUser) -> Staff:
    person = session.get(Staff, user.staff_id)
    if person is None:
        raise NotFound("the staff member linked to this user is gone", field="staff_id")
    return person



@router.get("/timesheet")
def my_timesheet(request: Request, session: SessionDep, user: SelfUser,
                 month: MonthQuery = None) -> Response:
    """The user's own monthly timesheet."""
    return timesheet_page(request, session, user, _me(session, user), month)


def _applications_page(request: Request, session: SessionDep, user: SelfUser,
                       status_code: int = 200, **context: object) -> Response:
    person = _me(session, user)
    rows = overtime_repo.list_requests(session, staff_id=person.id, limit=50)
    return render(request, "me.html", status_code=status_code, user=user, person=person,
                  rows=sorted(rows, key=lambda r: r.start_at, reverse=True),
                  csrf=request.cookies.get(CSRF_COOKIE, ""),
                  today=rule_config().business_day.date_of(utcnow()),
                  **context)


@router.get("")
def my_applications(request: Request, session: SessionDep, user: SelfUser) -> Response:
    """The user's overtime applications and the form to apply."""
    return _applications_page(request, session, user,
                              done=request.query_params.get("done") == "applied")


def _window(day: str, start: str, end: str) -> tuple[date, datetime, datetime]:
    """The work date and the times typed as HH:MM on it; an end not after the start is the
    next morning (overtime may run past midnight)."""
    work_date = date.fromisoformat(day)
    tz = rule_config().business_day.tz
    start_at = datetime.combine(work_date, time.fromisoformat(start), tz)
    end_at = datetime.combine(work_date, time.fromisoformat(end), tz)
    if end_at <= start_at:
        end_at += timedelta(days=1)
    return work_date, start_at, end_at


@router.post("/overtime")
def apply_overtime(request: Request, body: RawBody, session: SessionDep,
                   user: SelfUser) -> Response:
    """Apply for overtime; the supervisor of the applicant's 課 decides."""
    field = form_fields(body, "work_date", "start", "end", "reason", "csrf_token")
    if not user.csrf_ok(field["csrf_token"]):
        return _applications_page(request, session, user, status_code=403, error="forbidden")
    try:
        work_date, start_at, end_at = _window(field["work_date"], field["start"], field["end"])
        data = OvertimeApply(work_date=work_date, start_at=start_at, end_at=end_at,
                             reason=field["reason"])
        overtime.apply(session, staff=_me(session, user), **data.model_dump())
    except (ValueError, ValidationError):
        return _applications_page(request, session, user, status_code=422, error="input",
                                  form=field)
    except Conflict:
        return _applications_page(request, session, user, status_code=409, error="overlap",
                                  form=field)
    except MynagateError:
        return _applications_page(request, session, user, status_code=422, error="input",
                                  form=field)
    return RedirectResponse("/console/me?done=applied", status_code=303)


def _approvals_page(request: Request, session: SessionDep, user: SelfUser,
                    status_code: int = 200, **context: object) -> Response:
    person = _me(session, user)
    rows = overtime_repo.pending_for_supervisor(session, person.id)
    names = {s.id: s for s in session.query(Staff).filter(Staff.id.in_({r.staff_id
                                                                          for r in rows}))}
    return render(request, "approvals.html", status_code=status_code, user=user,
                  rows=[(r, names[r.staff_id]) for r in rows],
                  csrf=request.cookies.get(CSRF_COOKIE, ""), **context)


@router.get("/approvals")
def approvals(request: Request, session: SessionDep, user: SelfUser) -> Response:
    """The applications in the 課 the user supervises, to approve or reject."""
    return _approvals_page(request, session, user, done=request.query_params.get("done"))


@router.post("/approvals/{request_id}")
def decide(request: Request, request_id: Id, body: RawBody, session: SessionDep,
           user: SelfUser) -> Response:
    """Approve or reject an application: the overtime service checks the decider is the
    applicant's 課長 on the work date and not the applicant."""
    field = form_fields(body, "decision", "csrf_token")
    if field["decision"] not in ("approve", "reject"):
        return _approvals_page(request, session, user, status_code=422, error="decision")
    if not user.csrf_ok(field["csrf_token"]):
        return _approvals_page(request, session, user, status_code=403, error="forbidden")
    try:
        overtime.decide(session, request_id, approver=_me(session, user),
                        approve=field["decision"] == "approve")
    except Forbidden:
        return _approvals_page(request, session, user, status_code=403, error="not_yours")
    except Conflict:
        return _approvals_page(request, session, user, status_code=409, error="decided")
    return RedirectResponse(f"/console/me/approvals?done={field['decision']}", status_code=303)


def _month(month: str | None) -> tuple[date, date]:
    return attendance.month_bounds(month or rule_config().business_day.date_of(utcnow()))


def _month_links(first: date, last: date) -> dict[str, str]:
    return {"month": first.strftime("%Y-%m"),
            "prev_month": (first - timedelta(days=1)).strftime("%Y-%m"),
            "next_month": (last + timedelta(days=1)).strftime("%Y-%m")}


@router.get("/leave")
def my_leave(request: Request, session: SessionDep, user: SelfUser,
             month: MonthQuery = None) -> Response:
    """The leave the user has taken in a month (imported from 庶務事務 or entered by HR)."""
    person = _me(session, user)
    first, last = _month(month)
    rows = attendance_repo.leaves(session, first, last, [person.id])
    return render(request, "me_leave.html", user=user, person=person, rows=rows,
                  **_month_links(first, last))


def _divergences_page(request: Request, session: SessionDep, user: SelfUser, month: str | None,
                      status_code: int = 200, **context: object) -> Response:
    person = _me(session, user)
    first, last = _month(month)
    rows = overtime.divergence_report(session, month=first.strftime("%Y-%m"),
                                      staff_ids=[person.id], now=utcnow(), only_open=False)
    return render(request, "me_divergences.html", status_code=status_code, user=user,
                  person=person, rows=rows, csrf=request.cookies.get(CSRF_COOKIE, ""),
                  **_month_links(first, last), **context)


@router.get("/divergences")
def my_divergences(request: Request, session: SessionDep, user: SelfUser,
                   month: MonthQuery = None) -> Response:
    """The user's days whose 乖離 is over the threshold, each with its reason form."""
    return _divergences_page(request, session, user, month,
                             done=request.query_params.get("done") == "submitted")


@router.post("/divergences")
def give_reason(request: Request, body: RawBody, session: SessionDep,
                user: SelfUser) -> Response:
    """Give the reason for a day's 乖離; the user's 課長 confirms it."""
    field = form_fields(body, "business_date", "reason_code", "note", "csrf_token")
    if not user.csrf_ok(field["csrf_token"]):
        return _divergences_page(request, session, user, None, status_code=403,
                                 error="forbidden")
    month = None  # the page shown again is the month of the day, once it parsed
    try:
        data = DivergenceSubmit(business_date=field["business_date"],
                                reason_code=field["reason_code"], note=field["note"])
        month = data.business_date.strftime("%Y-%m")
        overtime.submit_reason(session, staff=_me(session, user), now=utcnow(),
                               **data.model_dump())
    except Conflict:
        return _divergences_page(request, session, user, month, status_code=409,
                                 error="no_divergence")
    except (ValidationError, MynagateError):  # an unknown reason, a 12-digit note
        return _divergences_page(request, session, user, month, status_code=422,
                                 error="input")
    return RedirectResponse(f"/console/me/divergences?month={month}&done=submitted",
                            status_code=303)
