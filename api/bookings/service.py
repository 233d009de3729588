"""Bookings: creation (API, CSV import, signed webhook), payment → PIN issue and email,
reissue and cancel with revocation, and the demo flow.

Emails are queued in the mail outbox in the same transaction as the change (``api.mail.outbox``)
and rendered and sent by the outbox's sender (``api.bookings.mail``)."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import math
from collections.abc import Sequence
from datetime import datetime
from typing import IO, Any
from zoneinfo import ZoneInfo

from pydantic import ValidationError
from sqlalchemy.orm import Session

from api.audit.service import record
from api.csv_import import FORMULA_MESSAGE, RowErrors, csv_rows, formula_columns
from api.errors import BadRequest, Conflict, NotFound, Unauthorized
from api.facilities import repository as facility_repo
from api.facilities.service import get_or_raise as get_facility
from api.locks import repository as lock_repo
from api.locks.pins import accepted_times, grace_of, issue_on_lock, pending_codes, pin_of, revoke
from api.locks.settings import LockSettings
from api.mail import outbox
from api.mail import repository as mail_repo
from api.models import Booking, Facility, MailKind, MailStatus, WebhookReceipt
from api.models.base import utcnow
from gate.pin import SLOT_SECONDS, split_days
from mynagate_i18n import DEFAULT_LANGUAGE, Language

from . import repository
from .schemas import BookingCreate, BookingRead, PinInfo

log = logging.getLogger(__name__)
JST = ZoneInfo("Asia/Tokyo")
PIN_MAILS = (MailKind.PIN, MailKind.PIN_REISSUE)


def _locked(session: Session, booking_id: int) -> Booking:
    """The booking's row locked, after its facility's lock rows (in id order). Lock sync and
    rekey take a lock row and then its PINs and bookings; taking the booking and its PINs
    first and the lock rows after deadlocked against them (fuzzing, 4 workers)."""
    b = get_or_raise(session, booking_id)
    lock_repo.for_facility(session, b.facility_id, for_update=True)
    return get_or_raise(session, booking_id, for_update=True)


def get_or_raise(session: Session, booking_id: int, *, for_update: bool = False) -> Booking:
    b = repository.get(session, booking_id, for_update=for_update)
    if b is None:
        raise NotFound(f"booking {booking_id} not found", field="booking_id")
    return b


def create(session: Session, data: BookingCreate, *, source: str, actor: str) -> Booking:
    """Create a booking (pending or already paid; a paid one gets its PINs now)."""
    get_facility(session, data.facility_id)
    if data.external_ref and repository.get_by_ref(session, data.external_ref):
        raise Conflict(f"booking {data.external_ref!r} already exists", field="external_ref")
    b = Booking(facility_id=data.facility_id, start_at=data.start_at, end_at=data.end_at,
                booker_name=data.booker_name, booker_email=data.booker_email,
                payment_status="pending", source=source, external_ref=data.external_ref,
                language=data.language)
    session.add(b)
    session.flush()
    record(session, actor=actor, action="booking.create", entity="booking", entity_id=b.id,
           after={"facility_id": b.facility_id, "start_at": b.start_at.isoformat(),
                  "end_at": b.end_at.isoformat(), "source": source,
                  "language": str(b.language)})
    return b


def set_language(session: Session, booking_id: int, language: Language, *,
                 actor: str) -> Booking:
    """The language of the booking's emails from now on: an email still queued is rendered
    in it too, since emails are rendered when they are delivered."""
    b = get_or_raise(session, booking_id, for_update=True)
    if b.language != language:
        before, b.language = b.language, language
        session.flush()
        record(session, actor=actor, action="booking.language", entity="booking",
               entity_id=b.id, before={"language": str(before)},
               after={"language": str(language)})
    return b


def _slots(b: Booking) -> tuple[int, int]:
    start = int(b.start_at.timestamp()) // SLOT_SECONDS
    end = math.ceil(b.end_at.timestamp() / SLOT_SECONDS)
    return start, end


def _issue(session: Session, settings: LockSettings, b: Booking) -> int:
    locks = lock_repo.for_facility(session, b.facility_id)
    if not locks:
        raise Conflict("the facility has no lock to issue a PIN for", field="facility_id")
    start, end = _slots(b)
    count = 0
    for lock in locks:
        locked = lock_repo.get(session, lock.id, for_update=True)
        assert locked is not None
        for s, d in split_days(start, end, grace_of(locked)):
            issue_on_lock(session, settings, locked, booking_id=b.id, start_slot=s,
                          duration_slots=d)
            count += 1
    return count


def mark_paid(session: Session, settings: LockSettings, booking_id: int, *, actor: str,
              now: datetime | None = None) -> Booking:
    """Payment confirmed: issue the booking's PINs (one per lock and day). Idempotent."""
    now = now or utcnow()
    b = _locked(session, booking_id)
    if b.payment_status == "paid":
        return b
    if b.payment_status == "cancelled":
        raise Conflict("the booking is cancelled", field="payment_status")
    b.payment_status, b.paid_at = "paid", now
    n = _issue(session, settings, b)
    outbox.enqueue(session, kind=MailKind.PIN, to_addr=b.booker_email, booking_id=b.id,
                   now=now)
    record(session, actor=actor, action="booking.paid", entity="booking", entity_id=b.id,
           after={"pins_issued": n})
    return b


