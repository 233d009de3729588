"""HR's staff pages: add, edit and retire (退職) a staff member, and import the roster from a
CSV file; and the card enrollment page (security): an enrollment opened here is completed by
the enrollment reader (``mynagate card enroll --enrollment N``) and confirmed here.

Every change goes through the staff, importer and enrollment services, as the admin API does;
people are named by 職員番号 in every URL."""

from __future__ import annotations

import io
from datetime import date
from email.parser import BytesParser
from email.policy import HTTP
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import RedirectResponse
from pydantic import ValidationError
from sqlalchemy.orm import Session

from api.attendance.config import rule_config
from api.bounded import Id
from api.db import SessionDep
from api.enrollment import service as enrollment
from api.enrollment.schemas import EnrollmentCreate
from api.errors import BadRequest, Conflict, NotFound
from api.limits import STAFF_IMPORT_BYTES, RawBody
from api.models import Staff
from api.models.base import utcnow
from api.staff import importer
from api.staff import repository as staff_repo
from api.staff import service as staff_service
from api.staff.schemas import StaffCreate, StaffUpdate
from api.staff.validation import EMPLOYMENT_TYPE_LABELS
from api.text import INDIVIDUAL_NUMBER_MESSAGE
from api.users.auth import CSRF_COOKIE
from api.users.roles import Role, allowed

from . import queries
from .deps import ConsoleIdentity, ConsoleUser
from .pages import ConsoleRoute, StaffNumber, form_fields
from .rendering import render

router = APIRouter(prefix="/console", tags=["console"], route_class=ConsoleRoute,
                   include_in_schema=False)
ADMIN = "/console/staff-admin"
ENROLL = "/console/enrollments"
FORM_FIELDS = ("staff_number", "name", "name_kana", "department", "employment_type", "email",
               "active_from", "active_until")
MAX_DEPARTMENTS = 500
DONE = ("created", "updated", "retired")


def _today() -> date:
    return rule_config().business_day.date_of(utcnow())


def _form_page(request: Request, session: Session, user: ConsoleIdentity, *,
               person: Staff | None, form: dict[str, str], status_code: int = 200,
               **context: Any) -> Response:
    departments, _total = staff_repo.list_departments(session, limit=MAX_DEPARTMENTS, offset=0)
    return render(request, "staff_form.html", status_code=status_code, user=user,
                  person=person, form=form, departments=departments,
                  employment_types=EMPLOYMENT_TYPE_LABELS, today=_today(),
                  csrf=request.cookies.get(CSRF_COOKIE, ""), **context)


def _form_of(person: Staff, session: Session) -> dict[str, str]:
    dept = staff_repo.get_department(session, person.department_id)
    return {"staff_number": person.staff_number, "name": person.name,
            "name_kana": person.name_kana, "department": dept.code if dept else "",
            "employment_type": person.employment_type, "email": person.email or "",
            "active_from": person.active_from.isoformat(),
            "active_until": person.active_until.isoformat() if person.active_until else ""}


def _payload(session: Session, form: dict[str, str]) -> dict[str, Any]:
    """The form as the staff schema's fields (an unknown department is no department)."""
    dept = staff_repo.get_department_by_code(session, form["department"])
    data: dict[str, Any] = {k: form[k].strip() or None for k in FORM_FIELDS if k != "department"}
    data["department_id"] = dept.id if dept else None
    return data


def _field_errors(err: ValidationError) -> dict[str, str]:
    """Which field each error is on, and whether it is the individual-number guard."""
    out: dict[str, str] = {}
    for e in err.errors():
        field = str(e["loc"][0]) if e["loc"] else "active_until"
        field = "department" if field == "department_id" else field
        out.setdefault(field, "individual_number" if INDIVIDUAL_NUMBER_MESSAGE in e["msg"]
                       else "invalid")
    return out


def _service_error(err: BadRequest | Conflict) -> dict[str, str]:
    field = "department" if err.field == "department_id" else (err.field or "staff_number")
    return {field: "taken" if isinstance(err, Conflict) else "invalid"}


def _person(session: Session, number: str) -> Staff:
    person = queries.staff_by_number(session, number)
    if person is None:
        raise NotFound("no staff member with this 職員番号", field="number")
    return person


@router.get("/staff-admin/new")
def new_staff(request: Request, session: SessionDep, user: ConsoleUser) -> Response:
    """The form to add a staff member."""
    return _form_page(request, session, user, person=None,
                      form={"active_from": _today().isoformat(), "employment_type": "regular"})


