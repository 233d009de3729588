from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from api.models import Booking, WebhookReceipt


def get(session: Session, booking_id: int, *, for_update: bool = False) -> Booking | None:
    q = select(Booking).where(Booking.id == booking_id)
    if for_update:  # and re-read: the row may have changed since this session last saw it
        q = q.with_for_update().execution_options(populate_existing=True)
    return session.scalar(q)


def get_by_ref(session: Session, ref: str) -> Booking | None:
    return session.scalar(select(Booking).where(Booking.external_ref == ref))


def list_recent(session: Session, facility_id: int | None = None) -> Sequence[Booking]:
    q = select(Booking).order_by(Booking.start_at.desc()).limit(500)
    if facility_id is not None:
        q = q.where(Booking.facility_id == facility_id)
    return session.scalars(q).all()


def upcoming(session: Session, *, since: datetime, limit: int) -> Sequence[Booking]:
    """Bookings not yet over at ``since``, soonest first."""
    q = (select(Booking).where(Booking.end_at > since)
         .order_by(Booking.start_at, Booking.id).limit(limit))
    return session.scalars(q).all()


def receipt_seen(session: Session, signature: str) -> bool:
    return session.scalar(select(WebhookReceipt.id)
                          .where(WebhookReceipt.signature == signature)) is not None
