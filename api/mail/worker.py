"""Delivering the outbox: every kind of email the service sends, with its renderer. Called by
the service's background sender, ``mynagate mail send-pending`` and the worker."""

from __future__ import annotations

from datetime import datetime

from api.bookings import mail as booking_mail
from api.db import Database
from api.locks.settings import LockSettings

from . import reminder
from .outbox import SendReport, send_pending
from .settings import SmtpSettings


def deliver_outbox(db: Database, smtp: SmtpSettings, locks: LockSettings, *, now: datetime,
                   limit: int = 100) -> SendReport:
    """One pass: deliver up to ``limit`` due messages as of ``now``; raises
    ``PinMasterUnreadable`` before touching any message when the lock settings are wrong."""
    booking_mail.check_settings(db, locks)
    return send_pending(db, smtp, {**booking_mail.handlers(locks), **reminder.handlers()},
                        now=now, limit=limit)
