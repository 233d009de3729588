"""The security officer's console pages: a reader's details and its confirmation, the
who-can-enter-what matrix (where security also changes groups, members and door
permissions), the preview of a person's decisions for the next hour, and the audit log with
the verification of its hash chain.

Every change goes through its service (``api.devices.service.confirm``,
``api.access.service``), every decision
through ``gate.policy`` (``api.access.decisions``), every verification through
``api.audit.service.verify``, the same code as ``mynagate audit verify``."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Path, Query, Request, Response
from fastapi.responses import RedirectResponse
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from api.access import repository as access_repo
from api.access import service as access
from api.access.schemas import GroupCreate, PermissionCreate
from api.attendance.config import rule_config
from api.audit import repository as audit_repo
from api.audit import service as audit
from api.audit.repository import AuditFilter
from api.db import SessionDep
from api.device_protocol.negotiation import service_protocol
from api.devices import service as devices
from api.errors import BadRequest, Conflict, NotFound
from api.limits import RawBody
from api.models import DeviceStatus, Door
from api.models.base import utcnow
from api.users.auth import CSRF_COOKIE
from api.users.roles import Role, allowed
from gate.business_day import JST
from gate.messages import reason_text

from . import access_queries as q
from . import queries
from .access_forms import DOOR_FIELDS, SCHEDULE_FIELDS, FormError, save_door, save_schedule
from .deps import ConsoleIdentity, ConsoleUser
from .facility import _typed_jst
from .pages import ConsoleRoute, form_fields
from .rendering import language, render, translations

router = APIRouter(prefix="/console", tags=["console"], route_class=ConsoleRoute,
                   include_in_schema=False)
DeviceName = Annotated[str, Path(max_length=100)]
Text = Annotated[str, Query(max_length=100)]
AUDIT_ROWS = 200
CONFIRM_PATH = "/console/devices/{name}/confirm"
EDIT_PATH = "/console/access"
EDITS = ("create_group", "add", "remove", "grant", "revoke", "door", "schedule")
FORMS = {"door": save_door, "schedule": save_schedule}


def _moment(value: str) -> datetime:
    """The moment a preview starts: a ``datetime-local`` value typed in JST, or now."""
    try:
        return _typed_jst(value)
    except ValueError:
        return utcnow()


# --- readers -------------------------------------------------------------------------------

def _device_page(request: Request, session: Session, user: ConsoleIdentity, name: str,
                 status_code: int = 200, **context: Any) -> Response:
    detail = q.device_detail(session, name, service_protocol(request))
    if detail is None:
        raise NotFound("no reader with this name", field="name")
    d = detail.device
    return render(request, "device.html", status_code=status_code, user=user, d=detail,
                  awaiting=d.status == DeviceStatus.PENDING and d.enrolled_at is not None,
                  can_confirm=allowed(Role(user.role), "POST", CONFIRM_PATH),
                  skew_ms=request.app.state.settings.clock_skew_alarm_ms,
                  csrf=request.cookies.get(CSRF_COOKIE, ""), **context)


@router.get("/devices/{name}")
def device_page(request: Request, name: DeviceName, session: SessionDep,
                user: ConsoleUser) -> Response:
    """One reader: status, heartbeat, versions, configuration bundle, clock and outbox."""
    done = request.query_params.get("done") == "confirmed"
    return _device_page(request, session, user, name, done=done)


@router.post("/devices/{name}/confirm")
def confirm_device(request: Request, name: DeviceName, body: RawBody, session: SessionDep,
                   user: ConsoleUser) -> Response:
    """Confirm an enrolled reader (it stays pending until then): the devices service's own
    change, audited under the user's name."""
    field = form_fields(body, "csrf_token", "confirm")
    if not user.csrf_ok(field["csrf_token"]):
        return _device_page(request, session, user, name, status_code=403, error="forbidden")
    if field["confirm"] != "1":
        return _device_page(request, session, user, name, status_code=422, error="confirm")
    detail = q.device_detail(session, name, service_protocol(request))
    if detail is None:
        raise NotFound("no reader with this name", field="name")
    try:
        with session.begin_nested():
            devices.confirm(session, detail.device.id, actor=user.name, now=utcnow())
    except Conflict:
        return _device_page(request, session, user, name, status_code=409, error="conflict")
    return RedirectResponse(f"/console/devices/{name}?done=confirmed", status_code=303)


# --- who can enter what --------------------------------------------------------------------

def _matrix_page(request: Request, session: Session, user: ConsoleIdentity, staff: str = "",
                 status_code: int = 200, **context: Any) -> Response:
    today = rule_config().business_day.date_of(utcnow())
    return render(request, "access.html", status_code=status_code, user=user,
                  m=q.matrix(session, staff.strip(), on=today), staff=staff,
                  sites=q.sites(session),
                  can_edit=allowed(Role(user.role), "POST", EDIT_PATH),
                  csrf=request.cookies.get(CSRF_COOKIE, ""), **context)


@router.get("/access")
def access_matrix(request: Request, session: SessionDep, user: ConsoleUser,
                  staff: Text = "") -> Response:
    """Groups × doors and staff × doors: who may enter which door, under which schedule."""
    done = request.query_params.get("done")
    return _matrix_page(request, session, user, staff, done=done if done in EDITS else None)