def _save(request: Request, session: Session, user: ConsoleIdentity, body: bytes,
          person: Staff | None) -> Response:
    """Add (``person`` None) or change a staff member from the form, through the staff
    service (audited; a new name or period bumps the readers' snapshot)."""
    form = form_fields(body, *FORM_FIELDS, "csrf_token")
    if not user.csrf_ok(form["csrf_token"]):
        return _form_page(request, session, user, person=person, form=form, status_code=403,
                          error="forbidden")
    payload = _payload(session, form)
    try:
        with session.begin_nested():
            if person is None:
                data = StaffCreate.model_validate(
                    {k: v for k, v in payload.items() if v is not None})
                person = staff_service.create_staff(session, data, actor=user.name)
                done = "created"
            else:
                change = StaffUpdate.model_validate(payload)  # a blank required field: 422
                staff_service.update_staff(session, person.id, change, actor=user.name)
                done = "updated"
    except ValidationError as err:
        return _form_page(request, session, user, person=person, form=form, status_code=422,
                          errors=_field_errors(err))
    except (BadRequest, Conflict) as err:
        return _form_page(request, session, user, person=person, form=form, status_code=422,
                          errors=_service_error(err))
    return RedirectResponse(f"{ADMIN}/staff/{person.staff_number}?done={done}", status_code=303)


@router.post("/staff-admin/new")
def create_staff(request: Request, body: RawBody, session: SessionDep,
                 user: ConsoleUser) -> Response:
    """Add a staff member."""
    return _save(request, session, user, body, None)


@router.get("/staff-admin/staff/{number}")
def edit_staff(request: Request, number: StaffNumber, session: SessionDep,
               user: ConsoleUser) -> Response:
    """A staff member's form, and the retirement form."""
    person = _person(session, number)
    done = request.query_params.get("done")
    return _form_page(request, session, user, person=person, form=_form_of(person, session),
                      done=done if done in DONE else None)


@router.post("/staff-admin/staff/{number}")
def update_staff(request: Request, number: StaffNumber, body: RawBody, session: SessionDep,
                 user: ConsoleUser) -> Response:
    """Change a staff member."""
    return _save(request, session, user, body, _person(session, number))


@router.post("/staff-admin/staff/{number}/retire")
def retire_staff(request: Request, number: StaffNumber, body: RawBody, session: SessionDep,
                 user: ConsoleUser) -> Response:
    """退職: the employment ends on the day given (its last day); the readers refuse the
    person's cards from the next day, their history stays."""
    person = _person(session, number)
    form = form_fields(body, "last_day", "confirm", "csrf_token")
    page = _form_of(person, session)
    if not user.csrf_ok(form["csrf_token"]):
        return _form_page(request, session, user, person=person, form=page, status_code=403,
                          error="forbidden")
    try:
        last_day = date.fromisoformat(form["last_day"])
        if form["confirm"] != "1":
            raise ValueError("not confirmed")
        with session.begin_nested():
            staff_service.update_staff(session, person.id, StaffUpdate(active_until=last_day),
                                       actor=user.name)
    except (ValueError, BadRequest):
        return _form_page(request, session, user, person=person, form=page, status_code=422,
                          errors={"last_day": "invalid"}, last_day=form["last_day"])
    return RedirectResponse(f"{ADMIN}/staff/{person.staff_number}?done=retired", status_code=303)


def _import_page(request: Request, user: ConsoleIdentity, status_code: int = 200,
                 **context: Any) -> Response:
    return render(request, "staff_import.html", status_code=status_code, user=user,
                  columns=importer.IMPORT_COLUMNS, max_bytes=STAFF_IMPORT_BYTES,
                  csrf=request.cookies.get(CSRF_COOKIE, ""), **context)


def _multipart(request: Request, body: bytes) -> dict[str, bytes]:
    """The parts of a multipart/form-data body by field name (the body is bounded)."""
    head = f"Content-Type: {request.headers.get('content-type', '')}\r\n\r\n".encode()
    message = BytesParser(policy=HTTP).parsebytes(head + body)
    if not message.is_multipart():
        return {}
    out: dict[str, bytes] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True)
        if isinstance(name, str) and isinstance(payload, bytes):
            out.setdefault(name, payload)
    return out


@router.get("/staff-admin/import")
def import_form(request: Request, user: ConsoleUser) -> Response:
    """The roster import form: its columns, encodings and size limit."""
    return _import_page(request, user)


