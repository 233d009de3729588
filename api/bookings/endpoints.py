from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, Depends, Request

from api.bounded import Id
from api.csv_import import ImportBody
from api.db import SessionDep
from api.limits import RawBody
from api.locks.settings import LockSettings, get_lock_settings
from api.mail.background import wake_sender
from api.users.auth import require_admin
from mynagate_i18n import Language

from . import service
from .schemas import BookingCreate, BookingRead, ImportResult, PinInfo

router = APIRouter(prefix="/api/v1/bookings", tags=["bookings"])
Admin = Annotated[str, Depends(require_admin)]
Locks = Annotated[LockSettings, Depends(get_lock_settings)]


@router.post("", status_code=201, response_model=BookingRead)
def create_booking(data: BookingCreate, request: Request, tasks: BackgroundTasks,
                   session: SessionDep, settings: Locks, actor: Admin) -> object:
    """Create a booking; a paid one gets its PINs issued and its PIN email queued."""
    b = service.create(session, data, source="api", actor=actor)
    if data.payment_status == "paid":
        service.mark_paid(session, settings, b.id, actor=actor)
        tasks.add_task(wake_sender, request.app)
    return service.read_one(session, b)


@router.get("", response_model=list[BookingRead])
def list_bookings(session: SessionDep, actor: Admin, facility_id: Id | None = None) -> object:
    """Recent bookings."""
    return service.read(session, service.list_recent(session, facility_id))


@router.get("/{booking_id}", response_model=BookingRead)
def get_booking(booking_id: Id, session: SessionDep, actor: Admin) -> object:
    """One booking, with the state of its latest email (``mail_status``)."""
    return service.read_one(session, service.get_or_raise(session, booking_id))


@router.post("/{booking_id}/paid", response_model=BookingRead)
def mark_paid(booking_id: Id, request: Request, tasks: BackgroundTasks, session: SessionDep,
              settings: Locks, actor: Admin) -> object:
    """Payment confirmed: issue the PINs and queue their email."""
    b = service.mark_paid(session, settings, booking_id, actor=actor)
    tasks.add_task(wake_sender, request.app)
    return service.read_one(session, b)


@router.post("/{booking_id}/reissue", response_model=BookingRead)
def reissue(booking_id: Id, request: Request, tasks: BackgroundTasks, session: SessionDep,
            settings: Locks, actor: Admin) -> object:
    """New PINs for the booking (old ones revoked) and a new email."""
    b = service.reissue(session, settings, booking_id, actor=actor)
    tasks.add_task(wake_sender, request.app)
    return service.read_one(session, b)


@router.post("/{booking_id}/cancel", response_model=BookingRead)
def cancel(booking_id: Id, request: Request, tasks: BackgroundTasks, session: SessionDep,
           actor: Admin) -> object:
    """Cancel the booking and revoke its PINs; a paid booking's booker gets a notice."""
    b = service.cancel(session, booking_id, actor=actor)
    tasks.add_task(wake_sender, request.app)
    return service.read_one(session, b)


@router.post("/{booking_id}/send-pin", status_code=202, response_model=BookingRead)
def send_pin(booking_id: Id, request: Request, tasks: BackgroundTasks, session: SessionDep,
             actor: Admin, language: Language | None = None) -> object:
    """Queue the PIN email again, in ``language`` when given (then kept as the booking's);
    follow ``mail_status`` for its delivery."""
    b = service.queue_pin_email(session, booking_id, actor=actor, language=language)
    tasks.add_task(wake_sender, request.app)
    return service.read_one(session, b)


@router.get("/{booking_id}/pins", response_model=list[PinInfo])
def booking_pins(booking_id: Id, session: SessionDep, settings: Locks, actor: Admin) -> object:
    """The booking's PINs, for staff reading them out by phone (admin only)."""
    return service.pin_info(session, settings, booking_id)


@router.post("/import", response_model=ImportResult)
def import_csv(actor: Admin, body: ImportBody, request: Request, tasks: BackgroundTasks,
               session: SessionDep, settings: Locks) -> object:
    """Import bookings from the booking system's CSV, sent as the body (text/csv, UTF-8);
    all or nothing, at most 20,000 rows (413 naming the line past it); a 400 lists the first
    100 errors and their count. The body is streamed into a spooled file once the admin token
    is checked; a sync ``def``: parsing and the database work run in the thread pool."""
    created = service.import_csv(session, settings, body, actor=actor)
    paid = [b.id for b in created if b.payment_status == "paid"]
    if paid:
        tasks.add_task(wake_sender, request.app)
    return {"created": len(created), "paid": len(paid), "booking_ids": [b.id for b in created]}


@router.post("/webhook", status_code=200, response_model=BookingRead)
def webhook(body: RawBody, request: Request, tasks: BackgroundTasks, session: SessionDep,
            settings: Locks) -> object:
    """The booking system's signed webhook (X-Mynagate-Timestamp, X-Mynagate-Signature)."""
    b, _paid_now = service.receive_webhook(
        session, settings, body, request.headers.get("x-mynagate-timestamp", ""),
        request.headers.get("x-mynagate-signature", ""))
    tasks.add_task(wake_sender, request.app)  # a PIN email or a cancellation notice
    return service.read_one(session, b)
