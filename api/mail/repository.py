"""Queries of the mail outbox. Claims are single UPDATE statements, so two senders never take
the same row: on PostgreSQL the candidate is picked with ``FOR UPDATE SKIP LOCKED``; SQLite
ignores that clause and serialises the writers on its database lock instead."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from api.audit.admin import paginate
from api.models import MailOutbox, MailStatus


def claim_next(session: Session, *, now: datetime, until: datetime) -> int | None:
    """Take the next due message (status ``sending`` until ``until``); its id, or None."""
    due = (select(MailOutbox.id)
           .where(MailOutbox.status == MailStatus.QUEUED, MailOutbox.next_attempt_at <= now)
           .order_by(MailOutbox.next_attempt_at, MailOutbox.id).limit(1)
           .with_for_update(skip_locked=True).scalar_subquery())
    stmt = (update(MailOutbox)
            .where(MailOutbox.id == due, MailOutbox.status == MailStatus.QUEUED)
            .values(status=MailStatus.SENDING, claimed_until=until,
                    attempts=MailOutbox.attempts + 1)
            .returning(MailOutbox.id)
            .execution_options(synchronize_session=False))
    return session.execute(stmt).scalar_one_or_none()


def fail_interrupted(session: Session, *, now: datetime, error: str) -> int:
    """Messages whose sender's claim ran out (it died mid-delivery) become ``failed``."""
    stmt = (update(MailOutbox)
            .where(MailOutbox.status == MailStatus.SENDING, MailOutbox.claimed_until < now)
            .values(status=MailStatus.FAILED, last_error=error, failed_at=now,
                    claimed_until=None)
            .execution_options(synchronize_session=False))
    return session.execute(stmt).rowcount  # type: ignore[attr-defined, no-any-return]


def finish(session: Session, mail_id: int, **values: object) -> bool:
    """Record the outcome of a claimed delivery; False if the claim was lost meanwhile."""
    stmt = (update(MailOutbox)
            .where(MailOutbox.id == mail_id, MailOutbox.status == MailStatus.SENDING)
            .values(claimed_until=None, **values)
            .execution_options(synchronize_session=False))
    return bool(session.execute(stmt).rowcount)  # type: ignore[attr-defined]


def mark_sent(session: Session, mail_id: int, now: datetime) -> None:
    """The SMTP server accepted the message: sent, whatever else happened to the row."""
    session.execute(update(MailOutbox).where(MailOutbox.id == mail_id)
                    .values(status=MailStatus.SENT, sent_at=now, claimed_until=None)
                    .execution_options(synchronize_session=False))


def cancel_queued(session: Session, booking_id: int, kinds: Iterable[str]) -> int:
    """Drop the booking's messages of these kinds that have not been tried yet."""
    stmt = (update(MailOutbox)
            .where(MailOutbox.booking_id == booking_id, MailOutbox.kind.in_(list(kinds)),
                   MailOutbox.status == MailStatus.QUEUED)
            .values(status=MailStatus.CANCELLED)
            .execution_options(synchronize_session=False))
    return session.execute(stmt).rowcount  # type: ignore[attr-defined, no-any-return]


def latest_for_bookings(session: Session, booking_ids: Sequence[int]) -> dict[int, MailOutbox]:
    """Each booking's most recent message."""
    if not booking_ids:
        return {}
    rows = session.scalars(select(MailOutbox).where(MailOutbox.booking_id.in_(booking_ids))
                           .order_by(MailOutbox.id))
    return {m.booking_id: m for m in rows if m.booking_id is not None}


def list_page(session: Session, *, status: MailStatus | None, booking_id: int | None,
              limit: int, offset: int) -> tuple[list[MailOutbox], int]:
    """Messages, newest first, filtered."""
    stmt = select(MailOutbox).order_by(MailOutbox.id.desc())
    if status is not None:
        stmt = stmt.where(MailOutbox.status == status)
    if booking_id is not None:
        stmt = stmt.where(MailOutbox.booking_id == booking_id)
    return paginate(session, stmt, limit=limit, offset=offset)
