from __future__ import annotations

import logging
from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, Depends, Request

from api.auth import require_admin
from api.csv_import import RawBody
from api.db import Database, SessionDep
from api.locks.settings import LockSettings, get_lock_settings
from api.mail.sender import MailError
from api.mail.settings import SmtpSettings, get_smtp_settings

from . import service
from .schemas import BookingCreate, BookingRead, ImportResult, PinInfo

log = logging.getLogger(__name__)
router = APIRouter(prefix="/api/v1/bookings", tags=["bookings"])
Admin = Annotated[str, Depends(require_admin)]
Locks = Annotated[LockSettings, Depends(get_lock_settings)]
Smtp = Annotated[SmtpSettings, Depends(get_smtp_settings)]


def deliver_pin_emails(db: Database, settings: LockSettings, smtp: SmtpSettings,
                       booking_ids: list[int], reissue: bool = False) -> None:
    """After the commit: email each booking's PINs in its own transaction."""
    for booking_id in booking_ids:
        with db.session() as session:
            try:
                service.send_pin_email(session, settings, smtp, booking_id, reissue=reissue)
                session.commit()
            except MailError as err:
                session.rollback()
                log.warning("booking.email_failed booking=%s error=%s", booking_id, err)


@router.post("", status_code=201, response_model=BookingRead)
def create_booking(data: BookingCreate, request: Request, tasks: BackgroundTasks,
                   session: SessionDep, settings: Locks, smtp: Smtp, actor: Admin) -> object:
    """Create a booking; a paid one gets its PINs issued and emailed."""
    b = service.create(session, data, source="api", actor=actor)
    if data.payment_status == "paid":
        service.mark_paid(session, settings, b.id, actor=actor)
        tasks.add_task(deliver_pin_emails, request.app.state.db, settings, smtp, [b.id])
    return b


@router.get("", response_model=list[BookingRead])
def list_bookings(session: SessionDep, actor: Admin, facility_id: int | None = None) -> object:
    """Recent bookings."""
    return service.list_recent(session, facility_id)


@router.get("/{booking_id}", response_model=BookingRead)
def get_booking(booking_id: int, session: SessionDep, actor: Admin) -> object:
    """One booking."""
    return service.get_or_raise(session, booking_id)


@router.post("/{booking_id}/paid", response_model=BookingRead)
def mark_paid(booking_id: int, request: Request, tasks: BackgroundTasks, session: SessionDep,
              settings: Locks, smtp: Smtp, actor: Admin) -> object:
    """Payment confirmed: issue the PINs and email them."""
    before = service.get_or_raise(session, booking_id).payment_status
    b = service.mark_paid(session, settings, booking_id, actor=actor)
    if before != "paid":
        tasks.add_task(deliver_pin_emails, request.app.state.db, settings, smtp, [b.id])
    return b


@router.post("/{booking_id}/reissue", response_model=BookingRead)
def reissue(booking_id: int, request: Request, tasks: BackgroundTasks, session: SessionDep,
            settings: Locks, smtp: Smtp, actor: Admin) -> object:
    """New PINs for the booking (old ones revoked) and a new email."""
    b = service.reissue(session, settings, booking_id, actor=actor)
    tasks.add_task(deliver_pin_emails, request.app.state.db, settings, smtp, [b.id], True)
    return b


@router.post("/{booking_id}/cancel", response_model=BookingRead)
def cancel(booking_id: int, session: SessionDep, actor: Admin) -> object:
    """Cancel the booking and revoke its PINs."""
    return service.cancel(session, booking_id, actor=actor)


@router.post("/{booking_id}/send-pin", response_model=BookingRead)
def send_pin(booking_id: int, session: SessionDep, settings: Locks, smtp: Smtp,
             actor: Admin) -> object:
    """Send the PIN email again now (502 if the mail server refuses)."""
    from api.errors import MynagateError

    try:
        service.send_pin_email(session, settings, smtp, booking_id)
    except MailError as err:
        e = MynagateError(str(err))
        e.status, e.title = 502, "Mail server error"
        raise e from err
    return service.get_or_raise(session, booking_id)


@router.get("/{booking_id}/pins", response_model=list[PinInfo])
def booking_pins(booking_id: int, session: SessionDep, settings: Locks, actor: Admin) -> object:
    """The booking's PINs, for staff reading them out by phone (admin only)."""
    return service.pin_info(session, settings, booking_id)


@router.post("/import", response_model=ImportResult)
def import_csv(actor: Admin, raw: RawBody, request: Request, tasks: BackgroundTasks,
               session: SessionDep, settings: Locks, smtp: Smtp) -> object:
    """Import bookings from the booking system's CSV, sent as the body (text/csv, UTF-8);
    all or nothing, at most 20,000 rows; a 400 lists the first 100 errors and their count.
    A sync ``def``: parsing and the database work run in the thread pool, never on the loop;
    the admin token is checked before the body is read."""
    created = service.import_csv(session, settings, raw, actor=actor)
    paid = [b.id for b in created if b.payment_status == "paid"]
    if paid:
        tasks.add_task(deliver_pin_emails, request.app.state.db, settings, smtp, paid)
    return {"created": len(created), "paid": len(paid), "booking_ids": [b.id for b in created]}


@router.post("/webhook", status_code=200, response_model=BookingRead)
async def webhook(request: Request, tasks: BackgroundTasks, session: SessionDep,
                  settings: Locks, smtp: Smtp) -> object:
    """The booking system's signed webhook (X-Mynagate-Timestamp, X-Mynagate-Signature)."""
    body = await request.body()
    b, email = service.receive_webhook(
        session, settings, body, request.headers.get("x-mynagate-timestamp", ""),
        request.headers.get("x-mynagate-signature", ""))
    if email:
        tasks.add_task(deliver_pin_emails, request.app.state.db, settings, smtp, [b.id])
    return b
