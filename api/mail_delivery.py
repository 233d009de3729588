"""Delivering the outbox: every kind of email the service sends, with its renderer. Called by
the service's background sender (through ``app_delivery``), ``mynagate mail send-pending`` and
the worker. It sits above mail and bookings: mail queues and sends, bookings render their
emails, and only this module knows both."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from fastapi import FastAPI

from api.bookings import mail as booking_mail
from api.db import Database
from api.locks.settings import LockSettings, lock_settings_of
from api.mail import reminder
from api.mail.outbox import SendReport, send_pending
from api.mail.settings import SmtpSettings


def deliver_outbox(db: Database, smtp: SmtpSettings, locks: LockSettings, *, now: datetime,
                   limit: int = 100) -> SendReport:
    """One pass: deliver up to ``limit`` due messages as of ``now``; raises
    ``PinMasterUnreadable`` before touching any message when the lock settings are wrong."""
    booking_mail.check_settings(db, locks)
    return send_pending(db, smtp, {**booking_mail.handlers(locks), **reminder.handlers()},
                        now=now, limit=limit)


def app_delivery(app: FastAPI) -> Callable[[SmtpSettings, datetime, int], SendReport]:
    """The app's sender pass: its database and lock settings read at each call, so a change
    to ``app.state`` takes effect at the next pass."""
    def deliver(smtp: SmtpSettings, now: datetime, limit: int) -> SendReport:
        return deliver_outbox(app.state.db, smtp, lock_settings_of(app), now=now, limit=limit)
    return deliver