@router.post("/staff-admin/import")
def import_staff(request: Request, body: RawBody, session: SessionDep,
                 user: ConsoleUser) -> Response:
    """Import the roster: all or nothing, every bad line shown with its number."""
    parts = _multipart(request, body)
    token = parts.get("csrf_token", b"").decode("ascii", "replace")
    if not user.csrf_ok(token):
        return _import_page(request, user, status_code=403, error="forbidden")
    if not parts.get("file"):
        return _import_page(request, user, status_code=422, error="file")
    try:
        with session.begin_nested():  # a rejected file leaves nothing behind
            result = importer.import_staff(session, io.BytesIO(parts["file"]), actor=user.name)
    except BadRequest as err:
        return _import_page(request, user, status_code=422, error="lines", message=err.message,
                            lines=err.extra.get("errors", []),
                            error_count=err.extra.get("error_count", 0))
    return _import_page(request, user, result=result)


def _enroll_may_write(user: ConsoleIdentity) -> bool:
    return allowed(Role(user.role), "POST", ENROLL)


@router.post("/enrollments")
def start_enrollment(request: Request, body: RawBody, session: SessionDep,
                     user: ConsoleUser) -> Response:
    """Open an enrollment for a staff member: the enrollment reader completes it."""
    form = form_fields(body, "staff_number", "kind", "csrf_token")
    person = _person(session, form["staff_number"])
    if not user.csrf_ok(form["csrf_token"]):
        return RedirectResponse(f"/console/staff/{person.staff_number}/cards?error=forbidden",
                                status_code=303)
    kind = form["kind"] if form["kind"] in ("staff_ap", "jpki_auth") else "staff_ap"
    data = EnrollmentCreate.model_validate({"staff_number": person.staff_number, "kind": kind})
    started = enrollment.start(session, data, actor=user.name)
    return RedirectResponse(f"{ENROLL}/{started.id}", status_code=303)


def _enrollment_page(request: Request, session: Session, user: ConsoleIdentity,
                     enrollment_id: int, template: str, status_code: int = 200,
                     **context: Any) -> Response:
    e = enrollment.get(session, enrollment_id)
    person = staff_repo.get_staff(session, e.staff_id)
    expired = e.status == "awaiting_response" and utcnow() > e.expires_at
    return render(request, template, status_code=status_code, user=user, e=e, person=person,
                  expired=expired, may_write=_enroll_may_write(user),
                  service_url=str(request.base_url).rstrip("/"),
                  csrf=request.cookies.get(CSRF_COOKIE, ""), **context)


@router.get("/enrollments/{enrollment_id}")
def enrollment_page(request: Request, enrollment_id: Id, session: SessionDep,
                    user: ConsoleUser) -> Response:
    """An enrollment's state; refreshed by htmx while the card is awaited."""
    return _enrollment_page(request, session, user, enrollment_id, "enrollment.html")


@router.get("/enrollments/{enrollment_id}/status")
def enrollment_status(request: Request, enrollment_id: Id, session: SessionDep,
                      user: ConsoleUser) -> Response:
    """The state part of the enrollment page (what htmx polls)."""
    return _enrollment_page(request, session, user, enrollment_id, "_enrollment_status.html")


@router.post("/enrollments/{enrollment_id}/confirm")
def confirm_enrollment(request: Request, enrollment_id: Id, body: RawBody, session: SessionDep,
                       user: ConsoleUser) -> Response:
    """Bind the proven card to the person, once the clerk has checked who is in front of
    them (the enrollment service: the previous card of that kind is revoked, audited)."""
    form = form_fields(body, "confirm", "csrf_token")
    if not user.csrf_ok(form["csrf_token"]):
        return _enrollment_page(request, session, user, enrollment_id, "enrollment.html",
                                status_code=403, error="forbidden")
    if form["confirm"] != "1":
        return _enrollment_page(request, session, user, enrollment_id, "enrollment.html",
                                status_code=422, error="confirm")
    try:
        with session.begin_nested():
            done = enrollment.confirm(session, enrollment_id, actor=user.name)
    except Conflict:
        return _enrollment_page(request, session, user, enrollment_id, "enrollment.html",
                                status_code=409, error="conflict")
    person = staff_repo.get_staff(session, done.staff_id)
    assert person is not None
    return RedirectResponse(f"/console/staff/{person.staff_number}/cards?done=enrolled",
                            status_code=303)
