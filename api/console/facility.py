"""The facility clerks' console page: the bookings to come, with their payment and PIN-email
status; a form to register a booking (a paid one gets its PINs and its PIN email at once); and
per booking: mark paid, send the PIN email again (in the language chosen there), cancel
(confirmed). A booking's emails are in its language (Japanese unless English is chosen). Every
change goes through
the bookings service, as ``/api/v1/bookings`` does; emails leave through the mail outbox and its
sender."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, BackgroundTasks, Depends, Request, Response
from fastapi.responses import RedirectResponse
from pydantic import ValidationError
from sqlalchemy.orm import Session

from api.bookings import service as bookings
from api.bookings.schemas import BookingCreate
from api.bounded import Id
from api.db import SessionDep
from api.errors import Conflict
from api.facilities import repository as facility_repo
from api.limits import RawBody
from api.locks.settings import LockSettings, get_lock_settings
from api.mail.background import wake_sender
from api.models.base import utcnow
from api.users.auth import CSRF_COOKIE
from api.users.roles import Role, allowed
from gate.business_day import JST
from mynagate_i18n import DEFAULT_LANGUAGE, Language

from .deps import FACILITY_HOME, ConsoleIdentity, ConsoleUser
from .pages import ConsoleRoute, form_fields
from .rendering import render

router = APIRouter(prefix="/console/facility", tags=["console"], route_class=ConsoleRoute,
                   include_in_schema=False)
Locks = Annotated[LockSettings, Depends(get_lock_settings)]
BOOKING_FIELDS = ("facility", "start", "end", "booker_name", "booker_email", "paid", "language",
                  "csrf_token")
DONE = ("registered", "paid", "resent", "cancelled")



def _may_write(user: ConsoleIdentity) -> bool:
    """Only the roles the matrix lets write here see the forms (an auditor reads)."""
    return allowed(Role(user.role), "POST", FACILITY_HOME)


def _page(request: Request, session: Session, user: ConsoleIdentity, status_code: int = 200,
          **context: Any) -> Response:
    facilities = facility_repo.list_all(session)
    names = {f.id: f.name for f in facilities}
    rows = bookings.read(session, bookings.list_upcoming(session, now=utcnow()))
    return render(request, "facility_bookings.html", status_code=status_code, user=user,
                  rows=[(r, names.get(r.facility_id, "")) for r in rows],
                  facilities=facilities, can_write=_may_write(user), languages=list(Language),
                  csrf=request.cookies.get(CSRF_COOKIE, ""), **context)


@router.get("/bookings")
def bookings_page(request: Request, session: SessionDep, user: ConsoleUser) -> Response:
    """施設予約: the bookings not yet over, soonest first, times in JST."""
    done = request.query_params.get("done")
    return _page(request, session, user, done=done if done in DONE else None)


def _typed_jst(value: str) -> datetime:
    """A ``datetime-local`` value ("2026-12-01T10:00"), typed in JST."""
    at = datetime.fromisoformat(value)
    if at.tzinfo is not None:
        raise ValueError("a time typed in the form carries no offset")
    return at.replace(tzinfo=JST)


def _booking_of(session: Session, field: dict[str, str]) -> BookingCreate:
    """The form as a booking to create; ValueError (ValidationError is one) when it is not."""
    facility = facility_repo.get_by_code(session, field["facility"])
    if facility is None:
        raise ValueError("no such facility")
    return BookingCreate.model_validate({
        "facility_id": facility.id, "start_at": _typed_jst(field["start"]),
        "end_at": _typed_jst(field["end"]), "booker_name": field["booker_name"],
        "booker_email": field["booker_email"],
        "language": Language(field["language"] or DEFAULT_LANGUAGE)})


@router.post("/bookings")
def register_booking(request: Request, body: RawBody, tasks: BackgroundTasks,
                     session: SessionDep, settings: Locks, user: ConsoleUser) -> Response:
    """Register a booking; when it is marked paid, its PINs are issued and their email
    queued in the same transaction, and the sender is woken once it is committed."""
    field = form_fields(body, *BOOKING_FIELDS)
    if not user.csrf_ok(field["csrf_token"]):
        return _page(request, session, user, status_code=403, error="forbidden", form=field)
    try:
        data = _booking_of(session, field)
    except (ValueError, ValidationError):
        return _page(request, session, user, status_code=422, error="input", form=field)
    try:
        with session.begin_nested():  # no half-made booking when its PINs cannot be issued
            b = bookings.create(session, data, source="console", actor=user.name)
            if field["paid"]:
                bookings.mark_paid(session, settings, b.id, actor=user.name)
    except Conflict:
        return _page(request, session, user, status_code=409, error="conflict", form=field)
    if field["paid"]:
        tasks.add_task(wake_sender, request.app)
    done = "paid" if field["paid"] else "registered"
    return RedirectResponse(f"{FACILITY_HOME}?done={done}", status_code=303)


def _booking_action(request: Request, session: Session, user: ConsoleIdentity, body: bytes,
                    tasks: BackgroundTasks, act: Callable[[Language | None], object], done: str,
                    *, confirm: bool = False) -> Response:
    """One change to one booking through the bookings service, given the language picked in
    the row's form (none: the booking's stays); the sender is woken for the email it queued
    once the change is committed."""
    field = form_fields(body, "csrf_token", "confirm", "language")
    if not user.csrf_ok(field["csrf_token"]):
        return _page(request, session, user, status_code=403, error="forbidden")
    if confirm and field["confirm"] != "1":
        return _page(request, session, user, status_code=422, error="confirm")
    if field["language"] not in {"", *Language}:
        return _page(request, session, user, status_code=422, error="language")
    try:
        with session.begin_nested():
            act(Language(field["language"]) if field["language"] else None)
    except Conflict:
        return _page(request, session, user, status_code=409, error="conflict")
    tasks.add_task(wake_sender, request.app)
    return RedirectResponse(f"{FACILITY_HOME}?done={done}", status_code=303)


@router.post("/bookings/{booking_id}/paid")
def mark_paid(request: Request, booking_id: Id, body: RawBody, tasks: BackgroundTasks,
              session: SessionDep, settings: Locks, user: ConsoleUser) -> Response:
    """Payment confirmed at the counter: the PINs are issued and their email queued."""
    return _booking_action(request, session, user, body, tasks, lambda _lang: bookings.mark_paid(
        session, settings, booking_id, actor=user.name), "paid")


@router.post("/bookings/{booking_id}/send-pin")
def send_pin(request: Request, booking_id: Id, body: RawBody, tasks: BackgroundTasks,
             session: SessionDep, user: ConsoleUser) -> Response:
    """The booker lost the PIN email, or it failed: queue it again (same PINs), in the
    language chosen in the row (kept as the booking's)."""
    return _booking_action(request, session, user, body, tasks,
                           lambda lang: bookings.queue_pin_email(
                               session, booking_id, actor=user.name, language=lang, now=utcnow()),
                           "resent")


@router.post("/bookings/{booking_id}/cancel")
def cancel(request: Request, booking_id: Id, body: RawBody, tasks: BackgroundTasks,
           session: SessionDep, user: ConsoleUser) -> Response:
    """Cancel, once confirmed: the PINs are revoked and a paid booking's booker told."""
    return _booking_action(request, session, user, body, tasks, lambda _lang: bookings.cancel(
        session, booking_id, actor=user.name), "cancelled", confirm=True)
