"""The bookings' emails, rendered when the outbox delivers them: the PIN email (its PINs
recomputed from the master at that moment, so no PIN is ever stored) and the cancellation
notice, each in the booking's language."""

from __future__ import annotations

from datetime import datetime
from email.message import EmailMessage

from cryptography.exceptions import InvalidTag
from sqlalchemy.orm import Session

from api.db import Database
from api.facilities.service import get_or_raise as get_facility
from api.locks import repository as lock_repo
from api.locks.secrets import load_master
from api.locks.settings import LockSettings
from api.mail.outbox import Handlers, MailHandler
from api.mail.templates import PinLine, cancel_email, pin_email
from api.models import Booking, MailKind, MailOutbox, PinMaster

from .service import get_or_raise, pin_info


class PinMasterUnreadable(Exception):
    """The PIN master cannot be unwrapped with these settings (a wrong data dir or key)."""


def check_settings(db: Database, settings: LockSettings) -> None:
    """Before a sender claims anything: the PIN master can be read, so a sender run with the
    wrong data dir or wrap key stops at once instead of spending every PIN email's attempts."""
    with db.session() as s:
        if s.get(PinMaster, 1) is None:
            return  # no PIN issued yet, so no PIN email to render
        try:
            load_master(s, settings)
        except (InvalidTag, ValueError) as err:
            raise PinMasterUnreadable(
                "暗証番号の鍵を読めません。MYNAGATE_DATA_DIR (pin-wrap.key) または "
                "MYNAGATE_PIN_WRAP_KEY を確認してください / the PIN master cannot be read: "
                "check MYNAGATE_DATA_DIR (pin-wrap.key) or MYNAGATE_PIN_WRAP_KEY") from err


def _booking(session: Session, mail: MailOutbox) -> Booking:
    assert mail.booking_id is not None, "a booking email without a booking"
    return get_or_raise(session, mail.booking_id)


def render_pin(session: Session, settings: LockSettings, mail: MailOutbox,
               now: datetime) -> EmailMessage | None:
    """The PIN email with the booking's active PINs now; None once it has none left."""
    b = _booking(session, mail)
    if b.payment_status != "paid":
        return None
    f = get_facility(session, b.facility_id)
    names = {lk.lock_id: (lk.name or lk.lock_id) for lk in lock_repo.for_facility(session, f.id)}
    lines = [PinLine(names[i.lock_id], i.pin, i.valid_from, i.valid_until, tuple(i.enter_first))
             for i in pin_info(session, settings, b.id, now) if i.status == "active"]
    if not lines:
        return None
    return pin_email(to=mail.to_addr, booker_name=b.booker_name, facility_name=f.name,
                     facility_address=f.address, start=b.start_at, end=b.end_at, pins=lines,
                     instructions=f.instructions, contact=f.contact, booking_id=b.id, now=now,
                     reissue=mail.kind == MailKind.PIN_REISSUE, lang=b.language)


def render_cancel(session: Session, mail: MailOutbox, now: datetime) -> EmailMessage:
    b = _booking(session, mail)
    f = get_facility(session, b.facility_id)
    return cancel_email(to=mail.to_addr, booker_name=b.booker_name, facility_name=f.name,
                        start=b.start_at, end=b.end_at, booking_id=b.id, contact=f.contact,
                        now=now, lang=b.language)


def pin_sent(session: Session, mail: MailOutbox, now: datetime) -> None:
    _booking(session, mail).emailed_at = now
    session.flush()


def handlers(settings: LockSettings) -> Handlers:
    """How the outbox delivers each kind of booking email."""
    def pin(s: Session, m: MailOutbox, now: datetime) -> EmailMessage | None:
        return render_pin(s, settings, m, now)

    return {MailKind.PIN: MailHandler(pin, pin_sent),
            MailKind.PIN_REISSUE: MailHandler(pin, pin_sent),
            MailKind.BOOKING_CANCELLED: MailHandler(render_cancel)}