def _revoke_all(session: Session, b: Booking, now: datetime) -> int:
    count = 0
    locks = {lk.id: lk for lk in lock_repo.for_facility(session, b.facility_id)}
    for p in lock_repo.pins_of_booking(session, b.id):
        if p.status == "active":
            revoke(locks[p.lock_id], p, now)
            count += 1
    session.flush()
    return count


def reissue(session: Session, settings: LockSettings, booking_id: int, *, actor: str,
            now: datetime | None = None) -> Booking:
    """New PINs for a paid booking; the old ones are revoked (offline: pending revocation)."""
    now = now or utcnow()
    b = _locked(session, booking_id)
    if b.payment_status != "paid":
        raise Conflict("only a paid booking has PINs to reissue", field="payment_status")
    revoked = _revoke_all(session, b, now)
    n = _issue(session, settings, b)
    # one email with the new PINs replaces any PIN email not yet tried
    mail_repo.cancel_queued(session, b.id, PIN_MAILS)
    outbox.enqueue(session, kind=MailKind.PIN_REISSUE, to_addr=b.booker_email,
                   booking_id=b.id, now=now)
    record(session, actor=actor, action="booking.reissue", entity="booking", entity_id=b.id,
           after={"revoked": revoked, "pins_issued": n})
    return b


def cancel(session: Session, booking_id: int, *, actor: str,
           now: datetime | None = None) -> Booking:
    """Cancel: online locks lose the code at their next poll; offline locks get a pending
    revocation, carried to the lock by the next visitor or staff member."""
    now = now or utcnow()
    b = _locked(session, booking_id)
    if b.payment_status == "cancelled":
        return b
    before = b.payment_status
    b.payment_status, b.cancelled_at = "cancelled", now
    revoked = _revoke_all(session, b, now)
    mail_repo.cancel_queued(session, b.id, PIN_MAILS)
    if before == "paid":
        outbox.enqueue(session, kind=MailKind.BOOKING_CANCELLED, to_addr=b.booker_email,
                       booking_id=b.id, now=now)
    record(session, actor=actor, action="booking.cancel", entity="booking", entity_id=b.id,
           before={"payment_status": before}, after={"revoked": revoked})
    return b


def pin_info(session: Session, settings: LockSettings, booking_id: int,
             now: datetime | None = None) -> list[PinInfo]:
    """The booking's PINs (recomputed from the master) and codes to enter first."""
    now = now or utcnow()
    b = get_or_raise(session, booking_id)
    locks = {lk.id: lk for lk in lock_repo.for_facility(session, b.facility_id)}
    out: list[PinInfo] = []
    for p in lock_repo.pins_of_booking(session, b.id):
        lock = locks[p.lock_id]
        start, stop = accepted_times(lock, p)
        first = [] if p.status != "active" else pending_codes(
            session, settings, lock, now, typed_from_slot=p.start_slot - lock.grace_early)
        out.append(PinInfo(lock_id=lock.lock_id, lock_kind=lock.kind,
                           pin=pin_of(session, settings, lock, p), valid_from=start,
                           valid_until=stop, status=p.status, enter_first=first))
    return out


def queue_pin_email(session: Session, booking_id: int, *, actor: str,
                    language: Language | None = None, now: datetime | None = None) -> Booking:
    """Queue the booking's PIN email again (the booker lost it, or it failed), in
    ``language`` when given (kept as the booking's language from then on)."""
    now = now or utcnow()
    b = get_or_raise(session, booking_id)
    if b.payment_status != "paid":
        raise Conflict("only a paid booking has PINs to send", field="payment_status")
    if language is not None:
        set_language(session, b.id, language, actor=actor)
    mail_repo.cancel_queued(session, b.id, PIN_MAILS)
    outbox.enqueue(session, kind=MailKind.PIN, to_addr=b.booker_email, booking_id=b.id,
                   now=now)
    return b