def _edit(session: Session, user: ConsoleIdentity, field: dict[str, str]) -> str:
    """One change through the access service, named by group, door code, schedule and
    職員番号 as the form sends them (or a door or schedule from its form); the done code, or
    LookupError/ValueError/FormError."""
    if field["op"] in FORMS:
        FORMS[field["op"]](session, user.name, field)
        return field["op"]
    group = access_repo.get_group_by_name(session, field["group"])
    if field["op"] == "create_group":
        access.create_group(session, GroupCreate(name=field["group"]), actor=user.name)
        return "create_group"
    if group is None:
        raise LookupError("group")
    if field["op"] in ("add", "remove"):
        person = queries.staff_by_number(session, field["staff"].strip())
        if person is None:
            raise LookupError("staff")
        if field["op"] == "add":
            access.add_members(session, group.id, [person.id], actor=user.name)
        else:
            access.remove_member(session, group.id, person.id, actor=user.name)
        return field["op"]
    door = session.execute(select(Door).where(Door.code == field["door"])).scalar_one_or_none()
    schedule = access_repo.get_schedule_by_name(session, field["schedule"])
    if door is None or schedule is None:
        raise LookupError("door")
    if field["op"] == "grant":
        access.create_permission(session, PermissionCreate(
            group_id=group.id, door_id=door.id, schedule_id=schedule.id), actor=user.name)
        return "grant"
    found = access_repo.find_permission(session, group.id, door.id, schedule.id)
    if field["op"] != "revoke" or found is None:
        raise LookupError("permission")
    access.delete_permission(session, found.id, actor=user.name)
    return "revoke"


@router.post("/access")
def edit_access(request: Request, body: RawBody, session: SessionDep,
                user: ConsoleUser) -> Response:
    """Make a group, put a person in or out of one, let a group through a door on a
    schedule (or stop it), add or change a door or a schedule: the access and doors
    services' own changes, audited, and the readers get them with their next snapshot."""
    field = form_fields(body, "op", "group", "staff", "csrf_token", *DOOR_FIELDS,
                        *SCHEDULE_FIELDS)
    if not user.csrf_ok(field["csrf_token"]):
        return _matrix_page(request, session, user, status_code=403, error="forbidden")
    try:
        with session.begin_nested():
            done = _edit(session, user, field)
    except FormError as err:  # the typed values come back with the error beside the field
        return _matrix_page(request, session, user, status_code=422, error="fields",
                            errors=err.errors, form=field)
    except (LookupError, ValueError, ValidationError, NotFound, BadRequest):
        return _matrix_page(request, session, user, status_code=422, error="input")
    except Conflict:
        return _matrix_page(request, session, user, status_code=409, error="conflict")
    return RedirectResponse(f"/console/access?done={done}", status_code=303)


@router.get("/access/preview")
def access_preview(request: Request, session: SessionDep, user: ConsoleUser,
                   staff: Text = "", at: Annotated[str, Query(max_length=30)] = "") -> Response:
    """A person's decisions at every door over the next hour (from ``at``, typed in JST, or
    now), decided by ``gate.policy`` as a reader online would."""
    cfg = rule_config()
    now = _moment(at)
    found = q.find_staff(session, staff.strip(), on=cfg.business_day.date_of(now)) \
        if staff.strip() else []
    person = found[0] if len(found) == 1 else None
    result = None
    if person is not None:
        result = q.preview(session, person, now=now, tz=ZoneInfo(
            request.app.state.settings.timezone), day_change=cfg.day_change)
    lang = language(request)
    return render(request, "access_preview.html", user=user, staff=staff, found=found,
                  person=person, result=result, at=now.astimezone(JST).strftime("%Y-%m-%dT%H:%M"),
                  reason=lambda d: reason_text(d.reason, translations(lang).gettext))


# --- audit log -----------------------------------------------------------------------------

def _day_start(day: date | None) -> datetime | None:
    return None if day is None else datetime(day.year, day.month, day.day, tzinfo=JST)


@router.get("/audit")
def audit_page(request: Request, session: SessionDep, user: ConsoleUser, actor: Text = "",
               action: Text = "",
               start: Annotated[date | None, Query(alias="from")] = None,
               end: Annotated[date | None, Query(alias="to")] = None) -> Response:
    """監査ログ: search by who, what and days (JST, both inclusive), newest first, and the
    result of verifying the whole hash chain (as ``mynagate audit verify``)."""
    until = _day_start(end + timedelta(days=1)) if end else None
    f = AuditFilter(actor=actor.strip() or None, action=action.strip() or None,
                    at_from=_day_start(start), at_to=until)
    rows = audit_repo.search(session, f, limit=AUDIT_ROWS, before_id=None)
    result = audit.verify(session, request.app.state.signing_key.public_key())
    return render(request, "audit.html", user=user, rows=rows, verification=result,
                  actor=actor, action=action, start=start, end=end, limit=AUDIT_ROWS,
                  brief=_brief)


def _brief(value: dict[str, Any], limit: int = 160) -> str:
    """An audit row's before/after as short JSON text, Japanese kept readable."""
    text = json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)
    return text if len(text) <= limit else text[:limit - 1] + "…"
