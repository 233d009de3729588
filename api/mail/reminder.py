"""The monthly reminder to HR to export the month just ended (queued by the worker's
``export_reminder`` job, rendered at delivery like every email)."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from email.message import EmailMessage

from sqlalchemy.orm import Session

from api.models import MailKind, MailOutbox

from .outbox import Handlers, MailHandler
from .templates import JST, export_reminder_email


def month_before(day: date) -> date:
    """The first day of the month before ``day``'s month."""
    return (day.replace(day=1) - timedelta(days=1)).replace(day=1)


def render_export_reminder(session: Session, mail: MailOutbox, now: datetime) -> EmailMessage:
    queued_on = mail.created_at.astimezone(JST).date()
    return export_reminder_email(to=mail.to_addr, month=month_before(queued_on), now=now)


def handlers() -> Handlers:
    return {MailKind.EXPORT_REMINDER: MailHandler(render_export_reminder)}
