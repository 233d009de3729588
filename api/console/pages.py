"""The console's pages (server-rendered, GET only apart from the login form)."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Coroutine
from datetime import date, datetime, timedelta
from typing import Annotated, Any
from urllib.parse import parse_qs

from fastapi import APIRouter, Path, Query, Request, Response
from fastapi.responses import FileResponse, RedirectResponse
from fastapi.routing import APIRoute
from pydantic import ValidationError

from api.attendance import service as attendance
from api.attendance.config import rule_config
from api.bounded import Id
from api.credentials import service as credentials
from api.credentials.schemas import CredentialStatusChange
from api.credentials.service import TRANSITIONS
from api.db import SessionDep
from api.device_protocol.negotiation import service_protocol
from api.errors import Conflict, NotFound
from api.events.repository import EventFilter
from api.exports.writer import neutralise
from api.limits import RawBody
from api.locks.settings import lock_settings_of
from api.metrics.settings import MetricsSettings
from api.models import Staff
from api.models.base import utcnow
from api.overtime.service import caps_report
from api.users import service as users
from api.users.auth import CSRF_COOKIE, SESSION_COOKIE, start_session_cookies
from api.users.roles import Role, allowed

from . import labels, queries
from .chart import overtime_chart
from .deps import (
    ConsoleIdentity,
    ConsoleUser,
    LoginRequired,
    NotYours,
    home_page,
    pages_for,
)
from .labels import N_
from .rendering import HERE, gettext, jst, render

MAX_LOGIN_BODY = 1024
MAX_FORM_BODY = 4096


def form_fields(body: bytes, *names: str, limit: int = MAX_FORM_BODY) -> dict[str, str]:
    """The named fields of a urlencoded console form (the first value of each, "" if absent);
    only the first ``limit`` bytes are read."""
    form = parse_qs(body[:limit].decode("utf-8", "replace"))
    return {k: form.get(k, [""])[0] for k in names}
StaffNumber = Annotated[str, Path(max_length=20)]
MonthQuery = Annotated[str | None, Query(pattern=r"^\d{4}-\d{2}$")]
MAX_RECORD_DAYS = 62
STAFF_ADMIN = "/console/staff-admin"  # HR's staff pages (api.console.staff_admin)
ENROLLMENTS = "/console/enrollments"
STATIC = {p.relative_to(HERE / "static").as_posix(): p
          for p in (HERE / "static").rglob("*") if p.is_file() and p.suffix in (".css", ".js")}


class ConsoleRoute(APIRoute):
    """A console route: without a valid login, the browser is sent to the login form."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def route_handler(request: Request) -> Response:
            try:
                return await handler(request)
            except LoginRequired:
                return RedirectResponse("/console/login", status_code=303)
            except NotYours as e:
                return render(request, "forbidden.html", status_code=403, user=e.user,
                              pages=pages_for(e.user))

        return route_handler


router = APIRouter(prefix="/console", tags=["console"], route_class=ConsoleRoute,
                   include_in_schema=False)
DayQuery = Annotated[date | None, Query()]
TextQuery = Annotated[str, Query(max_length=100)]


@router.get("/static/{name:path}")
def static(name: str) -> FileResponse:
    """The console's own CSS and the vendored htmx (an allow-list, never a directory walk)."""
    path = STATIC.get(name)
    if path is None:
        raise NotFound("no such console asset", field="name")
    return FileResponse(path, headers={"Cache-Control": "max-age=3600"})


@router.get("/login")
def login_form(request: Request) -> Response:
    return render(request, "login.html")


@router.post("/login")
def login(request: Request, body: RawBody, session: SessionDep) -> Response:
    """Log in with a user name, a password and, for the roles that need one, a TOTP code: the
    same check and lock-out as ``POST /auth/login``; sets the session cookies."""
    field = form_fields(body, "username", "password", "totp", limit=MAX_LOGIN_BODY)
    now = utcnow()
    client = request.client.host if request.client else "-"
    result = users.login(session, username=field["username"], password=field["password"],
                         totp=field["totp"] or None, now=now, client=client)
    if result.user is None or result.failure is not None:
        session.commit()  # the failure counter and its audit row stay
        return render(request, "login.html", status_code=401, failed=True,
                      locked=result.locked_until is not None, username=field["username"])
    home = home_page(Role(result.user.role), result.user.staff_id)
    if home is None:
        return render(request, "login.html", status_code=403, not_console=True)
    response = RedirectResponse(home, status_code=303)
    start_session_cookies(session, request.app.state.settings, result.user, response, now=now)
    return response


