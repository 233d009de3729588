"""The mail outbox: every email the service sends is first a row here, written in the same
transaction as the change it tells about, then delivered by the sender (``api.mail.outbox``).

A row keeps the intent (kind, booking, recipient), never the rendered text: a PIN email is
rendered at delivery from the PIN master, so no PIN is stored.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, utcnow


class MailKind(StrEnum):
    PIN = "pin"  # a paid booking's PINs
    PIN_REISSUE = "pin_reissue"  # new PINs (reissue, lock rekey); the old ones are void
    BOOKING_CANCELLED = "booking_cancelled"  # notice: the booking and its PINs are cancelled
    EXPORT_REMINDER = "export_reminder"  # to HR, monthly: export the month just ended


class MailStatus(StrEnum):
    QUEUED = "queued"  # waiting for its first or next attempt (next_attempt_at)
    SENDING = "sending"  # claimed by a sender until claimed_until
    SENT = "sent"  # the SMTP server accepted it; never sent again
    FAILED = "failed"  # permanent refusal, attempts used up, or a sender died mid-delivery
    CANCELLED = "cancelled"  # nothing left to tell (its booking was cancelled before it went)


class MailOutbox(Base):
    __tablename__ = "mail_outbox"
    __table_args__ = (Index("ix_mail_outbox_due", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(30))
    status: Mapped[str] = mapped_column(String(10), default=MailStatus.QUEUED)
    booking_id: Mapped[int | None] = mapped_column(
        ForeignKey("booking.id", ondelete="CASCADE"), index=True, default=None)
    to_addr: Mapped[str] = mapped_column(String(254))
    message_id: Mapped[str] = mapped_column(String(200), unique=True)  # same on every attempt
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(String(500), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    next_attempt_at: Mapped[datetime]
    claimed_until: Mapped[datetime | None] = mapped_column(default=None)
    sent_at: Mapped[datetime | None] = mapped_column(default=None)
    failed_at: Mapped[datetime | None] = mapped_column(default=None)
