"""The mail outbox: ``enqueue`` a message in the transaction of the change it tells about;
``send_pending`` delivers what is due, with retries and backoff (``RetryPolicy``).

Delivery guarantees:
- a message is claimed by one sender at a time (``repository.claim_next``);
- once the SMTP server accepted it, it is ``sent`` and never sent again;
- a sender that dies between its claim and the record of the outcome leaves a message that may
  or may not have gone: when the claim runs out it becomes ``failed`` with that error, for an
  admin to look at and requeue, rather than risk a second copy;
- every failure keeps its last error and attempt count, and is listed by ``GET /admin/mail``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import make_msgid

from sqlalchemy.orm import Session

from api.db import Database
from api.errors import Conflict, NotFound
from api.models import MailKind, MailOutbox, MailStatus

from . import repository
from .retry import RetryPolicy
from .sender import MailError, TransientMailError, send
from .settings import SmtpSettings

log = logging.getLogger(__name__)

# Longer than any SMTP exchange can take (timeouts apply per socket operation).
CLAIM_LEASE = timedelta(minutes=10)
INTERRUPTED = ("a sender stopped during delivery; the message may or may not have arrived "
               "(送信中に中断されました。届いている可能性があります)")


def _nothing(session: Session, mail: MailOutbox, now: datetime) -> None:
    return None


@dataclass(frozen=True)
class MailHandler:
    """How to deliver one kind of message. ``render`` builds it at delivery time (None: there
    is nothing left to tell, the message is cancelled); ``sent`` runs in the transaction that
    records the delivery."""

    render: Callable[[Session, MailOutbox, datetime], EmailMessage | None]
    sent: Callable[[Session, MailOutbox, datetime], None] = _nothing


Handlers = Mapping[MailKind, MailHandler]


@dataclass
class SendReport:
    counts: dict[MailStatus, int] = field(default_factory=dict)
    interrupted: int = 0

    def add(self, status: MailStatus) -> None:
        self.counts[status] = self.counts.get(status, 0) + 1

    def __getitem__(self, status: MailStatus) -> int:
        return self.counts.get(status, 0)


def enqueue(session: Session, *, kind: MailKind, to_addr: str, now: datetime,
            booking_id: int | None = None) -> MailOutbox:
    """Queue a message, due now; it is sent only if the caller's transaction commits."""
    mail = MailOutbox(kind=kind, status=MailStatus.QUEUED, booking_id=booking_id,
                      to_addr=to_addr, message_id=make_msgid(domain="mynagate.local"),
                      attempts=0, created_at=now, next_attempt_at=now)
    session.add(mail)
    session.flush()
    return mail


def requeue(session: Session, mail_id: int, *, now: datetime) -> MailOutbox:
    """An admin's retry of a failed message: due now, with a fresh set of attempts."""
    mail = session.get(MailOutbox, mail_id, with_for_update=True)
    if mail is None:
        raise NotFound(f"mail {mail_id} not found", field="mail_id")
    if mail.status != MailStatus.FAILED:
        raise Conflict(f"only a failed mail can be retried (this one is {mail.status})",
                       field="status")
    mail.status, mail.attempts, mail.next_attempt_at = MailStatus.QUEUED, 0, now
    mail.failed_at = None
    session.flush()
    return mail


def send_pending(db: Database, smtp: SmtpSettings, handlers: Handlers, *, now: datetime,
                 limit: int = 100) -> SendReport:
    """Deliver up to ``limit`` due messages, one claim and one SMTP exchange at a time; no
    database transaction stays open while the SMTP server is talked to."""
    report = SendReport()
    with db.session() as s:
        report.interrupted = repository.fail_interrupted(s, now=now, error=INTERRUPTED)
        s.commit()
    policy = RetryPolicy.from_settings(smtp)
    for _ in range(limit):
        with db.session() as s:
            mail_id = repository.claim_next(s, now=now, until=now + CLAIM_LEASE)
            s.commit()
        if mail_id is None:
            break
        report.add(_deliver(db, smtp, handlers, policy, mail_id, now))
    return report


def _build(db: Database, handlers: Handlers, mail_id: int,
           now: datetime) -> tuple[MailOutbox, EmailMessage | None, MailError | None]:
    """The claimed row and its message (None: nothing left to tell), or why it could not be
    built: counted as a transient failure, so a passing cause (the database, a setting being
    fixed) costs one attempt and a lasting one ends as ``failed`` with the reason."""
    with db.session() as s:  # closed without a commit: rendering only reads
        mail = s.get_one(MailOutbox, mail_id)
        try:
            message = handlers[MailKind(mail.kind)].render(s, mail, now)
        except Exception as err:  # one message that cannot be built must not stop the others
            log.exception("mail.render_failed mail=%s", mail_id)
            return mail, None, TransientMailError(
                f"cannot build the message: {type(err).__name__}: {err}")
    if message is not None:
        del message["To"], message["Message-ID"]
        message["To"] = mail.to_addr
        message["Message-ID"] = mail.message_id
    return mail, message, None


def _deliver(db: Database, smtp: SmtpSettings, handlers: Handlers, policy: RetryPolicy,
             mail_id: int, now: datetime) -> MailStatus:
    mail, message, error = _build(db, handlers, mail_id, now)
    if error is None and message is None:
        return _finish(db, mail_id, MailStatus.CANCELLED, now)
    if message is not None:
        try:
            send(message, smtp)
        except MailError as err:
            error = err
    if error is not None:
        retry_at = policy.next_attempt(mail.attempts, error, now)
        log.warning("mail.send_failed mail=%s attempt=%s retry_at=%s error=%s", mail_id,
                    mail.attempts, retry_at, error)
        if retry_at is None:
            return _finish(db, mail_id, MailStatus.FAILED, now, error=str(error))
        return _finish(db, mail_id, MailStatus.QUEUED, now, error=str(error), retry_at=retry_at)
    with db.session() as s:
        repository.mark_sent(s, mail_id, now)
        handlers[MailKind(mail.kind)].sent(s, mail, now)
        s.commit()
    return MailStatus.SENT


def _finish(db: Database, mail_id: int, status: MailStatus, now: datetime, *,
            error: str | None = None, retry_at: datetime | None = None) -> MailStatus:
    values: dict[str, object] = {"status": status}
    if error is not None:
        values["last_error"] = error[:500]
    if status == MailStatus.FAILED:
        values["failed_at"] = now
    if retry_at is not None:
        values["next_attempt_at"] = retry_at
    with db.session() as s:
        repository.finish(s, mail_id, **values)
        s.commit()
    return status