@router.post("/logout")
def logout(request: Request, session: SessionDep) -> Response:
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie:
        users.end_session(session, cookie, actor="console", now=utcnow())
    response = RedirectResponse("/console/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    response.delete_cookie(CSRF_COOKIE, path="/")
    return response


@router.get("")
def dashboard(request: Request, session: SessionDep, user: ConsoleUser) -> Response:
    now = utcnow()
    settings = request.app.state.settings
    alarms = queries.alarms(
        session, now=now, skew_alarm_ms=settings.clock_skew_alarm_ms,
        offline_after=timedelta(seconds=MetricsSettings().metrics_online_window_s),
        service=service_protocol(request),
        low_battery_percent=lock_settings_of(request.app).low_battery_percent)
    return render(request, "dashboard.html", user=user, doors=queries.door_states(session),
                  alarms=alarms, events=queries.events(session, EventFilter(), limit=20),
                  rendered_at=now.isoformat())


@router.get("/fragments/recent-events")
def recent_events(request: Request, session: SessionDep, user: ConsoleUser) -> Response:
    """The dashboard's live list, polled by htmx every few seconds."""
    return render(request, "_events_table.html",
                  events=queries.events(session, EventFilter(), limit=20))


def _event_filter(session: SessionDep, staff: str, door: str, day: date | None) -> EventFilter:
    bday = rule_config().business_day
    person = queries.staff_by_number(session, staff) if staff else None
    place = queries.door_by_name(session, door) if door else None
    return EventFilter(staff_id=person.id if person else (-1 if staff else None),
                       door_id=place.id if place else (-1 if door else None),
                       occurred_from=bday.start(day) if day else None,
                       occurred_to=bday.end(day) if day else None)


@router.get("/events")
def events_page(request: Request, session: SessionDep, user: ConsoleUser,
                staff: TextQuery = "", door: TextQuery = "", day: DayQuery = None) -> Response:
    """Events filtered by 職員番号, door name and business day, newest first."""
    rows = queries.events(session, _event_filter(session, staff, door, day), limit=200)
    return render(request, "events.html", user=user, events=rows, staff=staff, door=door,
                  day=day, doors=sorted(queries.door_names(session).values()))


@router.get("/presence")
def presence_page(request: Request, session: SessionDep, user: ConsoleUser) -> Response:
    """在館者: who is inside now (this business day's taps and punches)."""
    now = utcnow()
    bday = rule_config().business_day
    rows = queries.presence(session, since=bday.start(bday.date_of(now)), until=now)
    return render(request, "presence.html", user=user, rows=rows, now=now)


def _record_period(start: date | None, end: date | None) -> tuple[date, date]:
    today = rule_config().business_day.date_of(utcnow())
    end = end or today
    start = start or end.replace(day=1)
    if end < start or (end - start).days >= MAX_RECORD_DAYS:
        start = end - timedelta(days=MAX_RECORD_DAYS - 1) if end >= start else end
    return start, end


@router.get("/holiday-record")
def holiday_record(request: Request, session: SessionDep, user: ConsoleUser,
                   start: Annotated[date | None, Query(alias="from")] = None,
                   end: Annotated[date | None, Query(alias="to")] = None) -> Response:
    """休日入退庁記録: who entered and left on 週休日 and 休日, printable on A4."""
    s, e = _record_period(start, end)
    visits = queries.holiday_visits(session, s, e, rule_config())
    return render(request, "holiday_record.html", user=user, visits=visits, start=s, end=e,
                  printed_at=utcnow())


HOLIDAY_CSV_HEADER = (N_("Date"), N_("Day type"), N_("Staff number"), N_("Name"),
                      N_("Department"), N_("Entered"), N_("Entry door"), N_("Left"),
                      N_("Exit door"), N_("Passages"))


@router.get("/holiday-record.csv")
def holiday_record_csv(request: Request, session: SessionDep, user: ConsoleUser,
                       start: Annotated[date | None, Query(alias="from")] = None,
                       end: Annotated[date | None, Query(alias="to")] = None) -> Response:
    """The same record as CSV (UTF-8 with BOM, CRLF); no cell can become a formula."""
    s, e = _record_period(start, end)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([gettext(request, h) for h in HOLIDAY_CSV_HEADER])
    for v in queries.holiday_visits(session, s, e, rule_config()):
        writer.writerow([neutralise(str(c)) for c in (
            v.day.isoformat(), gettext(request, labels.label(labels.DAY_TYPES, v.day_type)), v.person.number,
            v.person.name, v.person.department, _jst_time(v.first_at), v.first_door,
            _jst_time(v.last_at), v.last_door, v.passages)])
    name = f"holiday-record-{s:%Y%m%d}-{e:%Y%m%d}.csv"
    return Response("\ufeff" + out.getvalue(), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


def _jst_time(at: datetime) -> str:
    return jst(at, "%H:%M")


@router.get("/staff")
def staff_page(request: Request, session: SessionDep, user: ConsoleUser,
               q: TextQuery = "") -> Response:
    """Staff searched by 職員番号, name or カナ."""
    rows = queries.staff_search(session, q, on=rule_config().business_day.date_of(utcnow()))
    return render(request, "staff.html", user=user, rows=rows, q=q,
                  may_edit=allowed(Role(user.role), "POST", STAFF_ADMIN))


@router.get("/staff/{number}/timesheet")
def timesheet(request: Request, number: StaffNumber, session: SessionDep, user: ConsoleUser,
              month: MonthQuery = None) -> Response:
    """A person's monthly timesheet (the attendance service's day lines)."""
    return timesheet_page(request, session, user, _person(session, number), month)


def timesheet_page(request: Request, session: SessionDep, user: ConsoleIdentity,
                    person: Staff, month: str | None) -> Response:
    cfg = rule_config()
    first, last = attendance.month_bounds(month or cfg.business_day.date_of(utcnow()))
    res = attendance.compute_period(session, first, last, staff_ids=[person.id], cfg=cfg,
                                    now=utcnow())
    lines = [r.line for r in res.days.get(person.id, [])]
    records = res.records()
    days = [(ln, records[(person.id, ln.business_date)]) for ln in lines]
    prev_month = (first - timedelta(days=1)).strftime("%Y-%m")
    next_month = (last + timedelta(days=1)).strftime("%Y-%m")
    return render(request, "timesheet.html", user=user, person=person, days=days,
                  month=first.strftime("%Y-%m"), prev_month=prev_month, next_month=next_month,
                  department=queries.department_name(session, person.department_id),
                  hhmm=lambda t, d: attendance.hhmm(t, d, cfg))


def _person(session: SessionDep, number: str) -> Staff:
    person = queries.staff_by_number(session, number)
    if person is None:
        raise NotFound("no staff member with this 職員番号", field="number")
    return person


def _card_actions(user: ConsoleIdentity) -> list[str]:
    """The card actions the user's role may take: the role matrix of the admin API's."""
    return [a for a in TRANSITIONS
            if allowed(Role(user.role), "POST", f"/admin/credentials/{{credential_id}}/{a}")]


def _cards_page(request: Request, session: SessionDep, user: ConsoleIdentity, person: Staff,
                status_code: int = 200, **context: Any) -> Response:
    actions = _card_actions(user)
    cards = [(c, [a for a in actions if c.status in TRANSITIONS[a][0]])
             for c in queries.credentials_of(session, person.id)]
    return render(request, "cards.html", status_code=status_code, user=user, person=person,
                  cards=cards, may_enroll=allowed(Role(user.role), "POST", ENROLLMENTS),
                  may_edit=allowed(Role(user.role), "POST", STAFF_ADMIN), csrf=request.cookies.get(CSRF_COOKIE, ""), **context)


@router.get("/staff/{number}/cards")
def cards_page(request: Request, number: StaffNumber, session: SessionDep,
               user: ConsoleUser) -> Response:
    """A person's cards, with the lost / suspend / revoke / reactivate forms their role allows."""
    return _cards_page(request, session, user, _person(session, number),
                       done=request.query_params.get("done"))


@router.post("/staff/{number}/cards/{credential_id}")
def change_card(request: Request, number: StaffNumber, credential_id: Id, body: RawBody,
                session: SessionDep, user: ConsoleUser) -> Response:
    """Report a card lost, suspend, revoke or reactivate it, with a reason: the credential
    service's own change (audited, and the readers' snapshot moves on)."""
    field = form_fields(body, "action", "reason", "csrf_token")
    person = _person(session, number)
    if field["action"] not in TRANSITIONS:
        return _cards_page(request, session, user, person, status_code=422, error="action")
    if not user.csrf_ok(field["csrf_token"]) or field["action"] not in _card_actions(user):
        return _cards_page(request, session, user, person, status_code=403, error="forbidden")
    card = next((c for c in queries.credentials_of(session, person.id)
                 if c.id == credential_id), None)
    if card is None:
        raise NotFound("no such card for this staff member", field="credential_id")
    try:
        reason = CredentialStatusChange(reason=field["reason"]).reason
        credentials.change_status(session, card.id, field["action"], reason=reason,
                                  actor=user.name)
    except ValidationError:
        return _cards_page(request, session, user, person, status_code=422, error="reason",
                           reason=field["reason"])
    except Conflict:
        return _cards_page(request, session, user, person, status_code=409, error="conflict")
    return RedirectResponse(f"/console/staff/{number}/cards?done={field['action']}",
                            status_code=303)


@router.get("/overtime")
def overtime(request: Request, session: SessionDep, user: ConsoleUser,
             month: Annotated[str | None, Query(pattern=r"^\d{4}-\d{2}$")] = None) -> Response:
    """Overtime per department against the 45/80/100 h lines (server-rendered SVG)."""
    now = utcnow()
    month = month or rule_config().business_day.date_of(now).strftime("%Y-%m")
    names = queries.department_names(session)
    rows = ((names.get(r["department"], r["department"]), f"{r['staff_number']} {r['name']}",
             r["month_minutes"]) for r in caps_report(session, month=month, now=now))
    return render(request, "overtime.html", user=user, month=month, chart=overtime_chart(rows))


@router.get("/devices")
def devices_page(request: Request, session: SessionDep, user: ConsoleUser) -> Response:
    """リーダー端末: each reader's status, last heartbeat and whether its agent is too old."""
    service = service_protocol(request)
    return render(request, "devices.html", user=user, service=service,
                  rows=queries.devices(session, service))
