"""The service's mail sender: a thread (never the event loop) that delivers the outbox when
woken after a change and every ``sender_interval_s`` for retries, started and stopped with
the app (the lifespan of the mail router)."""

from __future__ import annotations

import logging
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
from fastapi import FastAPI

from api.models.base import utcnow

from .settings import smtp_settings_of

log = logging.getLogger(__name__)
BATCH = 100


class MailSender:
    """Delivers the app's outbox in a background thread. Settings are read on every pass, so
    a change to ``app.state.smtp_settings`` takes effect at the next one."""

    def __init__(self, app: FastAPI) -> None:
        self.app = app
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="mail-sender", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def wake(self) -> None:
        """Deliver now (after a change that queued mail was committed)."""
        self._wake.set()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        self._thread.join()

    def run_once(self) -> int:
        """One pass; the number of messages it handled (0 when the sender is disabled)."""
        smtp = smtp_settings_of(self.app)
        if not smtp.sender_enabled:
            return 0
        # the delivery (every kind of email) is composed above mail by create_app
        report = self.app.state.deliver_outbox(smtp, utcnow(), BATCH)
        return sum(report.counts.values())

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                handled = self.run_once()
            except Exception:  # the database may be away for a while: keep the thread alive
                log.exception("mail.sender_pass_failed")
                handled = 0
            if handled < BATCH:  # a full batch: more may be due, go on at once
                self._wake.wait(smtp_settings_of(self.app).sender_interval_s)
                self._wake.clear()


def wake_sender(app: FastAPI) -> None:
    """Ask the app's sender to deliver now (a background task after the commit)."""
    sender: MailSender | None = getattr(app.state, "mail_sender", None)
    if sender is not None:
        sender.wake()


@asynccontextmanager
async def sender_lifespan(app: FastAPI) -> AsyncIterator[None]:
    sender = MailSender(app)
    app.state.mail_sender = sender
    sender.start()
    try:
        yield
    finally:
        await anyio.to_thread.run_sync(sender.stop)
        app.state.mail_sender = None