def read(session: Session, bookings: Sequence[Booking]) -> list[BookingRead]:
    """Bookings as the API shows them, each with the state of its latest email."""
    latest = mail_repo.latest_for_bookings(session, [b.id for b in bookings])
    out = []
    for b in bookings:
        view = BookingRead.model_validate(b)
        mail = latest.get(b.id)
        if mail is not None:
            view.mail_status, view.mail_attempts = MailStatus(mail.status), mail.attempts
            view.mail_last_error = mail.last_error
        out.append(view)
    return out


def read_one(session: Session, booking: Booking) -> BookingRead:
    return read(session, [booking])[0]


# -- CSV import ------------------------------------------------------------------------------
CSV_COLUMNS = {  # Japanese header (default) → field; English headers are accepted too
    "予約番号": "external_ref", "施設コード": "facility_code", "開始": "start",
    "終了": "end", "氏名": "booker_name", "メールアドレス": "booker_email",
    "支払状況": "payment_status",
}
CSV_OPTIONAL = {"言語": "language"}  # of the booker's emails; without it (or empty): Japanese
CSV_HEADERS = CSV_COLUMNS | CSV_OPTIONAL
CSV_EN = {v: v for v in CSV_HEADERS.values()}
PAYMENT_WORDS = {"paid": "paid", "支払済": "paid", "支払済み": "paid", "pending": "pending",
                 "未払": "pending", "未払い": "pending"}
LANGUAGE_WORDS = {"": DEFAULT_LANGUAGE, "ja": Language.JA, "日本語": Language.JA,
                  "en": Language.EN, "英語": Language.EN}


def _parse_time(value: str) -> datetime:
    """'2026-12-01 09:00' (JST when no offset is given) or ISO 8601 with an offset."""
    dt = datetime.fromisoformat(value.strip().replace("/", "-"))
    return dt.replace(tzinfo=JST) if dt.tzinfo is None else dt


def import_csv(session: Session, settings: LockSettings, file: IO[bytes], *,
               actor: str) -> list[Booking]:
    """Import bookings from the booking system's CSV (UTF-8), read and parsed one line at a
    time from ``file``; all or nothing, errors name the line (the first 100 of them, with
    their count)."""
    lines = csv_rows(file)
    try:
        _line, header = next(lines)
    except StopIteration as err:
        raise BadRequest("the CSV is empty", field="file") from err
    cols = [CSV_HEADERS.get(h.strip(), CSV_EN.get(h.strip())) for h in header]
    missing = set(CSV_COLUMNS.values()) - {c for c in cols if c}
    if missing:
        raise BadRequest(f"line 1: missing column(s): {', '.join(sorted(missing))}",
                         field="file", line=1)
    errors = RowErrors()
    rows: list[BookingCreate] = []
    seen_refs: set[str] = set()
    facilities: dict[str, Facility | None] = {}  # by code: one query per facility, not per row
    for line, row in lines:
        try:
            rows.append(_csv_booking(session, cols, row, seen_refs, facilities))
        except _RowError as err:
            errors.add(line, err.field, err.message)
    if errors:
        detail = "; ".join(f"line {e['line']}: {e['field']}: {e['message']}"
                           for e in errors.first[:20])
        raise errors.rejected(f"CSV rejected, nothing imported ({errors.count} errors): "
                              f"{detail}")
    created = []
    for data in rows:
        b = create(session, data, source="csv", actor=actor)
        if data.payment_status == "paid":
            mark_paid(session, settings, b.id, actor=actor)
        created.append(b)
    return created


class _RowError(Exception):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field, self.message = field, message


def _csv_booking(session: Session, cols: list[str | None], row: list[str], seen_refs: set[str],
                 facilities: dict[str, Facility | None]) -> BookingCreate:
    """One data row of the booking CSV as a booking to create, or ``_RowError``."""
    if len(row) != len(cols):
        raise _RowError("row", f"{len(row)} values, expected {len(cols)}")
    if formulas := formula_columns(row, cols):
        raise _RowError(formulas[0], FORMULA_MESSAGE)
    r = {c: v.strip() for c, v in zip(cols, row, strict=True) if c}
    code = r["facility_code"]
    if code not in facilities:
        facilities[code] = facility_repo.get_by_code(session, code)
    facility = facilities[code]
    if facility is None:
        raise _RowError("facility_code", f"unknown facility {code!r}")
    status = PAYMENT_WORDS.get(r["payment_status"].lower())
    if status is None:
        raise _RowError("payment_status", "must be paid/支払済 or pending/未払")
    language = LANGUAGE_WORDS.get(r.get("language", "").lower())
    if language is None:
        raise _RowError("language", "must be ja/日本語 or en/英語 (or left empty: ja)")
    try:
        start, end = _parse_time(r["start"]), _parse_time(r["end"])
    except ValueError:
        raise _RowError("start/end", "times must look like 2026-12-01 09:00") from None
    if end <= start:
        raise _RowError("end", "the end must be after the start")
    ref = r["external_ref"] or None
    if ref and (ref in seen_refs or repository.get_by_ref(session, ref)):
        raise _RowError("external_ref", f"booking {ref!r} already exists")
    if ref:
        seen_refs.add(ref)
    try:
        return BookingCreate(facility_id=facility.id, start_at=start, end_at=end,
                             booker_name=r["booker_name"], booker_email=r["booker_email"],
                             payment_status=status, external_ref=ref,  # type: ignore[arg-type]
                             language=language)
    except ValidationError as err:
        e = err.errors()[0]
        raise _RowError(".".join(str(x) for x in e["loc"]) or "row", e["msg"]) from None


# -- signed webhook --------------------------------------------------------------------------
def webhook_signature(secret: str, timestamp: str, body: bytes) -> str:
    """Hex HMAC-SHA256 over ``timestamp "." body`` (what the booking system sends)."""
    return hmac.new(secret.encode(), timestamp.encode() + b"." + body,
                    hashlib.sha256).hexdigest()


def receive_webhook(session: Session, settings: LockSettings, body: bytes, timestamp: str,
                    signature: str, *, now: datetime | None = None) -> tuple[Booking, bool]:
    """A booking event from the booking system: verified, replay-protected, then applied.

    Events: ``booking.created`` / ``booking.paid`` / ``booking.cancelled`` with the booking's
    fields (``language``, optional, sets the language of its emails); returns (booking,
    whether PINs must be emailed)."""
    now = now or utcnow()
    secret = settings.booking_webhook_secret.get_secret_value()
    if not timestamp.isdigit() or abs(int(timestamp) - now.timestamp()) > \
            settings.webhook_tolerance_s:
        raise Unauthorized("webhook timestamp missing or outside the tolerance")
    expected = webhook_signature(secret, timestamp, body)
    if not hmac.compare_digest(expected, signature.removeprefix("sha256=")):
        raise Unauthorized("bad webhook signature")
    if repository.receipt_seen(session, expected):
        raise Conflict("webhook already received (replay)", field="signature")
    session.add(WebhookReceipt(signature=expected, received_at=now))
    session.flush()
    try:
        event: dict[str, Any] = json.loads(body)
        kind = event["event"]
        ref = str(event["external_ref"])
    except (ValueError, KeyError, TypeError) as err:
        raise BadRequest("the webhook body needs event and external_ref", field="body") from err
    actor = "webhook"
    language = _event_language(event)
    b = repository.get_by_ref(session, ref)
    if b is None:
        if kind == "booking.cancelled":
            raise NotFound(f"booking {ref!r} not found", field="external_ref")
        b = create(session, _event_booking(session, event, ref, language), source="webhook",
                   actor=actor)
    elif language is not None:  # the booking system's latest word on it
        set_language(session, b.id, language, actor=actor)
    if kind == "booking.cancelled":
        return cancel(session, b.id, actor=actor, now=now), False
    if kind == "booking.paid" or event.get("payment_status") == "paid":
        was_paid = b.payment_status == "paid"
        return mark_paid(session, settings, b.id, actor=actor, now=now), not was_paid
    if kind != "booking.created":
        raise BadRequest(f"unknown event {kind!r}", field="event")
    return b, False


def _event_language(event: dict[str, Any]) -> Language | None:
    """The event's ``language`` ("ja" or "en"), None when it gives none."""
    if "language" not in event:
        return None
    try:
        return Language(event["language"])
    except (ValueError, TypeError) as err:
        raise BadRequest("language must be ja or en", field="language") from err


def _event_booking(session: Session, event: dict[str, Any], ref: str,
                   language: Language | None) -> BookingCreate:
    """A ``booking.created`` or ``booking.paid`` event for a booking not seen before."""
    facility = facility_repo.get_by_code(session, str(event.get("facility_code", "")))
    if facility is None:
        raise BadRequest("unknown facility_code", field="facility_code")
    try:
        return BookingCreate.model_validate({
            "facility_id": facility.id, "start_at": event.get("start_at"),
            "end_at": event.get("end_at"), "booker_name": event.get("booker_name", ""),
            "booker_email": event.get("booker_email", ""), "external_ref": ref,
            "language": language or DEFAULT_LANGUAGE})
    except ValidationError as err:
        e = err.errors()[0]
        raise BadRequest(e["msg"], field=".".join(str(x) for x in e["loc"])) from err


def list_recent(session: Session, facility_id: int | None = None) -> Sequence[Booking]:
    return repository.list_recent(session, facility_id)


def list_upcoming(session: Session, *, now: datetime, limit: int = 200) -> Sequence[Booking]:
    """The bookings still to come or under way at ``now``, soonest first."""
    return repository.upcoming(session, since=now, limit=limit)
